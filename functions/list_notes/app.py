"""GET /notes (JWT, notes-api/read): the caller's notes, newest first, a page at a time.

`?limit=` 1-100 (default 20); `?cursor=` the `next` of the previous page. Other query parameters
are ignored, as most APIs do.
"""
import apigw_http
import notes_store
from apigw_http import ClientError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@apigw_http.http_handler
def handler(event: apigw_http.Event, context: object) -> apigw_http.Response:
    claims = apigw_http.jwt_claims(event)
    limit = page_size(apigw_http.query_parameter(event, "limit"))
    cursor = apigw_http.query_parameter(event, "cursor")
    notes, next_cursor = notes_store.list_notes(claims["sub"], limit, cursor or None)
    return apigw_http.json_response(200, {"notes": notes, "next": next_cursor})


def page_size(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ClientError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    return int(text)
