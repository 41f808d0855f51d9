"""POST /notes (JWT, notes-api/write): validates a note {title, content} and returns it with a new id.

Nothing is stored yet: the response is the note as it would be saved.
"""
import uuid
from typing import Any

import apigw_http
from apigw_http import ClientError

NOTE_FIELDS = ("title", "content")
MAX_TITLE_CHARS = 200
MAX_CONTENT_CHARS = 10_000
UNTITLED = "Untitled"


@apigw_http.http_handler
def handler(event: apigw_http.Event, context: object) -> apigw_http.Response:
    claims = apigw_http.jwt_claims(event)  # before the body: an anonymous caller learns nothing from validation
    fields = apigw_http.json_object_body(event)
    unknown = sorted(fields.keys() - set(NOTE_FIELDS))
    if unknown:
        # Dropping them would silently lose what the caller meant to save.
        known = apigw_http.quoted(list(NOTE_FIELDS))
        raise ClientError(400, f"unknown field(s) {apigw_http.quoted(unknown)}: a note has only {known}")
    title = text_field(fields, "title", MAX_TITLE_CHARS)
    content = text_field(fields, "content", MAX_CONTENT_CHARS)
    note = {
        # Random, not time-based: two notes created in the same instant still differ.
        "id": str(uuid.uuid4()),
        # A title of nothing but whitespace is no title at all.
        "title": title if title.strip() else UNTITLED,
        "content": content,
        "ownerSub": claims["sub"],
    }
    return apigw_http.json_response(
        201,
        {
            "message": "Note created",
            "note": note,
            "auth": {"username": apigw_http.caller_username(claims), "scopes": apigw_http.token_scopes(claims)},
        },
    )


def text_field(fields: dict[str, Any], name: str, max_chars: int) -> str:
    """The string field `name` ("" when absent), refused with 400 unless it is text of at most `max_chars`."""
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise ClientError(400, f"{name} must be a string")
    if len(value) > max_chars:
        raise ClientError(400, f"{name} must be at most {max_chars} characters, not {len(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON escapes can spell an unpaired surrogate ("\ud800"), which is no text and no store can keep.
        raise ClientError(400, f"{name} is not valid Unicode text: it has an unpaired surrogate") from None
    return value
