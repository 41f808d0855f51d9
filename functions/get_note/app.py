"""GET /notes/{id} (JWT, notes-api/read): one of the caller's notes.

Another caller's note, a deleted note and an id that never existed all answer the same 404, so a
caller cannot learn whether someone else's note exists.
"""
import apigw_http
import notes_store
from apigw_http import ClientError


@apigw_http.http_handler
def handler(event: apigw_http.Event, context: object) -> apigw_http.Response:
    claims = apigw_http.jwt_claims(event)
    note = notes_store.get_note(claims["sub"], notes_store.note_id_parameter(event))
    if note is None:
        raise ClientError(404, "note not found")
    return apigw_http.json_response(200, {"note": note})

