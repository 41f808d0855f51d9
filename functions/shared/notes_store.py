"""The notes table: its keys, note ids, list cursors and idempotency records, in one place.

One DynamoDB table (named by NOTES_TABLE), partition key `ownerSub`, sort key `noteId`:

- a note is the item (ownerSub = the caller's `sub`, noteId = its id). Every read and write names
  the caller's own partition, so a caller can never reach another caller's note, only miss it;
- an idempotency record is the item (ownerSub = "idempotency#" + sub, noteId = the
  Idempotency-Key). It keeps the request's fingerprint and the note it created, and expires after
  IDEMPOTENCY_WINDOW_S (`expiresAt`, the table's TTL attribute; TTL deletes lazily, so an expired
  record is also treated as absent when read). Cognito `sub`s are UUIDs or client ids and never
  start with "idempotency#", so the two kinds never share a partition.

Note ids are UUIDv7 (RFC 9562): they sort by creation time, and the 74 random bits keep two ids of
the same millisecond apart; within one process a counter keeps them in creation order too.
boto3 is in the Lambda runtime, so this stays a single file with nothing to vendor.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets
import threading
import time
import uuid
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError as AwsError

import apigw_http
from apigw_http import ClientError

TABLE_ENV = "NOTES_TABLE"
IDEMPOTENCY_PREFIX = "idempotency#"
IDEMPOTENCY_WINDOW_S = 24 * 3600
NOTE_ATTRIBUTES = ("id", "title", "content", "ownerSub")
_NOTE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_CURSOR_VERSION = 1


# --- note ids -----------------------------------------------------------------------------

_clock_lock = threading.Lock()
_last_ms = 0
_counter = 0


def new_note_id(now_ms: int | None = None) -> str:
    """A UUIDv7: 48 bits of Unix milliseconds, a 12-bit counter (RFC 9562 method 1), 62 random bits."""
    global _last_ms, _counter
    with _clock_lock:
        ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        if ms > _last_ms:
            _last_ms, _counter = ms, secrets.randbits(11)  # room to count up within the millisecond
        else:
            _counter += 1
            if _counter >= 1 << 12:  # counter spent (or the clock went back): borrow the next millisecond
                _last_ms, _counter = _last_ms + 1, 0
        ms, counter = _last_ms, _counter
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | secrets.randbits(62)
    return str(uuid.UUID(int=value))


def is_note_id(text: str) -> bool:
    return bool(_NOTE_ID.match(text))


def note_id_parameter(event: dict[str, Any]) -> str:
    """The route's {id}, refused with 400 unless it is a note id (a UUIDv7 in lower-case hex)."""
    value = apigw_http.path_parameter(event, "id")
    if not is_note_id(value):
        raise ClientError(400, f"id must be a note id (a lower-case UUIDv7), not {value[:80]!r}")
    return value


# --- the table ----------------------------------------------------------------------------

_table = None


def table():
    """The notes table, made once per execution environment (boto3 reads its region and, locally,
    the embedded AWS's endpoint from the environment)."""
    global _table
    if _table is None:
        name = os.environ.get(TABLE_ENV)
        if not name:
            raise RuntimeError(f"{TABLE_ENV} is not set: the function is deployed without its table")
        _table = boto3.resource("dynamodb").Table(name)
    return _table


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["noteId"], "title": item["title"], "content": item["content"], "ownerSub": item["ownerSub"]}


def _item(note: dict[str, Any]) -> dict[str, Any]:
    return {"ownerSub": note["ownerSub"], "noteId": note["id"], "title": note["title"], "content": note["content"]}


# --- create -------------------------------------------------------------------------------

def put_note(note: dict[str, Any]) -> dict[str, Any]:
    """Store a new note (its id is new, so the write can only create)."""
    table().put_item(Item=_item(note), ConditionExpression="attribute_not_exists(noteId)")
    return note


def fingerprint(fields: dict[str, Any]) -> str:
    """What makes two requests with one Idempotency-Key "the same": their JSON bodies, canonically."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def put_note_once(note: dict[str, Any], key: str, request_fingerprint: str, now: float | None = None) -> dict[str, Any]:
    """Store `note` unless this owner sent `key` within the window: then return the note that the
    first request created (409 when that request had another body).

    The note and the record are written in one transaction whose condition is "no live record for
    this key", so two racing requests can never both create: the loser reads the winner's record.
    """
    now = time.time() if now is None else now
    owner = note["ownerSub"]
    record_key = {"ownerSub": IDEMPOTENCY_PREFIX + owner, "noteId": key}
    record = record_key | {"fingerprint": request_fingerprint, "note": note, "expiresAt": int(now) + IDEMPOTENCY_WINDOW_S}
    name = table().name
    for _ in range(3):  # a record that expires between our write and our read: write again
        try:
            table().meta.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": name, "Item": _item(note), "ConditionExpression": "attribute_not_exists(noteId)"}},
                {"Put": {"TableName": name, "Item": record,
                         "ConditionExpression": "attribute_not_exists(noteId) OR expiresAt <= :now",
                         "ExpressionAttributeValues": {":now": int(now)}}},
            ])
            return note
        except AwsError as error:
            if error.response["Error"]["Code"] not in ("TransactionCanceledException", "TransactionConflictException"):
                raise
        first = table().get_item(Key=record_key, ConsistentRead=True).get("Item")
        if first is not None and int(first["expiresAt"]) > now:
            if first["fingerprint"] != request_fingerprint:
                raise ClientError(409, "Idempotency-Key was already used with another request body")
            return {name: first["note"][name] for name in NOTE_ATTRIBUTES}
        time.sleep(0.05)  # a conflicting transaction in flight: let it land, then look again
    raise ClientError(409, "Idempotency-Key is in use by a request still in progress; retry")


# --- read and delete ----------------------------------------------------------------------

def get_note(owner: str, note_id: str) -> dict[str, Any] | None:
    item = table().get_item(Key={"ownerSub": owner, "noteId": note_id}).get("Item")
    return None if item is None else _public(item)


def delete_note(owner: str, note_id: str) -> bool:
    """Delete the owner's note; False when the owner has no such note (never existed, deleted, or another's)."""
    try:
        table().delete_item(Key={"ownerSub": owner, "noteId": note_id}, ConditionExpression="attribute_exists(noteId)")
        return True
    except AwsError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def list_notes(owner: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The owner's notes, newest first, and the cursor of the next page (None after the last)."""
    query: dict[str, Any] = {"KeyConditionExpression": Key("ownerSub").eq(owner), "ScanIndexForward": False, "Limit": limit}
    if cursor is not None:
        query["ExclusiveStartKey"] = {"ownerSub": owner, "noteId": _read_cursor(owner, cursor)}
    page = table().query(**query)
    last = page.get("LastEvaluatedKey")
    return [_public(item) for item in page["Items"]], None if last is None else _cursor(owner, last["noteId"])


def count_notes(owner: str) -> int:
    query: dict[str, Any] = {"KeyConditionExpression": Key("ownerSub").eq(owner), "Select": "COUNT"}
    total = 0
    while True:
        page = table().query(**query)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# A cursor carries the last id of its page and a digest of its owner. The query only ever reads the
# caller's own partition, so a forged cursor can skip notes but never show another caller's; the
# digest is what turns another caller's cursor into a 400 instead of a silently wrong page.
def _owner_digest(owner: str) -> str:
    return hashlib.sha256(owner.encode()).hexdigest()[:16]


def _cursor(owner: str, note_id: str) -> str:
    text = json.dumps({"v": _CURSOR_VERSION, "o": _owner_digest(owner), "after": note_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _read_cursor(owner: str, cursor: str) -> str:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ClientError(400, "cursor is not a cursor of this API (pass the `next` value of a previous page)") from None
    if not isinstance(decoded, dict) or decoded.get("v") != _CURSOR_VERSION or not isinstance(decoded.get("after"), str) \
            or not is_note_id(decoded["after"]):
        raise ClientError(400, "cursor is not a cursor of this API (pass the `next` value of a previous page)")
    if decoded.get("o") != _owner_digest(owner):
        raise ClientError(400, "cursor belongs to another caller's listing")
    return decoded["after"]
