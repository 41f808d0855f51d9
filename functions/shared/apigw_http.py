"""What every handler shares: reading API Gateway HTTP API events (payload format 2.0) and
answering with JSON.

main.tf packages this folder at the root of each function's zip, next to its app.py, so a
handler simply does `import apigw_http`. Standard library only.
"""
import base64
import functools
import json
from collections import Counter
from collections.abc import Callable
from typing import Any, NoReturn

Event = dict[str, Any]
Response = dict[str, Any]
Handler = Callable[[Event, Any], Response]

# Checked on the bytes the client sent, before any parsing: far above any valid note, far below
# API Gateway's own 10 MB payload limit (spec C5).
MAX_BODY_BYTES = 64 * 1024


class ClientError(Exception):
    """A request the function refuses; answered with `status_code` and {"message": message}."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def json_response(status_code: int, payload: Any) -> Response:
    # ensure_ascii keeps the body plain ASCII, so even text that cannot be encoded as UTF-8
    # (an unpaired surrogate) can never break the response on its way out.
    return {"statusCode": status_code, "headers": {"content-type": "application/json"}, "body": json.dumps(payload)}


def empty_response(status_code: int) -> Response:
    """A response without a body (204)."""
    return {"statusCode": status_code, "headers": {}, "body": ""}


def error_response(status_code: int, message: str) -> Response:
    return json_response(status_code, {"message": message})


def http_handler(handle: Handler) -> Handler:
    """Answer a ClientError raised anywhere in `handle` with its 4xx response.

    Any other exception is a bug and propagates on purpose: the runtime logs its traceback, the
    function's Errors metric counts it, and API Gateway answers the client
    500 {"message":"Internal Server Error"} with no details (spec B6): the answer a catch-all
    here would give, without hiding the bug from metrics and alarms.
    """

    @functools.wraps(handle)
    def handler(event: Event, context: Any) -> Response:
        try:
            return handle(event, context)
        except ClientError as refusal:
            return error_response(refusal.status_code, refusal.message)

    return handler


def jwt_claims(event: Event) -> dict[str, str]:
    """The claims API Gateway's JWT authorizer verified, all strings (spec A6).

    Raises 401 when there are none, so a route deployed without its authorizer serves nobody
    rather than everybody.
    """
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise ClientError(401, "Unauthorized")
    return claims


def iam_caller(event: Event) -> dict[str, Any]:
    """The SigV4 caller that API Gateway's IAM authorization verified (spec E2); 401 when none,
    so a route deployed without AWS_IAM serves nobody."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    caller = authorizer.get("iam") or {}
    if not isinstance(caller, dict) or not caller.get("userArn"):
        raise ClientError(401, "Unauthorized")
    return caller


def path_parameter(event: Event, name: str) -> str:
    """A path parameter of the route; the route key guarantees it, so its absence is a 404."""
    value = (event.get("pathParameters") or {}).get(name)
    if not isinstance(value, str) or not value:
        raise ClientError(404, "Not Found")
    return value


def query_parameter(event: Event, name: str) -> str | None:
    """One query parameter, as API Gateway decoded it (repeated keys arrive joined with ",": spec B2)."""
    value = (event.get("queryStringParameters") or {}).get(name)
    return value if isinstance(value, str) else None


def header(event: Event, name: str) -> str | None:
    """A request header by its lower-case name (spec B2)."""
    value = (event.get("headers") or {}).get(name)
    return value if isinstance(value, str) else None


def caller_username(claims: dict[str, str]) -> str | None:
    """The user's name: `username` in access tokens, `cognito:username` in ID tokens; None for
    machine tokens (client_credentials), whose caller is a client, not a user (spec D6)."""
    return claims.get("username") or claims.get("cognito:username") or None


def token_scopes(claims: dict[str, str]) -> list[str]:
    """The token's scopes: the `scope` claim arrives as the token's space-separated string."""
    return claims.get("scope", "").split()


def json_object_body(event: Event) -> dict[str, Any]:
    """The request body as a JSON object; {} for an absent or empty body.

    Raises 413 for a body over MAX_BODY_BYTES and 400 for anything else that is not a JSON
    object: bad base64, bad UTF-8, bad JSON, NaN/Infinity, a duplicated key, too deep a nesting.
    """
    text = _body_text(event)
    if not text:
        return {}
    try:
        value = json.loads(text, object_pairs_hook=_object_without_duplicate_keys, parse_constant=_reject_constant)
    except RecursionError:
        raise ClientError(400, "request body is nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, or an integer longer than Python's digit limit
        raise ClientError(400, f"request body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ClientError(400, f"request body must be a JSON object, not {_json_type(value)}")
    return value


def _body_text(event: Event) -> str:
    body = event.get("body") or ""
    # Bodies that are not text/* or JSON arrive base64-encoded, even form-urlencoded ones
    # such as `curl -d` sends (spec B4).
    if not event.get("isBase64Encoded"):
        _check_size(len(body.encode("utf-8", "surrogatepass")))
        return body
    try:
        raw = base64.b64decode(body, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters in the encoded text
        raise ClientError(400, "request body is not valid base64") from None
    _check_size(len(raw))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ClientError(400, "request body is not valid UTF-8") from None


def _check_size(size: int) -> None:
    if size > MAX_BODY_BYTES:
        raise ClientError(413, f"request body is {size} bytes, over the limit of {MAX_BODY_BYTES} bytes")


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of duplicated keys: refuse rather than silently drop a value.
    fields = dict(pairs)
    if len(fields) < len(pairs):
        duplicates = sorted(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
        raise ClientError(400, f"request body repeats the key(s) {quoted(duplicates)}")
    return fields


def _reject_constant(name: str) -> NoReturn:
    raise ClientError(400, f"request body is not valid JSON: {name} is not a JSON number")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array"


def quoted(names: list[str]) -> str:
    """Names as JSON strings, so an empty or odd-looking name stays visible in a message."""
    return ", ".join(json.dumps(name) for name in names)
