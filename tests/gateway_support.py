"""Helpers of the data-plane tests (tests/test_gateway.py and the tests beside it): handler code,
HTTP APIs built with boto3 the way the Terraform modules build them, a WSGI app served on loopback.
HTTP calls, keys, tokens and SigV4 signatures are in tests/support."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from local_aws.serving import HttpServer, WsgiServer
from tests.support.http import Reply
from tests.support.keys import jwk, rsa_key
from tests.support.lambdas import lambda_role, zip_of

REGION, ACCOUNT = "us-east-1", "123456789012"

# One package, one handler per behaviour. Every invocation appends a line to COUNT_FILE, so a test
# can prove that a refused request never reached the function.
HANDLERS = r'''
import base64, json, os, time

time.sleep(float(os.environ.get("INIT_SLEEP_S", "0")))  # a slow cold start, where a test asks for one

def _count(label):
    with open(os.environ["COUNT_FILE"], "a") as out:
        out.write(label + "\n")

def echo(event, context):
    # payload 1.0 events have no routeKey: "1.0 <METHOD> <resource>"
    _count(event.get("routeKey") or "1.0 %s %s" % (event.get("httpMethod"), event.get("resource")))
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}

SHAPES = {
    "full": {"statusCode": 201, "headers": {"content-type": "text/plain", "x-custom": "yes", "x-number": 7},
             "cookies": ["session=abc; Path=/; HttpOnly", "theme=dark"], "body": "created"},
    "base64": {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
               "isBase64Encoded": True, "body": base64.b64encode(bytes(range(256))).decode()},
    "empty": {"statusCode": 204},
    "object": {"message": "hi", "n": 1},
    "string": "just text",
    "list": [1, "two", None],
    "number": 42,
    "cors": {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*",
             "access-control-allow-methods": "DELETE", "x-kept": "yes"}, "body": "cors"},
    "bad-status": {"statusCode": "200", "body": "x"},
    "bad-headers": {"statusCode": 200, "headers": ["x-a", "1"], "body": "x"},
    "bad-body": {"statusCode": 200, "body": {"not": "a string"}},
    "bad-cookies": {"statusCode": 200, "cookies": "a=1", "body": "x"},
    "bad-base64": {"statusCode": 200, "isBase64Encoded": True, "body": "%%%not base64%%%"},
}

def shapes(event, context):
    name = event["pathParameters"]["name"]
    _count("shape:" + name)
    return SHAPES[name]

def boom(event, context):
    _count("boom")
    raise RuntimeError("the handler failed")

def slow(event, context):
    _count("slow")
    time.sleep(float(os.environ.get("SLEEP_S", "1.5")))
    return {"statusCode": 200, "body": "late"}

def region(event, context):
    _count("region")
    print("region handler ran")
    seen = {name: os.environ.get(name) for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_LOG_GROUP_NAME")}
    return {"statusCode": 200, "body": json.dumps({**seen, "arn": context.invoked_function_arn})}

def policy_authorizer(event, context):
    _count("policy-authorizer")
    effect = "Allow" if event["headers"].get("x-token") == "allow" else "Deny"
    return {"principalId": "alice", "context": {"via": "policy"}, "policyDocument": {"Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": "execute-api:Invoke", "Resource": event["routeArn"]}]}}

SHAPES_V1 = {
    "multi": {"statusCode": 202, "headers": {"content-type": "text/plain", "x-single": "s", "x-both": "h", "x-same": "m1"},
              "multiValueHeaders": {"set-cookie": ["a=1; Path=/", "b=2"], "x-both": ["m1", "m2"], "X-Same": ["m1"],
                                    "x-number": [7, True]},
              "body": "multi"},
    "base64": {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
               "isBase64Encoded": True, "body": base64.b64encode(bytes(range(256))).decode()},
    "empty": {"statusCode": 204},
    "object": {"message": "hi", "n": 1},
    "string": "just text",
    "list": [1, 2],
    "cookies-v2": {"statusCode": 200, "cookies": ["a=1"], "body": "x"},
    "bad-status": {"statusCode": "200", "body": "x"},
    "bad-multi": {"statusCode": 200, "multiValueHeaders": {"x-a": "not a list"}, "body": "x"},
    "bad-multi-value": {"statusCode": 200, "multiValueHeaders": {"x-a": [{"no": "object"}]}, "body": "x"},
    "bad-body": {"statusCode": 200, "body": {"not": "a string"}},
}

def shapes_v1(event, context):
    name = event["pathParameters"]["name"]
    _count("shape-v1:" + name)
    return SHAPES_V1[name]

def policy_authorizer_v1(event, context):
    # payload 1.0 (REST-style) event; its own event travels to the integration in the context
    _count("authorizer-v1:" + event["identitySource"])
    effect = "Allow" if event["headers"].get("x-token", "").startswith("allow") else "Deny"
    return {"principalId": "bob", "context": {"user": "bob", "event": json.dumps(event)},
            "policyDocument": {"Version": "2012-10-17",
                               "Statement": [{"Effect": effect, "Action": "execute-api:Invoke",
                                              "Resource": event["methodArn"]}]}}

def authorizer(event, context):
    _count("authorizer:" + ",".join(event.get("identitySource", [])))
    token = event["headers"].get("x-token")
    return {"isAuthorized": (token or "").startswith("allow"), "context": {"user": "alice", "routeArn": event["routeArn"]}}
'''


def handler_zip() -> bytes:
    return zip_of({"app.py": HANDLERS})


def count(count_file: Path, label: str) -> int:
    if not count_file.exists():
        return 0
    return sum(1 for line in count_file.read_text().splitlines() if line == label)


# --- the control plane -----------------------------------------------------------------------

class Builder:
    """Creates functions and HTTP APIs in the embedded AWS with boto3 (as the modules would)."""

    def __init__(self, clients: dict[str, Any], count_file: Path, region: str = REGION):
        self.lam, self.apigw, self.iam = clients["lambda"], clients["apigatewayv2"], clients["iam"]
        self.count_file = count_file
        self.region = region  # of the clients: the APIs' and functions' region
        self.role = lambda_role(self.iam, "gateway-test-fn")
        self.code = handler_zip()
        self.functions: dict[str, str] = {}

    def function(self, name: str, handler: str, *, timeout: int = 10, env: dict | None = None,
                 runtime: str = "python3.12") -> str:
        if name not in self.functions:
            created = self.lam.create_function(
                FunctionName=name, Runtime=runtime, Role=self.role, Handler=f"app.{handler}",
                Code={"ZipFile": self.code}, Timeout=timeout,
                Environment={"Variables": {"COUNT_FILE": str(self.count_file), **(env or {})}})
            self.functions[name] = created["FunctionArn"]
        return self.functions[name]

    @staticmethod
    def invoke_arn(function_arn: str) -> str:
        return f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"

    def api(self, name: str, *, cors: dict | None = None, throttle: tuple[float, int] | None = None,
            route_settings: dict | None = None, stage_variables: dict | None = None) -> "ApiHandle":
        kwargs = {"CorsConfiguration": cors} if cors else {}
        api_id = self.apigw.create_api(Name=name, ProtocolType="HTTP", **kwargs)["ApiId"]
        defaults = {"DetailedMetricsEnabled": False}
        if throttle:
            defaults.update(ThrottlingRateLimit=throttle[0], ThrottlingBurstLimit=throttle[1])
        self.apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True, DefaultRouteSettings=defaults,
                                RouteSettings=route_settings or {}, StageVariables=stage_variables or {})
        return ApiHandle(self, api_id)


@dataclass
class ApiHandle:
    builder: Builder
    id: str

    @property
    def execution_arn(self) -> str:
        return f"arn:aws:execute-api:{self.builder.region}:{ACCOUNT}:{self.id}"

    @property
    def host_name(self) -> str:
        return f"{self.id}.execute-api.localhost"

    def integration(self, function_arn: str, *, timeout_ms: int = 30000, payload: str = "2.0", **extra: Any) -> str:
        return self.builder.apigw.create_integration(
            ApiId=self.id, IntegrationType="AWS_PROXY", IntegrationMethod="POST",
            IntegrationUri=Builder.invoke_arn(function_arn), PayloadFormatVersion=payload,
            TimeoutInMillis=timeout_ms, **extra)["IntegrationId"]

    def route(self, key: str, function_arn: str, *, permit: bool = True, timeout_ms: int = 30000,
              authorization: str = "NONE", authorizer_id: str | None = None, scopes: Iterable[str] = (),
              payload: str = "2.0") -> str:
        """A route to its own integration, and (permit) the lambda permission lambda_route gives it."""
        integration_id = self.integration(function_arn, timeout_ms=timeout_ms, payload=payload)
        kwargs: dict[str, Any] = {"AuthorizationType": authorization}
        if authorizer_id:
            kwargs["AuthorizerId"] = authorizer_id
        if scopes:
            kwargs["AuthorizationScopes"] = list(scopes)
        route_id = self.builder.apigw.create_route(ApiId=self.id, RouteKey=key, Target=f"integrations/{integration_id}",
                                                   **kwargs)["RouteId"]
        if permit:
            self.permit(function_arn, key)
        return route_id

    def permit(self, function_arn: str, route_key: str) -> None:
        """modules/lambda_route's permission: `<execution arn>/*/<METHOD><path>` (ANY is `*`), or
        `<execution arn>/*/$default` for the $default route."""
        if route_key == "$default":
            source_arn = f"{self.execution_arn}/*/$default"
        else:
            method, path = route_key.split(" ", 1)
            source_arn = f"{self.execution_arn}/*/{method.replace('ANY', '*')}{path}"
        statement = "apigw-" + "".join(c if c.isalnum() else "-" for c in f"{self.id}-{route_key}")[:80]
        self.builder.lam.add_permission(FunctionName=function_arn, StatementId=statement,
                                        Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                                        SourceArn=source_arn)


def iam_caller(iam, name: str, resource: str | None) -> dict:
    """An IAM user with an access key, allowed execute-api:Invoke on resource (None: on nothing)."""
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    if resource:
        iam.put_user_policy(UserName=name, PolicyName="invoke", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource}]}))
    return {"arn": user["Arn"], "id": user["UserId"], "key": key}


class PoolIssuer:
    """A user pool of the embedded AWS as a JWT issuer whose tokens signing_key signs (kid k1):
    `fetch` is the gateway's JwksCache fetch, which knows that issuer only."""

    def __init__(self, idp, pool_name: str):
        pool_id = idp.create_user_pool(PoolName=pool_name)["UserPool"]["Id"]
        self.url = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
        self.signing_key = rsa_key()
        self.jwks = {"keys": [jwk(self.signing_key, "k1", alg="RS256")]}

    def fetch(self, wanted: str) -> dict:
        if wanted != self.url:
            raise KeyError(wanted)
        return self.jwks


# --- the data plane side ---------------------------------------------------------------------

class Served:
    """A gateway (a request handler), or with wsgi=True a WSGI app such as Cognito, on
    127.0.0.1:<free port>, on the server the data plane uses (serving.py)."""

    def __init__(self, app: Any, *, wsgi: bool = False):
        self.server = (WsgiServer if wsgi else HttpServer)(app, "127.0.0.1", 0)
        self.port = self.server.port

    def stop(self) -> None:
        self.server.stop()


def echoed(reply: Reply) -> dict:
    """The event the echo handler got back (the reply must be its 200)."""
    assert reply.status == 200, (reply.status, reply.body[:500])
    return reply.json()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
