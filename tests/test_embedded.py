"""The embedded AWS: the operations added to moto, called with boto3 against a real server on
loopback, and the `python -m local_aws.embedded` process."""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_aws import embedded
from local_aws.aws import client as aws_client
from tests.support.lambdas import lambda_role, zip_of

pytestmark = pytest.mark.xdist_group("embedded")

REPO = Path(__file__).resolve().parents[1]
ACCOUNT = "123456789012"  # moto's default account


@pytest.fixture(scope="module")
def aws(aws_url):
    """boto3 clients for the embedded AWS: aws("cognito-idp")."""
    config = Config(retries={"max_attempts": 1})

    def client(service: str):
        return aws_client(service, aws_url, config=config)

    return client


def error_of(call, *args, **kwargs) -> tuple[str, int]:
    """The AWS error code and HTTP status a call fails with."""
    with pytest.raises(ClientError) as failure:
        call(*args, **kwargs)
    return failure.value.response["Error"]["Code"], failure.value.response["ResponseMetadata"]["HTTPStatusCode"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- cognito-idp -------------------------------------------------------------------------------

@pytest.fixture
def idp(aws):
    return aws("cognito-idp")


@pytest.fixture
def pool(idp):
    return idp.create_user_pool(PoolName=unique("pool"), UsernameAttributes=["email"],
                                UsernameConfiguration={"CaseSensitive": False},
                                UserPoolTags={"project": "notes"})["UserPool"]


@pytest.fixture
def resource_server(idp, pool):
    return idp.create_resource_server(UserPoolId=pool["Id"], Identifier="notes-api", Name="Notes API",
                                      Scopes=[{"ScopeName": "read", "ScopeDescription": "Read"}])["ResourceServer"]


def test_update_resource_server_replaces_name_and_scopes(idp, pool, resource_server):
    scopes = [{"ScopeName": "read", "ScopeDescription": "Read notes"},
              {"ScopeName": "write", "ScopeDescription": "Write notes"}]
    updated = idp.update_resource_server(UserPoolId=pool["Id"], Identifier="notes-api", Name="Notes v2",
                                         Scopes=scopes)["ResourceServer"]
    assert updated == {"UserPoolId": pool["Id"], "Identifier": "notes-api", "Name": "Notes v2", "Scopes": scopes}
    assert idp.describe_resource_server(UserPoolId=pool["Id"], Identifier="notes-api")["ResourceServer"] == updated

    # As on AWS, scopes left out of an update are removed.
    idp.update_resource_server(UserPoolId=pool["Id"], Identifier="notes-api", Name="Notes v3")
    described = idp.describe_resource_server(UserPoolId=pool["Id"], Identifier="notes-api")["ResourceServer"]
    assert described["Name"] == "Notes v3" and not described.get("Scopes")


def test_update_resource_server_that_does_not_exist(idp, pool):
    assert error_of(idp.update_resource_server, UserPoolId=pool["Id"], Identifier="nope", Name="x") == (
        "ResourceNotFoundException", 400)
    assert error_of(idp.update_resource_server, UserPoolId="us-east-1_missing", Identifier="nope", Name="x") == (
        "ResourceNotFoundException", 400)


def test_delete_resource_server(idp, pool, resource_server):
    idp.delete_resource_server(UserPoolId=pool["Id"], Identifier="notes-api")

    assert error_of(idp.describe_resource_server, UserPoolId=pool["Id"], Identifier="notes-api") == (
        "ResourceNotFoundException", 400)
    assert idp.list_resource_servers(UserPoolId=pool["Id"], MaxResults=10)["ResourceServers"] == []
    assert error_of(idp.delete_resource_server, UserPoolId=pool["Id"], Identifier="notes-api") == (
        "ResourceNotFoundException", 400)
    assert error_of(idp.delete_resource_server, UserPoolId="us-east-1_missing", Identifier="notes-api") == (
        "ResourceNotFoundException", 400)


def test_delete_user_pool_refused_while_deletion_protection_is_active(idp):
    pool_id = idp.create_user_pool(PoolName=unique("protected"), DeletionProtection="ACTIVE")["UserPool"]["Id"]

    assert error_of(idp.delete_user_pool, UserPoolId=pool_id) == ("InvalidParameterException", 400)
    idp.describe_user_pool(UserPoolId=pool_id)  # still there

    idp.update_user_pool(UserPoolId=pool_id, DeletionProtection="INACTIVE")
    idp.delete_user_pool(UserPoolId=pool_id)
    assert error_of(idp.describe_user_pool, UserPoolId=pool_id) == ("ResourceNotFoundException", 400)


def test_update_user_pool_keeps_what_it_cannot_change(idp, pool):
    idp.update_user_pool(UserPoolId=pool["Id"], DeletionProtection="ACTIVE", AutoVerifiedAttributes=["email"])

    described = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described["DeletionProtection"] == "ACTIVE"
    assert described["UsernameAttributes"] == ["email"]
    assert described["UsernameConfiguration"] == {"CaseSensitive": False}
    assert described["UserPoolTags"] == {"project": "notes"}


def test_user_pool_tags(idp, pool):
    arn = pool["Arn"]
    idp.tag_resource(ResourceArn=arn, Tags={"env": "local", "project": "notes-api"})
    assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "local", "project": "notes-api"}

    idp.untag_resource(ResourceArn=arn, TagKeys=["project"])
    assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "local"}
    # The provider reads a pool's tags from DescribeUserPool.
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["UserPoolTags"] == {"env": "local"}

    missing = arn.rsplit("/", 1)[0] + "/us-east-1_missing"
    assert error_of(idp.tag_resource, ResourceArn=missing, Tags={"a": "b"}) == ("ResourceNotFoundException", 400)


def test_user_pool_domain_keeps_its_managed_login_version(idp, pool):
    domain = unique("login")
    idp.create_user_pool_domain(Domain=domain, UserPoolId=pool["Id"], ManagedLoginVersion=2)
    assert idp.describe_user_pool_domain(Domain=domain)["DomainDescription"]["ManagedLoginVersion"] == 2
    idp.update_user_pool_domain(Domain=domain, UserPoolId=pool["Id"], ManagedLoginVersion=1)
    assert idp.describe_user_pool_domain(Domain=domain)["DomainDescription"]["ManagedLoginVersion"] == 1
    # A domain created without one reports none, as moto did.
    bare = unique("bare")
    idp.create_user_pool_domain(Domain=bare, UserPoolId=pool["Id"])
    assert "ManagedLoginVersion" not in idp.describe_user_pool_domain(Domain=bare)["DomainDescription"]


# --- apigatewayv2 ------------------------------------------------------------------------------

@pytest.fixture
def apigw(aws):
    return aws("apigatewayv2")


@pytest.fixture
def api_id(apigw):
    return apigw.create_api(Name=unique("api"), ProtocolType="HTTP")["ApiId"]


@pytest.fixture
def stage(apigw, api_id):
    return apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True, Tags={"project": "notes"},
                              DefaultRouteSettings={"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 100})


def test_get_authorizers(apigw, api_id):
    assert apigw.get_authorizers(ApiId=api_id)["Items"] == []
    jwt = apigw.create_authorizer(ApiId=api_id, Name="cognito", AuthorizerType="JWT",
                                  IdentitySource=["$request.header.Authorization"],
                                  JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["client"]})
    other = apigw.create_authorizer(ApiId=api_id, Name="other", AuthorizerType="JWT",
                                    IdentitySource=["$request.header.Authorization"],
                                    JwtConfiguration={"Issuer": "https://other.example", "Audience": ["x"]})

    items = apigw.get_authorizers(ApiId=api_id)["Items"]

    assert {a["AuthorizerId"]: a["Name"] for a in items} == {jwt["AuthorizerId"]: "cognito", other["AuthorizerId"]: "other"}
    cognito = next(a for a in items if a["Name"] == "cognito")
    assert cognito["JwtConfiguration"] == {"Issuer": "https://issuer.example", "Audience": ["client"]}
    assert error_of(apigw.get_authorizers, ApiId="missing") == ("NotFoundException", 404)


def test_update_stage_changes_what_get_stage_returns(apigw, api_id, stage):
    log_group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/apigateway/notes"
    apigw.update_stage(
        ApiId=api_id, StageName="$default", Description="Notes",
        DefaultRouteSettings={"DetailedMetricsEnabled": False, "ThrottlingRateLimit": 7.0, "ThrottlingBurstLimit": 9},
        AccessLogSettings={"DestinationArn": log_group, "Format": '{"requestId":"$context.requestId"}'},
        StageVariables={"mode": "local", "color": "blue"},
        RouteSettings={"GET /hello": {"ThrottlingRateLimit": 1.0, "ThrottlingBurstLimit": 2}},
    )

    got = apigw.get_stage(ApiId=api_id, StageName="$default")
    assert got["DefaultRouteSettings"] == {"DetailedMetricsEnabled": False, "ThrottlingRateLimit": 7.0,
                                           "ThrottlingBurstLimit": 9}
    assert got["AccessLogSettings"] == {"DestinationArn": log_group, "Format": '{"requestId":"$context.requestId"}'}
    assert got["StageVariables"] == {"mode": "local", "color": "blue"}
    assert got["RouteSettings"] == {"GET /hello": {"ThrottlingRateLimit": 1.0, "ThrottlingBurstLimit": 2}}
    assert got["Description"] == "Notes" and got["AutoDeploy"] is True and got["Tags"] == {"project": "notes"}

    # What the provider sends to remove things: an empty access log block, a variable set to "".
    apigw.update_stage(ApiId=api_id, StageName="$default", AccessLogSettings={}, StageVariables={"color": ""},
                       AutoDeploy=False)
    got = apigw.get_stage(ApiId=api_id, StageName="$default")
    assert "AccessLogSettings" not in got
    assert got["StageVariables"] == {"mode": "local"}
    assert got["AutoDeploy"] is False
    assert got["DefaultRouteSettings"]["ThrottlingRateLimit"] == 7.0  # untouched when not sent


def test_update_stage_that_does_not_exist(apigw, api_id):
    assert error_of(apigw.update_stage, ApiId=api_id, StageName="missing", Description="x") == ("NotFoundException", 404)
    assert error_of(apigw.update_stage, ApiId="missing", StageName="$default", Description="x") == (
        "NotFoundException", 404)


def test_delete_route_settings(apigw, api_id, stage):
    apigw.update_stage(ApiId=api_id, StageName="$default", RouteSettings={
        "GET /hello": {"ThrottlingRateLimit": 1.0}, "POST /notes": {"ThrottlingRateLimit": 2.0}})

    apigw.delete_route_settings(ApiId=api_id, StageName="$default", RouteKey="GET /hello")

    assert apigw.get_stage(ApiId=api_id, StageName="$default")["RouteSettings"] == {
        "POST /notes": {"ThrottlingRateLimit": 2.0}}
    assert error_of(apigw.delete_route_settings, ApiId=api_id, StageName="$default", RouteKey="GET /hello") == (
        "NotFoundException", 404)


def test_deployments(apigw, api_id, stage):
    deployment = apigw.create_deployment(ApiId=api_id, StageName="$default", Description="first")
    assert deployment["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert deployment["DeploymentStatus"] == "DEPLOYED" and deployment["Description"] == "first"
    deployment_id = deployment["DeploymentId"]

    assert apigw.get_stage(ApiId=api_id, StageName="$default")["DeploymentId"] == deployment_id
    assert apigw.get_deployment(ApiId=api_id, DeploymentId=deployment_id)["DeploymentStatus"] == "DEPLOYED"
    assert [d["DeploymentId"] for d in apigw.get_deployments(ApiId=api_id)["Items"]] == [deployment_id]
    apigw.update_deployment(ApiId=api_id, DeploymentId=deployment_id, Description="renamed")
    assert apigw.get_deployment(ApiId=api_id, DeploymentId=deployment_id)["Description"] == "renamed"
    # A deployment a stage points at cannot go.
    assert error_of(apigw.delete_deployment, ApiId=api_id, DeploymentId=deployment_id) == ("BadRequestException", 400)

    unused = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    apigw.delete_deployment(ApiId=api_id, DeploymentId=unused)
    assert error_of(apigw.get_deployment, ApiId=api_id, DeploymentId=unused) == ("NotFoundException", 404)
    assert error_of(apigw.create_deployment, ApiId=api_id, StageName="missing") == ("NotFoundException", 404)
    assert error_of(apigw.create_deployment, ApiId="missing") == ("NotFoundException", 404)


def test_stage_tags(apigw, api_id, stage):
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}/stages/$default"
    apigw.tag_resource(ResourceArn=arn, Tags={"env": "local"})
    assert apigw.get_stage(ApiId=api_id, StageName="$default")["Tags"] == {"project": "notes", "env": "local"}
    assert apigw.get_tags(ResourceArn=arn)["Tags"] == {"project": "notes", "env": "local"}

    apigw.untag_resource(ResourceArn=arn, TagKeys=["project"])
    assert apigw.get_stage(ApiId=api_id, StageName="$default")["Tags"] == {"env": "local"}


def test_custom_domain_is_available_and_updates(apigw, api_id, stage):
    certificate = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/one"
    name = f"{unique('api')}.example.com"
    created = apigw.create_domain_name(DomainName=name, Tags={"a": "1"}, DomainNameConfigurations=[
        {"CertificateArn": certificate, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}])
    configuration = created["DomainNameConfigurations"][0]
    assert configuration["DomainNameStatus"] == "AVAILABLE"
    assert configuration["ApiGatewayDomainName"].endswith(".execute-api.us-east-1.amazonaws.com")
    assert "MutualTlsAuthentication" not in created

    other = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/two"
    apigw.update_domain_name(DomainName=name, DomainNameConfigurations=[
        {"CertificateArn": other, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}])
    got = apigw.get_domain_name(DomainName=name)
    assert got["DomainNameConfigurations"][0]["CertificateArn"] == other
    assert got["DomainNameConfigurations"][0]["DomainNameStatus"] == "AVAILABLE"

    apigw.tag_resource(ResourceArn=f"arn:aws:apigateway:us-east-1::/domainnames/{name}", Tags={"b": "2"})
    assert apigw.get_domain_name(DomainName=name)["Tags"] == {"a": "1", "b": "2"}

    mapping = apigw.create_api_mapping(DomainName=name, ApiId=api_id, Stage="$default", ApiMappingKey="")
    apigw.update_api_mapping(DomainName=name, ApiMappingId=mapping["ApiMappingId"], ApiId=api_id, ApiMappingKey="v1")
    assert apigw.get_api_mapping(DomainName=name, ApiMappingId=mapping["ApiMappingId"])["ApiMappingKey"] == "v1"
    assert error_of(apigw.update_domain_name, DomainName="missing.example.com", DomainNameConfigurations=[
        {"CertificateArn": other}]) == ("NotFoundException", 404)


# --- lambda ------------------------------------------------------------------------------------

def test_code_update_changes_architecture(aws):
    role = lambda_role(aws("iam"), unique("role"))
    package = zip_of({"app.py": "def handler(event, context):\n    return {}\n"})
    functions = aws("lambda")
    name = unique("fn")
    functions.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler",
                              Code={"ZipFile": package}, Architectures=["arm64"])

    functions.update_function_code(FunctionName=name, ZipFile=package, Architectures=["x86_64"])

    assert functions.get_function(FunctionName=name)["Configuration"]["Architectures"] == ["x86_64"]


# --- dynamodb ----------------------------------------------------------------------------------


def test_a_cancelled_transaction_loses_no_concurrent_write(aws):
    """moto rolls a cancelled TransactWriteItems back by restoring a copy of the table: without the
    serialization, puts that landed while the transaction ran were silently undone."""
    import concurrent.futures

    dynamodb, table = aws("dynamodb"), unique("items")
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    dynamodb.put_item(TableName=table, Item={"k": {"S": "taken"}})
    for start in range(0, 1000, 25):  # a table big enough that copying it takes a while
        dynamodb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"k": {"S": f"old-{n}"}, "v": {"S": "x" * 100}}}} for n in range(start, start + 25)]})

    def cancelled_transaction(n: int) -> None:
        with pytest.raises(ClientError, match="TransactionCanceled"):
            dynamodb.transact_write_items(TransactItems=[{"Put": {
                "TableName": table, "Item": {"k": {"S": "taken"}}, "ConditionExpression": "attribute_not_exists(k)"}}])

    def put(n: int) -> None:
        dynamodb.put_item(TableName=table, Item={"k": {"S": f"item-{n}"}})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: cancelled_transaction(n) if n % 2 else put(n), range(200)))
    count = dynamodb.scan(TableName=table, Select="COUNT")["Count"]
    assert count == 1 + 1000 + 100


# --- the server --------------------------------------------------------------------------------

def test_patches_are_idempotent(aws, api_id):
    patched = (embedded.Stage.to_json, embedded.CognitoIdpBackend.delete_user_pool,
               dict(embedded.apigatewayv2_urls.url_paths))
    embedded.apply_patches()
    embedded.apply_patches()
    assert (embedded.Stage.to_json, embedded.CognitoIdpBackend.delete_user_pool,
            dict(embedded.apigatewayv2_urls.url_paths)) == patched
    assert aws("apigatewayv2").get_authorizers(ApiId=api_id)["Items"] == []


def test_start_refuses_a_non_loopback_host():
    with pytest.raises(ValueError, match="not a loopback address"):
        embedded.start("0.0.0.0")


def test_start_on_a_port_in_use(busy_port):
    with pytest.raises(embedded.PortInUseError, match=f":{busy_port} is already in use"):
        embedded.start(port=busy_port)


@pytest.fixture
def busy_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def run_cli(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "local_aws.embedded", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def processes():
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def ready_url(process: subprocess.Popen[str], timeout: float = 30) -> str:
    readable, _, _ = select.select([process.stdout], [], [], timeout)
    assert readable, "no `ready` line"
    line = process.stdout.readline()
    assert line.startswith("ready http://127.0.0.1:"), (line, process.stderr.read() if process.poll() is not None else "")
    return line.split()[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_serves_until_signalled(processes, stop_signal):
    process = run_cli("--port", "0")
    processes.append(process)
    url = ready_url(process)

    apigw = aws_client("apigatewayv2", url, config=Config(retries={"max_attempts": 1}))
    api_id = apigw.create_api(Name="cli", ProtocolType="HTTP")["ApiId"]
    assert apigw.get_authorizers(ApiId=api_id)["Items"] == []  # patched in the server process

    started = time.monotonic()
    process.send_signal(stop_signal)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in process.stderr.read()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()


def test_cli_port_in_use(processes, busy_port):
    process = run_cli("--port", str(busy_port))
    processes.append(process)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 2
    assert f"--port {busy_port}" in stderr and "already in use" in stderr
    assert "Traceback" not in stderr


def test_cli_refuses_a_non_loopback_host_without_the_flag(processes):
    process = run_cli("--port", "0", "--host", "0.0.0.0")
    processes.append(process)
    stdout, stderr = process.communicate(timeout=30)

    assert process.returncode == 2 and stdout == ""
    assert "--host 0.0.0.0 is not a loopback address" in stderr and "--allow-remote" in stderr


# --- apigateway (REST APIs) ------------------------------------------------------------------------

def test_rest_api_policy_is_returned_escaped_as_aws_returns_it(aws) -> None:
    """The AWS provider un-escapes GetRestApi's policy and fails on moto's raw document."""
    apigw = aws("apigateway")
    api_id = apigw.create_rest_api(name=unique("private"), endpointConfiguration={"types": ["PRIVATE"]})["id"]
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                                                         "Resource": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/*"}]}
    apigw.update_rest_api(restApiId=api_id, patchOperations=[{"op": "replace", "path": "/policy", "value": json.dumps(document)}])

    returned = apigw.get_rest_api(restApiId=api_id)["policy"]

    assert returned == json.dumps(document).replace('"', '\\"')
    assert embedded.embedded_rest.unescaped_policy(returned) == document


def test_the_embedded_aws_keeps_no_object_once_its_resource_is_gone(aws_url) -> None:
    """moto appends every model object it makes to a class-level list; the embedded AWS does not,
    so a deleted log group's events (three per invocation) are freed, not kept for the stack's life."""
    import gc
    import weakref

    from moto.logs.models import LogEvent

    logs = aws_client("logs", aws_url)
    group = f"/aws/lambda/untracked-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": f"line {i}"} for i in range(50)])
    events = [obj for obj in gc.get_objects() if isinstance(obj, LogEvent) and obj.message.startswith("line ")]
    assert len(events) >= 50
    alive = [weakref.ref(event) for event in events]
    del events
    logs.delete_log_group(logGroupName=group)
    gc.collect()
    assert [ref for ref in alive if ref() is not None] == []


def test_an_object_deleted_after_versioning_was_suspended_is_deleted(aws_url) -> None:
    """moto disposed of every version, delete markers too (they cannot be): a 500 that kept
    `terraform destroy` of a once-versioned bucket retrying."""
    s3 = aws_client("s3", aws_url)
    bucket = f"suspended-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    s3.delete_object(Bucket=bucket, Key="k")  # a delete marker
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
    assert [deleted["Key"] for deleted in answer["Deleted"]] == ["k"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
