"""What a Lambda proxy integration's result becomes: the HTTP response (payload 2.0, spec B5-B6;
1.0, spec G3), and the gateway's own fixed answers. A malformed result raises _Malformed (500)."""
from __future__ import annotations

import base64
import binascii
import http
import json
import re
from dataclasses import dataclass
from typing import Any

# Not forwarded from a function's headers: the server frames the response itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "content-length", "apigw-requestid"})
STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}


@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    preflight: bool = False


def _json_response(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _Response(status, [("content-type", "application/json"), *(headers or [])],
                     json.dumps({"message": message}, separators=(",", ":")).encode())


def not_found() -> _Response:
    return _json_response(404, "Not Found")


def internal_error() -> _Response:
    return _json_response(500, "Internal Server Error")


def _header_value(value: Any) -> str | None:
    """A header value from a function result as the server writes it (a latin-1 string of its UTF-8
    bytes, as WSGI's), None if malformed."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    elif not isinstance(value, str):
        return None
    if "\r" in value or "\n" in value:
        return None
    return value.encode("utf-8").decode("latin-1")


class _Malformed(Exception):
    pass


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _status_code(payload: dict) -> int:
    status = payload["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise _Malformed(f"statusCode {status!r} is not an HTTP status code")
    return status


def _response_header(name: Any, value: Any) -> tuple[str, str] | None:
    """One header of a function result; None for one the server frames itself; raises _Malformed."""
    text = _header_value(value)
    if not isinstance(name, str) or not _HEADER_NAME.match(name) or text is None:
        raise _Malformed(f"header {name!r}: {value!r} is not a header")
    return None if name.lower() in HOP_BY_HOP else (name, text)


def _response_body(payload: dict) -> bytes:
    body = payload.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise _Malformed("body is not a string")
    elif payload.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _Malformed("isBase64Encoded but body is not base64") from None
    else:
        data = body.encode("utf-8")
    if "isBase64Encoded" in payload and not isinstance(payload["isBase64Encoded"], bool):
        raise _Malformed("isBase64Encoded is not a boolean")
    return data


def integration_response(payload: Any) -> _Response:
    """Map a function result to the HTTP response (spec B5); raises _Malformed (B6)."""
    if isinstance(payload, dict) and "statusCode" in payload:
        status = _status_code(payload)
        headers_in = payload.get("headers") or {}
        if not isinstance(headers_in, dict):
            raise _Malformed("headers is not an object")
        headers: list[tuple[str, str]] = []
        for name, value in headers_in.items():
            header = _response_header(name, value)
            if header is not None:
                headers.append(header)
        cookies = payload.get("cookies") or []
        if not isinstance(cookies, list):
            raise _Malformed("cookies is not an array")
        for cookie in cookies:
            text = _header_value(cookie) if isinstance(cookie, str) else None
            if text is None:
                raise _Malformed(f"cookie {cookie!r} is not a string")
            headers.append(("set-cookie", text))
        return _Response(status, headers, _response_body(payload))
    if isinstance(payload, str):
        data = payload.encode("utf-8")
    else:
        data = json.dumps(payload, separators=(",", ":")).encode()
    return _Response(200, [("content-type", "application/json")], data)


def integration_response_v1(payload: Any) -> _Response:
    """Map a payload 1.0 function result to the HTTP response (spec G3); raises _Malformed.

    Only `{statusCode, headers, multiValueHeaders, body, isBase64Encoded}` is a response: there is no
    200 for other JSON. A header named in both maps takes multiValueHeaders' values, then headers'
    value unless it is one of them (compared case-insensitively by name)."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        raise _Malformed("a payload 1.0 result needs a statusCode (other JSON is not a response)")
    status = _status_code(payload)
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(single, dict):
        raise _Malformed("headers is not an object")
    if not isinstance(multi, dict):
        raise _Malformed("multiValueHeaders is not an object")
    values: dict[str, list[tuple[str, str]]] = {}
    for name, listed in multi.items():
        if not isinstance(listed, list):
            raise _Malformed(f"multiValueHeaders {name!r} is not an array")
        for value in listed:
            header = _response_header(name, value)
            if header is not None:
                values.setdefault(name.lower(), []).append(header)
    for name, value in single.items():
        header = _response_header(name, value)
        if header is not None and header[1] not in [text for _, text in values.get(name.lower(), ())]:
            values.setdefault(name.lower(), []).append(header)
    headers = [header for listed in values.values() for header in listed]
    return _Response(status, headers, _response_body(payload))
