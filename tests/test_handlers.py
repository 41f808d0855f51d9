"""The Lambda handlers, called with payload 2.0 events shaped as API Gateway sends them (spec B1–B4).

The events are JSON files under tests/events; every bad-input case is a variant of one of them.
Claims arrive as strings (spec A6); the JWT authorizer has already checked the token (spec A2), so
the handlers only read claims, and answer 401 when there are none.
"""
from __future__ import annotations

import base64
import functools
import importlib.util
import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from local_aws import runtime
from hypothesis import given, settings
from hypothesis import strategies as st

REPOSITORY = Path(__file__).resolve().parents[1]
FUNCTIONS = REPOSITORY / "functions"
EVENTS = Path(__file__).parent / "events"
FUNCTION_NAMES = ("hello", "profile", "create_note", "list_notes", "get_note", "delete_note", "note_stats")
SHARED_MODULES = ("apigw_http", "notes_store")  # functions/shared, at the root of every package
JSON_HEADERS = {"content-type": "application/json"}
USER_SUB = "7c2e9a41-3b5d-4f8e-a6c0-d19b2f7e4a53"
USER_SCOPES = ["openid", "profile", "email", "notes-api/read", "notes-api/write"]
MAX_BODY_BYTES = 64 * 1024
# (function, event) of each route behind the JWT authorizer.
PROTECTED_ROUTES = [("profile", "profile_user_access_token"), ("create_note", "create_note")]


def _load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _load_functions() -> tuple[ModuleType, dict[str, Callable[[dict, Any], dict]]]:
    """The shared helper and each function's handler, whose `import apigw_http` (and
    `import notes_store`) gets the shared module as it does in its zip.

    Every app module is named `app`, so each is loaded under its own name; sys.modules is left
    as it was found.
    """
    previous = {name: sys.modules.get(name) for name in SHARED_MODULES}
    try:
        for name in SHARED_MODULES:
            sys.modules[name] = _load_module(name, FUNCTIONS / "shared" / f"{name}.py")
        SHARED.update({name: sys.modules[name] for name in SHARED_MODULES})
        return SHARED["apigw_http"], {
            name: _load_module(f"{name}_app", FUNCTIONS / name / "app.py").handler for name in FUNCTION_NAMES
        }
    finally:
        for name, module in previous.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


SHARED: dict[str, ModuleType] = {}


@pytest.fixture(scope="module", autouse=True)
def _store(notes_table: dict[str, str]) -> None:
    """The handlers' table client, made once in the environment a deployed function has."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in notes_table.items():
            patch.setenv(name, value)
        SHARED["notes_store"]._table = None
        SHARED["notes_store"].table()


APIGW_HTTP, HANDLERS = _load_functions()


@functools.cache
def _event_text(name: str) -> str:
    return (EVENTS / f"{name}.json").read_text()


def load_event(name: str) -> dict:
    """A fresh copy of tests/events/<name>.json, free to modify."""
    return json.loads(_event_text(name))


def respond(function: str, event: dict) -> tuple[int, dict]:
    """Call a handler; check the response envelope every route shares; return status and parsed body."""
    response = HANDLERS[function](event, None)
    assert set(response) == {"statusCode", "headers", "body"}
    assert response["headers"] == JSON_HEADERS
    body = json.loads(response["body"])
    assert isinstance(body, dict)
    return response["statusCode"], body


def note_event(body: str | bytes | None, *, base64_encoded: bool = False) -> dict:
    """The create_note event with another body; bytes are sent base64-encoded, as spec B4 says
    API Gateway does for a form-urlencoded body such as `curl -d` sends."""
    event = load_event("create_note")
    if isinstance(body, bytes):
        body, base64_encoded = base64.b64encode(body).decode("ascii"), True
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    event["body"] = body
    event["isBase64Encoded"] = base64_encoded
    return event


def create_note(body: str | bytes | None, *, base64_encoded: bool = False) -> tuple[int, dict]:
    return respond("create_note", note_event(body, base64_encoded=base64_encoded))


# --- GET /hello -------------------------------------------------------------------------------


def test_hello_answers_with_its_message_path_and_method() -> None:
    assert respond("hello", load_event("hello")) == (200, {"message": "Hello from Lambda", "path": "/hello", "method": "GET"})


def test_hello_echoes_the_raw_path_which_has_the_stage_prefix_on_a_named_stage() -> None:
    event = load_event("hello")  # spec B3
    event["rawPath"] = "/dev/hello"
    event["requestContext"]["stage"] = "dev"
    assert respond("hello", event) == (200, {"message": "Hello from Lambda", "path": "/dev/hello", "method": "GET"})


# --- GET /profile -----------------------------------------------------------------------------


def test_profile_of_a_user_access_token() -> None:
    assert respond("profile", load_event("profile_user_access_token")) == (
        200,
        {
            "message": "Authenticated profile response",
            "user": {"sub": USER_SUB, "username": "demo-user", "clientId": "5q1kqvd9c2uo3e8r0b7nlhf4gm"},
            "auth": {"tokenUse": "access", "scopes": USER_SCOPES},
        },
    )


def test_profile_of_a_machine_token_has_no_username() -> None:
    # client_credentials tokens: sub is the client id and there is no username claim (spec D6).
    assert respond("profile", load_event("profile_machine_token")) == (
        200,
        {
            "message": "Authenticated profile response",
            "user": {"sub": "3h8v0tq6kd2m9rbe1u4wpa7cjn", "username": None, "clientId": "3h8v0tq6kd2m9rbe1u4wpa7cjn"},
            "auth": {"tokenUse": "access", "scopes": ["notes-api/read", "notes-api/write"]},
        },
    )


@pytest.mark.parametrize(
    ("name_claims", "username"),
    [
        pytest.param({"username": "demo-user", "cognito:username": "other"}, "demo-user", id="username-first"),
        pytest.param({"cognito:username": "demo-user"}, "demo-user", id="cognito-username-of-an-id-token"),
        pytest.param({}, None, id="neither"),
    ],
)
def test_profile_username_falls_back_to_cognito_username_then_null(name_claims: dict, username: str | None) -> None:
    event = load_event("profile_user_access_token")
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    del claims["username"]
    claims.update(name_claims)
    status, body = respond("profile", event)
    assert status == 200
    assert body["user"]["username"] == username


@pytest.mark.parametrize(
    ("scope_claim", "scopes"),
    [
        pytest.param("notes-api/read", ["notes-api/read"], id="one"),
        pytest.param("openid  notes-api/read ", ["openid", "notes-api/read"], id="extra-spaces"),
        pytest.param("", [], id="empty"),
        pytest.param(None, [], id="absent"),
    ],
)
@pytest.mark.parametrize(("function", "event_name"), PROTECTED_ROUTES)
def test_scopes_are_the_scope_claim_split_on_spaces(
    function: str, event_name: str, scope_claim: str | None, scopes: list[str]
) -> None:
    event = load_event(event_name)
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    if scope_claim is None:
        del claims["scope"]
    else:
        claims["scope"] = scope_claim
    status, body = respond(function, event)
    assert status in (200, 201)
    assert body["auth"]["scopes"] == scopes


def _without_authorizer(context: dict) -> None:
    del context["authorizer"]


def _with_null_authorizer(context: dict) -> None:
    context["authorizer"] = None


def _with_iam_authorizer(context: dict) -> None:
    context["authorizer"] = {"iam": {"accountId": "123456789012", "userArn": "arn:aws:iam::123456789012:user/ci"}}


def _without_claims(context: dict) -> None:
    del context["authorizer"]["jwt"]["claims"]


def _without_sub(context: dict) -> None:
    del context["authorizer"]["jwt"]["claims"]["sub"]


def _with_empty_sub(context: dict) -> None:
    context["authorizer"]["jwt"]["claims"]["sub"] = ""


UNAUTHENTICATED = [
    pytest.param(change, id=change.__name__.strip("_"))
    for change in (_without_authorizer, _with_null_authorizer, _with_iam_authorizer, _without_claims, _without_sub, _with_empty_sub)
]


@pytest.mark.parametrize("unauthenticate", UNAUTHENTICATED)
@pytest.mark.parametrize(("function", "event_name"), PROTECTED_ROUTES)
def test_a_request_without_verified_claims_is_unauthorized(function: str, event_name: str, unauthenticate: Callable) -> None:
    # Defense in depth: a protected route deployed without its authorizer must serve nobody.
    event = load_event(event_name)
    unauthenticate(event["requestContext"])
    assert respond(function, event) == (401, {"message": "Unauthorized"})


def test_create_note_checks_the_caller_before_the_body() -> None:
    event = note_event("not json")
    del event["requestContext"]["authorizer"]
    assert respond("create_note", event) == (401, {"message": "Unauthorized"})


# --- POST /notes: success -----------------------------------------------------------------------


def test_create_note_returns_the_note_with_a_new_id() -> None:
    status, body = respond("create_note", load_event("create_note"))
    assert status == 201
    assert uuid.UUID(body["note"].pop("id")).version == 7
    assert body == {
        "message": "Note created",
        "note": {"title": "Groceries", "content": "Milk, eggs, bread", "ownerSub": USER_SUB},
        "auth": {"username": "demo-user", "scopes": USER_SCOPES},
    }


def test_create_note_for_a_machine_token_has_no_username() -> None:
    event = load_event("create_note")
    event["requestContext"]["authorizer"] = load_event("profile_machine_token")["requestContext"]["authorizer"]
    status, body = respond("create_note", event)
    assert status == 201
    assert body["note"]["ownerSub"] == "3h8v0tq6kd2m9rbe1u4wpa7cjn"
    assert body["auth"] == {"username": None, "scopes": ["notes-api/read", "notes-api/write"]}


def test_notes_created_back_to_back_have_different_ids() -> None:
    ids = {create_note('{"title": "same"}')[1]["note"]["id"] for _ in range(100)}
    assert len(ids) == 100


@pytest.mark.parametrize(
    ("body", "title", "content"),
    [
        pytest.param(None, "Untitled", "", id="no-body"),
        pytest.param("", "Untitled", "", id="empty-body"),
        pytest.param("{}", "Untitled", "", id="empty-object"),
        pytest.param('{"content": "Milk"}', "Untitled", "Milk", id="content-only"),
        pytest.param('{"title": "Groceries"}', "Groceries", "", id="title-only"),
        pytest.param('{"title": "", "content": ""}', "Untitled", "", id="empty-title"),
        pytest.param('{"title": " \\t\\n"}', "Untitled", "", id="blank-title"),
        pytest.param('{"title": "  padded  "}', "  padded  ", "", id="title-kept-as-given"),
        pytest.param('{"title": "Caf\\u00e9 \\ud83d\\ude00"}', "Café 😀", "", id="escaped-unicode"),
        pytest.param('{"title": "Café 😀"}', "Café 😀", "", id="raw-unicode"),
        pytest.param(' \n{"title": "x"}\n ', "x", "", id="surrounding-whitespace"),
        pytest.param(json.dumps({"title": "t" * 200, "content": "c" * 10_000}), "t" * 200, "c" * 10_000, id="at-the-length-limits"),
        pytest.param(json.dumps({"title": "😀" * 200}), "😀" * 200, "", id="limit-counts-characters-not-bytes"),
    ],
)
def test_create_note_defaults(body: str | None, title: str, content: str) -> None:
    status, response = create_note(body)
    assert status == 201
    assert (response["note"]["title"], response["note"]["content"]) == (title, content)


def test_create_note_with_no_body_key_at_all() -> None:
    event = load_event("create_note")
    del event["body"]
    status, body = respond("create_note", event)
    assert (status, body["note"]["title"], body["note"]["content"]) == (201, "Untitled", "")


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        pytest.param(b'{"title": "From curl", "content": "-d"}', "From curl", id="json"),
        pytest.param('{"title": "Café"}'.encode(), "Café", id="utf-8"),
        pytest.param(b"", "Untitled", id="empty"),
    ],
)
def test_create_note_decodes_a_base64_body(raw: bytes, title: str) -> None:
    # spec B4: a form-urlencoded body (curl -d) arrives base64-encoded.
    status, body = create_note(raw)
    assert status == 201
    assert body["note"]["title"] == title


# --- POST /notes: bad input is a 4xx naming the problem, never a 5xx ----------------------------

NOTE_FIELDS_HINT = 'a note has only "title", "content"'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("[]", "request body must be a JSON object, not an array", id="array"),
        pytest.param('"note"', "request body must be a JSON object, not a string", id="string"),
        pytest.param("42", "request body must be a JSON object, not a number", id="number"),
        pytest.param("true", "request body must be a JSON object, not a boolean", id="boolean"),
        pytest.param("null", "request body must be a JSON object, not null", id="null"),
        pytest.param('{"title": 5}', "title must be a string", id="title-number"),
        pytest.param('{"title": null}', "title must be a string", id="title-null"),
        pytest.param('{"title": "x", "content": ["a"]}', "content must be a string", id="content-array"),
        pytest.param('{"content": {"text": "a"}}', "content must be a string", id="content-object"),
        pytest.param(
            '{"title": "x", "tags": [], "colour": "red"}', f'unknown field(s) "colour", "tags": {NOTE_FIELDS_HINT}', id="unknown-fields"
        ),
        pytest.param('{"": 1}', f'unknown field(s) "": {NOTE_FIELDS_HINT}', id="empty-field-name"),
        pytest.param('{"Title": "x"}', f'unknown field(s) "Title": {NOTE_FIELDS_HINT}', id="field-names-are-case-sensitive"),
        pytest.param('{"title": "a", "title": "b"}', 'request body repeats the key(s) "title"', id="duplicate-key"),
        pytest.param(json.dumps({"title": "t" * 201}), "title must be at most 200 characters, not 201", id="title-too-long"),
        pytest.param(json.dumps({"content": "c" * 10_001}), "content must be at most 10000 characters, not 10001", id="content-too-long"),
        pytest.param('{"title": "\\ud800"}', "title is not valid Unicode text: it has an unpaired surrogate", id="escaped-lone-surrogate"),
        pytest.param('{"content": "\ud800"}', "content is not valid Unicode text: it has an unpaired surrogate", id="lone-surrogate"),
        pytest.param('{"title": NaN}', "request body is not valid JSON: NaN is not a JSON number", id="nan"),
        pytest.param('{"title": -Infinity}', "request body is not valid JSON: -Infinity is not a JSON number", id="infinity"),
        pytest.param("[" * 50_000, "request body is nested too deeply", id="deep-nesting"),
    ],
)
def test_create_note_refuses_a_bad_body(body: str, message: str) -> None:
    assert create_note(body) == (400, {"message": message})


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="text"),
        pytest.param("{", id="truncated"),
        pytest.param("{'title': 'x'}", id="single-quotes"),
        pytest.param('{"title": "x",}', id="trailing-comma"),
        pytest.param("   ", id="whitespace-only"),
        pytest.param("\ufeff{}", id="byte-order-mark"),
        pytest.param('{"title": ' + "1" * 5000 + "}", id="integer-over-python-digit-limit"),
    ],
)
def test_create_note_refuses_invalid_json(body: str) -> None:
    status, response = create_note(body)
    assert status == 400
    assert response["message"].startswith("request body is not valid JSON: ")
    assert set(response) == {"message"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("not base64!", "request body is not valid base64", id="not-base64"),
        pytest.param("eyJ0aXRsZSI6ICJ4In0", "request body is not valid base64", id="missing-padding"),
        pytest.param("Café", "request body is not valid base64", id="non-ascii"),
        pytest.param(base64.b64encode(b'{"title": "\xff"}').decode(), "request body is not valid UTF-8", id="latin-1"),
        pytest.param(base64.b64encode('{"title": "x"}'.encode("utf-16")).decode(), "request body is not valid UTF-8", id="utf-16"),
    ],
)
def test_create_note_refuses_a_bad_base64_body(body: str, message: str) -> None:
    assert create_note(body, base64_encoded=True) == (400, {"message": message})


def _padded(document: str, size: int) -> str:
    """`document` followed by JSON whitespace up to `size` UTF-8 bytes: still the same JSON."""
    return document + " " * (size - len(document.encode()))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_padded('{"title": "x"}', MAX_BODY_BYTES), id="text"),
        pytest.param(_padded('{"title": "x"}', MAX_BODY_BYTES).encode(), id="base64"),
    ],
)
def test_create_note_accepts_a_body_at_the_size_limit(body: str | bytes) -> None:
    assert create_note(body)[0] == 201


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(_padded('{"title": "x"}', MAX_BODY_BYTES + 1), id="text"),
        pytest.param(_padded('{"title": "x"}', MAX_BODY_BYTES + 1).encode(), id="base64"),
        # 20 000 bytes of content in 10 000 characters: the limit counts bytes as sent.
        pytest.param(_padded(json.dumps({"content": "é" * 10_000}, ensure_ascii=False), MAX_BODY_BYTES + 1), id="utf-8-bytes"),
        pytest.param("x" * 10 * 1024 * 1024, id="api-gateway-maximum"),
    ],
)
def test_create_note_refuses_a_body_over_the_size_limit(body: str | bytes) -> None:
    size = len(body) if isinstance(body, bytes) else len(body.encode())
    assert create_note(body) == (413, {"message": f"request body is {size} bytes, over the limit of {MAX_BODY_BYTES} bytes"})


# --- Any body at all: never a 5xx -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
# Objects shaped like a note, whose fields may have any type or length, or be unknown.
note_like = st.dictionaries(
    st.sampled_from(["title", "content"]) | st.text(max_size=8),
    st.text(max_size=220) | json_values,
    max_size=3,
)
documents = json_values | note_like
# (body, isBase64Encoded) pairs, as API Gateway could send them and as it could not.
bodies = st.one_of(
    st.binary(max_size=512).map(lambda raw: (base64.b64encode(raw).decode("ascii"), True)),
    st.text(max_size=512).map(lambda text: (text, False)),
    st.text(max_size=64).map(lambda text: (text, True)),  # mostly not base64 at all
    documents.map(lambda document: (json.dumps(document), False)),
    documents.map(lambda document: (base64.b64encode(json.dumps(document).encode()).decode("ascii"), True)),
)


@settings(max_examples=200, deadline=None)
@given(body=bodies)
def test_any_body_gets_a_json_answer_and_never_a_5xx(body: tuple[str, bool]) -> None:
    status, response = create_note(body[0], base64_encoded=body[1])
    if status == 201:
        assert isinstance(response["note"]["title"], str) and isinstance(response["note"]["content"], str)
    else:
        assert 400 <= status < 500
        assert set(response) == {"message"} and isinstance(response["message"], str) and response["message"]


# --- Bugs, unlike bad input, are not answered by the function -----------------------------------


def test_an_unexpected_exception_propagates_to_the_runtime() -> None:
    """No catch-all: the runtime logs the traceback and counts the error in the function's metrics,
    and API Gateway answers 500 {"message":"Internal Server Error"} without details (spec B6)."""

    @APIGW_HTTP.http_handler
    def buggy_handler(event: dict, context: Any) -> dict:
        return {"statusCode": 200, "body": str(event["missing"])}

    with pytest.raises(KeyError, match="missing"):
        buggy_handler(load_event("hello"), None)


# --- As packaged --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "event_name", "status"),
    [("hello", "hello", 200), ("profile", "profile_machine_token", 200), ("create_note", "create_note", 201)],
)
def test_each_function_runs_from_its_package_alone(tmp_path: Path, notes_table: dict[str, str], function: str,
                                                   event_name: str, status: int) -> None:
    """Unzipped as Lambda does into its task root (main.tf: the function's folder merged with
    functions/shared), the handler imports and answers in an interpreter that sees only what
    Lambda's Python runtime has besides it: the standard library and the AWS SDK."""
    package = _load_module("lambda_route_package", REPOSITORY / "modules" / "lambda_route" / "package.py")
    archive = tmp_path / f"{function}.zip"
    package.write_zip(package.collect([FUNCTIONS / function, FUNCTIONS / "shared"]), archive)
    task_root = tmp_path / "task"
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(task_root)
    run_handler = (
        "import json, sys; sys.path[:0] = sys.argv[1:]; import app; "
        "print(json.dumps(app.handler(json.load(sys.stdin), None)))"
    )
    sdk = runtime.sdk_dir(tmp_path / "sdk")
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", run_handler, str(task_root), str(sdk)],
        input=_event_text(event_name), capture_output=True, text=True, cwd=tmp_path, timeout=30, check=False,
        env=notes_table,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["statusCode"] == status
