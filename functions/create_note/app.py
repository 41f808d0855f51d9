"""POST /notes (JWT, notes-api/write): validates a note {title, content}, stores it for the caller
and returns it with its new id.

With an `Idempotency-Key` header, a retry within 24 h (same key, same caller, same body) answers the
note the first request created and stores nothing; the same key with another body is a 409.
"""
import re
from typing import Any

import apigw_http
import notes_store
from apigw_http import ClientError

NOTE_FIELDS = ("title", "content")
MAX_TITLE_CHARS = 200
MAX_CONTENT_CHARS = 10_000
UNTITLED = "Untitled"
# Printable ASCII without spaces, as the IETF Idempotency-Key draft and the big payment APIs use.
IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}$")


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
    key = idempotency_key(event)
    note = {
        # UUIDv7: sorted by creation time, and random enough that two in one millisecond still differ.
        "id": notes_store.new_note_id(),
        # A title of nothing but whitespace is no title at all.
        "title": title if title.strip() else UNTITLED,
        "content": content,
        "ownerSub": claims["sub"],
    }
    if key is None:
        notes_store.put_note(note)
    else:
        note = notes_store.put_note_once(note, key, notes_store.fingerprint(fields))
    return apigw_http.json_response(
        201,
        {
            "message": "Note created",
            "note": note,
            "auth": {"username": apigw_http.caller_username(claims), "scopes": apigw_http.token_scopes(claims)},
        },
    )


def idempotency_key(event: apigw_http.Event) -> str | None:
    key = apigw_http.header(event, "idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise ClientError(400, "Idempotency-Key must be 1-255 printable ASCII characters without spaces")
    return key


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
