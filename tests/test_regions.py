"""A root in any region, or several: the data plane, the local Cognito, the runtime and stack.json
against one real embedded AWS (its own process) holding resources in three regions, none of them
the default us-east-1 — pools in eu-west-1 and ap-southeast-2 with a domain each, an HTTP API and
its functions in eu-west-1, a REST API (served since spec H: not listed as unserved) and a function URL
that the local stack does not serve.

Every request is real HTTP on loopback; tokens come from the local Cognito itself (RS256, its keys),
IAM requests are signed by botocore, and `token` runs as the real CLI on the stack.json that
`Stack.describe()` writes from this embedded AWS.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from local_aws import aws, cli, stack, tokens
from local_aws.authorizer import JwksCache
from local_aws.cognito import LocalCognito
from local_aws.gateway import Gateway
from local_aws.runtime import Runtime
from tests.support.embedded_aws import EmbeddedAws
from tests.gateway_support import ApiHandle, Builder, Served, count
from tests.support.http import call
from tests.support.signing import sigv4_headers

pytestmark = pytest.mark.xdist_group("regions")

EU, AP = "eu-west-1", "ap-southeast-2"
ACCOUNT = "123456789012"


@dataclass
class Pool:
    id: str
    name: str
    region: str
    domain: str
    clients: dict[str, dict]  # name -> {"id", "secret"}

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.id}"


@dataclass
class World:
    aws: EmbeddedAws
    tmp: Path
    eu_pool: Pool
    ap_pool: Pool
    api: ApiHandle
    functions: dict[str, str]
    rest_api_id: str
    websocket_id: str
    url_function: str
    iam_key: dict
    cognito: LocalCognito
    gateway: Gateway
    api_server: Served
    auth_server: Served
    count_file: Path

    def api_call(self, method: str, target: str, **kwargs: Any):
        return call(self.api_server.port, method, target, host=f"{self.api.host_name}:{self.api_server.port}", **kwargs)

    def domain_url(self, pool: Pool) -> str:
        return f"http://{pool.domain}.auth.localhost:{self.auth_server.port}"

    def machine_token(self, pool: Pool, auth_url: str | None = None) -> str:
        machine = pool.clients["machine"]
        client = tokens.AppClient(machine["id"], machine["secret"])
        return tokens.client_credentials(auth_url or self.domain_url(pool), client)["access_token"]

    def describe(self) -> dict:
        paths = stack.Paths(self.tmp / "state")
        data_plane = {"api_url": f"http://127.0.0.1:{self.api_server.port}",
                      "auth_url": f"http://127.0.0.1:{self.auth_server.port}"}
        return stack.Stack(paths=paths).describe(self.aws.url, {}, data_plane, None)


def _pool(aws_url: str, region: str, name: str, domain: str, client_names: list[str]) -> Pool:
    idp = aws.client("cognito-idp", aws_url, region)
    pool_id = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain)
    idp.create_resource_server(UserPoolId=pool_id, Identifier="orders", Name="Orders",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "Read"}])
    clients = {}
    for client_name in client_names:
        created = idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName=client_name, GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["orders/read"])["UserPoolClient"]
        clients[client_name] = {"id": created["ClientId"], "secret": created["ClientSecret"]}
    return Pool(pool_id, name, region, domain, clients)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, embedded_aws: EmbeddedAws):
    tmp = tmp_path_factory.mktemp("regions")
    embedded = embedded_aws
    url = embedded.url
    eu_pool = _pool(url, EU, "orders-eu", "orders-eu", ["machine"])
    ap_pool = _pool(url, AP, "orders-ap", "orders-ap", ["machine", "reports"])

    clients = {service: aws.client(service, url, EU) for service in ("lambda", "apigatewayv2", "iam")}
    count_file = tmp / "invocations.log"
    builder = Builder(clients, count_file, region=EU)
    functions = {"echo": builder.function("rg-echo", "echo"), "region": builder.function("rg-region", "region")}
    aws.client("logs", url, EU).create_log_group(logGroupName="/aws/lambda/rg-region")
    api = builder.api("orders-eu-api")
    jwt_authorizer = clients["apigatewayv2"].create_authorizer(
        ApiId=api.id, Name="cognito", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": eu_pool.issuer, "Audience": [eu_pool.clients["machine"]["id"]]})["AuthorizerId"]
    api.route("GET /jwt", functions["echo"], authorization="JWT", authorizer_id=jwt_authorizer, scopes=["orders/read"])
    api.route("GET /iam", functions["echo"], authorization="AWS_IAM")
    api.route("GET /region", functions["region"])
    # A permission naming the same API id in us-east-1: not this API's source ARN.
    api.route("GET /elsewhere", functions["echo"], permit=False)
    clients["lambda"].add_permission(
        FunctionName=functions["echo"], StatementId="us-east-1-only", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api.id}/*/GET/elsewhere")

    iam = clients["iam"]
    iam.create_user(UserName="rg-caller")
    iam_key = iam.create_access_key(UserName="rg-caller")["AccessKey"]
    iam.put_user_policy(UserName="rg-caller", PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{api.execution_arn}/*/GET/iam"}]}))

    # A REST API (eu-west-1, served by rest_gateway.py), and what the stack does not serve: a
    # WebSocket API and a function URL (ap-southeast-2).
    rest_api_id = aws.client("apigateway", url, EU).create_rest_api(name="legacy-rest")["id"]
    websocket_id = aws.client("apigatewayv2", url, AP).create_api(
        Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    ap_lambda = aws.client("lambda", url, AP)
    ap_lambda.create_function(FunctionName="rg-url", Runtime="python3.12", Role=builder.role, Handler="app.echo",
                              Code={"ZipFile": builder.code})
    ap_lambda.create_function_url_config(FunctionName="rg-url", AuthType="NONE")

    runtime = Runtime(url, tmp / "runtime")
    cognito = LocalCognito(url, tmp / "keys")  # every region, as the data plane makes it
    gateway = Gateway(url, runtime, JwksCache(fetch=cognito.jwks_for_issuer))
    gateway.reload()
    api_server, auth_server = Served(gateway), Served(cognito, wsgi=True)
    try:
        yield World(embedded, tmp, eu_pool, ap_pool, api, functions, rest_api_id, websocket_id, "rg-url", iam_key,
                    cognito, gateway, api_server, auth_server, count_file)
    finally:
        api_server.stop()
        auth_server.stop()
        runtime.close()


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


# --- the embedded AWS says where things are -----------------------------------------------------

def test_the_embedded_aws_lists_the_regions_it_holds_resources_in(world: World) -> None:
    services = {service: aws.regions(world.aws.url, service)
                for service in ("cognito-idp", "apigatewayv2", "apigateway", "lambda", "logs")}
    assert services == {"cognito-idp": [AP, EU], "apigatewayv2": [AP, EU], "apigateway": [EU], "lambda": [AP, EU],
                        "logs": [EU]}
    assert aws.regions(world.aws.url) == [AP, EU]


def test_the_change_counter_moves_with_a_write_and_fails_loudly_where_no_embedded_aws_answers(world: World) -> None:
    before = aws.generation(world.aws.url)
    aws.client("iam", world.aws.url, EU).create_user(UserName="rg-counter-probe")
    assert aws.generation(world.aws.url) > before
    # The local Cognito answers /_local/state with a 404: an error naming the endpoint, never a made-up counter.
    with pytest.raises(aws.EmbeddedAwsError, match="did not give its change counter: 404"):
        aws.generation(f"http://127.0.0.1:{world.auth_server.port}")


# --- Cognito: issuers of the pool's region, several domains at once -----------------------------

def test_a_pool_in_eu_west_1_has_an_eu_west_1_issuer_with_its_discovery_and_jwks(world: World) -> None:
    pool, port = world.eu_pool, world.auth_server.port
    discovery = call(port, "GET", f"/{pool.id}/.well-known/openid-configuration", host=f"127.0.0.1:{port}")
    assert discovery.status == 200
    document = discovery.json()
    assert document["issuer"] == f"https://cognito-idp.eu-west-1.amazonaws.com/{pool.id}"
    assert document["jwks_uri"] == f"{document['issuer']}/.well-known/jwks.json"
    assert document["token_endpoint"] == f"{world.domain_url(pool)}/oauth2/token"
    keys = call(port, "GET", f"/{pool.id}/.well-known/jwks.json", host=f"127.0.0.1:{port}").json()["keys"]
    assert len(keys) == 2
    assert world.cognito.jwks_for_issuer(pool.issuer) == {"keys": keys}
    with pytest.raises(KeyError):  # the pool id under another region's issuer is no issuer
        world.cognito.jwks_for_issuer(pool.issuer.replace("cognito-idp.eu-west-1", "cognito-idp.us-east-1"))
    assert claims(world.machine_token(pool))["iss"] == pool.issuer


def test_two_pools_of_two_regions_are_served_at_once_each_domain_by_its_host(world: World) -> None:
    eu, ap, port = world.eu_pool, world.ap_pool, world.auth_server.port
    assert claims(world.machine_token(eu))["iss"] == eu.issuer
    assert claims(world.machine_token(ap))["iss"] == ap.issuer
    wrong_domain = tokens.AppClient(ap.clients["machine"]["id"], ap.clients["machine"]["secret"])
    with pytest.raises(tokens.TokenError, match="invalid_client"):  # the eu domain knows only its own clients
        tokens.client_credentials(world.domain_url(eu), wrong_domain)
    # Two domains: a Host naming neither reaches none, and the answer lists both.
    unnamed = call(port, "POST", "/oauth2/token", host=f"127.0.0.1:{port}")
    assert unnamed.status == 404
    assert b"orders-ap.auth.localhost, orders-eu.auth.localhost" in unnamed.body


def test_a_domain_prefix_used_in_two_regions_answers_on_its_regional_host(world: World) -> None:
    eu, port = world.eu_pool, world.auth_server.port
    idp = aws.client("cognito-idp", world.aws.url, "us-west-2")
    twin = idp.create_user_pool(PoolName="orders-twin")["UserPool"]["Id"]
    idp.create_user_pool_domain(UserPoolId=twin, Domain=eu.domain)  # AWS's prefixes are unique per region only
    try:
        world.cognito.reload()
        ambiguous = call(port, "POST", "/oauth2/token", host=f"{eu.domain}.auth.localhost:{port}")
        assert ambiguous.status == 404
        assert f"{eu.domain}.auth.eu-west-1.localhost".encode() in ambiguous.body
        assert f"{eu.domain}.auth.us-west-2.localhost".encode() in ambiguous.body
        regional = f"http://{eu.domain}.auth.eu-west-1.localhost:{port}"
        assert claims(world.machine_token(eu, regional))["iss"] == eu.issuer
        discovery = call(port, "GET", f"/{eu.id}/.well-known/openid-configuration", host=f"127.0.0.1:{port}").json()
        assert discovery["token_endpoint"] == f"{regional}/oauth2/token"
    finally:
        idp.delete_user_pool_domain(UserPoolId=twin, Domain=eu.domain)
        idp.delete_user_pool(UserPoolId=twin)
        world.cognito.reload()
    assert claims(world.machine_token(eu))["iss"] == eu.issuer


# --- the HTTP API of another region -------------------------------------------------------------

def test_a_jwt_route_of_an_eu_west_1_api_accepts_a_token_of_its_eu_west_1_pool(world: World) -> None:
    before = count(world.count_file, "GET /jwt")
    token = world.machine_token(world.eu_pool)
    reply = world.api_call("GET", "/jwt", headers=[("Authorization", f"Bearer {token}")])
    assert reply.status == 200, reply.body
    event = reply.json()
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["iss"] == world.eu_pool.issuer
    # A token of the ap-southeast-2 pool is of another issuer: refused before the function runs.
    other = world.api_call("GET", "/jwt", headers=[("Authorization", f"Bearer {world.machine_token(world.ap_pool)}")])
    assert (other.status, other.json()) == (401, {"message": "Unauthorized"})
    assert count(world.count_file, "GET /jwt") == before + 1


def test_an_iam_route_checks_signatures_and_policies_with_the_apis_region(world: World) -> None:
    host = f"{world.api.host_name}:{world.api_server.port}"
    before = count(world.count_file, "GET /iam")
    signed = world.api_call("GET", "/iam", headers=sigv4_headers(world.iam_key, "GET", host, "/iam", region=EU))
    assert signed.status == 200, signed.body
    assert signed.json()["requestContext"]["authorizer"]["iam"]["accessKey"] == world.iam_key["AccessKeyId"]
    for_us_east_1 = world.api_call("GET", "/iam", headers=sigv4_headers(world.iam_key, "GET", host, "/iam"))
    assert (for_us_east_1.status, for_us_east_1.json()) == (403, {"message": "Forbidden"})
    assert count(world.count_file, "GET /iam") == before + 1


def test_invoke_permissions_are_matched_against_the_apis_regional_source_arn(world: World) -> None:
    # GET /jwt and the others run under `arn:aws:execute-api:eu-west-1:...`; a permission for the
    # same API id and route in us-east-1 lets nothing through.
    before = count(world.count_file, "GET /elsewhere")
    reply = world.api_call("GET", "/elsewhere")
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})
    assert count(world.count_file, "GET /elsewhere") == before


def test_a_function_of_another_region_sees_its_region_and_logs_into_that_region(world: World) -> None:
    reply = world.api_call("GET", "/region")
    assert reply.status == 200, reply.body
    assert reply.json() == {"AWS_REGION": EU, "AWS_DEFAULT_REGION": EU, "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/rg-region",
                            "arn": world.functions["region"]}
    logs = aws.client("logs", world.aws.url, EU)
    deadline = time.monotonic() + 5
    while True:
        lines = [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/rg-region")["events"]]
        if any(line.startswith("REPORT RequestId:") for line in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "region handler ran\n" in lines and any(line.startswith("START RequestId:") for line in lines)
    assert aws.client("logs", world.aws.url).describe_log_groups()["logGroups"] == []  # nothing went to us-east-1


# --- stack.json and the walkthrough --------------------------------------------------------------

def test_stack_json_lists_everything_with_its_region_and_names_what_is_not_served(world: World) -> None:
    d = world.describe()
    auth_port = world.auth_server.port
    assert d["region"] == "us-east-1" and d["regions"] == [AP, EU]
    pools = {pool["id"]: pool for pool in d["user_pools"]}
    for expected in (world.eu_pool, world.ap_pool):
        pool = pools[expected.id]
        assert (pool["name"], pool["region"], pool["issuer"], pool["domain"]) == (
            expected.name, expected.region, expected.issuer, expected.domain)
        assert pool["auth_url"] == f"http://{expected.domain}.auth.localhost:{auth_port}"  # two domains: by host
        assert pool["jwks_uri"] == f"http://127.0.0.1:{auth_port}/{expected.id}/.well-known/jwks.json"
        assert {name: client["id"] for name, client in pool["clients"].items()} == {
            name: client["id"] for name, client in expected.clients.items()}
    assert d["apis"] == {world.api.id: {"name": "orders-eu-api", "region": EU,
                                        "url": f"http://127.0.0.1:{world.api_server.port}"}}
    assert d["api_url"] == f"http://127.0.0.1:{world.api_server.port}"
    functions = {(f["region"], f["name"]): f for f in d["functions"]}
    assert set(functions) == {(EU, "rg-echo"), (EU, "rg-region"), (AP, "rg-url")}
    assert functions[(EU, "rg-region")]["log_group"] == "/aws/lambda/rg-region"
    assert functions[(EU, "rg-region")]["arn"] == world.functions["region"]
    assert d["not_served"] == [
        {"region": AP, "kind": "WebSocket API", "id": world.websocket_id, "name": "chat",
         "why": stack.NOT_SERVED_WHY["WebSocket API"]},
        {"region": AP, "kind": "Lambda function URL", "id": "rg-url", "name": "rg-url",
         "why": stack.NOT_SERVED_WHY["Lambda function URL"]},
    ]
    printed = stack.walkthrough(d, 1.0, stack.Paths(world.tmp / "state"))
    assert f"REST API {world.rest_api_id}" not in printed  # served by rest_gateway.py (spec H), so not listed
    assert "Lambda function URL rg-url in ap-southeast-2: function URLs are not served" in printed
    assert f"WebSocket API {world.websocket_id} (chat) in ap-southeast-2: WebSocket APIs are not emulated" in printed
    assert "(regions ap-southeast-2, eu-west-1;" in printed
    assert f"Cognito       http://orders-eu.auth.localhost:{auth_port}   (orders-eu: issuer {world.eu_pool.issuer})" in printed


# --- token --client, in whichever pool holds it ------------------------------------------------------

def _token_cli(state_dir: Path, *args: str, capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """The `token` command in this process (its argument parsing and errors as the shell sees them)."""
    try:
        status = cli.main(["token", "--state-dir", str(state_dir), *args])
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def test_token_finds_the_client_in_the_second_pool_and_pool_picks_between_namesakes(
        world: World, capsys: pytest.CaptureFixture) -> None:
    state = world.tmp / "cli-state"
    state.mkdir(exist_ok=True)
    (state / "stack.json").write_text(json.dumps(world.describe()))

    # Once as a user runs it: only the ap-southeast-2 pool has a `reports` client.
    reports = subprocess.run([sys.executable, "-m", "local_aws", "token", "--client", "reports", "--state-dir", str(state)],
                             cwd=stack.REPO, capture_output=True, text=True, timeout=60)
    assert reports.returncode == 0, reports.stderr
    assert claims(reports.stdout.strip())["client_id"] == world.ap_pool.clients["reports"]["id"]
    assert claims(reports.stdout.strip())["iss"] == world.ap_pool.issuer

    status, _, err = _token_cli(state, "--client", "machine", capsys=capsys)  # both pools have a machine client
    assert status == 2
    assert "--client machine: 2 user pools have an app client of this name" in err
    assert "choose one with --pool ID_OR_NAME" in err and "Traceback" not in err

    for pool, chosen in ((world.eu_pool, world.eu_pool.id), (world.ap_pool, world.ap_pool.name)):
        status, out, err = _token_cli(state, "--client", "machine", "--pool", chosen, capsys=capsys)
        assert status == 0, err
        assert claims(out.strip())["iss"] == pool.issuer

    status, _, err = _token_cli(state, "--client", "machine", "--pool", "nope", capsys=capsys)
    assert status == 2 and "--pool nope: no such user pool" in err
    status, _, err = _token_cli(state, "--client", "reports", "--pool", world.eu_pool.name, capsys=capsys)
    assert status == 2 and "--client reports: no such app client of user pool orders-eu" in err


def test_find_client_is_one_lookup_for_the_cli_and_the_plugin(world: World) -> None:
    description = world.describe()
    found = stack.find_client(description, "reports")
    assert (found.id, found.secret, found.pool_id, found.region, found.auth_url) == (
        world.ap_pool.clients["reports"]["id"], world.ap_pool.clients["reports"]["secret"], world.ap_pool.id, AP,
        world.domain_url(world.ap_pool))
    with pytest.raises(stack.ClientLookupError) as ambiguous:
        stack.find_client(description, "machine")
    assert ambiguous.value.flag == "--pool"
    assert stack.find_client(description, "machine", pool=world.eu_pool.id).id == world.eu_pool.clients["machine"]["id"]
    with pytest.raises(stack.ClientLookupError) as missing:
        stack.find_client(description, "nope")
    assert missing.value.flag == "--client"


# --- a re-apply refreshes stack.json ------------------------------------------------------------------

class _LateApply(stack.Stack):
    """A re-apply whose root now also holds a pool in ca-central-1 (made with boto3 here: what is
    under test is what stack.json says afterwards, and Terraform's own applies are tested elsewhere)."""

    def apply(self, env: dict[str, str], extra_vars: dict[str, str], fresh_state: bool = True,
              var_files: list | None = None) -> dict:
        assert not fresh_state  # a re-apply keeps the state
        idp = aws.client("cognito-idp", env["AWS_ENDPOINT_URL"], "ca-central-1")
        pool_id = idp.create_user_pool(PoolName="late-pool")["UserPool"]["Id"]
        idp.create_user_pool_client(UserPoolId=pool_id, ClientName="late-client")
        return {"late_pool_id": pool_id}


def test_a_reapply_lists_what_the_root_now_holds_in_a_new_region(world: World) -> None:
    paths = stack.Paths(world.tmp / "late-state")
    paths.base.mkdir()
    before = world.describe()
    paths.stack_json.write_text(json.dumps(before))
    try:
        after = _LateApply(paths=paths).reapply()
        assert json.loads(paths.stack_json.read_text()) == after
        late = next(pool for pool in after["user_pools"] if pool["name"] == "late-pool")
        assert after["outputs"] == {"late_pool_id": late["id"]}
        assert late["region"] == "ca-central-1" and late["issuer"] == aws.issuer("ca-central-1", late["id"])
        assert after["regions"] == [AP, "ca-central-1", EU] and after["pid"] == before["pid"]
        assert late["clients"]["late-client"]["id"] and late["domain"] is None and late["auth_url"] is None
        with pytest.raises(stack.ClientLookupError, match=f"--client late-client: its user pool {late['id']} has no domain"):
            stack.find_client(after, "late-client")  # found, but without a domain there is no token endpoint
    finally:
        idp = aws.client("cognito-idp", world.aws.url, "ca-central-1")
        for pool in idp.list_user_pools(MaxResults=10)["UserPools"]:
            idp.delete_user_pool(UserPoolId=pool["Id"])
