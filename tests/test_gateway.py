"""The local HTTP API data plane (local_aws/gateway.py) against a real embedded AWS.

Each test names the rule of docs/aws-behaviour.md it checks. HTTP APIs are
built with boto3 in an embedded AWS (its own process: moto's state is per process and other test
modules build APIs of their own), functions run in the real Runtime, tokens are RS256 tokens signed
with PyJWT, IAM requests are signed by botocore, and every request is real HTTP on loopback to the
gateway served by the data plane's own server (http11.py). Where the spec says UNCONFIRMED, the test says it checks this local
stack's choice, not AWS's behaviour.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_aws.authorizer import JwksCache
from local_aws.gateway import ConfigError, Gateway
from local_aws.runtime import Runtime
from tests.support.embedded_aws import EmbeddedAws
from tests.gateway_support import ApiHandle, Builder, PoolIssuer, Served, b64, count, echoed, iam_caller
from tests.support.http import Reply, call
from tests.support.keys import rsa_key
from tests.support.signing import sigv4_headers
from tests.support.tokens import token

pytestmark = pytest.mark.xdist_group("gateway")

ORIGIN, OTHER_ORIGIN = "https://app.example.com", "https://evil.example.net"
CORS = {"AllowOrigins": [ORIGIN], "AllowMethods": ["GET", "POST"], "AllowHeaders": ["authorization", "content-type"],
        "ExposeHeaders": ["x-custom"], "MaxAge": 600, "AllowCredentials": True}
CLIENT_ID = "gatewaytestclient"
REQUEST_ID = re.compile(r"^[A-Za-z0-9+/=]{12,}$")


@dataclass
class World:
    aws: EmbeddedAws
    builder: Builder
    gateway: Gateway
    served: Served
    count_file: Path
    main: ApiHandle
    plain: ApiHandle
    throttled: ApiHandle
    issuer: str
    signing_key: Any
    other_key: Any
    iam_users: dict[str, dict]
    functions: dict[str, str]
    authorizers: dict[str, str]

    def call(self, api: ApiHandle, method: str, target: str, **kwargs: Any) -> Reply:
        return call(self.served.port, method, target, host=f"{api.host_name}:{self.served.port}", **kwargs)

    def count(self, label: str) -> int:
        return count(self.count_file, label)

    def token(self, key: Any = None, **claims: Any) -> str:
        return token(key or self.signing_key, "k1", iss=self.issuer, client_id=CLIENT_ID, **claims)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedded_aws: EmbeddedAws):
    tmp = tmp_path_factory.mktemp("gateway")
    aws = embedded_aws
    clients = {service: aws.client(service) for service in ("lambda", "apigatewayv2", "iam", "cognito-idp")}
    count_file = tmp / "invocations.log"
    builder = Builder(clients, count_file)
    fn = {
        "echo": builder.function("gw-echo", "echo"),
        "shapes": builder.function("gw-shapes", "shapes"),
        "boom": builder.function("gw-boom", "boom"),
        "slow": builder.function("gw-slow", "slow", env={"SLEEP_S": "1.5"}),
        "noperm": builder.function("gw-noperm", "echo"),
        "scoped": builder.function("gw-scoped", "echo"),
        "authorizer": builder.function("gw-authorizer", "authorizer"),
        "policy_authorizer": builder.function("gw-policy-authorizer", "policy_authorizer"),
    }
    apigw = clients["apigatewayv2"]
    pool = PoolIssuer(clients["cognito-idp"], "gateway-test")
    issuer, signing_key, other_key = pool.url, pool.signing_key, rsa_key()

    # The main API: CORS, stage variables, the AWS routing example, every kind of authorization.
    main = builder.api("gw-main", cors=CORS, throttle=(1000, 1000), stage_variables={"env": "test"})
    jwt_authorizer = apigw.create_authorizer(
        ApiId=main.id, Name="cognito", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer, "Audience": [CLIENT_ID]})["AuthorizerId"]
    lambda_authorizer = apigw.create_authorizer(
        ApiId=main.id, Name="tokens", AuthorizerType="REQUEST", AuthorizerUri=Builder.invoke_arn(fn["authorizer"]),
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True, IdentitySource=["$request.header.x-token"],
        AuthorizerResultTtlInSeconds=300)["AuthorizerId"]
    unpermitted_authorizer = apigw.create_authorizer(
        ApiId=main.id, Name="unpermitted", AuthorizerType="REQUEST", AuthorizerUri=Builder.invoke_arn(fn["authorizer"]),
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True, IdentitySource=["$request.header.x-token"],
        AuthorizerResultTtlInSeconds=0)["AuthorizerId"]
    policy_authorizer = apigw.create_authorizer(
        ApiId=main.id, Name="policy", AuthorizerType="REQUEST",
        AuthorizerUri=Builder.invoke_arn(fn["policy_authorizer"]), AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=False, IdentitySource=["$request.header.x-token"])["AuthorizerId"]
    clients["lambda"].add_permission(
        FunctionName=fn["policy_authorizer"], StatementId="apigw-authorizer", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com", SourceArn=f"{main.execution_arn}/authorizers/{policy_authorizer}")
    # modules/http_api's permission for a Lambda authorizer (none for `unpermitted`).
    clients["lambda"].add_permission(
        FunctionName=fn["authorizer"], StatementId="apigw-authorizer", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com", SourceArn=f"{main.execution_arn}/authorizers/{lambda_authorizer}")
    for key in ("GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /pets/{proxy+}", "GET /things",
                "ANY /things", "GET /lit/{a}/x", "GET /lit/b/{c}", "$default", "GET /echo", "POST /echo"):
        main.route(key, fn["echo"])
    main.route("GET /jwt", fn["echo"], authorization="JWT", authorizer_id=jwt_authorizer, scopes=["gw/read"])
    main.route("GET /jwt-open", fn["echo"], authorization="JWT", authorizer_id=jwt_authorizer)
    main.route("ANY /guarded/{proxy+}", fn["echo"], authorization="JWT", authorizer_id=jwt_authorizer, scopes=["gw/read"])
    main.route("GET /iam", fn["echo"], authorization="AWS_IAM")
    main.route("GET /custom", fn["echo"], authorization="CUSTOM", authorizer_id=lambda_authorizer)
    main.route("GET /custom-unpermitted", fn["echo"], authorization="CUSTOM", authorizer_id=unpermitted_authorizer)
    main.route("GET /custom-policy/{id}", fn["echo"], authorization="CUSTOM", authorizer_id=policy_authorizer)
    main.route("GET /shape/{name}", fn["shapes"])
    main.route("GET /boom", fn["boom"])
    main.route("GET /slow", fn["slow"], timeout_ms=200)
    main.route("GET /noperm", fn["noperm"], permit=False)
    main.route("GET /scoped", fn["scoped"])
    main.route("GET /scoped-other", fn["scoped"], permit=False)  # the function allows only GET /scoped

    plain = builder.api("gw-plain")
    for key in ("GET /hello", "OPTIONS /opt", "GET /items/{id}", "POST /upload"):
        plain.route(key, fn["echo"])

    throttled = builder.api("gw-throttled", throttle=(0.001, 2),
                            route_settings={"GET /roomy": {"ThrottlingRateLimit": 0.001, "ThrottlingBurstLimit": 4},
                                            "GET /steady": {"ThrottlingRateLimit": 0.001, "ThrottlingBurstLimit": 2}})
    for key in ("GET /hello", "GET /roomy", "GET /later", "GET /steady"):
        throttled.route(key, fn["echo"])

    iam_users = {
        "caller": iam_caller(clients["iam"], "gw-caller", f"{main.execution_arn}/*/GET/iam"),
        "nobody": iam_caller(clients["iam"], "gw-nobody", None),
    }

    runtime = Runtime(aws.url, tmp / "runtime")
    gateway = Gateway(aws.url, runtime, JwksCache(pool.fetch))
    gateway.reload()
    served = Served(gateway)
    try:
        yield World(aws, builder, gateway, served, count_file, main, plain, throttled, issuer, signing_key, other_key,
                    iam_users, fn, {"jwt": jwt_authorizer, "lambda": lambda_authorizer})
    finally:
        served.stop()
        runtime.close()


# --- C1-C2: routes ---------------------------------------------------------------------------

@pytest.mark.parametrize("method, target, route_key, path_parameters", [
    # AWS's documented example (http-api-develop-routes), with ANY /pets/{proxy+} for ANY /{proxy+}
    ("GET", "/pets/dog/1", "GET /pets/dog/1", None),
    ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
    ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
    ("POST", "/pets/cat/1", "ANY /pets/{proxy+}", {"proxy": "cat/1"}),
    ("POST", "/pets/dog/1", "ANY /pets/{proxy+}", {"proxy": "dog/1"}),
    # ANY only where no explicit method matches
    ("GET", "/things", "GET /things", None),
    ("DELETE", "/things", "ANY /things", None),
    # $default last
    ("GET", "/nothing/here", "$default", None),
    ("PATCH", "/echo", "$default", None),
])
def test_c1_c2_route_selection_most_specific_first(world: World, method, target, route_key, path_parameters) -> None:
    event = echoed(world.call(world.main, method, target))
    assert event["routeKey"] == route_key
    assert event["requestContext"]["routeKey"] == route_key
    assert event.get("pathParameters") == path_parameters


def test_c2_literal_segment_beats_a_variable_at_the_same_depth_local_choice(world: World) -> None:
    # UNCONFIRMED beyond AWS's examples: this checks the local choice (leftmost differing segment decides).
    assert echoed(world.call(world.main, "GET", "/lit/b/x"))["routeKey"] == "GET /lit/b/{c}"
    assert echoed(world.call(world.main, "GET", "/lit/q/x"))["routeKey"] == "GET /lit/{a}/x"


def test_c2_no_match_is_404_not_found(world: World) -> None:
    for method, target in (("GET", "/nope"), ("POST", "/hello"), ("GET", "/items/1/extra"), ("GET", "/item")):
        reply = world.call(world.plain, method, target)
        assert (reply.status, reply.json()) == (404, {"message": "Not Found"}), (method, target)
        assert REQUEST_ID.match(reply.header("apigw-requestid"))


def test_api_selection_by_host_and_unknown_hosts(world: World) -> None:
    assert world.gateway.apis()[world.main.id] == world.main.host_name
    assert echoed(world.call(world.plain, "GET", "/hello"))["requestContext"]["apiId"] == world.plain.id
    for host in (f"nosuchapi.execute-api.localhost:{world.served.port}", f"127.0.0.1:{world.served.port}"):
        reply = call(world.served.port, "GET", "/hello", host=host)  # several APIs: only their own hosts reach them
        assert (reply.status, reply.json()) == (404, {"message": "Not Found"})
        assert reply.header("apigw-requestid")


# --- B1-B4: the event ------------------------------------------------------------------------

def test_b1_b2_b3_event_fields(world: World) -> None:
    before_ms = time.time() * 1000
    reply = world.call(world.main, "GET", "/pets/dog/a%20b%2Fc?b=2&a=1&a=x%20y&flag&e=%C3%A9", headers=[
        ("User-Agent", "gateway-test/1.0"), ("X-Multi", "one"), ("X-Multi", "two"), ("X-Case", "Kept"),
        ("Cookie", "a=1; b=2"), ("Cookie", "c=3"),
    ])
    event = echoed(reply)
    host = f"{world.main.host_name}:{world.served.port}"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /pets/dog/{id}"
    assert event["rawQueryString"] == "b=2&a=1&a=x%20y&flag&e=%C3%A9"  # B3: raw
    assert event["queryStringParameters"] == {"b": "2", "a": "1,x y", "flag": "", "e": "é"}  # B2, B3: decoded, joined
    assert event["pathParameters"] == {"id": "a b/c"}  # B3: decoded
    assert event["cookies"] == ["a=1", "b=2", "c=3"]  # B2: every Cookie header, in order
    headers = event["headers"]
    assert "cookie" not in headers
    assert headers["x-multi"] == "one,two"  # B2: lower-cased names, repeats joined with ","
    assert headers["x-case"] == "Kept"
    assert headers["user-agent"] == "gateway-test/1.0"
    assert headers["host"] == host
    assert all(name == name.lower() for name in headers)
    # what API Gateway adds for the backend (real captures; not in the spec)
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == str(world.served.port)
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert event["stageVariables"] == {"env": "test"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert "authorizer" not in context  # a NONE route
    assert context["accountId"] == "123456789012"
    assert context["apiId"] == world.main.id
    assert context["domainName"] == host
    assert context["domainPrefix"] == world.main.id
    assert context["http"] == {"method": "GET", "path": event["rawPath"], "protocol": "HTTP/1.1",
                               "sourceIp": "127.0.0.1", "userAgent": "gateway-test/1.0"}
    assert context["requestId"] == reply.header("apigw-requestid")  # B7
    assert context["routeKey"] == "GET /pets/dog/{id}"
    assert context["stage"] == "$default"
    assert re.match(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$", context["time"])
    assert before_ms - 1000 <= context["timeEpoch"] <= time.time() * 1000 + 1000
    assert time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(context["timeEpoch"] / 1000)) == context["time"]


def test_b3_raw_path_on_the_default_stage_has_no_stage_prefix_and_is_decoded_local_choice(world: World) -> None:
    # No stage prefix on $default (B3). Decoding rawPath is UNCONFIRMED: third-party captures of live HTTP
    # APIs report a decoded rawPath; this checks the local choice.
    event = echoed(world.call(world.main, "GET", "/pets/dog/a%20b"))
    assert event["rawPath"] == "/pets/dog/a b"


def test_b2_keys_with_nothing_to_carry_are_omitted(world: World) -> None:
    event = echoed(world.call(world.plain, "GET", "/hello"))
    for key in ("cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"):
        assert key not in event, key
    assert event["rawQueryString"] == ""


@pytest.mark.parametrize("content_type, body, as_text", [
    ("application/json", b'{"a": "\xc3\xa9"}', True),
    ("application/json; charset=utf-8", b'{"a": 1}', True),
    ("text/plain; charset=utf-8", "héllo".encode(), True),
    ("text/csv", b"a,b\n1,2\n", True),
    ("application/xml", b"<a>1</a>", True),
    ("application/javascript", b"let a = 1;", True),
    ("application/x-www-form-urlencoded", b"a=1&b=%20x", False),
    ("application/octet-stream", bytes(range(256)), False),
    ("image/png", b"\x89PNG\r\n\x1a\n", False),
    (None, b"no content type", False),
])
def test_b4_body_encoding(world: World, content_type, body, as_text) -> None:
    headers = [("Content-Type", content_type)] if content_type else []
    event = echoed(world.call(world.plain, "POST", "/upload", headers=headers, body=body))
    assert event["isBase64Encoded"] is (not as_text)
    assert event["body"] == (body.decode() if as_text else b64(body))


# --- B5: responses ---------------------------------------------------------------------------

def test_b5_response_with_status_code_headers_cookies_body(world: World) -> None:
    reply = world.call(world.main, "GET", "/shape/full")
    assert reply.status == 201
    assert reply.header("content-type") == "text/plain"
    assert reply.header("x-custom") == "yes"
    assert reply.header("x-number") == "7"
    assert reply.all("set-cookie") == ["session=abc; Path=/; HttpOnly", "theme=dark"]
    assert reply.body == b"created"


def test_b5_base64_encoded_response_body_is_decoded(world: World) -> None:
    reply = world.call(world.main, "GET", "/shape/base64")
    assert (reply.status, reply.body) == (200, bytes(range(256)))


def test_b5_status_code_only(world: World) -> None:
    reply = world.call(world.main, "GET", "/shape/empty")
    assert (reply.status, reply.body) == (204, b"")


@pytest.mark.parametrize("shape, body", [
    ("object", {"message": "hi", "n": 1}),
    ("list", [1, "two", None]),
    ("number", 42),
])
def test_b5_other_json_becomes_a_200_json_body(world: World, shape, body) -> None:
    reply = world.call(world.main, "GET", f"/shape/{shape}")
    assert reply.status == 200
    assert reply.header("content-type") == "application/json"
    assert reply.json() == body


def test_b5_a_string_result_is_the_body_as_is(world: World) -> None:
    reply = world.call(world.main, "GET", "/shape/string")
    assert (reply.status, reply.header("content-type"), reply.body) == (200, "application/json", b"just text")


# --- B6: errors ------------------------------------------------------------------------------

def test_b6_function_error_is_500(world: World) -> None:
    reply = world.call(world.main, "GET", "/boom")
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    assert world.count("boom") >= 1


@pytest.mark.parametrize("shape", ["bad-status", "bad-headers", "bad-body", "bad-cookies", "bad-base64"])
def test_b6_malformed_result_is_500(world: World, shape) -> None:
    reply = world.call(world.main, "GET", f"/shape/{shape}")
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    assert world.count(f"shape:{shape}") >= 1  # the function did run: the result is what is refused


def test_b6_missing_invoke_permission_is_500_and_the_function_never_runs(world: World) -> None:
    for target in ("/noperm", "/scoped-other"):
        reply = world.call(world.main, "GET", target)
        assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"}), target
    assert world.count("GET /noperm") == 0
    assert world.count("GET /scoped-other") == 0
    # the same function, through the route its permission names, runs
    assert echoed(world.call(world.main, "GET", "/scoped"))["routeKey"] == "GET /scoped"


def test_b6_integration_timeout_is_503(world: World) -> None:
    started = time.monotonic()
    reply = world.call(world.main, "GET", "/slow")
    elapsed = time.monotonic() - started
    assert (reply.status, reply.json()) == (503, {"message": "Service Unavailable"})
    assert elapsed < 1.4, f"answered after {elapsed:.2f} s; the integration timeout is 200 ms"


# --- authorizers: JWT (A4, A6, A7) -----------------------------------------------------------

def test_a4_jwt_refusals_never_invoke_the_integration(world: World) -> None:
    before = world.count("GET /jwt")
    missing = world.call(world.main, "GET", "/jwt")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    assert missing.header("www-authenticate").startswith('Bearer scope="" error="invalid_token"')
    forged = world.call(world.main, "GET", "/jwt", headers=[
        ("Authorization", f"Bearer {world.token(world.other_key, scope='gw/read')}")])
    assert (forged.status, forged.json()) == (401, {"message": "Unauthorized"})
    expired = world.call(world.main, "GET", "/jwt", headers=[
        ("Authorization", world.token(scope="gw/read", exp=int(time.time()) - 10, iat=int(time.time()) - 100))])
    assert expired.status == 401
    wrong_scope = world.call(world.main, "GET", "/jwt", headers=[
        ("Authorization", f"Bearer {world.token(scope='gw/write openid')}")])
    assert (wrong_scope.status, wrong_scope.json()) == (403, {"message": "Forbidden"})
    for reply in (missing, forged, expired, wrong_scope):
        assert REQUEST_ID.match(reply.header("apigw-requestid"))
    assert world.count("GET /jwt") == before


def test_a6_a7_claims_and_scopes_reach_the_function(world: World) -> None:
    before = world.count("GET /jwt")
    bearer = world.token(scope="openid gw/read", **{"custom:level": 5, "email_verified": True, "groups": ["a", "b"]})
    event = echoed(world.call(world.main, "GET", "/jwt", headers=[("Authorization", f"Bearer {bearer}")]))
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    claims = jwt_context["claims"]
    assert claims["iss"] == world.issuer
    assert claims["client_id"] == CLIENT_ID
    assert claims["custom:level"] == "5"
    assert claims["email_verified"] == "true"
    assert claims["groups"] == "[a b]"
    assert claims["scope"] == "openid gw/read"
    assert jwt_context["scopes"] == ["openid", "gw/read"]  # A7: the token's full list
    assert world.count("GET /jwt") == before + 1
    # A7: null on a route without scopes
    open_event = echoed(world.call(world.main, "GET", "/jwt-open", headers=[("Authorization", world.token(scope="x"))]))
    assert open_event["requestContext"]["authorizer"]["jwt"]["scopes"] is None


# --- authorizers: IAM (E1, E2) ---------------------------------------------------------------

def test_e1_e2_iam_route(world: World) -> None:
    host = f"{world.main.host_name}:{world.served.port}"
    before = world.count("GET /iam")
    caller = world.iam_users["caller"]
    event = echoed(world.call(world.main, "GET", "/iam", headers=sigv4_headers(caller["key"], "GET", host, "/iam")))
    iam_context = event["requestContext"]["authorizer"]["iam"]
    assert iam_context["userArn"] == caller["arn"]
    assert iam_context["accessKey"] == caller["key"]["AccessKeyId"]
    assert world.count("GET /iam") == before + 1
    nobody = world.iam_users["nobody"]
    denied = world.call(world.main, "GET", "/iam", headers=sigv4_headers(nobody["key"], "GET", host, "/iam"))
    unsigned = world.call(world.main, "GET", "/iam")
    tampered = world.call(world.main, "GET", "/iam?extra=1", headers=sigv4_headers(caller["key"], "GET", host, "/iam"))
    for reply in (denied, unsigned, tampered):
        assert (reply.status, reply.json()) == (403, {"message": "Forbidden"})
    assert world.count("GET /iam") == before + 1


# --- authorizers: Lambda REQUEST -------------------------------------------------------------

def test_lambda_authorizer_allow_deny_cache_and_missing_identity(world: World) -> None:
    invoked_integration = world.count("GET /custom")
    missing = world.call(world.main, "GET", "/custom")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    assert world.count("authorizer:") == 0

    allowed = echoed(world.call(world.main, "GET", "/custom", headers=[("x-token", "allow")]))
    assert allowed["requestContext"]["authorizer"] == {"lambda": {
        "user": "alice", "routeArn": f"{world.main.execution_arn}/$default/GET/custom"}}
    again = echoed(world.call(world.main, "GET", "/custom", headers=[("x-token", "allow")]))
    assert again["requestContext"]["authorizer"] == allowed["requestContext"]["authorizer"]
    assert world.count("authorizer:allow") == 1  # cached for the identity source value (TTL 300 s)
    assert world.count("GET /custom") == invoked_integration + 2

    for _ in range(2):
        denied = world.call(world.main, "GET", "/custom", headers=[("x-token", "deny")])
        assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
    assert world.count("authorizer:deny") == 1
    assert world.count("GET /custom") == invoked_integration + 2


def test_lambda_authorizer_policy_response_is_evaluated_against_the_request_arn(world: World) -> None:
    before = world.count("GET /custom-policy/{id}")
    event = echoed(world.call(world.main, "GET", "/custom-policy/42", headers=[("x-token", "allow")]))
    assert event["requestContext"]["authorizer"] == {"lambda": {"via": "policy"}}
    assert event["pathParameters"] == {"id": "42"}
    denied = world.call(world.main, "GET", "/custom-policy/42", headers=[("x-token", "nope")])
    assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
    assert world.count("GET /custom-policy/{id}") == before + 1
    assert world.count("policy-authorizer") == 2  # no result TTL: no cache


def test_lambda_authorizer_without_invoke_permission_is_500(world: World) -> None:
    before = world.count("authorizer:allow")
    reply = world.call(world.main, "GET", "/custom-unpermitted", headers=[("x-token", "allow")])
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    assert world.count("authorizer:allow") == before
    assert world.count("GET /custom-unpermitted") == 0


# --- C3: CORS --------------------------------------------------------------------------------

def test_c3_preflight_from_the_configured_origin(world: World) -> None:
    # Answered by the gateway: no OPTIONS route, no authorizer (even on a JWT route), no function.
    for target in ("/shape/cors", "/jwt"):
        reply = world.call(world.main, "OPTIONS", target, headers=[
            ("Origin", ORIGIN), ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "authorization")])
        assert reply.status == 204  # the status is UNCONFIRMED: local choice
        assert reply.header("access-control-allow-origin") == ORIGIN
        assert reply.header("access-control-allow-methods") == "GET,POST"
        assert reply.header("access-control-allow-headers") == "authorization,content-type"
        assert reply.header("access-control-max-age") == "600"
        assert reply.header("access-control-allow-credentials") == "true"
        assert REQUEST_ID.match(reply.header("apigw-requestid"))
    assert world.count("shape:cors") == 0


def test_c3_preflight_from_another_origin_gets_no_cors_headers_local_choice(world: World) -> None:
    reply = world.call(world.main, "OPTIONS", "/shape/cors", headers=[
        ("Origin", OTHER_ORIGIN), ("Access-Control-Request-Method", "GET")])
    assert reply.status == 204  # UNCONFIRMED: local choice
    assert not [name for name in reply.names() if name.startswith("access-control-")]
    assert reply.header("apigw-requestid")


def test_c3_responses_carry_the_configured_cors_headers_not_the_backends(world: World) -> None:
    reply = world.call(world.main, "GET", "/shape/cors", headers=[("Origin", ORIGIN)])
    assert (reply.status, reply.body) == (200, b"cors")
    assert reply.all("access-control-allow-origin") == [ORIGIN]
    assert reply.header("access-control-allow-credentials") == "true"
    assert reply.header("access-control-expose-headers") == "x-custom"
    assert reply.header("access-control-allow-methods") is None  # the backend's DELETE is dropped
    assert reply.header("x-kept") == "yes"
    other = world.call(world.main, "GET", "/shape/cors", headers=[("Origin", OTHER_ORIGIN)])
    assert other.status == 200
    assert not [name for name in other.names() if name.startswith("access-control-")]  # never echoes an unlisted origin


def test_c3_gateway_errors_carry_the_cors_headers_too_local_choice(world: World) -> None:
    # UNCONFIRMED: whether AWS adds them to its own 401/404/429 answers; the local choice is yes, so a
    # browser app can read why it was refused.
    for target, status in (("/jwt", 401), ("/noperm", 500)):
        reply = world.call(world.main, "GET", target, headers=[("Origin", ORIGIN)])
        assert reply.status == status
        assert reply.header("access-control-allow-origin") == ORIGIN
        other = world.call(world.main, "GET", target, headers=[("Origin", OTHER_ORIGIN)])
        assert other.header("access-control-allow-origin") is None


def test_c3_a_preflight_that_an_authorized_catch_all_takes_meets_its_authorizer(world: World) -> None:
    # The catch-all takes OPTIONS too, so the browser's preflight carries no token and is refused
    # before any function runs (docs/aws-behaviour.md C3, AWS's http-api-cors page).
    reply = world.call(world.main, "OPTIONS", "/guarded/x", headers=[
        ("Origin", ORIGIN), ("Access-Control-Request-Method", "GET")])
    assert reply.status == 401
    assert world.count("ANY /guarded/{proxy+}") == 0


def test_c3_without_cors_configuration_options_is_routed(world: World) -> None:
    event = echoed(world.call(world.plain, "OPTIONS", "/opt", headers=[
        ("Origin", ORIGIN), ("Access-Control-Request-Method", "GET")]))
    assert event["routeKey"] == "OPTIONS /opt"


# --- C4: throttling --------------------------------------------------------------------------

def test_c4_burst_above_the_stage_limit_is_429(world: World) -> None:
    statuses = [world.call(world.throttled, "GET", "/hello").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    reply = world.call(world.throttled, "GET", "/hello")
    assert (reply.status, reply.json()) == (429, {"message": "Too Many Requests"})  # body UNCONFIRMED
    assert REQUEST_ID.match(reply.header("apigw-requestid"))


def test_c4_route_settings_override_the_stage_defaults(world: World) -> None:
    statuses = [world.call(world.throttled, "GET", "/roomy").status for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


# --- C5: limits ------------------------------------------------------------------------------

def test_c5_body_over_10_mb_is_413(world: World) -> None:
    before = world.count("POST /upload")
    reply = world.call(world.plain, "POST", "/upload", headers=[("Content-Type", "application/json")],
                       body=b"x" * (10 * 1024 * 1024 + 1))
    assert (reply.status, reply.json()) == (413, {"message": "Request Entity Too Large"})
    assert reply.header("apigw-requestid")
    assert world.count("POST /upload") == before


def test_c5_request_line_and_headers_over_10240_bytes_is_431_local_choice(world: World) -> None:
    reply = world.call(world.plain, "GET", "/hello", headers=[("X-Big", "a" * 10300)])
    assert (reply.status, reply.json()) == (431, {"message": "Request Header Fields Too Large"})
    assert reply.header("apigw-requestid")
    assert echoed(world.call(world.plain, "GET", "/hello", headers=[("X-Big", "a" * 9000)]))


# --- B7 --------------------------------------------------------------------------------------

def test_b7_apigw_requestid_on_every_response(world: World) -> None:
    replies = [
        world.call(world.plain, "GET", "/hello"),
        world.call(world.plain, "GET", "/nope"),
        world.call(world.main, "GET", "/jwt"),
        world.call(world.main, "GET", "/iam"),
        world.call(world.main, "GET", "/boom"),
        world.call(world.main, "OPTIONS", "/x", headers=[("Origin", ORIGIN), ("Access-Control-Request-Method", "GET")]),
        next(r for r in (world.call(world.throttled, "GET", "/hello") for _ in range(4)) if r.status == 429),
    ]
    assert [r.status for r in replies] == [200, 404, 401, 403, 500, 204, 429]
    ids = [r.header("apigw-requestid") for r in replies]
    assert all(REQUEST_ID.match(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert replies[0].json()["requestContext"]["requestId"] == ids[0]


# --- reload ----------------------------------------------------------------------------------

def test_reload_picks_up_a_new_route_and_a_named_stage(world: World) -> None:
    assert world.call(world.plain, "GET", "/added").status == 404
    world.plain.route("GET /added", world.functions["echo"])
    assert world.call(world.plain, "GET", "/added").status == 404  # nothing changes before reload()
    world.gateway.reload()
    assert echoed(world.call(world.plain, "GET", "/added"))["routeKey"] == "GET /added"

    world.builder.apigw.create_stage(ApiId=world.plain.id, StageName="v1", AutoDeploy=True,
                                     StageVariables={"release": "one"})
    world.gateway.reload()
    event = echoed(world.call(world.plain, "GET", "/v1/hello"))
    assert event["routeKey"] == "GET /hello"
    assert event["rawPath"] == "/v1/hello"  # B3: a named stage's prefix is in rawPath
    assert event["requestContext"]["stage"] == "v1"
    assert event["stageVariables"] == {"release": "one"}
    assert echoed(world.call(world.plain, "GET", "/hello"))["requestContext"]["stage"] == "$default"


def test_reload_picks_up_a_changed_throttle(world: World) -> None:
    statuses = [world.call(world.throttled, "GET", "/later").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    world.builder.apigw.update_stage(ApiId=world.throttled.id, StageName="$default",
                                     DefaultRouteSettings={"ThrottlingRateLimit": 100.0, "ThrottlingBurstLimit": 50})
    world.gateway.reload()
    statuses = [world.call(world.throttled, "GET", "/later").status for _ in range(6)]
    assert statuses == [200] * 6


def test_reload_keeps_state_whose_settings_did_not_change_local_choice(world: World) -> None:
    # The data plane reloads after every write to the embedded AWS (CloudWatch Logs writes included):
    # a bucket whose limits did not change, and cached Lambda authorizer results, survive a reload.
    statuses = [world.call(world.throttled, "GET", "/steady").status for _ in range(3)]
    assert statuses == [200, 200, 429]
    echoed(world.call(world.main, "GET", "/custom", headers=[("x-token", "allow-reload")]))
    world.gateway.reload()
    assert world.call(world.throttled, "GET", "/steady").status == 429
    echoed(world.call(world.main, "GET", "/custom", headers=[("x-token", "allow-reload")]))
    assert world.count("authorizer:allow-reload") == 1


# --- fail closed: ConfigError ----------------------------------------------------------------

def _http_proxy(world: World, api: ApiHandle) -> None:
    integration = world.builder.apigw.create_integration(
        ApiId=api.id, IntegrationType="HTTP_PROXY", IntegrationMethod="GET", IntegrationUri="https://example.com/",
        PayloadFormatVersion="1.0")["IntegrationId"]
    world.builder.apigw.create_route(ApiId=api.id, RouteKey="GET /proxy", Target=f"integrations/{integration}")


def _parameter_mapping(world: World, api: ApiHandle) -> None:
    integration = api.integration(world.functions["echo"], RequestParameters={"overwrite:header.x-a": "static"})
    world.builder.apigw.create_route(ApiId=api.id, RouteKey="GET /mapped", Target=f"integrations/{integration}")


def _foreign_issuer(world: World, api: ApiHandle) -> None:
    authorizer = world.builder.apigw.create_authorizer(
        ApiId=api.id, Name="foreign", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": "https://login.example.com/", "Audience": ["x"]})["AuthorizerId"]
    api.route("GET /foreign", world.functions["echo"], authorization="JWT", authorizer_id=authorizer, scopes=["a"])


def _scopes_on_public_route(world: World, api: ApiHandle) -> None:
    api.route("GET /public-scoped", world.functions["echo"], authorization="NONE", scopes=["gw/read"])


def _node_function(world: World, api: ApiHandle) -> None:
    api.route("GET /node", world.builder.function("gw-node", "handler", runtime="nodejs20.x"))


def _context_identity_source(world: World, api: ApiHandle) -> None:
    authorizer = world.builder.apigw.create_authorizer(
        ApiId=api.id, Name="by-ip", AuthorizerType="REQUEST", AuthorizerUri=Builder.invoke_arn(world.functions["authorizer"]),
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
        IdentitySource=["$context.identity.sourceIp"])["AuthorizerId"]
    api.route("GET /by-ip", world.functions["echo"], authorization="CUSTOM", authorizer_id=authorizer)


def _manual_deploy_stage(world: World, api: ApiHandle) -> None:
    api.route("GET /staged", world.functions["echo"])
    world.builder.apigw.create_stage(ApiId=api.id, StageName="manual", AutoDeploy=False)


@pytest.mark.parametrize("build, named", [
    (_http_proxy, ["'GET /proxy'", "IntegrationType HTTP_PROXY"]),
    (_parameter_mapping, ["'GET /mapped'", "RequestParameters"]),
    (_foreign_issuer, ["'GET /foreign'", "JwtConfiguration.Issuer https://login.example.com/"]),
    (_scopes_on_public_route, ["'GET /public-scoped'", "AuthorizationScopes"]),
    (_manual_deploy_stage, ["stage 'manual'", "AutoDeploy"]),
    (_node_function, ["'GET /node'", "runtime nodejs20.x"]),
    (_context_identity_source, ["'GET /by-ip'", "IdentitySource '$context.identity.sourceIp'"]),
])
def test_config_error_names_api_route_and_setting_and_the_api_fails_closed(world: World, build, named) -> None:
    api = world.builder.api(f"gw-broken-{build.__name__.strip('_')}")
    try:
        build(world, api)
        with pytest.raises(ConfigError) as raised:
            world.gateway.reload()
        message = str(raised.value)
        assert f"API 'gw-broken-{build.__name__.strip('_')}' ({api.id})" in message
        for text in named:
            assert text in message
        for target in ("/proxy", "/mapped", "/foreign", "/public-scoped", "/staged", "/node", "/by-ip"):
            reply = world.call(api, "GET", target)
            assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"}), target
            assert reply.header("apigw-requestid")
        assert echoed(world.call(world.plain, "GET", "/hello"))  # other APIs keep serving
    finally:
        world.builder.apigw.delete_api(ApiId=api.id)
        world.gateway.reload()


def test_a_websocket_api_is_not_served_and_stops_nothing(world: World) -> None:
    api_id = world.builder.apigw.create_api(Name="gw-websocket", ProtocolType="WEBSOCKET",
                                            RouteSelectionExpression="$request.body.action")["ApiId"]
    try:
        world.gateway.reload()  # no ConfigError: it is named as not served (stack.json), not refused
        assert api_id not in world.gateway.apis()
        reply = call(world.served.port, "GET", "/", host=f"{api_id}.execute-api.localhost:{world.served.port}")
        assert (reply.status, reply.json()) == (404, {"message": "Not Found"})
        assert echoed(world.call(world.plain, "GET", "/hello"))
    finally:
        world.builder.apigw.delete_api(ApiId=api_id)
        world.gateway.reload()


# --- one API: every Host reaches it ----------------------------------------------------------

def _no_issuer(issuer: str) -> dict:
    raise KeyError(issuer)


def test_a_single_api_answers_every_host(tmp_path: Path) -> None:
    with EmbeddedAws.start(tmp_path) as aws:
        clients = {service: aws.client(service) for service in ("lambda", "apigatewayv2", "iam")}
        builder = Builder(clients, tmp_path / "invocations.log")
        api = builder.api("only")
        api.route("GET /private", builder.function("only-echo", "echo"), authorization="AWS_IAM")
        runtime = Runtime(aws.url, tmp_path / "runtime")
        gateway = Gateway(aws.url, runtime, JwksCache(_no_issuer))
        served = Served(gateway)
        try:
            before = call(served.port, "GET", "/private", host="localhost")
            assert (before.status, before.json()) == (500, {"message": "Internal Server Error"})  # not loaded yet
            gateway.reload()
            for host in ("localhost", f"127.0.0.1:{served.port}", f"{api.host_name}:{served.port}"):
                reply = call(served.port, "GET", "/private", host=host)
                assert (reply.status, reply.json()) == (403, {"message": "Forbidden"}), host  # reached, unsigned
            assert call(served.port, "GET", "/private", host=f"other.execute-api.localhost:{served.port}").status == 404
        finally:
            served.stop()
            runtime.close()
