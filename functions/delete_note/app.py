"""DELETE /notes/{id} (JWT, notes-api/write): delete one of the caller's notes; 204.

Another caller's note, an already deleted note and an id that never existed all answer the same
404 (as GET /notes/{id} does).
"""
import apigw_http
import notes_store
from apigw_http import ClientError


@apigw_http.http_handler
def handler(event: apigw_http.Event, context: object) -> apigw_http.Response:
    claims = apigw_http.jwt_claims(event)
    if not notes_store.delete_note(claims["sub"], notes_store.note_id_parameter(event)):
        raise ClientError(404, "note not found")
    return apigw_http.empty_response(204)
