"""Payload format 1.0 on the local HTTP API data plane (spec G), against a real embedded AWS.

The AWS provider's `payload_format_version` defaults to 1.0 (G1), so every root that does not set
it has 1.0 integrations. HTTP APIs are built with boto3 in an embedded AWS of this module's own,
functions run in the real Runtime, tokens are RS256 tokens signed with PyJWT, IAM requests are
signed by botocore, and every request is real HTTP on loopback to the gateway on the data plane's server
(the data plane's server, which keeps each repeated header's values for multiValueHeaders).
Where the spec says UNCONFIRMED, the test name says it checks this local stack's choice.
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
from tests.gateway_support import ACCOUNT, ApiHandle, Builder, PoolIssuer, Served, b64, count, echoed, iam_caller
from tests.support.http import Reply, call
from tests.support.signing import sigv4_headers
from tests.support.tokens import token

pytestmark = pytest.mark.xdist_group("gateway-v1")

CLIENT_ID = "payloadv1client"


@dataclass
class World:
    builder: Builder
    gateway: Gateway
    served: Served
    count_file: Path
    api: ApiHandle
    issuer: str
    signing_key: Any
    caller: dict
    functions: dict[str, str]

    @property
    def host(self) -> str:
        return f"{self.api.host_name}:{self.served.port}"

    def call(self, method: str, target: str, api: ApiHandle | None = None, **kwargs: Any) -> Reply:
        api = api or self.api
        return call(self.served.port, method, target, host=f"{api.host_name}:{self.served.port}", **kwargs)

    def count(self, label: str) -> int:
        return count(self.count_file, label)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedded_aws: EmbeddedAws):
    tmp = tmp_path_factory.mktemp("payload-v1")
    aws = embedded_aws
    clients = {service: aws.client(service) for service in ("lambda", "apigatewayv2", "iam", "cognito-idp")}
    count_file = tmp / "invocations.log"
    builder = Builder(clients, count_file)
    fn = {
        "echo": builder.function("v1-echo", "echo"),
        "shapes": builder.function("v1-shapes", "shapes_v1"),
        "authorizer": builder.function("v1-authorizer", "policy_authorizer_v1"),
    }
    apigw = clients["apigatewayv2"]
    pool = PoolIssuer(clients["cognito-idp"], "payload-v1")
    issuer, signing_key = pool.url, pool.signing_key

    api = builder.api("gw-v1", stage_variables={"env": "v1test"})
    apigw.create_stage(ApiId=api.id, StageName="prod", AutoDeploy=True, StageVariables={"release": "one"})
    jwt_authorizer = apigw.create_authorizer(
        ApiId=api.id, Name="cognito", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer, "Audience": [CLIENT_ID]})["AuthorizerId"]
    policy_authorizer = apigw.create_authorizer(
        ApiId=api.id, Name="policy-v1", AuthorizerType="REQUEST", AuthorizerUri=Builder.invoke_arn(fn["authorizer"]),
        AuthorizerPayloadFormatVersion="1.0", IdentitySource=["$request.header.x-token"],
        AuthorizerResultTtlInSeconds=300)["AuthorizerId"]
    clients["lambda"].add_permission(
        FunctionName=fn["authorizer"], StatementId="apigw-authorizer", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com", SourceArn=f"{api.execution_arn}/authorizers/{policy_authorizer}")
    for key in ("GET /items/{id}", "POST /upload", "$default"):
        api.route(key, fn["echo"], payload="1.0")
    api.route("GET /shape/{name}", fn["shapes"], payload="1.0")
    api.route("GET /jwt", fn["echo"], payload="1.0", authorization="JWT", authorizer_id=jwt_authorizer,
              scopes=["gw/read"])
    api.route("GET /iam", fn["echo"], payload="1.0", authorization="AWS_IAM")
    api.route("GET /custom/{id}", fn["echo"], payload="1.0", authorization="CUSTOM", authorizer_id=policy_authorizer)
    # a 2.0 integration behind the same 1.0 authorizer: the authorizer's version shapes only its own event
    api.route("GET /custom-v2", fn["echo"], authorization="CUSTOM", authorizer_id=policy_authorizer)

    caller = iam_caller(clients["iam"], "v1-caller", f"{api.execution_arn}/*/GET/iam")

    runtime = Runtime(aws.url, tmp / "runtime")
    gateway = Gateway(aws.url, runtime, JwksCache(pool.fetch))
    gateway.reload()
    served = Served(gateway)
    try:
        yield World(builder, gateway, served, count_file, api, issuer, signing_key, caller, fn)
    finally:
        served.stop()
        runtime.close()


# --- G2: the event ---------------------------------------------------------------------------

def test_g2_event_fields_of_a_named_stage(world: World) -> None:
    before_ms = time.time() * 1000
    reply = world.call("GET", "/prod/items/a%20b?b=2&a=1&a=x%20y&flag", headers=[
        ("User-Agent", "payload-v1-test/1.0"), ("X-Multi", "one"), ("X-Multi", "two"),
        ("Accept", "text/html, application/json"), ("Cookie", "a=1; b=2"), ("Cookie", "c=3")])
    event = echoed(reply)
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/prod/items/a b"  # the stage prefix included, decoded as 2.0's rawPath (local choice)
    assert event["httpMethod"] == "GET"
    for absent in ("rawPath", "rawQueryString", "routeKey", "cookies"):
        assert absent not in event, absent
    assert event["pathParameters"] == {"id": "a b"}
    assert event["stageVariables"] == {"release": "one"}
    assert event["body"] is None and event["isBase64Encoded"] is False

    headers, multi = event["headers"], event["multiValueHeaders"]
    assert all(name == name.lower() for name in (*headers, *multi))
    assert set(headers) == set(multi)
    assert multi["x-multi"] == ["one", "two"]
    assert multi["accept"] == ["text/html, application/json"]  # a value's own comma is not a split
    assert multi["cookie"] == ["a=1; b=2", "c=3"]  # cookies stay in the headers in 1.0
    assert multi["host"] == [world.host]
    assert multi["x-forwarded-for"] == ["127.0.0.1"]
    # UNCONFIRMED which value the single-value map keeps: the local choice follows AWS's 1.0 example
    # (a header's last value)
    assert headers["x-multi"] == "two"
    assert headers["cookie"] == "c=3"
    assert headers["user-agent"] == "payload-v1-test/1.0"

    assert event["multiValueQueryStringParameters"] == {"b": ["2"], "a": ["1", "x y"], "flag": [""]}
    # UNCONFIRMED, local choice after AWS's 1.0 example: a query key's first value
    assert event["queryStringParameters"] == {"b": "2", "a": "1", "flag": ""}

    context = event["requestContext"]
    assert context["accountId"] == ACCOUNT
    assert context["apiId"] == world.api.id
    assert context["authorizer"] == {"claims": None, "scopes": None}  # a NONE route, as AWS's 1.0 example
    assert context["domainName"] == world.host
    assert context["domainPrefix"] == world.api.id
    assert context["requestId"] == context["extendedRequestId"] == reply.header("apigw-requestid")
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/prod/items/a b"
    assert context["protocol"] == "HTTP/1.1"
    assert context["resourceId"] is None
    assert context["resourcePath"] == "/items/{id}"
    assert context["stage"] == "prod"
    assert re.match(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$", context["requestTime"])
    assert before_ms - 1000 <= context["requestTimeEpoch"] <= time.time() * 1000 + 1000
    identity = context["identity"]
    assert identity["sourceIp"] == "127.0.0.1"
    assert identity["userAgent"] == "payload-v1-test/1.0"
    for key in ("accessKey", "accountId", "caller", "user", "userArn", "cognitoIdentityId", "principalOrgId"):
        assert identity[key] is None, key
    for absent in ("http", "routeKey", "time", "timeEpoch"):
        assert absent not in context, absent


def test_g2_nothing_to_carry_is_null_and_default_stage_has_no_prefix(world: World) -> None:
    event = echoed(world.call("GET", "/items/7"))
    assert event["path"] == "/items/7"
    assert event["requestContext"]["stage"] == "$default"
    assert event["stageVariables"] == {"env": "v1test"}
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    default = echoed(world.call("DELETE", "/no/such/route"))  # the $default route: resource is the request path
    assert (default["resource"], default["requestContext"]["resourcePath"]) == ("/no/such/route", "/no/such/route")
    assert default["pathParameters"] is None


@pytest.mark.parametrize("content_type, body, as_text", [
    ("application/json", b'{"a": "\xc3\xa9"}', True),
    ("text/plain; charset=utf-8", "héllo".encode(), True),
    ("application/octet-stream", bytes(range(256)), False),
    (None, b"no content type", False),
])
def test_g2_body_encoding(world: World, content_type, body, as_text) -> None:
    headers = [("Content-Type", content_type)] if content_type else []
    event = echoed(world.call("POST", "/upload", headers=headers, body=body))
    assert event["isBase64Encoded"] is (not as_text)
    assert event["body"] == (body.decode() if as_text else b64(body))


def test_g4_jwt_claims_and_scopes_land_in_authorizer_claims_local_choice(world: World) -> None:
    # UNCONFIRMED (G4): AWS's 1.0 example shows requestContext.authorizer {claims, scopes}; no `jwt` nesting.
    before = world.count("1.0 GET /jwt")
    refused = world.call("GET", "/jwt")
    assert (refused.status, refused.json()) == (401, {"message": "Unauthorized"})
    bearer = token(world.signing_key, "k1", iss=world.issuer, client_id=CLIENT_ID, scope="openid gw/read",
                   **{"custom:level": 5})
    event = echoed(world.call("GET", "/jwt", headers=[("Authorization", f"Bearer {bearer}")]))
    authorizer = event["requestContext"]["authorizer"]
    assert set(authorizer) == {"claims", "scopes"}
    assert authorizer["claims"]["iss"] == world.issuer
    assert authorizer["claims"]["custom:level"] == "5"  # rendered as in 2.0 (A6)
    assert authorizer["scopes"] == ["openid", "gw/read"]
    assert world.count("1.0 GET /jwt") == before + 1


def test_g2_iam_caller_fills_request_context_identity_local_choice(world: World) -> None:
    # UNCONFIRMED: the IAM caller goes to requestContext.identity, the fields AWS's 1.0 example lists.
    event = echoed(world.call("GET", "/iam", headers=sigv4_headers(world.caller["key"], "GET", world.host, "/iam")))
    identity = event["requestContext"]["identity"]
    assert identity["accessKey"] == world.caller["key"]["AccessKeyId"]
    assert identity["userArn"] == world.caller["arn"]
    assert identity["accountId"] == ACCOUNT
    assert identity["user"] == identity["caller"] == world.caller["id"]
    unsigned = world.call("GET", "/iam")
    assert (unsigned.status, unsigned.json()) == (403, {"message": "Forbidden"})


# --- G3: the response ------------------------------------------------------------------------

def test_g3_response_with_headers_and_multi_value_headers(world: World) -> None:
    reply = world.call("GET", "/shape/multi")
    assert (reply.status, reply.body) == (202, b"multi")
    assert reply.header("content-type") == "text/plain"
    assert reply.header("x-single") == "s"
    assert reply.all("set-cookie") == ["a=1; Path=/", "b=2"]
    assert reply.all("x-number") == ["7", "true"]
    # in both maps: multiValueHeaders' values, then headers' value unless already among them (local choice,
    # the rule AWS documents for REST proxy integrations)
    assert reply.all("x-both") == ["m1", "m2", "h"]
    assert reply.all("x-same") == ["m1"]


def test_g3_base64_and_status_only(world: World) -> None:
    binary = world.call("GET", "/shape/base64")
    assert (binary.status, binary.body) == (200, bytes(range(256)))
    empty = world.call("GET", "/shape/empty")
    assert (empty.status, empty.body) == (204, b"")


def test_g3_a_2_0_cookies_field_sets_no_cookie_local_choice(world: World) -> None:
    # 1.0 responses set cookies with multiValueHeaders' set-cookie; 2.0's `cookies` is not a 1.0 field.
    reply = world.call("GET", "/shape/cookies-v2")
    assert (reply.status, reply.body, reply.all("set-cookie")) == (200, b"x", [])


@pytest.mark.parametrize("shape", ["object", "string", "list", "bad-status", "bad-multi", "bad-multi-value",
                                   "bad-body"])
def test_g3_anything_but_the_response_shape_is_500(world: World, shape) -> None:
    # No 200 inference from other JSON in 1.0 (unlike 2.0's B5).
    reply = world.call("GET", f"/shape/{shape}")
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    assert world.count(f"shape-v1:{shape}") >= 1  # the function ran: its result is what is refused


# --- Lambda REQUEST authorizer, payload 1.0 --------------------------------------------------

def test_lambda_authorizer_v1_event_policy_allow_and_context(world: World) -> None:
    before = world.count("1.0 GET /custom/{id}")
    event = echoed(world.call("GET", "/prod/custom/42?q=1&q=2", headers=[("x-token", "allow-1"), ("X-Multi", "a"),
                                                                          ("X-Multi", "b")]))
    authorizer = event["requestContext"]["authorizer"]
    # UNCONFIRMED: a 1.0 integration gets the context's keys and principalId flat, as REST APIs do
    assert authorizer["user"] == "bob"
    assert authorizer["principalId"] == "bob"
    assert event["pathParameters"] == {"id": "42"}
    assert world.count("1.0 GET /custom/{id}") == before + 1

    seen = json.loads(authorizer["event"])  # the authorizer's own event
    assert seen["version"] == "1.0"
    assert seen["type"] == "REQUEST"
    assert seen["methodArn"] == f"{world.api.execution_arn}/prod/GET/custom/42"
    assert seen["identitySource"] == seen["authorizationToken"] == "allow-1"
    assert seen["resource"] == "/custom/{id}"
    assert seen["path"] == "/prod/custom/42"
    assert seen["httpMethod"] == "GET"
    assert seen["headers"]["x-token"] == "allow-1"
    assert seen["multiValueHeaders"]["x-multi"] == ["a", "b"]
    assert seen["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert seen["pathParameters"] == {"id": "42"}
    assert seen["stageVariables"] == {"release": "one"}
    assert seen["requestContext"]["resourcePath"] == "/custom/{id}"
    assert seen["requestContext"]["stage"] == "prod"
    assert "authorizer" not in seen["requestContext"]
    for absent in ("routeArn", "routeKey", "rawPath", "cookies", "body"):
        assert absent not in seen, absent


def test_lambda_authorizer_v1_policy_deny_and_missing_identity(world: World) -> None:
    before = world.count("1.0 GET /custom/{id}")
    for _ in range(2):
        denied = world.call("GET", "/custom/42", headers=[("x-token", "deny")])
        assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
    assert world.count("authorizer-v1:deny") == 1  # cached for the identity source value (TTL 300 s)
    missing = world.call("GET", "/custom/42")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    assert world.count("authorizer-v1:") == 0
    assert world.count("1.0 GET /custom/{id}") == before


def test_lambda_authorizer_v1_result_is_cached_by_identity_source(world: World) -> None:
    # (the same request twice: the cached policy names the first request's methodArn only)
    first = echoed(world.call("GET", "/custom/1", headers=[("x-token", "allow-cache")]))
    second = echoed(world.call("GET", "/custom/1", headers=[("x-token", "allow-cache")]))
    assert first["requestContext"]["authorizer"]["user"] == second["requestContext"]["authorizer"]["user"] == "bob"
    assert world.count("authorizer-v1:allow-cache") == 1


def test_lambda_authorizer_v1_in_front_of_a_2_0_integration(world: World) -> None:
    event = echoed(world.call("GET", "/custom-v2", headers=[("x-token", "allow-2")]))
    assert event["version"] == "2.0"
    assert event["requestContext"]["authorizer"]["lambda"]["user"] == "bob"


# --- G1: served, not refused; what stays refused ---------------------------------------------

def test_g1_an_integration_created_with_payload_1_0_is_served(world: World) -> None:
    # Built as the AWS provider builds an aws_apigatewayv2_integration without payload_format_version.
    api = world.builder.api("gw-v1-default")
    try:
        integration = world.builder.apigw.create_integration(
            ApiId=api.id, IntegrationType="AWS_PROXY", IntegrationUri=Builder.invoke_arn(world.functions["echo"]),
            PayloadFormatVersion="1.0")["IntegrationId"]
        world.builder.apigw.create_route(ApiId=api.id, RouteKey="GET /old-payload", Target=f"integrations/{integration}")
        api.permit(world.functions["echo"], "GET /old-payload")
        world.gateway.reload()
        event = echoed(world.call("GET", "/old-payload", api=api))
        assert (event["version"], event["resource"]) == ("1.0", "/old-payload")
    finally:
        world.builder.apigw.delete_api(ApiId=api.id)
        world.gateway.reload()


def test_simple_responses_on_a_1_0_authorizer_is_a_config_error(world: World) -> None:
    api = world.builder.api("gw-v1-simple")
    try:
        authorizer = world.builder.apigw.create_authorizer(
            ApiId=api.id, Name="simple-v1", AuthorizerType="REQUEST",
            AuthorizerUri=Builder.invoke_arn(world.functions["authorizer"]), AuthorizerPayloadFormatVersion="1.0",
            EnableSimpleResponses=True, IdentitySource=["$request.header.x-token"])["AuthorizerId"]
        api.route("GET /simple", world.functions["echo"], payload="1.0", authorization="CUSTOM",
                  authorizer_id=authorizer)
        with pytest.raises(ConfigError) as raised:
            world.gateway.reload()
        message = str(raised.value)
        assert f"API 'gw-v1-simple' ({api.id})" in message
        assert "'GET /simple'" in message and "EnableSimpleResponses" in message
        reply = world.call("GET", "/simple", api=api, headers=[("x-token", "allow")])
        assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
        assert world.count("authorizer-v1:allow") == 0
    finally:
        world.builder.apigw.delete_api(ApiId=api.id)
        world.gateway.reload()


def test_g1_the_aws_provider_plans_payload_1_0_when_it_is_not_set(tf) -> None:
    # The real provider's plan: why 1.0 must be served (a root that omits the argument gets it).
    plan = tf.root("tests/fixtures/payload_format_default").plan()
    assert plan.values["aws_apigatewayv2_integration.unset"]["payload_format_version"] == "1.0"
