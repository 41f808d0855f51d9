"""Payload format 2.0 (spec B): the one builder of the events of Lambda integrations and of Lambda
REQUEST authorizers, from the gateway's one parse of the request.

Both events carry the same request fields (routeKey, rawPath, rawQueryString, cookies, headers,
queryStringParameters, requestContext, pathParameters, stageVariables); the integration's adds the
body, the authorizer's its type, routeArn and identitySource. Fields with nothing to carry are left
out (B2). Cookie headers go to `cookies`, never to `headers` (repeated Cookie headers arrive joined
with ","). Payload 1.0's events are built in payload_v1.py; the rules and local choices are listed in
gateway.py's docstring.
"""
from __future__ import annotations

import base64
import functools
import time
from typing import Any, Mapping, Sequence

from local_aws import hosts, ids

TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def request_fields(*, route_key: str, raw_path: str, raw_query: str, headers: Mapping[str, str], cookies: Sequence[str],
                   query: Mapping[str, str], request_context: Mapping[str, Any], path_parameters: Mapping[str, str],
                   stage_variables: Mapping[str, str]) -> dict[str, Any]:
    """The request fields of both 2.0 events, in AWS's order."""
    event: dict[str, Any] = {"routeKey": route_key, "rawPath": raw_path, "rawQueryString": raw_query}
    if cookies:
        event["cookies"] = list(cookies)
    event["headers"] = {name.lower(): value for name, value in headers.items() if name.lower() != "cookie"}
    if query:
        event["queryStringParameters"] = dict(query)
    event["requestContext"] = request_context
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def integration_event(fields: dict[str, Any], body: bytes, content_type: str | None) -> dict[str, Any]:
    """The 2.0 event of a Lambda proxy integration (B1-B4), from `request_fields`."""
    event: dict[str, Any] = {"version": "2.0", **fields}
    text, is_base64 = event_body(content_type, body)
    if text is not None:
        event["body"] = text
    event["isBase64Encoded"] = is_base64
    return event


def authorizer_event(fields: dict[str, Any], *, route_arn: str, identity: Sequence[str]) -> dict[str, Any]:
    """The 2.0 event of a Lambda REQUEST authorizer, from `request_fields` and its identity values."""
    event: dict[str, Any] = {"version": "2.0", "type": "REQUEST", "routeArn": route_arn}
    if identity:
        event["identitySource"] = list(identity)
    event.update(fields)
    return event


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_TYPES


def event_body(content_type: str | None, body: bytes) -> tuple[str | None, bool]:
    """An event's (body, isBase64Encoded) (spec B4; the same for payload 1.0): text types as text,
    anything else base64; no body is None."""
    if not body:
        return None, False
    if is_text(content_type):
        return body.decode("utf-8", "replace"), False
    return base64.b64encode(body).decode(), True


def format_time(epoch: float) -> str:
    """requestContext.time: `01/Dec/2026:22:00:00 +0000`."""
    return _format_second(int(epoch))


@functools.lru_cache(maxsize=4)  # one second's requests share it
def _format_second(epoch: int) -> str:
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def request_context(*, account_id: str, api_id: str, host: str, method: str, path: str, protocol: str,
                    source_ip: str, user_agent: str, request_id: str, route_key: str, stage: str,
                    now: float) -> dict[str, Any]:
    """requestContext of both 2.0 events (before authorization adds `authorizer`)."""
    return {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": hosts.host_name(host).split(".", 1)[0],
        "http": {"method": method, "path": path, "protocol": protocol, "sourceIp": source_ip, "userAgent": user_agent},
        "requestId": request_id,
        "routeKey": route_key,
        "stage": stage,
        "time": format_time(now),
        "timeEpoch": int(now * 1000),
    }


def forwarding_headers(headers: Mapping[str, str], *, source_ip: str, port: str, scheme: str,
                       now: float) -> dict[str, str]:
    """The request's headers with those API Gateway adds for the backend (seen in captures of real
    events, not in the spec): x-forwarded-for/-port/-proto, x-amzn-trace-id."""
    headers = dict(headers)
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    headers["x-forwarded-port"] = port
    headers["x-forwarded-proto"] = scheme
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{ids.random_bytes(12).hex()}")
    return headers
