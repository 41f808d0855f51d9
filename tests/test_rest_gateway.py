"""The local REST API data plane (local_aws/rest_gateway.py) end to end, spec H.

tests/fixtures/private_rest_api_local is applied once by the real Terraform and AWS provider to a
real embedded AWS (moto server process), then served by the data plane in-process: real HTTP on
loopback, through the VPC endpoint's own listener and through the ordinary one (the internet).
"""
from __future__ import annotations

import json
import shutil
import time

import pytest

from local_aws import stack, terraform
from local_aws.dataplane import DataPlane
from local_aws.rest_gateway import INTERNET
from tests.support.http import call
from tests.support.signing import sigv4_headers

pytestmark = pytest.mark.xdist_group("rest-gateway")
FIXTURE = "tests/fixtures/private_rest_api_local"


@pytest.fixture(scope="module")
def applied(embedded_aws, tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("rest-apply")
    shutil.copytree(stack.REPO / "modules", base / "modules", ignore=stack.NOT_COPIED)
    root = base / FIXTURE
    shutil.copytree(stack.REPO / FIXTURE, root, ignore=stack.NOT_COPIED)
    shutil.copy(stack.REPO / ".terraform.lock.hcl", root)
    env = terraform.terraform_env(base / "cli", stack.sandbox_env(embedded_aws.url))
    terraform.run(["init", "-input=false", "-lockfile=readonly"], root, env, quiet=True)
    terraform.run(["apply", "-auto-approve", "-input=false"], root, env, quiet=True)
    return {**terraform.outputs(root, env), "root": root, "env": env}


@pytest.fixture(scope="module")
def plane(embedded_aws, applied, tmp_path_factory):
    data_plane = DataPlane(embedded_aws.url, tmp_path_factory.mktemp("data-plane"), 0, 0)
    yield data_plane
    data_plane.stop()


def port_of(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def host_of(api_id: str, port: int) -> str:
    return f"{api_id}.execute-api.localhost:{port}"


def endpoint_port(plane, applied) -> int:
    return plane.rest_endpoints[applied["vpc_endpoint_id"]].port


def test_the_applied_policy_allows_only_the_endpoint_and_denies_the_rest(embedded_aws, applied) -> None:
    """H2: the module's policy, as the embedded AWS holds it after a real apply; the endpoint as H1 needs it."""
    from local_aws.embedded_rest import unescaped_policy

    api, vpce = applied["orders_api_id"], applied["vpc_endpoint_id"]
    rest_api = embedded_aws.client("apigateway").get_rest_api(restApiId=api)
    assert rest_api["endpointConfiguration"] == {"types": ["PRIVATE"], "vpcEndpointIds": [vpce]}
    allow, deny = unescaped_policy(rest_api["policy"])["Statement"]
    resource = f"arn:aws:execute-api:us-east-1:123456789012:{api}/*"
    assert allow == {"Sid": "InvokeThroughTheVpcEndpoints", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                     "Resource": resource, "Condition": {"StringEquals": {"aws:SourceVpce": [vpce]}}}
    assert deny == {"Sid": "DenyFromAnywhereElse", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": resource, "Condition": {"StringNotEquals": {"aws:SourceVpce": [vpce]}}}
    (endpoint,) = embedded_aws.client("ec2").describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"]
    assert endpoint["ServiceName"] == "com.amazonaws.us-east-1.execute-api" and endpoint["PrivateDnsEnabled"] is True
    (group,) = embedded_aws.client("ec2").describe_security_groups(GroupIds=[g["GroupId"] for g in endpoint["Groups"]])["SecurityGroups"]
    assert [(p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in group["IpPermissions"]] == [(443, 443, ["10.30.0.0/16"])]


def test_a_changed_integration_replaces_the_deployment_and_nothing_else_changes(applied) -> None:
    """The deployment's trigger: a route's integration changed, so a new deployment is planned (created
    before the old one goes); unchanged inputs plan nothing."""
    root, env = applied["root"], applied["env"]
    replan = terraform.run(["plan", "-detailed-exitcode", "-input=false"], root, env, quiet=True, check=False)
    assert replan.returncode == 0, replan.stdout[-4000:]
    terraform.run(["plan", "-input=false", "-refresh=false", "-out=changed.tfplan", "-var=orders_timeout_ms=5000"], root, env, quiet=True)
    shown = json.loads(terraform.run(["show", "-json", "changed.tfplan"], root, env, quiet=True).stdout)
    changes = {c["address"]: c["change"]["actions"] for c in shown["resource_changes"] if c["change"]["actions"] != ["no-op"]}
    assert changes == {
        'module.orders.aws_api_gateway_integration.this["GET /orders/{id}"]': ["update"],
        "module.orders.aws_api_gateway_deployment.this": ["create", "delete"],
        "module.orders.aws_api_gateway_stage.this": ["update"],
    }


def test_stack_json_lists_each_rest_api_with_a_url_per_endpoint_and_the_internet(plane, applied) -> None:
    rest_apis = plane.urls()["rest_apis"]
    vpce = applied["vpc_endpoint_id"]
    assert set(rest_apis) == {applied["orders_api_id"], applied["admin_api_id"]}
    orders = rest_apis[applied["orders_api_id"]]
    assert orders["name"] == "local-orders" and orders["private"] is True
    assert set(orders["urls"]) == {vpce, INTERNET}
    port = endpoint_port(plane, applied)
    assert orders["urls"][vpce] == f"http://{applied['orders_api_id']}.execute-api.localhost:{port}/v1"
    assert orders["urls"][INTERNET].endswith("/v1") and port_of(orders["urls"][INTERNET]) == plane.rest_internet.port


def test_through_the_endpoint_the_route_answers_with_a_1_0_event(plane, applied) -> None:
    """H1, H4: path parameters and the endpoint id reach the function in the 1.0 event (G2)."""
    port, api = endpoint_port(plane, applied), applied["orders_api_id"]
    reply = call(port, "GET", "/v1/orders/42?expand=items", host=host_of(api, port))
    assert reply.status == 200, reply.body
    event = reply.json()
    assert event["resource"] == "/orders/{id}"
    assert event["path"] == "/orders/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"expand": "items"}
    assert event["multiValueQueryStringParameters"] == {"expand": ["items"]}
    context = event["requestContext"]
    assert context["identity"]["vpceId"] == applied["vpc_endpoint_id"]
    assert context["stage"] == "v1" and context["apiId"] == api and context["resourcePath"] == "/orders/{id}"
    assert context["path"] == "/v1/orders/42"


def test_the_x_apigw_api_id_header_selects_the_api(plane, applied) -> None:
    """H1: the endpoint's own DNS name with x-apigw-api-id."""
    port = endpoint_port(plane, applied)
    reply = call(port, "GET", "/v1/orders/7", host=f"vpce.localhost:{port}", headers=[("x-apigw-api-id", applied["orders_api_id"])])
    assert reply.status == 200 and reply.json()["pathParameters"] == {"id": "7"}


def test_from_the_internet_a_private_api_refuses_with_the_resource_policy_403(plane, applied) -> None:
    """H3: the ordinary listener carries no aws:SourceVpce: the policy's explicit Deny applies."""
    port, api = plane.rest_internet.port, applied["orders_api_id"]
    reply = call(port, "GET", "/v1/orders/42", host=host_of(api, port))
    assert reply.status == 403
    arn = f"arn:aws:execute-api:us-east-1:123456789012:{api}/v1/GET/orders/42"
    assert reply.json() == {"Message": f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn} with an explicit deny"}


def test_an_unknown_path_is_a_missing_authentication_token(plane, applied) -> None:
    port, api = endpoint_port(plane, applied), applied["orders_api_id"]
    for target in ("/v1/nothing-here", "/v2/orders/42", "/v1/orders"):
        reply = call(port, "GET", target, host=host_of(api, port))
        assert (reply.status, reply.json()) == (403, {"message": "Missing Authentication Token"}), target


def test_an_aws_iam_method_refuses_an_unsigned_request(plane, applied) -> None:
    port, api = endpoint_port(plane, applied), applied["admin_api_id"]
    reply = call(port, "POST", "/v1/reindex", host=host_of(api, port), body=b"{}")
    assert (reply.status, reply.json()) == (403, {"message": "Missing Authentication Token"})


def test_an_aws_iam_method_serves_the_principal_the_policy_names(plane, applied) -> None:
    """The caller has no identity policy: the resource policy's Allow for it grants (apigateway-authorization-flow)."""
    port, api = endpoint_port(plane, applied), applied["admin_api_id"]
    host = host_of(api, port)
    reply = call(port, "POST", "/v1/reindex", host=host, body=b"{}",
                 headers=sigv4_headers(applied["keys"]["allowed"], "POST", host, "/v1/reindex", b"{}"))
    assert reply.status == 200, reply.body
    identity = reply.json()["requestContext"]["identity"]
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/reindexer"
    assert identity["vpceId"] == applied["vpc_endpoint_id"]


def test_an_aws_iam_method_refuses_a_principal_the_policy_does_not_name(plane, applied) -> None:
    port, api = endpoint_port(plane, applied), applied["admin_api_id"]
    host = host_of(api, port)
    reply = call(port, "POST", "/v1/reindex", host=host, body=b"{}",
                 headers=sigv4_headers(applied["keys"]["other"], "POST", host, "/v1/reindex", b"{}"))
    assert reply.status == 403
    assert reply.json()["Message"].startswith("User: arn:aws:iam::123456789012:user/someone-else is not authorized")


def test_the_signed_allowed_principal_is_refused_from_the_internet(plane, applied) -> None:
    port, api = plane.rest_internet.port, applied["admin_api_id"]
    host = host_of(api, port)
    reply = call(port, "POST", "/v1/reindex", host=host, body=b"{}",
                 headers=sigv4_headers(applied["keys"]["allowed"], "POST", host, "/v1/reindex", b"{}"))
    assert reply.status == 403 and reply.json()["Message"].endswith("with an explicit deny")


def test_a_policy_change_takes_effect_with_the_next_deployment(plane, applied, embedded_aws) -> None:
    """H2: the stage serves its deployment's snapshot; the new policy only once it is deployed.
    Last in this module: it leaves the orders API refusing its endpoint."""
    apigw = embedded_aws.client("apigateway")
    api, port = applied["orders_api_id"], endpoint_port(plane, applied)
    host = host_of(api, port)
    arn = f"arn:aws:execute-api:us-east-1:123456789012:{api}/*"
    # Only another endpoint may call it now.
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": arn,
         "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-0000000000000000f"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": arn,
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0000000000000000f"}}},
    ]}
    apigw.update_rest_api(restApiId=api, patchOperations=[{"op": "replace", "path": "/policy", "value": json.dumps(policy)}])
    plane.reload_rest()
    assert call(port, "GET", "/v1/orders/1", host=host).status == 200  # not deployed yet

    deployment = apigw.create_deployment(restApiId=api)["id"]
    apigw.update_stage(restApiId=api, stageName="v1", patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment}])
    deadline = time.monotonic() + 10  # the data plane's own watcher reloads after the write
    while (reply := call(port, "GET", "/v1/orders/1", host=host)).status == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert reply.status == 403
    assert reply.json()["Message"].endswith("with an explicit deny")


def test_a_public_rest_api_answers_on_the_internet_only(plane, applied, embedded_aws) -> None:
    """A regional API without a policy: served on the ordinary listener; through an endpoint's listener
    it is refused (the local choice, docs/local-choices.md H1). Made with boto3 after the others' checks."""
    apigw, lam = embedded_aws.client("apigateway"), embedded_aws.client("lambda")
    api = apigw.create_rest_api(name="public-echo", endpointConfiguration={"types": ["REGIONAL"]})["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    function_arn = lam.get_function(FunctionName="local-rest-echo")["Configuration"]["FunctionArn"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations")
    lam.add_permission(FunctionName="local-rest-echo", StatementId="public-echo", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:123456789012:{api}/*/GET/")
    apigw.create_deployment(restApiId=api, stageName="live")
    plane.reload_rest()

    internet = plane.rest_internet.port
    reply = call(internet, "GET", "/live/", host=host_of(api, internet))
    assert reply.status == 200, reply.body
    assert reply.json()["resource"] == "/" and reply.json()["requestContext"]["identity"].get("vpceId") is None
    assert plane.urls()["rest_apis"][api] == {"name": "public-echo", "private": False, "urls": {
        applied["vpc_endpoint_id"]: f"http://{api}.execute-api.localhost:{endpoint_port(plane, applied)}/live",
        INTERNET: f"http://{api}.execute-api.localhost:{internet}/live"}}
    port = endpoint_port(plane, applied)
    assert (call(port, "GET", "/live/", host=host_of(api, port)).status) == 403


def test_a_policy_condition_it_cannot_evaluate_is_a_startup_error_naming_it(aws_url, tmp_path) -> None:
    """Fail closed: an aws:SourceIp condition (not a key the local endpoints carry) stops the start."""
    from local_aws.aws import client
    from local_aws.gateway import ConfigError
    from local_aws.rest_gateway import RestGateway
    from local_aws.runtime import Runtime

    url = aws_url
    runtime = Runtime(url, tmp_path / "runtime")
    try:
        apigw = client("apigateway", url)
        api = apigw.create_rest_api(name="office-only", endpointConfiguration={"types": ["PRIVATE"]})["id"]
        root = apigw.get_resources(restApiId=api)["items"][0]["id"]
        apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
                              uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                                  "arn:aws:lambda:us-east-1:123456789012:function:nothing/invocations")
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "OfficeOnly", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
            "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]}
        apigw.update_rest_api(restApiId=api, patchOperations=[{"op": "replace", "path": "/policy", "value": json.dumps(policy)}])
        apigw.create_deployment(restApiId=api, stageName="v1")

        with pytest.raises(ConfigError) as refused:
            RestGateway(url, runtime).reload()
        assert f"REST API office-only ({api}): stage v1: resource policy statement OfficeOnly: the condition operator IpAddress" in str(refused.value)
    finally:
        runtime.close()
