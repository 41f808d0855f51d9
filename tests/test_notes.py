"""The notes service's handlers against a real DynamoDB table of the embedded AWS: storage, isolation
per owner, paging, idempotent creates, and the operators' AWS_IAM count.

Events are the payload 2.0 shapes of tests/events (spec B1), with the caller's claims replaced:
the JWT authorizer has checked the token before any of these run (spec A2).
"""
from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.test_handlers import HANDLERS, SHARED, _store, load_event  # noqa: F401 (_store: the table, autouse)

STORE = SHARED["notes_store"]


def caller(sub: str) -> dict:
    return {"jwt": {"claims": {"sub": sub, "client_id": "c", "token_use": "access",
                               "scope": "notes-api/read notes-api/write"},
                    "scopes": ["notes-api/read", "notes-api/write"]}}


def call(function: str, sub: str | None, *, body: object = None, path_id: str | None = None,
         query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict | None]:
    event = load_event("create_note")
    event["requestContext"]["authorizer"] = caller(sub) if sub else {}
    event["body"] = None if body is None else json.dumps(body)
    if path_id is not None:
        event["pathParameters"] = {"id": path_id}
    if query is not None:
        event["queryStringParameters"] = query
    event["headers"].update(headers or {})
    response = HANDLERS[function](event, None)
    return response["statusCode"], json.loads(response["body"]) if response["body"] else None


def new_owner() -> str:
    return str(uuid.uuid4())


def create(sub: str, title: str = "t", content: str = "c", **kwargs) -> dict:
    status, body = call("create_note", sub, body={"title": title, "content": content}, **kwargs)
    assert status == 201, body
    return body["note"]


def list_all(sub: str, limit: str = "100") -> list[dict]:
    status, body = call("list_notes", sub, query={"limit": limit})
    assert status == 200, body
    return body["notes"]


# --- ids ------------------------------------------------------------------------------------------


def test_note_ids_are_uuid7_in_creation_order_and_distinct_within_a_millisecond() -> None:
    ids = [STORE.new_note_id(now_ms=1_800_000_000_000) for _ in range(500)]
    assert len(set(ids)) == 500
    assert ids == sorted(ids)
    assert {uuid.UUID(i).version for i in ids} == {7}
    later = STORE.new_note_id(now_ms=1_800_000_000_001 + 10)
    assert later > ids[-1]
    assert all(STORE.is_note_id(i) for i in ids + [later])


# --- create, get, list, delete ------------------------------------------------------------------


def test_a_created_note_is_stored_and_read_back() -> None:
    owner = new_owner()
    note = create(owner, "Groceries", "Milk")
    assert call("get_note", owner, path_id=note["id"]) == (200, {"note": note})
    assert note == {"id": note["id"], "title": "Groceries", "content": "Milk", "ownerSub": owner}


def test_list_is_newest_first_and_pages_with_an_opaque_cursor() -> None:
    owner = new_owner()
    created = [create(owner, f"n{i}") for i in range(5)]
    status, first = call("list_notes", owner, query={"limit": "2"})
    assert status == 200
    assert first["notes"] == created[::-1][:2] and isinstance(first["next"], str)
    seen = list(first["notes"])
    cursor = first["next"]
    while cursor:
        status, page = call("list_notes", owner, query={"limit": "2", "cursor": cursor, "unknown": "ignored"})
        assert status == 200
        seen += page["notes"]
        cursor = page["next"]
    assert seen == created[::-1]


def test_list_defaults_to_twenty_and_is_empty_for_a_new_owner() -> None:
    owner = new_owner()
    assert call("list_notes", owner) == (200, {"notes": [], "next": None})
    for i in range(21):
        create(owner, f"n{i}")
    status, body = call("list_notes", owner)
    assert status == 200 and len(body["notes"]) == 20 and body["next"]


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", "", "٣", "20 "])
def test_a_bad_limit_is_a_400_naming_it(limit: str) -> None:
    status, body = call("list_notes", new_owner(), query={"limit": limit})
    assert status == 400 and body["message"].startswith("limit must be a whole number from 1 to 100")


@pytest.mark.parametrize("cursor", ["garbage!", "e30", "eyJ2IjoxfQ", "x" * 300])
def test_a_bad_cursor_is_a_400(cursor: str) -> None:
    status, body = call("list_notes", new_owner(), query={"cursor": cursor})
    assert status == 400 and body["message"].startswith("cursor is not a cursor of this API")


def test_another_callers_cursor_is_a_400() -> None:
    owner, other = new_owner(), new_owner()
    for i in range(3):
        create(owner, f"n{i}")
    cursor = call("list_notes", owner, query={"limit": "1"})[1]["next"]
    assert call("list_notes", other, query={"cursor": cursor}) == (400, {"message": "cursor belongs to another caller's listing"})


def test_owners_see_only_their_own_notes_and_the_same_404_for_everything_else() -> None:
    owner, other = new_owner(), new_owner()
    note = create(owner)
    gone = create(owner)
    assert call("delete_note", owner, path_id=gone["id"]) == (204, None)
    never = STORE.new_note_id()
    not_found = (404, {"message": "note not found"})
    for sub, note_id in [(other, note["id"]), (owner, gone["id"]), (owner, never)]:
        assert call("get_note", sub, path_id=note_id) == not_found
        assert call("delete_note", sub, path_id=note_id) == not_found
    assert list_all(other) == []
    assert call("get_note", owner, path_id=note["id"]) == (200, {"note": note})


def test_delete_removes_the_note_from_the_listing() -> None:
    owner = new_owner()
    keep, drop = create(owner, "keep"), create(owner, "drop")
    assert call("delete_note", owner, path_id=drop["id"]) == (204, None)
    assert list_all(owner) == [keep]


@pytest.mark.parametrize("bad_id", ["42", "not-an-id", "9f1c6b2e-4a7d-4e3b-8c5f-2d1a0b9e8c7f", "0190F3A2-7B4C-7D5E-8F60-1A2B3C4D5E6F", "../x"])
@pytest.mark.parametrize("function", ["get_note", "delete_note"])
def test_a_bad_id_is_a_400(function: str, bad_id: str) -> None:
    status, body = call(function, new_owner(), path_id=bad_id)
    assert status == 400 and body["message"].startswith("id must be a note id")


@pytest.mark.parametrize("function", ["list_notes", "get_note", "delete_note"])
def test_no_verified_caller_is_a_401(function: str) -> None:
    assert call(function, None, path_id=STORE.new_note_id()) == (401, {"message": "Unauthorized"})


# --- Idempotency-Key ------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_first_note_and_stores_nothing() -> None:
    owner = new_owner()
    first = create(owner, "pay", headers={"idempotency-key": "order-1"})
    again = create(owner, "pay", headers={"idempotency-key": "order-1"})
    assert again == first
    assert list_all(owner) == [first]


def test_the_same_key_with_another_body_is_a_409() -> None:
    owner = new_owner()
    create(owner, "pay", headers={"idempotency-key": "order-2"})
    status, body = call("create_note", owner, body={"title": "other"}, headers={"idempotency-key": "order-2"})
    assert status == 409 and body == {"message": "Idempotency-Key was already used with another request body"}
    assert len(list_all(owner)) == 1


def test_keys_are_per_owner() -> None:
    one, two = new_owner(), new_owner()
    a = create(one, "x", headers={"idempotency-key": "shared"})
    b = create(two, "x", headers={"idempotency-key": "shared"})
    assert a["id"] != b["id"] and list_all(one) == [a] and list_all(two) == [b]


def test_a_key_older_than_24_hours_creates_a_new_note() -> None:
    owner = new_owner()
    note = {"id": STORE.new_note_id(), "title": "t", "content": "c", "ownerSub": owner}
    print_ = STORE.fingerprint({"title": "t"})
    old = STORE.put_note_once(note, "k", print_, now=time.time() - STORE.IDEMPOTENCY_WINDOW_S - 1)
    fresh = create(owner, "t", "", headers={"idempotency-key": "k"})
    assert fresh["id"] != old["id"]
    assert {n["id"] for n in list_all(owner)} == {old["id"], fresh["id"]}


def test_a_deleted_note_is_still_the_answer_to_its_retry() -> None:
    owner = new_owner()
    first = create(owner, headers={"idempotency-key": "once"})
    call("delete_note", owner, path_id=first["id"])
    assert create(owner, headers={"idempotency-key": "once"}) == first
    assert list_all(owner) == []


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "é"])
def test_a_bad_idempotency_key_is_a_400(key: str) -> None:
    owner = new_owner()
    status, body = call("create_note", owner, body={"title": "t"}, headers={"idempotency-key": key})
    assert status == 400 and body["message"].startswith("Idempotency-Key must be")
    assert list_all(owner) == []


# --- GET /notes/stats (AWS_IAM) ---------------------------------------------------------------------


def iam_event(owner: str | None, *, signed: bool = True) -> dict:
    event = load_event("hello")
    event["requestContext"]["authorizer"] = {"iam": {
        "accessKey": "AKIAEXAMPLE", "accountId": "123456789012", "callerId": "AIDAEXAMPLE",
        "userArn": "arn:aws:iam::123456789012:user/operator", "userId": "AIDAEXAMPLE"}} if signed else {}
    if owner is not None:
        event["queryStringParameters"] = {"owner": owner}
    return event


def stats(event: dict) -> tuple[int, dict]:
    response = HANDLERS["note_stats"](event, None)
    return response["statusCode"], json.loads(response["body"])


def test_stats_count_an_owners_notes_for_a_signed_caller() -> None:
    owner = new_owner()
    for _ in range(3):
        create(owner)
    create(owner, headers={"idempotency-key": "not-a-note"})  # its record is not counted as a note
    assert stats(iam_event(owner)) == (200, {"owner": owner, "notes": 4, "caller": "arn:aws:iam::123456789012:user/operator"})


def test_stats_need_an_owner_and_a_signed_caller() -> None:
    assert stats(iam_event(None))[0] == 400
    assert stats(iam_event("idempotency#x"))[0] == 400
    assert stats(iam_event(new_owner(), signed=False)) == (401, {"message": "Unauthorized"})
