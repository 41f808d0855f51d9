"""The unmodified root applied by real Terraform and the real AWS provider to the embedded AWS
(a moto server process on loopback), then checked with boto3, re-planned, edited, and destroyed.

The tests of this module run in order on one worker: read-only checks first, then edits, then
destroy. Variables: only deletion protection is switched off, so that destroy can run.
"""
from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from local_aws import stack, terraform
from tests.support.embedded_aws import EmbeddedAws
from tests.support.lambdas import lambda_role, zip_of

# The packager, loaded from its file (as Terraform runs it), to compute the expected hashes.
_spec = importlib.util.spec_from_file_location("package_lambda", stack.REPO / "modules" / "lambda_route" / "package.py")
package_lambda = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(package_lambda)


ROOT_VARS = ["-var=cognito_deletion_protection=false", "-var=notes_deletion_protection=false"]
ROUTES = {"hello": "GET /hello", "profile": "GET /profile", "create_note": "POST /notes", "list_notes": "GET /notes",
          "get_note": "GET /notes/{id}", "delete_note": "DELETE /notes/{id}", "note_stats": "GET /notes/stats"}
# What each function may do to the notes table, and nothing else (least privilege).
TABLE_ACTIONS = {"create_note": ["dynamodb:GetItem", "dynamodb:PutItem"], "list_notes": ["dynamodb:Query"],
                 "get_note": ["dynamodb:GetItem"], "delete_note": ["dynamodb:DeleteItem"], "note_stats": ["dynamodb:Query"]}


@dataclass
class Deployment:
    dir: Path
    env: dict[str, str]
    outputs: dict
    aws: EmbeddedAws

    def tf(self, *args: str, check: bool = True):
        return terraform.run(list(args), self.dir, self.env, quiet=True, check=check)

    def plan_changes(self, *extra: str) -> dict[str, list[str]]:
        """Planned actions by resource address, no-ops left out; the plan is saved for apply_plan()."""
        self.tf("plan", "-input=false", "-out=tfplan", *ROOT_VARS, *extra)
        shown = json.loads(self.tf("show", "-json", "tfplan").stdout)
        return {c["address"]: c["change"]["actions"] for c in shown.get("resource_changes", []) if c["change"]["actions"] not in (["no-op"], ["read"])}

    def planned_updates(self, address: str) -> dict[str, tuple]:
        """Attributes the saved plan changes on a resource: name -> (before, after); unknown after is None."""
        shown = json.loads(self.tf("show", "-json", "tfplan").stdout)
        (change,) = [c["change"] for c in shown["resource_changes"] if c["address"] == address]
        unknown = change.get("after_unknown") or {}
        names = set(change["before"]) | set(change["after"]) | set(unknown)
        return {
            name: (change["before"].get(name), None if unknown.get(name) is True else change["after"].get(name))
            for name in sorted(names)
            if unknown.get(name) is True or change["before"].get(name) != change["after"].get(name)
        }

    def apply_plan(self) -> None:
        """Apply exactly the plan plan_changes() showed."""
        self.tf("apply", "-input=false", "tfplan")

    def plan_is_empty(self, *extra: str) -> bool:
        """A fresh plan (with refresh) finds nothing to do: exit code 0 of -detailed-exitcode, 2 means changes."""
        result = self.tf("plan", "-input=false", "-detailed-exitcode", *ROOT_VARS, *extra, check=False)
        assert result.returncode in (0, 2), result.stdout
        return result.returncode == 0


def copy_root(destination: Path) -> Path:
    shutil.copytree(stack.REPO, destination, ignore=stack.NOT_COPIED)
    return destination


@pytest.fixture(scope="module")
def deployed(embedded_aws, tmp_path_factory) -> Deployment:
    root = copy_root(tmp_path_factory.mktemp("apply") / "root")
    env = terraform.terraform_env(root.parent / "cli", stack.sandbox_env(embedded_aws.url))
    deployment = Deployment(root, env, {}, embedded_aws)
    deployment.tf("init", "-input=false", "-lockfile=readonly")
    deployment.tf("apply", "-auto-approve", "-input=false", *ROOT_VARS)
    deployment.outputs = terraform.outputs(root, env)
    return deployment


root_lifecycle = pytest.mark.xdist_group("apply")


@root_lifecycle
def test_jwt_authorizer_trusts_the_pool_and_the_three_clients(deployed) -> None:
    apigw = deployed.aws.client("apigatewayv2")
    (authorizer,) = apigw.get_authorizers(ApiId=deployed.outputs["api_id"])["Items"]
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    assert authorizer["JwtConfiguration"]["Issuer"] == deployed.outputs["issuer"]
    assert deployed.outputs["issuer"] == f"https://cognito-idp.us-east-1.amazonaws.com/{deployed.outputs['user_pool_id']}"
    assert sorted(authorizer["JwtConfiguration"]["Audience"]) == sorted(deployed.outputs["client_ids"].values())
    assert set(deployed.outputs["client_ids"]) == {"web", "spa", "machine"}


@root_lifecycle
def test_each_route_reaches_its_own_function_with_payload_2(deployed) -> None:
    apigw = deployed.aws.client("apigatewayv2")
    api_id = deployed.outputs["api_id"]
    routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == set(ROUTES.values())
    for name, route_key in ROUTES.items():
        integration_id = routes[route_key]["Target"].removeprefix("integrations/")
        integration = apigw.get_integration(ApiId=api_id, IntegrationId=integration_id)
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert f":function:{deployed.outputs['function_names'][name]}/invocations" in integration["IntegrationUri"]


@root_lifecycle
def test_protected_routes_carry_their_scope_and_the_authorizer(deployed) -> None:
    apigw = deployed.aws.client("apigatewayv2")
    routes = {r["RouteKey"]: r for r in apigw.get_routes(ApiId=deployed.outputs["api_id"])["Items"]}
    (authorizer,) = apigw.get_authorizers(ApiId=deployed.outputs["api_id"])["Items"]
    assert routes["GET /hello"]["AuthorizationType"] == "NONE"
    for route_key, scope in (("GET /profile", "notes-api/read"), ("POST /notes", "notes-api/write"),
                             ("GET /notes", "notes-api/read"), ("GET /notes/{id}", "notes-api/read"),
                             ("DELETE /notes/{id}", "notes-api/write")):
        assert routes[route_key]["AuthorizationType"] == "JWT"
        assert routes[route_key]["AuthorizerId"] == authorizer["AuthorizerId"]
        assert routes[route_key]["AuthorizationScopes"] == [scope]
    assert routes["GET /notes/stats"]["AuthorizationType"] == "AWS_IAM"
    assert "AuthorizerId" not in routes["GET /notes/stats"]


@root_lifecycle
def test_each_function_lets_api_gateway_invoke_it_from_its_own_route_only(deployed) -> None:
    lambda_ = deployed.aws.client("lambda")
    api = deployed.aws.client("apigatewayv2").get_api(ApiId=deployed.outputs["api_id"])
    execution_arn = f"arn:aws:execute-api:us-east-1:123456789012:{api['ApiId']}"
    for name, route_key in ROUTES.items():
        policy = json.loads(lambda_.get_policy(FunctionName=deployed.outputs["function_names"][name])["Policy"])
        (statement,) = policy["Statement"]
        method, path = route_key.split(" ")
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == f"{execution_arn}/*/{method}{path}"


@root_lifecycle
def test_stage_logs_as_json_and_throttles(deployed) -> None:
    stage = deployed.aws.client("apigatewayv2").get_stage(ApiId=deployed.outputs["api_id"], StageName="$default")
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 50
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 100
    assert stage["AccessLogSettings"]["DestinationArn"].endswith(":log-group:/aws/apigateway/notes-api/access")
    assert {"requestId", "status", "routeKey", "authorizerError"} <= set(json.loads(stage["AccessLogSettings"]["Format"]))


@root_lifecycle
def test_log_groups_exist_with_retention(deployed) -> None:
    groups = {g["logGroupName"]: g for g in deployed.aws.client("logs").describe_log_groups()["logGroups"]}
    expected = ["/aws/apigateway/notes-api/access"] + [f"/aws/lambda/{n}" for n in deployed.outputs["function_names"].values()]
    for name in expected:
        assert groups[name]["retentionInDays"] == 30, name


@root_lifecycle
def test_functions_run_python_on_arm64_with_a_least_privilege_role(deployed) -> None:
    lambda_, iam = deployed.aws.client("lambda"), deployed.aws.client("iam")
    table_arn = deployed.aws.client("dynamodb").describe_table(TableName="notes-api-notes")["Table"]["TableArn"]
    for key, name in deployed.outputs["function_names"].items():
        config = lambda_.get_function_configuration(FunctionName=name)
        assert (config["Runtime"], config["Handler"], config["Architectures"]) == ("python3.13", "app.handler", ["arm64"])
        role = config["Role"].rsplit("/", 1)[1]
        (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        statement, *table_statements = document["Statement"]
        assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert statement["Resource"].endswith(f":log-group:/aws/lambda/{name}:*")
        if key in TABLE_ACTIONS:
            (table_statement,) = table_statements
            actions = table_statement["Action"]
            assert sorted([actions] if isinstance(actions, str) else actions) == TABLE_ACTIONS[key]
            assert table_statement["Resource"] == table_arn
            assert config["Environment"]["Variables"] == {"NOTES_TABLE": "notes-api-notes"}
        else:
            assert table_statements == [] and "Environment" not in config


@root_lifecycle
def test_notes_table_is_keyed_by_owner_recoverable_encrypted_and_protected(deployed) -> None:
    dynamodb = deployed.aws.client("dynamodb")
    table = dynamodb.describe_table(TableName="notes-api-notes")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "ownerSub", "KeyType": "HASH"}, {"AttributeName": "noteId", "KeyType": "RANGE"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    backups = dynamodb.describe_continuous_backups(TableName="notes-api-notes")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName="notes-api-notes")["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expiresAt", "ENABLED")


@root_lifecycle
def test_the_operator_policy_allows_the_stats_route_only(deployed) -> None:
    iam = deployed.aws.client("iam")
    (policy,) = [p for p in iam.list_policies(Scope="Local")["Policies"] if p["PolicyName"] == "notes-api-notes-operator"]
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    document = version["Document"]
    document = json.loads(document) if isinstance(document, str) else document
    (statement,) = document["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    assert statement["Resource"] == f"arn:aws:execute-api:us-east-1:123456789012:{deployed.outputs['api_id']}/$default/GET/notes/stats"


@root_lifecycle
def test_resource_server_and_clients(deployed) -> None:
    cognito = deployed.aws.client("cognito-idp")
    pool_id = deployed.outputs["user_pool_id"]
    server = cognito.describe_resource_server(UserPoolId=pool_id, Identifier="notes-api")["ResourceServer"]
    assert sorted(s["ScopeName"] for s in server["Scopes"]) == ["read", "write"]
    clients = {
        name: cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
        for name, client_id in deployed.outputs["client_ids"].items()
    }
    user_scopes = ["email", "notes-api/read", "notes-api/write", "openid", "profile"]
    assert clients["web"]["AllowedOAuthFlows"] == ["code"] and "ClientSecret" in clients["web"]
    assert sorted(clients["web"]["AllowedOAuthScopes"]) == user_scopes
    assert clients["web"]["CallbackURLs"] == ["http://localhost:3000/callback"]
    assert clients["spa"]["AllowedOAuthFlows"] == ["code"] and "ClientSecret" not in clients["spa"]
    assert sorted(clients["spa"]["AllowedOAuthScopes"]) == user_scopes
    assert clients["machine"]["AllowedOAuthFlows"] == ["client_credentials"] and "ClientSecret" in clients["machine"]
    assert sorted(clients["machine"]["AllowedOAuthScopes"]) == ["notes-api/read", "notes-api/write"]


@root_lifecycle
def test_second_plan_is_empty(deployed) -> None:
    assert deployed.plan_is_empty()


def code_sha256(data: bytes) -> str:
    """CodeSha256 as Lambda reports it: base64 of the package's sha256."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@root_lifecycle
def test_functions_are_deployed_from_their_objects_in_the_stacks_private_bucket(deployed) -> None:
    s3, lambda_ = deployed.aws.client("s3"), deployed.aws.client("lambda")
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("notes-api-code-")]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    for name in ROUTES:
        source = package_lambda.source_hash(package_lambda.collect([deployed.dir / "functions" / name, deployed.dir / "functions" / "shared"]))
        key = f"functions/{source}.zip"
        assert key in keys, name
        stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert lambda_.get_function(FunctionName=deployed.outputs["function_names"][name])["Configuration"]["CodeSha256"] == code_sha256(stored)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    }
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


@root_lifecycle
def test_editing_one_handler_uploads_a_new_object_and_changes_only_its_key(deployed) -> None:
    handler = deployed.dir / "functions" / "hello" / "app.py"
    lambda_ = deployed.aws.client("lambda")
    before = {n: lambda_.get_function(FunctionName=n)["Configuration"]["CodeSha256"] for n in deployed.outputs["function_names"].values()}
    handler.write_text(handler.read_text() + "\n# edited\n")

    changes = deployed.plan_changes()
    assert changes == {
        'module.route["hello"].aws_lambda_function.this': ["update"],
        # The new object is uploaded before the function points at it, and the old one deleted after.
        'module.route["hello"].aws_s3_object.package[0]': ["create", "delete"],
        # Replaced before its old instance goes, as the object that depends on it.
        'module.route["hello"].terraform_data.package[0]': ["create", "delete"],
    }
    source = package_lambda.source_hash(package_lambda.collect([handler.parent, deployed.dir / "functions" / "shared"]))
    updates = deployed.planned_updates('module.route["hello"].aws_lambda_function.this')
    assert {name: after for name, (_, after) in updates.items()} == {
        "s3_key": f"functions/{source}.zip", "source_code_hash": source,
        "last_modified": None,  # set by Lambda: unknown until apply
    }
    deployed.apply_plan()
    after = {n: lambda_.get_function(FunctionName=n)["Configuration"]["CodeSha256"] for n in before}
    assert [n for n in before if before[n] != after[n]] == ["notes-api-hello"]
    assert deployed.plan_is_empty()


@root_lifecycle
def test_changing_stage_throttling_applies_in_place(deployed) -> None:
    throttle = ["-var=throttling_rate_limit=7", "-var=throttling_burst_limit=3"]
    assert deployed.plan_changes(*throttle) == {"module.http_api.aws_apigatewayv2_stage.default": ["update"]}
    deployed.apply_plan()
    stage = deployed.aws.client("apigatewayv2").get_stage(ApiId=deployed.outputs["api_id"], StageName="$default")
    assert (stage["DefaultRouteSettings"]["ThrottlingRateLimit"], stage["DefaultRouteSettings"]["ThrottlingBurstLimit"]) == (7, 3)
    assert deployed.plan_is_empty(*throttle)


@root_lifecycle
def test_destroy_leaves_nothing_behind(deployed) -> None:
    deployed.tf("destroy", "-auto-approve", "-input=false", *ROOT_VARS)
    aws = deployed.aws
    assert aws.client("apigatewayv2").get_apis()["Items"] == []
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert aws.client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    assert aws.client("logs").describe_log_groups()["logGroups"] == []
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert aws.client("iam").list_policies(Scope="Local")["Policies"] == []
    assert not [b for b in aws.client("s3").list_buckets()["Buckets"] if b["Name"].startswith("notes-api-")]


EXAMPLES = sorted(p.parent.name for p in (stack.REPO / "examples").glob("*/main.tf"))


def _check_http_api_example(aws: EmbeddedAws, outputs: dict) -> None:
    """The stage meters every route and throttles GET /status below its defaults."""
    stage = aws.client("apigatewayv2").get_stage(ApiId=outputs["api_id"], StageName="$default")
    assert stage["DefaultRouteSettings"]["DetailedMetricsEnabled"] is True
    assert (stage["DefaultRouteSettings"]["ThrottlingRateLimit"], stage["DefaultRouteSettings"]["ThrottlingBurstLimit"]) == (50, 100)
    status = stage["RouteSettings"]["GET /status"]
    assert (status["ThrottlingRateLimit"], status["ThrottlingBurstLimit"]) == (5, 10)


def _check_cognito_example(aws: EmbeddedAws, outputs: dict) -> None:
    """Groups, a custom attribute, an OIDC provider the spa client names, a native app's callback."""
    cognito, pool_id = aws.client("cognito-idp"), outputs["user_pool_id"]
    assert sorted(g["GroupName"] for g in cognito.list_groups(UserPoolId=pool_id)["Groups"]) == ["editors", "readers"]
    attributes = {a["Name"]: a for a in cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["SchemaAttributes"]}
    assert attributes["custom:tenant_id"]["Mutable"] is False
    (provider,) = cognito.list_identity_providers(UserPoolId=pool_id)["Providers"]
    assert (provider["ProviderName"], provider["ProviderType"]) == ("CorpOIDC", "OIDC")
    clients = {name: cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
               for name, client_id in outputs["client_ids"].items()}
    assert sorted(clients["spa"]["SupportedIdentityProviders"]) == ["COGNITO", "CorpOIDC"]
    assert clients["mobile"]["CallbackURLs"] == ["notesapp://callback"]
    domain = outputs["authorize_url"].removeprefix("https://").split(".", 1)[0]
    assert cognito.describe_user_pool_domain(Domain=domain)["DomainDescription"]["ManagedLoginVersion"] == 1
    assert outputs["login_ui"] == "hosted UI"


# What each example's new inputs made, read back from the embedded AWS after apply.
EXAMPLE_CHECKS = {"http_api": _check_http_api_example, "cognito": _check_cognito_example}


# Their own group: they need no ordering with the root's lifecycle above, only an embedded AWS.
@pytest.mark.xdist_group("apply-examples")
@pytest.mark.parametrize("example", EXAMPLES)
def test_example_applies_replans_empty_and_destroys(embedded_aws, tmp_path, example: str) -> None:
    # Examples refer to ../../modules: keep that layout in the copy.
    shutil.copytree(stack.REPO / "modules", tmp_path / "modules", ignore=stack.NOT_COPIED)
    root = tmp_path / "examples" / example
    shutil.copytree(stack.REPO / "examples" / example, root, ignore=stack.NOT_COPIED)
    shutil.copy(stack.REPO / ".terraform.lock.hcl", root)
    env = terraform.terraform_env(tmp_path / "cli", stack.sandbox_env(embedded_aws.url))
    for args in (["init", "-input=false", "-lockfile=readonly"], ["apply", "-auto-approve", "-input=false"]):
        terraform.run(args, root, env, quiet=True)
    if example in EXAMPLE_CHECKS:
        EXAMPLE_CHECKS[example](embedded_aws, terraform.outputs(root, env))
    assert terraform.run(["plan", "-detailed-exitcode", "-input=false"], root, env, quiet=True, check=False).returncode == 0
    terraform.run(["destroy", "-auto-approve", "-input=false"], root, env, quiet=True)
    state = json.loads((root / "terraform.tfstate").read_text())
    assert state["resources"] == []


@pytest.mark.xdist_group("apply-examples")
def test_cognito_example_with_a_pre_token_generation_trigger(embedded_aws, tmp_path) -> None:
    """The trigger input the default example leaves null: Cognito gets the function and its event
    version, and the function a permission for this pool only."""
    lambda_ = embedded_aws.client("lambda")
    role = lambda_role(embedded_aws.client("iam"), "pre-token")
    package = zip_of({"app.py": "def handler(event, context):\n    return event\n"})
    function_arn = lambda_.create_function(FunctionName="pre-token", Runtime="python3.13", Role=role, Handler="app.handler",
                                           Code={"ZipFile": package})["FunctionArn"]

    shutil.copytree(stack.REPO / "modules", tmp_path / "modules", ignore=stack.NOT_COPIED)
    root = tmp_path / "examples" / "cognito"
    shutil.copytree(stack.REPO / "examples" / "cognito", root, ignore=stack.NOT_COPIED)
    shutil.copy(stack.REPO / ".terraform.lock.hcl", root)
    env = terraform.terraform_env(tmp_path / "cli", stack.sandbox_env(embedded_aws.url))
    trigger = [f"-var=pre_token_generation_function_arn={function_arn}"]
    terraform.run(["init", "-input=false", "-lockfile=readonly"], root, env, quiet=True)
    terraform.run(["apply", "-auto-approve", "-input=false", *trigger], root, env, quiet=True)
    try:
        pool = embedded_aws.client("cognito-idp").describe_user_pool(UserPoolId=terraform.outputs(root, env)["user_pool_id"])["UserPool"]
        assert pool["LambdaConfig"]["PreTokenGenerationConfig"] == {"LambdaArn": function_arn, "LambdaVersion": "V2_0"}
        (statement,) = json.loads(lambda_.get_policy(FunctionName="pre-token")["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "cognito-idp.amazonaws.com"}
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == pool["Arn"]
        assert terraform.run(["plan", "-detailed-exitcode", "-input=false", *trigger], root, env, quiet=True, check=False).returncode == 0
    finally:
        terraform.run(["destroy", "-auto-approve", "-input=false", *trigger], root, env, quiet=True)
        # The root's lifecycle may share this embedded AWS and expects it empty after its destroy.
        lambda_.delete_function(FunctionName="pre-token")
        embedded_aws.client("iam").delete_role(RoleName="pre-token")
    assert json.loads((root / "terraform.tfstate").read_text())["resources"] == []


# --- packaging: the build never depends on a file left by an earlier run -------------------------

PACKAGING_ROOT = Path("tests/fixtures/lambda_route_apply")


def packaging_checkout(base: Path, aws: EmbeddedAws) -> Deployment:
    """A fresh checkout of the packaging fixture (modules/ and the fixture sources; no .build, no
    state), initialised. Each checkout lives at its own path, as on another CI runner."""
    shutil.copytree(stack.REPO / "modules", base / "modules", ignore=stack.NOT_COPIED)
    for name in ("lambda_route_apply", "lambda_route_src", "lambda_route_shared"):
        shutil.copytree(stack.REPO / "tests" / "fixtures" / name, base / "tests" / "fixtures" / name, ignore=stack.NOT_COPIED)
    root = base / PACKAGING_ROOT
    shutil.copy(stack.REPO / ".terraform.lock.hcl", root)
    checkout = Deployment(root, terraform.terraform_env(base / "cli", stack.sandbox_env(aws.url)), {}, aws)
    checkout.tf("init", "-input=false", "-lockfile=readonly")
    return checkout


def assert_functions_run_the_packages_built_in(checkout: Deployment, name: str) -> None:
    """Each function's code is the zip this checkout built (CodeSha256), and a new plan is empty."""
    lambda_ = checkout.aws.client("lambda")
    paths = json.loads(checkout.tf("output", "-json", "package_paths").stdout)
    for function, path in paths.items():
        built = (checkout.dir / path).read_bytes()
        assert lambda_.get_function(FunctionName=f"{name}-{function}")["Configuration"]["CodeSha256"] == code_sha256(built), function
    result = checkout.tf("plan", "-input=false", "-detailed-exitcode", f"-var=name={name}", check=False)
    assert result.returncode == 0, result.stdout


packaging = pytest.mark.xdist_group("apply-packaging")


@packaging
def test_a_plan_saved_in_one_checkout_applies_in_another(embedded_aws, tmp_path) -> None:
    name = "saved-plan"
    planner, applier = packaging_checkout(tmp_path / "planner", embedded_aws), packaging_checkout(tmp_path / "applier", embedded_aws)
    planner.tf("plan", "-input=false", "-out=tfplan", f"-var=name={name}")
    shutil.copy(planner.dir / "tfplan", applier.dir / "tfplan")

    applier.tf("apply", "-input=false", "tfplan")

    # Built where the plan was applied, under that checkout's path; the planner has no zip.
    assert len(list((applier.dir / ".build" / "lambda").glob("*.zip"))) == 2
    assert not (planner.dir / ".build").exists()
    assert_functions_run_the_packages_built_in(applier, name)
    applier.tf("destroy", "-auto-approve", "-input=false", f"-var=name={name}")


@packaging
def test_an_apply_that_failed_after_the_build_converges_when_rerun_in_a_fresh_clone(embedded_aws, tmp_path) -> None:
    name = "rerun"
    logs = embedded_aws.client("logs")
    # The functions' log groups exist already: their creates fail while the packages (no
    # dependencies, started first) are built and recorded in the state; no function is created.
    squatters = [f"/aws/lambda/{name}-direct", f"/aws/lambda/{name}-stored"]
    for group in squatters:
        logs.create_log_group(logGroupName=group)
    first = packaging_checkout(tmp_path / "first", embedded_aws)
    failed = first.tf("apply", "-auto-approve", "-input=false", f"-var=name={name}", check=False)
    assert failed.returncode != 0 and "ResourceAlreadyExistsException" in failed.stderr, failed.stderr
    state = first.tf("state", "list").stdout.split()
    assert {"module.direct.terraform_data.package[0]", "module.stored.terraform_data.package[0]"} <= set(state)
    assert not [address for address in state if address.endswith("aws_lambda_function.this")]
    for group in squatters:
        logs.delete_log_group(logGroupName=group)

    # The rerun: a fresh clone with the state (a remote backend would give it), no .build.
    fresh = packaging_checkout(tmp_path / "fresh", embedded_aws)
    shutil.copy(first.dir / "terraform.tfstate", fresh.dir / "terraform.tfstate")
    fresh.tf("apply", "-auto-approve", "-input=false", f"-var=name={name}")

    assert_functions_run_the_packages_built_in(fresh, name)
    fresh.tf("destroy", "-auto-approve", "-input=false", f"-var=name={name}")
