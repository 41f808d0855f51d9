"""Payload format 1.0 of HTTP API Lambda integrations and Lambda REQUEST authorizers (spec G).

The gateway parses a request once (stage, route, path parameters, headers, query, body, the
authorization decision) and builds the event of the integration's payload version: 2.0 in
gateway.py, 1.0 here. The rules and the local choices are listed in gateway.py's docstring.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence
from urllib.parse import parse_qsl

from local_aws.authorizer import Decision, HttpRequest, identity_value

# requestContext.identity of a 1.0 event: what a caller signed with IAM fills in; null otherwise.
_IDENTITY_KEYS = ("accessKey", "accountId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
                  "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId", "sourceIp", "user", "userAgent",
                  "userArn")


@dataclass(frozen=True)
class RequestV1:
    """What both 1.0 events are made of, from the gateway's parse of the request."""

    method: str
    path: str                              # decoded, the stage prefix included (as 2.0's rawPath)
    resource: str                          # the route key's path; the request path on the $default route
    header_values: Mapping[str, Sequence[str]]  # lower-cased names, each value as sent, in order
    raw_query: str
    path_parameters: Mapping[str, str]
    stage_variables: Mapping[str, str]
    context: Mapping[str, Any]             # the 1.0 requestContext before authorization (`request_context`)


def request_context(context_v2: Mapping[str, Any], *, resource_path: str) -> dict[str, Any]:
    """The 1.0 requestContext, from the same facts as the 2.0 one (its `http` block spread out)."""
    http = context_v2["http"]
    identity: dict[str, Any] = dict.fromkeys(_IDENTITY_KEYS)
    identity.update(sourceIp=http["sourceIp"], userAgent=http["userAgent"])
    return {
        "accountId": context_v2["accountId"],
        "apiId": context_v2["apiId"],
        "authorizer": {"claims": None, "scopes": None},
        "domainName": context_v2["domainName"],
        "domainPrefix": context_v2["domainPrefix"],
        "extendedRequestId": context_v2["requestId"],
        "httpMethod": http["method"],
        "identity": identity,
        "path": http["path"],
        "protocol": http["protocol"],
        "requestId": context_v2["requestId"],
        "requestTime": context_v2["time"],
        "requestTimeEpoch": context_v2["timeEpoch"],
        "resourceId": None,
        "resourcePath": resource_path,
        "stage": context_v2["stage"],
    }


def _query_values(raw_query: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        values.setdefault(key, []).append(value)
    return values


def _request_fields(request: RequestV1) -> dict[str, Any]:
    """resource, path, httpMethod, headers, multiValueHeaders, query fields: common to both 1.0 events.
    A header's single value is its last one, a query key's its first (as AWS's 1.0 example shows)."""
    headers = {name: list(values) for name, values in request.header_values.items() if values}
    query = _query_values(request.raw_query)
    return {
        "resource": request.resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {key: values[0] for key, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
    }


def _authorized_context(context: Mapping[str, Any], decision: Decision | None) -> dict[str, Any]:
    """requestContext with what the route's authorizer established (UNCONFIRMED where noted in gateway.py)."""
    context = {**context, "identity": dict(context["identity"])}
    found = decision.context if decision is not None else None
    if not found:
        return context
    if "jwt" in found:
        context["authorizer"] = {"claims": found["jwt"]["claims"], "scopes": found["jwt"]["scopes"]}
    elif "iam" in found:
        iam = found["iam"]
        context["identity"].update(accessKey=iam["accessKey"], accountId=iam["accountId"], caller=iam["callerId"],
                                   principalOrgId=iam["principalOrgId"], user=iam["userId"], userArn=iam["userArn"])
    elif "lambda" in found:
        authorizer = dict(found["lambda"] or {})
        if decision.principal is not None:
            authorizer["principalId"] = decision.principal
        context["authorizer"] = authorizer
    return context


def integration_event(request: RequestV1, decision: Decision | None, body: str | None,
                      is_base64: bool) -> dict[str, Any]:
    """The payload 1.0 event of a Lambda proxy integration (spec G2)."""
    event: dict[str, Any] = {"version": "1.0", **_request_fields(request)}
    event["requestContext"] = _authorized_context(request.context, decision)
    event["pathParameters"] = dict(request.path_parameters) or None
    event["stageVariables"] = dict(request.stage_variables) or None
    event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def authorizer_event(request: RequestV1, http_request: HttpRequest, *, method_arn: str,
                     identity_sources: Sequence[str]) -> dict[str, Any] | None:
    """The payload 1.0 REQUEST authorizer event; None when an identity source is missing (401, no invoke).
    identitySource (and authorizationToken) are the identity values joined with ","."""
    values = []
    for source in identity_sources:
        value = identity_value(http_request, source, stage_variables=request.stage_variables)
        if value is None:
            return None
        values.append(value)
    joined = ",".join(values)
    event: dict[str, Any] = {"version": "1.0", "type": "REQUEST", "methodArn": method_arn,
                             "identitySource": joined, "authorizationToken": joined, **_request_fields(request)}
    event["requestContext"] = {key: value for key, value in request.context.items() if key != "authorizer"}
    event["pathParameters"] = dict(request.path_parameters) or None
    event["stageVariables"] = dict(request.stage_variables) or None
    return event
