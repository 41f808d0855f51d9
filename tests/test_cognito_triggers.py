"""Groups, custom attributes and the pre token generation trigger of the local Cognito (rules D6,
D8, D9), and the startup list of settings the local stack does not emulate.

Real parts only: an embedded AWS in its own process, the pool, groups, users and functions made
with boto3, the local Cognito and the gateway served over HTTP on loopback, users signed in through
the real sign-in form (local_aws.tokens), RS256 tokens checked with the published keys, and
triggers run by the real Lambda runtime. "local choice" marks what docs/local-choices.md lists.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from local_aws import stack, tokens
from local_aws.authorizer import JwksCache
from local_aws.cognito import LocalCognito
from local_aws.gateway import Gateway
from local_aws.runtime import Runtime
from local_aws.serving import HttpServer, WsgiServer
from tests.support.embedded_aws import EmbeddedAws
from tests.gateway_support import Builder
from tests.support.http import call
from tests.support.lambdas import zip_of

pytestmark = pytest.mark.xdist_group("cognito-triggers")

CALLBACK = "http://localhost:3000/callback"
ADA, ADA_PASSWORD = "ada@example.com", "C0rrect-horse-battery!"
GRACE, GRACE_PASSWORD = "grace@example.com", "C0bol-rules-1959!"
ROLE_ADMIN = "arn:aws:iam::123456789012:role/admins"
ROLE_READER = "arn:aws:iam::123456789012:role/readers"

TRIGGERS = r'''
import json, time

def echo(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}

def v2_add(event, context):
    seen = {"version": event["version"], "triggerSource": event["triggerSource"],
            "scopes": event["request"].get("scopes"), "groups": event["request"]["groupConfiguration"],
            "tenant": event["request"]["userAttributes"].get("custom:tenant"),
            "clientId": event["callerContext"]["clientId"], "userPoolId": event["userPoolId"]}
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "idTokenGeneration": {"claimsToAddOrOverride": {"tenant_tier": "gold", "seen": seen}},
        "accessTokenGeneration": {"claimsToAddOrOverride": {"tenant_tier": "gold", "seen": seen},
                                  "scopesToAdd": ["notes-api/admin"]},
    }
    return event

def v2_suppress(event, context):
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "idTokenGeneration": {"claimsToSuppress": ["email", "custom:tenant"],
                              "claimsToAddOrOverride": {"email": "suppression wins"}},
        "accessTokenGeneration": {"claimsToSuppress": ["cognito:groups"], "scopesToSuppress": ["notes-api/write"]},
    }
    return event

def v1_add(event, context):
    event["response"]["claimsOverrideDetails"] = {
        "claimsToAddOrOverride": {"tenant_tier": "silver", "email": "override@example.com"},
        "groupOverrideDetails": {"groupsToOverride": ["from-trigger"], "iamRolesToOverride": [], "preferredRole": None},
    }
    return event

def forbidden_sub(event, context):
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "accessTokenGeneration": {"claimsToAddOrOverride": {"sub": "someone-else"}}}
    return event

def forbidden_suppress(event, context):
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "idTokenGeneration": {"claimsToSuppress": ["token_use"]}}
    return event

def failing(event, context):
    raise RuntimeError("tenant service down")

def slow(event, context):
    time.sleep(3)
    return event

def not_an_event(event, context):
    return "hello"

def v3_machine(event, context):
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "accessTokenGeneration": {"claimsToAddOrOverride": {"machine_tier": event["triggerSource"]},
                                  "scopesToAdd": ["notes-api/admin"]}}
    return event
'''


def trigger_zip() -> bytes:
    return zip_of({"triggers.py": TRIGGERS})


@dataclass
class World:
    aws: EmbeddedAws
    cognito: LocalCognito
    auth_url: str
    api_port: int
    api_host: str
    pool_id: str
    pool_arn: str
    issuer: str
    web: tokens.AppClient
    narrow: tokens.AppClient
    machine: tokens.AppClient
    functions: dict[str, str]

    def idp(self):
        return self.aws.client("cognito-idp")

    def set_trigger(self, name: str | None, version: str = "V2_0") -> None:
        config = {} if name is None else {"PreTokenGenerationConfig": {"LambdaArn": self.functions[name],
                                                                      "LambdaVersion": version}}
        self.idp().update_user_pool(UserPoolId=self.pool_id, LambdaConfig=config)
        self.cognito.reload()

    def sign_in(self, username: str = ADA, password: str = ADA_PASSWORD, client: tokens.AppClient | None = None,
                scopes: list[str] | None = None) -> dict:
        return tokens.authorization_code(self.auth_url, client or self.web, username, password,
                                         scopes or ["openid", "email", "profile", "notes-api/read", "notes-api/write"])

    def claims(self, token: str) -> dict:
        keys = jwt.PyJWKSet.from_dict(self.cognito.jwks_for_issuer(self.issuer))
        kid = jwt.get_unverified_header(token)["kid"]
        key = next(k for k in keys.keys if k.key_id == kid)
        return jwt.decode(token, key.key, algorithms=["RS256"], issuer=self.issuer, options={"verify_aud": False})


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedded_aws: EmbeddedAws):
    tmp = tmp_path_factory.mktemp("cognito-triggers")
    aws = embedded_aws
    idp, lam, apigw = aws.client("cognito-idp"), aws.client("lambda"), aws.client("apigatewayv2")
    pool = idp.create_user_pool(
        PoolName="triggers", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "tenant", "AttributeDataType": "String", "Mutable": True},
                {"Name": "secret", "AttributeDataType": "String", "DeveloperOnlyAttribute": True}],
    )["UserPool"]
    pool_id, pool_arn = pool["Id"], pool["Arn"]
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain="triggers-local")
    idp.create_resource_server(UserPoolId=pool_id, Identifier="notes-api", Name="Notes", Scopes=[
        {"ScopeName": "read", "ScopeDescription": "r"}, {"ScopeName": "write", "ScopeDescription": "w"}])
    common = dict(UserPoolId=pool_id, AllowedOAuthFlowsUserPoolClient=True, SupportedIdentityProviders=["COGNITO"],
                  GenerateSecret=True)
    browser = dict(AllowedOAuthFlows=["code"], CallbackURLs=[CALLBACK],
                   AllowedOAuthScopes=["openid", "email", "profile", "notes-api/read", "notes-api/write"])

    def client(**settings) -> tokens.AppClient:
        made = idp.create_user_pool_client(**common, **settings)["UserPoolClient"]
        return tokens.AppClient(made["ClientId"], made.get("ClientSecret"), tuple(made.get("CallbackURLs", ())))

    web = client(ClientName="web", **browser)
    narrow = client(ClientName="narrow", ReadAttributes=["email", "email_verified"], **browser)
    machine = client(ClientName="machine", AllowedOAuthFlows=["client_credentials"],
                     AllowedOAuthScopes=["notes-api/read"])
    for email, password, extra in ((ADA, ADA_PASSWORD, [{"Name": "custom:tenant", "Value": "acme"},
                                                         {"Name": "dev:custom:secret", "Value": "s3cret"}]),
                                   (GRACE, GRACE_PASSWORD, [])):
        idp.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS", UserAttributes=[
            {"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}, *extra])
        idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    # Grace's groups, made in an order that is not their precedence.
    for name, precedence, role in (("zeta", None, None), ("readers", 5, ROLE_READER), ("admins", 1, ROLE_ADMIN),
                                   ("auditors", 3, None)):
        idp.create_group(UserPoolId=pool_id, GroupName=name, **({"Precedence": precedence} if precedence is not None
                                                                else {}), **({"RoleArn": role} if role else {}))
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=GRACE, GroupName=name)

    role = aws.client("iam").create_role(RoleName="triggers", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    functions = {}
    for name in ("echo", "v2_add", "v2_suppress", "v1_add", "forbidden_sub", "forbidden_suppress", "failing",
                 "slow", "not_an_event", "v3_machine", "unpermitted"):
        handler = "v2_add" if name == "unpermitted" else name
        functions[name] = lam.create_function(
            FunctionName=f"trigger-{name.replace('_', '-')}", Runtime="python3.12", Role=role,
            Handler=f"triggers.{handler}", Code={"ZipFile": trigger_zip()},
            Timeout=1 if name == "slow" else 10)["FunctionArn"]
        if name not in ("echo", "unpermitted"):  # the permission modules/cognito gives a trigger
            lam.add_permission(FunctionName=functions[name], StatementId="cognito", Action="lambda:InvokeFunction",
                               Principal="cognito-idp.amazonaws.com", SourceArn=pool_arn)

    runtime = Runtime(aws.url, tmp / "runtime")
    cognito = LocalCognito(aws.url, tmp / "keys", runtime=runtime)
    issuer = f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}"
    api_id = apigw.create_api(Name="triggers", ProtocolType="HTTP")["ApiId"]
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    authorizer = apigw.create_authorizer(
        ApiId=api_id, Name="cognito", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer, "Audience": [web.id]})["AuthorizerId"]
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationMethod="POST", PayloadFormatVersion="2.0",
        IntegrationUri=Builder.invoke_arn(functions["echo"]))["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /admin", Target=f"integrations/{integration}",
                       AuthorizationType="JWT", AuthorizerId=authorizer, AuthorizationScopes=["notes-api/admin"])
    lam.add_permission(FunctionName=functions["echo"], StatementId="apigw", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/*/GET/admin")
    gateway = Gateway(aws.url, runtime, JwksCache(fetch=cognito.jwks_for_issuer))
    gateway.reload()
    with WsgiServer(cognito, "127.0.0.1", 0) as auth, HttpServer(gateway, "127.0.0.1", 0) as api:
        try:
            yield World(aws, cognito, f"http://127.0.0.1:{auth.port}", api.port,
                        f"{api_id}.execute-api.localhost:{api.port}", pool_id, pool_arn, issuer, web, narrow,
                        machine, functions)
        finally:
            runtime.close()


@pytest.fixture
def trigger(world: World):
    """Set the pool's pre token generation trigger for one test; none afterwards."""
    yield world.set_trigger
    world.set_trigger(None)


def token_error(world: World, **sign_in: Any) -> str:
    with pytest.raises(tokens.TokenError) as refused:
        world.sign_in(**sign_in)
    return str(refused.value)


# --- D8: groups --------------------------------------------------------------------------------

def test_D8_groups_in_both_tokens_in_precedence_order_with_roles_in_the_id_token(world: World) -> None:
    got = world.sign_in(GRACE, GRACE_PASSWORD)
    access, identity = world.claims(got["access_token"]), world.claims(got["id_token"])
    # Lowest precedence first, a group without precedence last (local choice: ties by name).
    assert access["cognito:groups"] == identity["cognito:groups"] == ["admins", "auditors", "readers", "zeta"]
    assert identity["cognito:roles"] == [ROLE_ADMIN, ROLE_READER]
    assert identity["cognito:preferred_role"] == ROLE_ADMIN
    assert "cognito:roles" not in access and "cognito:preferred_role" not in access


def test_D8_no_group_claims_for_a_user_in_no_group(world: World) -> None:
    got = world.sign_in()
    for token in (got["access_token"], got["id_token"]):
        assert not {"cognito:groups", "cognito:roles", "cognito:preferred_role"} & set(world.claims(token))


def test_D8_groups_are_read_live(world: World) -> None:
    idp = world.idp()
    idp.update_group(UserPoolId=world.pool_id, GroupName="zeta", Precedence=0)
    try:
        groups = world.claims(world.sign_in(GRACE, GRACE_PASSWORD)["access_token"])["cognito:groups"]
        assert groups == ["zeta", "admins", "auditors", "readers"]
    finally:
        idp.update_group(UserPoolId=world.pool_id, GroupName="zeta", Precedence=99)


# --- D6: custom attributes -----------------------------------------------------------------------

def test_D6_custom_attributes_in_the_id_token_and_userinfo_never_developer_only_ones(world: World) -> None:
    stored = world.idp().admin_get_user(UserPoolId=world.pool_id, Username=ADA)["UserAttributes"]
    assert {"Name": "dev:custom:secret", "Value": "s3cret"} in stored  # the admin view has it
    got = world.sign_in()
    identity = world.claims(got["id_token"])
    assert identity["custom:tenant"] == "acme"
    assert not [name for name in identity if name.startswith("dev:")]
    reply = call(int(world.auth_url.rsplit(":", 1)[1]), "GET", "/oauth2/userInfo", host="triggers-local.auth.localhost",
                 headers=[("Authorization", f"Bearer {got['access_token']}")])
    info = reply.json()
    assert reply.status == 200 and info["custom:tenant"] == "acme"  # the profile scope brings custom attributes
    assert not [name for name in info if name.startswith("dev:")]


def test_D6_custom_attributes_only_for_a_client_that_may_read_them(world: World) -> None:
    got = world.sign_in(client=world.narrow)
    assert "custom:tenant" not in world.claims(got["id_token"])
    info = call(int(world.auth_url.rsplit(":", 1)[1]), "GET", "/oauth2/userInfo", host="x",
                headers=[("Authorization", f"Bearer {got['access_token']}")]).json()
    assert "custom:tenant" not in info and info["email"] == ADA


# --- D9: the pre token generation trigger ----------------------------------------------------------

def test_D9_v2_adds_a_claim_and_a_scope_that_the_handler_sees_through_the_jwt_authorizer(world: World,
                                                                                        trigger) -> None:
    refused = call(world.api_port, "GET", "/admin", host=world.api_host,
                   headers=[("Authorization", f"Bearer {world.sign_in()['access_token']}")])
    assert refused.status == 403  # without the trigger the token lacks notes-api/admin
    trigger("v2_add")
    got = world.sign_in()
    access, identity = world.claims(got["access_token"]), world.claims(got["id_token"])
    assert access["scope"].split(" ")[-1] == "notes-api/admin" and access["tenant_tier"] == "gold"
    assert identity["tenant_tier"] == "gold"
    # The V2 event: version 2, hosted sign-in, the scopes and groups Cognito would write.
    assert access["seen"] == {"version": "2", "triggerSource": "TokenGeneration_HostedAuth",
                              "scopes": ["openid", "email", "profile", "notes-api/read", "notes-api/write"],
                              "groups": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": None},
                              "tenant": "acme", "clientId": world.web.id, "userPoolId": world.pool_id}
    reply = call(world.api_port, "GET", "/admin", host=world.api_host,
                 headers=[("Authorization", f"Bearer {got['access_token']}")])
    assert reply.status == 200, reply.body
    authorizer = reply.json()["requestContext"]["authorizer"]["jwt"]
    assert authorizer["claims"]["tenant_tier"] == "gold"
    assert "notes-api/admin" in authorizer["scopes"]


def test_D9_the_trigger_runs_again_on_refresh(world: World, trigger) -> None:
    got = world.sign_in()
    trigger("v2_add")
    refreshed = tokens.refresh(world.auth_url, world.web, got["refresh_token"])
    assert world.claims(refreshed["access_token"])["seen"]["triggerSource"] == "TokenGeneration_RefreshTokens"


def test_D9_v1_changes_only_the_id_token_and_its_groups_reach_both(world: World, trigger) -> None:
    trigger("v1_add", "V1_0")
    got = world.sign_in()
    access, identity = world.claims(got["access_token"]), world.claims(got["id_token"])
    assert identity["tenant_tier"] == "silver" and identity["email"] == "override@example.com"
    assert "tenant_tier" not in access and "notes-api/admin" not in access["scope"]
    # groupOverrideDetails replaces cognito:groups in access tokens as well (AWS's trigger page).
    assert identity["cognito:groups"] == access["cognito:groups"] == ["from-trigger"]


def test_D9_suppressed_claims_and_scopes(world: World, trigger) -> None:
    trigger("v2_suppress")
    got = world.sign_in(GRACE, GRACE_PASSWORD)
    access, identity = world.claims(got["access_token"]), world.claims(got["id_token"])
    assert "email" not in identity  # suppressed, though also "added": suppression wins
    assert "cognito:groups" not in access and identity["cognito:groups"][0] == "admins"
    assert "notes-api/write" not in access["scope"].split(" ") and "notes-api/read" in access["scope"].split(" ")


def test_D9_forbidden_claims_are_refused_and_the_token_request_fails(world: World, trigger) -> None:
    for name in ("forbidden_sub", "forbidden_suppress"):
        trigger(name)
        assert "invalid_request" in token_error(world), name


def test_D9_a_failing_slow_or_unpermitted_trigger_fails_the_token_request(world: World, trigger) -> None:
    for name in ("failing", "slow", "not_an_event", "unpermitted"):
        trigger(name)
        assert "invalid_request" in token_error(world), name
    trigger("failing")
    assert token_error(world).endswith(": invalid_request: PreTokenGeneration failed with error tenant service down.")
    trigger("slow")
    assert token_error(world).endswith("PreTokenGeneration invocation failed due to error TimeoutException.")
    trigger("unpermitted")
    assert token_error(world).endswith("PreTokenGeneration invocation failed due to error AccessDeniedException.")


def test_D9_v3_shapes_machine_tokens_and_v2_does_not(world: World, trigger) -> None:
    trigger("v3_machine", "V3_0")
    access = world.claims(tokens.client_credentials(world.auth_url, world.machine)["access_token"])
    assert access["machine_tier"] == "TokenGeneration_ClientCredentials"
    assert access["scope"] == "notes-api/read notes-api/admin"
    trigger("v2_add", "V2_0")
    access = world.claims(tokens.client_credentials(world.auth_url, world.machine)["access_token"])
    assert "tenant_tier" not in access and access["scope"] == "notes-api/read"


# --- the startup list of what is not emulated ----------------------------------------------------

def test_settings_that_change_nothing_locally_are_named_at_startup(world: World, tmp_path: Path) -> None:
    idp, lam = world.idp(), world.aws.client("lambda")
    idp.update_user_pool(UserPoolId=world.pool_id, MfaConfiguration="OPTIONAL",
                         LambdaConfig={"PreSignUp": world.functions["echo"],
                                       "PreTokenGenerationConfig": {"LambdaArn": world.functions["v2_add"],
                                                                    "LambdaVersion": "V2_0"}},
                         EmailConfiguration={"EmailSendingAccount": "DEVELOPER",
                                             "SourceArn": "arn:aws:ses:us-east-1:123456789012:identity/example.com"})
    idp.create_identity_provider(UserPoolId=world.pool_id, ProviderName="Google", ProviderType="Google",
                                 ProviderDetails={"client_id": "x", "client_secret": "y", "authorize_scopes": "openid"})
    ec2 = world.aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    lam.update_function_configuration(FunctionName=world.functions["echo"], TracingConfig={"Mode": "Active"},
                                      KMSKeyArn="arn:aws:kms:us-east-1:123456789012:key/1234",
                                      VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": []})
    lam.put_function_concurrency(FunctionName=world.functions["echo"], ReservedConcurrentExecutions=3)
    world.aws.client("cloudwatch").put_metric_alarm(
        AlarmName="echo-errors", MetricName="Errors", Namespace="AWS/Lambda", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold")
    try:
        found = stack.inventory(world.aws.url)["not_emulated"]
        named = {(entry["kind"], entry["setting"]) for entry in found}
        assert {("user pool", "LambdaConfig.PreSignUp"), ("user pool", "MfaConfiguration"),
                ("user pool", "EmailConfiguration"), ("user pool", "Identity provider"),
                ("Lambda function", "VpcConfig"), ("Lambda function", "TracingConfig"),
                ("Lambda function", "KMSKeyArn"), ("Lambda function", "ReservedConcurrentExecutions"),
                ("CloudWatch alarm", "CloudWatch alarm")} <= named
        assert not [e for e in found if "PreTokenGeneration" in e["setting"]]  # emulated: not in the list
        assert all(e["why"] and e["region"] == "us-east-1" for e in found)
        description = {"api_url": None, "apis": {}, "user_pools": [], "region": "us-east-1", "auth_url": "x",
                       "issuer": None, "aws_endpoint_url": world.aws.url, "not_served": [], "not_emulated": found}
        text = stack.walkthrough(description, 1.0, stack.Paths(tmp_path))
        assert "Not emulated, no effect locally" in text
        assert "Lambda function trigger-echo in us-east-1: TracingConfig = Active" in text
        assert text.count("MfaConfiguration") == 1  # once
        # Federation stays fail closed although the pool has a provider.
        refused = call(int(world.auth_url.rsplit(":", 1)[1]), "GET", "/oauth2/authorize?" + "&".join([
            "response_type=code", f"client_id={world.web.id}", f"redirect_uri={CALLBACK}",
            "identity_provider=Google"]), host="x")
        assert refused.status == 302 and "error=invalid_request" in refused.header("Location")
    finally:
        idp.update_user_pool(UserPoolId=world.pool_id, MfaConfiguration="OFF", LambdaConfig={},
                             EmailConfiguration={"EmailSendingAccount": "COGNITO_DEFAULT"})
        idp.delete_identity_provider(UserPoolId=world.pool_id, ProviderName="Google")
        lam.delete_function_concurrency(FunctionName=world.functions["echo"])
        world.cognito.reload()


def test_D9_without_a_runtime_a_pool_with_a_trigger_issues_no_token(world: World, trigger, tmp_path: Path) -> None:
    trigger("v2_add")
    bare = LocalCognito(world.aws.url, tmp_path / "keys")  # no Lambda runtime: fail closed, never skip the trigger
    with WsgiServer(bare, "127.0.0.1", 0) as server:
        url = f"http://127.0.0.1:{server.port}"
        assert tokens.client_credentials(url, world.machine)["access_token"]  # a V2_0 trigger never runs for machines
        with pytest.raises(tokens.TokenError, match="has no Lambda runtime"):
            tokens.authorization_code(url, world.web, ADA, ADA_PASSWORD, ["openid"])
