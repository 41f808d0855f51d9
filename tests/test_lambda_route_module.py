"""modules/lambda_route: what it refuses, and what its inventories cannot show.

The inventories in tests/inventories/lambda_route/ hold what a plan creates. Here: every
validation rule and precondition with its message; Terraform's plan-time source hash against
package.py's; the role policy as rendered once the log group's ARN is known; and the package
that `terraform apply` builds through the module's local-exec (no AWS call is involved).
Valid inputs are read from the plan of tests/fixtures/lambda_route_cases (module "public"), which
the inventories share; the module itself is planned for bad inputs and generated sources only.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.tfharness import REPO

MODULE = "modules/lambda_route"
CASES_ROOT = "tests/fixtures/lambda_route_cases"  # one module block per inventory case
POLICY_ROOT = "tests/fixtures/lambda_route_policy"
BUILD_ROOT = "tests/fixtures/lambda_route_build"
PACKAGE_TARGET = "-target=module.fn.terraform_data.package"

# Tests that plan the same root share a worker, which initialises it once (as in test_inventories).
on_module_root = pytest.mark.xdist_group(MODULE)
on_cases_root = pytest.mark.xdist_group(CASES_ROOT)
on_policy_root = pytest.mark.xdist_group(POLICY_ROOT)
on_build_root = pytest.mark.xdist_group(BUILD_ROOT)

spec = importlib.util.spec_from_file_location("lambda_route_package", REPO / MODULE / "package.py")
package = importlib.util.module_from_spec(spec)
spec.loader.exec_module(package)

API = {"api": {"id": "abc123", "execution_arn": "arn:aws:execute-api:us-east-1:123456789012:abc123", "cors_enabled": False, "preflight_route": False}}
FIXTURE_SOURCES = ["../../tests/fixtures/lambda_route_src"]
# The public case's inputs (module "public" of CASES_ROOT) but its source_dirs, which each test gives.
PUBLIC_ROUTE = {**API, "function_name": "hello", "routes": {"GET /hello": {}}}

# One plan per batch (a plan takes seconds even when it fails): Terraform reports every failing
# rule of every variable, and each message names the routes it refuses.
BATCHES = {
    "every variable wrong": {
        **API,
        "function_name": "hello world",
        "source_dirs": FIXTURE_SOURCES,
        "package_file": "../../tests/fixtures/lambda_route_prebuilt/function.zip",
        "handler": "app",
        "runtime": "python3.9",
        "architecture": "sparc",
        "memory_size": 100,
        "timeout": 901,
        "environment": {"AWS_REGION": "eu-west-1", "TABLE_NAME": "notes"},
        "log_retention_days": 2,
        "integration_timeout_ms": 30001,
        "policy_statements": [{"effect": "Maybe", "actions": ["dynamodb:GetItem"], "resources": ["*"]}],
        "routes": {},
    },
    "every route rule broken": {
        **API,
        "function_name": "notes",  # and neither source_dirs nor package_file
        "routes": {
            "FETCH /notes": {},
            "GET /oauth": {"authorization_type": "OAUTH"},
            "GET /jwt-without-scopes": {"authorization_type": "JWT", "authorizer_id": "jwt0001"},
            "GET /eleven-scopes": {"authorization_type": "JWT", "authorizer_id": "jwt0001", "authorization_scopes": [f"notes-api/s{i}" for i in range(11)]},
            "GET /public-with-scopes": {"authorization_scopes": ["notes-api/read"]},
            "GET /jwt-without-authorizer": {"authorization_type": "JWT", "authorization_scopes": ["notes-api/read"]},
            "GET /custom-without-authorizer": {"authorization_type": "CUSTOM"},
            "GET /iam-with-authorizer": {"authorization_type": "AWS_IAM", "authorizer_id": "jwt0001"},
            "GET /valid": {"authorization_type": "JWT", "authorizer_id": "jwt0001", "authorization_scopes": ["notes-api/read"]},
        },
    },
    "every new variable wrong": {
        **PUBLIC_ROUTE,
        "source_dirs": FIXTURE_SOURCES,
        "python_executable": "  ",
        "package_s3_bucket": "Build_Artifacts",
        "package_s3_prefix": "/lambda/",
        "log_kms_key_arn": "alias/logs",
        "kms_key_arn": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "vpc_subnet_ids": ["subnet-xyz"],
        "vpc_security_group_ids": ["default"],
        "layers": ["common:3"],
        "tracing_mode": "On",
        "log_format": "XML",
        "application_log_level": "VERBOSE",
        "system_log_level": "ERROR",
        "reserved_concurrent_executions": -1,
        "ephemeral_storage_mb": 256,
        "role_arn": "byo-lambda",
        "role_permissions_boundary": "workload-boundary",
        "alarms": {"sns_topic_arn": "oncall", "errors_threshold": 0, "period_seconds": 45, "evaluation_periods": 0.5},
    },
}
AUTHORIZER_RULE = (
    'routes "GET /custom-without-authorizer", "GET /iam-with-authorizer", "GET /jwt-without-authorizer": '
    "JWT and CUSTOM routes need an authorizer_id; NONE and AWS_IAM routes take none."
)
# (rule, batch, message): the message exactly as Terraform reports it, after "Invalid value for variable: ".
RULES = [
    ("function_name", "every variable wrong", "function_name must be 1-64 letters, digits, hyphens or underscores."),
    ("source_dirs and package_file both", "every variable wrong", "Set exactly one of source_dirs (build at apply time) or package_file (prebuilt zip)."),
    ("source_dirs and package_file neither", "every route rule broken", "Set exactly one of source_dirs (build at apply time) or package_file (prebuilt zip)."),
    ("handler", "every variable wrong", "handler must look like module.function, e.g. app.handler."),
    ("runtime", "every variable wrong", "runtime must be python3.12 or python3.13."),
    ("architecture", "every variable wrong", "architecture must be arm64 or x86_64."),
    ("memory_size", "every variable wrong", "memory_size must be a whole number of MB between 128 and 10240."),
    ("timeout", "every variable wrong", "timeout must be a whole number of seconds between 1 and 900."),
    (
        "environment key reserved",
        "every variable wrong",
        "environment AWS_REGION: keys must be letters, digits and underscores, start with a letter, and not start with AWS_ (reserved by Lambda).",
    ),
    (
        "log_retention_days",
        "every variable wrong",
        "log_retention_days must be one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653.",
    ),
    ("integration_timeout_ms", "every variable wrong", "integration_timeout_ms must be between 50 and 30000."),
    ("policy_statements effect", "every variable wrong", "policy_statements: effect must be Allow or Deny, and actions and resources must not be empty."),
    ("routes empty", "every variable wrong", "routes must name at least one route."),
    (
        "route key",  # C1
        "every route rule broken",
        'routes "FETCH /notes": a route key is "$default" or "METHOD /path" with METHOD one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS.',
    ),
    ("authorization_type", "every route rule broken", 'routes "GET /oauth": authorization_type must be NONE, JWT, AWS_IAM or CUSTOM.'),
    (
        "JWT route without scopes",  # A3: without scopes a Cognito ID token passes
        "every route rule broken",
        'routes "GET /jwt-without-scopes": a JWT route needs authorization_scopes. Without scopes API Gateway accepts any valid token of the audience, Cognito ID tokens included.',
    ),
    ("more than 10 scopes", "every route rule broken", 'routes "GET /eleven-scopes": API Gateway allows at most 10 authorization_scopes per route.'),  # A5
    ("scopes on a non-JWT route", "every route rule broken", 'routes "GET /public-with-scopes": authorization_scopes apply to JWT routes only.'),
    # The three routes below break the same rule, so one message names them all.
    ("JWT route without authorizer_id", "every route rule broken", AUTHORIZER_RULE),
    ("CUSTOM route without authorizer_id", "every route rule broken", AUTHORIZER_RULE),
    ("AWS_IAM route with an authorizer_id", "every route rule broken", AUTHORIZER_RULE),
    ("python_executable blank", "every new variable wrong", "python_executable must be an interpreter name or path, or null to look for python3, then python."),
    (
        "package_s3_bucket",
        "every new variable wrong",
        "package_s3_bucket must be an S3 bucket name: 3-63 lower-case letters, digits, dots or hyphens, starting and ending with a letter or digit.",
    ),
    ("package_s3_prefix", "every new variable wrong", "package_s3_prefix must not start with / and must be at most 900 characters."),
    ("log_kms_key_arn alias", "every new variable wrong", "log_kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not a key id or alias."),
    ("kms_key_arn key id", "every new variable wrong", "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not a key id or alias."),
    ("vpc_subnet_ids", "every new variable wrong", "vpc_subnet_ids must be at most 16 subnet ids (subnet-<hex>)."),
    ("vpc_security_group_ids", "every new variable wrong", "vpc_security_group_ids must be at most 5 security group ids (sg-<hex>)."),
    ("layers", "every new variable wrong", "layers must be at most 5 layer version ARNs (arn:aws:lambda:<region>:<account>:layer:<name>:<version>)."),
    ("tracing_mode", "every new variable wrong", "tracing_mode must be Active, PassThrough or null."),
    ("log_format", "every new variable wrong", "log_format must be Text, JSON or null."),
    ("application_log_level", "every new variable wrong", "application_log_level must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL."),
    ("system_log_level", "every new variable wrong", "system_log_level must be DEBUG, INFO or WARN."),
    ("reserved_concurrent_executions", "every new variable wrong", "reserved_concurrent_executions must be a whole number, 0 or more, or null for unreserved."),
    ("ephemeral_storage_mb", "every new variable wrong", "ephemeral_storage_mb must be a whole number of MB between 512 and 10240."),
    ("role_arn", "every new variable wrong", "role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)."),
    ("role_permissions_boundary", "every new variable wrong", "role_permissions_boundary must be an IAM policy ARN (arn:aws:iam::<account>:policy/<name>)."),
    ("alarms topic", "every new variable wrong", "alarms.sns_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)."),
    ("alarms thresholds", "every new variable wrong", "alarms: errors_threshold, throttles_threshold and duration_p99_threshold_ms must be 1 or more."),
    ("alarms period", "every new variable wrong", "alarms.period_seconds must be 10, 30 or a multiple of 60."),
    ("alarms evaluation_periods", "every new variable wrong", "alarms.evaluation_periods must be a whole number, 1 or more."),
]

# Rules between inputs are preconditions: one plan breaks them all (each on valid inputs).
CROSS_INPUT = {
    **PUBLIC_ROUTE,
    "source_dirs": FIXTURE_SOURCES,
    "vpc_subnet_ids": ["subnet-0a1b2c3d4e5f60718"],
    "application_log_level": "DEBUG",
    "role_arn": "arn:aws:iam::123456789012:role/byo",
    "role_permissions_boundary": "arn:aws:iam::123456789012:policy/boundary",
    "package_s3_prefix": "lambda/",
    "timeout": 5,
    "alarms": {"sns_topic_arn": "arn:aws:sns:us-east-1:123456789012:oncall", "duration_p99_threshold_ms": 5000},
}
PRECONDITIONS = [
    ("VPC subnets without security groups", "vpc_subnet_ids and vpc_security_group_ids: set both (a function in a VPC) or neither."),
    ("log levels without JSON", 'application_log_level and system_log_level need log_format = "JSON" (Lambda filters by level only in JSON logs).'),
    (
        "own role with a boundary",
        "role_arn: a role you bring is used as it is; policy_statements and role_permissions_boundary apply only to the role the module creates.",
    ),
    ("S3 prefix without a bucket", "package_s3_prefix needs package_s3_bucket."),
    ("p99 alarm at the timeout", "alarms.duration_p99_threshold_ms (5000) must be below the timeout (5000 ms): a duration never reaches it."),
]


def refusals(tf, batch: str) -> list[str]:
    """The messages of the validation rules a batch breaks."""
    prefix, suffix = "Invalid value for variable: ", "\n\nThis was checked by the validation rule"
    return [error.removeprefix(prefix).split(suffix)[0] for error in tf.root(MODULE).errors(BATCHES[batch])]


@on_module_root
@pytest.mark.parametrize(("rule", "batch", "message"), RULES, ids=[rule for rule, _, _ in RULES])
def test_validation_rule_refuses_with_its_message(tf, rule: str, batch: str, message: str) -> None:
    assert message in refusals(tf, batch)


@on_module_root
@pytest.mark.parametrize("batch", BATCHES)
def test_batch_is_refused_only_by_the_rules_it_breaks(tf, batch: str) -> None:
    # Nothing else fails (so each message above is the rule's own), and GET /valid is never named.
    assert sorted(refusals(tf, batch)) == sorted({message for _, b, message in RULES if b == batch})


@on_module_root
@pytest.mark.parametrize(("rule", "message"), PRECONDITIONS, ids=[rule for rule, _ in PRECONDITIONS])
def test_cross_input_rule_refuses_with_its_message(tf, rule: str, message: str) -> None:
    assert f"Resource precondition failed: {message}" in tf.root(MODULE).errors(CROSS_INPUT)


@on_module_root
def test_cross_input_plan_is_refused_only_by_those_rules(tf) -> None:
    assert sorted(tf.root(MODULE).errors(CROSS_INPUT)) == sorted(f"Resource precondition failed: {m}" for _, m in PRECONDITIONS)


@on_module_root
def test_source_dirs_are_checked_at_plan_time(tf, tmp_path: Path) -> None:
    """What package.py would refuse at apply is refused by the plan: missing, empty, clashing dirs."""
    handler = (tf.root(MODULE).dir / FIXTURE_SOURCES[0]).resolve()
    clashing = tmp_path / "clashing"
    (clashing / "helpers").mkdir(parents=True)
    (clashing / "helpers" / "text.py").write_text("# the handler's helpers/text.py again\n")
    only_byte_code = tmp_path / "compiled" / "__pycache__"
    only_byte_code.mkdir(parents=True)
    (only_byte_code / "app.cpython-313.pyc").write_bytes(b"\x00")
    missing = tmp_path / "no-such-dir"

    errors = tf.root(MODULE).errors({**PUBLIC_ROUTE, "source_dirs": [str(handler), str(clashing), str(missing), str(only_byte_code.parent)]})

    assert errors == [
        f"Resource precondition failed: source_dirs: no files to package in {only_byte_code.parent}, {missing} (a missing directory, or only __pycache__ and *.pyc).",
        "Resource precondition failed: source_dirs: helpers/text.py found in more than one directory; the package root holds each name once.",
    ]


def tricky_sources(base: Path) -> list[Path]:
    """Two source dirs with what a naive packager gets wrong: links, dot files, caches, non-ASCII names."""
    handler, shared = base / "handler", base / "shared"
    files = {
        handler / "app.py": "def handler(event, context):\n    return {}\n",
        handler / ".env.defaults": "LOG_LEVEL=info\n",
        handler / "Zeta.py": "",
        handler / "data" / "données.json": "{}\n",
        handler / "data" / "a b.txt": "spaces\n",
        handler / "pkg" / "__init__.py": "",
        handler / "pkg" / "__pycache__" / "__init__.cpython-313.pyc": "compiled",
        handler / "pkg" / "stale.pyc": "compiled",
        shared / "responses.py": "import json\n",
        shared / "日本.txt": "unicode\n",
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    linked = base / "vendored"
    (linked / "lib").mkdir(parents=True)
    (linked / "lib" / "vendored.py").write_text("VERSION = '1'\n")
    (handler / "vendor").symlink_to(linked, target_is_directory=True)
    return [handler, shared]


@pytest.mark.parametrize("sources", [pytest.param("fixtures", marks=on_cases_root), pytest.param("tricky", marks=on_module_root)])
def test_terraform_source_hash_equals_package_py_source_hash(tf, tmp_path: Path, sources: str) -> None:
    """The two implementations of the hash never drift: package.py would refuse every build."""
    if sources == "fixtures":  # the public case, built from the source_dirs main.tf gives it
        root = tf.root(CASES_ROOT)
        plan, dirs = root.plan(), [root.dir / ".." / "lambda_route_src", root.dir / ".." / "lambda_route_shared"]
        source_hash, function = plan.outputs["public_source_hash"], plan.values["module.public.aws_lambda_function.this"]
    else:
        dirs = tricky_sources(tmp_path)
        plan = tf.root(MODULE).plan({**PUBLIC_ROUTE, "source_dirs": [str(d) for d in dirs]})
        source_hash, function = plan.outputs["source_hash"], plan.values["aws_lambda_function.this"]
    digest = package.source_hash(package.collect(dirs))

    assert source_hash == digest
    assert function["source_code_hash"] == digest
    assert function["filename"] == f"./.build/lambda/hello-{digest[:16]}.zip"


@on_cases_root
def test_planned_package_path_is_relative_to_the_root(tf) -> None:
    # An absolute path would differ between checkouts and CI runners: a diff on every run.
    root = tf.root(CASES_ROOT)
    plan = root.plan()
    paths = [
        plan.values["module.public.aws_lambda_function.this"]["filename"],
        plan.values["module.public.terraform_data.package[0]"]["triggers_replace"]["package_path"],
        plan.outputs["public_package_path"],
    ]
    for path in paths:
        assert not os.path.isabs(path) and str(root.dir) not in path and str(REPO) not in path, path
        assert path.startswith("./.build/lambda/hello-"), path


def public_module_configuration(tf) -> dict:
    """The module's configuration (variables, outputs, resources) as the fixture root's plan shows it."""
    return tf.root(CASES_ROOT).plan().raw["configuration"]["root_module"]["module_calls"]["public"]["module"]


@on_cases_root
def test_function_waits_for_its_log_group_and_package(tf) -> None:
    # The log group (with its retention) exists before the function can log: Lambda would
    # otherwise create it on first invocation, kept forever; and the zip exists before upload.
    resources = public_module_configuration(tf)["resources"]
    function = next(r for r in resources if r["address"] == "aws_lambda_function.this")

    assert {"aws_cloudwatch_log_group.this", "terraform_data.package"} <= set(function["depends_on"])


def readme_table(section: str) -> dict[str, list[str]]:
    """The rows of the table under `## <section>` in the module's README: name -> other cells."""
    text = (REPO / MODULE / "README.md").read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split(" | ") for line in text.splitlines() if line.startswith("| `")]
    return {cells[0].strip(" `"): [cell.strip() for cell in cells[1:]] for cells in rows}


@on_cases_root
def test_readme_tables_match_variables_and_outputs(tf) -> None:
    config = public_module_configuration(tf)
    declared_types = dict(re.findall(r'^variable "(\w+)" \{.*?^  type\s+= (.*?)$', (REPO / MODULE / "variables.tf").read_text(), re.M | re.S))
    inputs = readme_table("Inputs")

    assert sorted(inputs) == sorted(config["variables"])
    for name, (type_cell, default_cell, description) in inputs.items():
        variable = config["variables"][name]
        # tests/readme_tables.py writes a multi-line description on one line.
        assert description == " ".join(variable["description"].split()), name
        assert default_cell == (f"`{json.dumps(variable['default'])}`" if "default" in variable else "required"), name
        if type_cell.startswith("`"):
            assert type_cell == f"`{declared_types[name]}`", name
        else:  # an object type, spelled out under "Object inputs"
            kind = type_cell.split()[0].rstrip(",")
            assert declared_types[name] == ("object({" if kind == "object" else f"{kind}(object({{"), name
    assert readme_table("Outputs") == {name: [output["description"]] for name, output in config["outputs"].items()}


LOG_GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/notes"
# A state in which the log group exists: on the first plan its ARN is unknown, and so is the policy.
STATE_AFTER_FIRST_APPLY = {
    "version": 4,
    "terraform_version": "1.11.4",
    "serial": 1,
    "lineage": "lambda-route-policy-test",
    "outputs": {},
    "resources": [
        {
            "module": "module.fn",
            "mode": "managed",
            "type": "aws_cloudwatch_log_group",
            "name": "this",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [
                {
                    "schema_version": 0,
                    "attributes": {
                        "id": "/aws/lambda/notes",
                        "name": "/aws/lambda/notes",
                        "arn": LOG_GROUP_ARN,
                        "retention_in_days": 30,
                        "log_group_class": "STANDARD",
                        "skip_destroy": False,
                        "kms_key_id": "",
                        "name_prefix": "",
                        "tags": None,
                        "tags_all": {},
                    },
                }
            ],
        }
    ],
}


@on_policy_root
def test_role_may_write_only_to_its_own_log_group_its_vpc_and_traces_plus_the_given_statements(tf) -> None:
    root = tf.root(POLICY_ROOT)
    (root.dir / "terraform.tfstate").write_text(json.dumps(STATE_AFTER_FIRST_APPLY))
    plan = root.plan()
    assert plan.actions["module.fn.aws_cloudwatch_log_group.this"] == ["no-op"]

    policy = json.loads(plan.values["module.fn.aws_iam_role_policy.this[0]"]["policy"])

    def as_list(value: str | list[str]) -> list[str]:
        return sorted([value] if isinstance(value, str) else value)

    statements = [
        {"Sid": s["Sid"], "Effect": s["Effect"], "Action": as_list(s["Action"]), "Resource": as_list(s["Resource"])}
        for s in policy["Statement"]
    ]
    assert statements == [
        {"Sid": "WriteOwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [f"{LOG_GROUP_ARN}:*"]},
        {
            # AWSLambdaVPCAccessExecutionRole's EC2 actions, without its logs:* on every log group.
            "Sid": "ManageVpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": sorted([
                "ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses",
            ]),
            "Resource": ["*"],
        },
        {"Sid": "WriteTraces", "Effect": "Allow", "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "Resource": ["*"]},
        {"Sid": "ReadNotes", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": ["arn:aws:dynamodb:us-east-1:123456789012:table/notes"]},
        {"Sid": "NeverDelete", "Effect": "Deny", "Action": ["dynamodb:DeleteItem"], "Resource": ["*"]},
    ]
    assert all(set(s) == {"Sid", "Effect", "Action", "Resource"} for s in policy["Statement"])  # no Condition, no NotAction


@pytest.fixture(scope="session")  # session, like `tf`: applied once per worker, whatever the test order
def built(tf):
    """The build fixture root after `terraform apply` of its package only (python3 runs package.py).

    Returns the root, its plan, and the bytes of the zip the apply wrote where the plan said.
    """
    root = tf.root(BUILD_ROOT)
    plan = root.plan()
    root.run("apply", "-auto-approve", "-refresh=false", PACKAGE_TARGET)
    return root, plan, (root.dir / plan.outputs["package_path"]).read_bytes()


def build_sources(root) -> list[Path]:
    return [root.dir / "src", root.dir / ".." / "lambda_route_shared"]


def package_plan_exit_code(root, *args: str) -> int:
    """0: nothing to do for the package, 2: a rebuild (terraform plan -detailed-exitcode)."""
    result = root.run("plan", "-refresh=false", "-detailed-exitcode", PACKAGE_TARGET, *args, check=False)
    assert result.returncode in (0, 2), result.stderr
    return result.returncode


@on_build_root
def test_apply_builds_the_planned_package_with_package_py(built, tmp_path: Path) -> None:
    root, plan, zip_bytes = built
    digest = package.source_hash(package.collect(build_sources(root)))
    package.write_zip(package.collect(build_sources(root)), tmp_path / "expected.zip")

    assert plan.outputs["source_hash"] == digest
    assert plan.outputs["package_path"] == f"./.build/lambda/built-{digest[:16]}.zip"
    assert zip_bytes == (tmp_path / "expected.zip").read_bytes()


@on_build_root
def test_package_is_rebuilt_when_sources_change_or_the_zip_is_missing(built) -> None:
    root, plan, zip_bytes = built
    app = root.dir / "src" / "app.py"
    original = app.read_text()
    package_file = root.dir / plan.outputs["package_path"]

    # The zip that apply built is there: nothing to do.
    assert package_plan_exit_code(root) == 0

    # A fresh CI checkout (or another runner, or a run after an apply that built the zip and then
    # failed): no zip, other mtimes and modes. The rebuild is planned, and applying it writes the
    # same bytes; the next plan is empty again.
    package_file.unlink()
    for path in (root.dir / "src").rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        path.chmod(0o755)
    assert package_plan_exit_code(root) == 2
    root.run("apply", "-auto-approve", "-refresh=false", PACKAGE_TARGET)
    assert package_file.read_bytes() == zip_bytes
    assert package_plan_exit_code(root) == 0

    try:
        app.write_text(original + "# edited\n")
        assert package_plan_exit_code(root, "-out=edited.tfplan") == 2

        # An edit between plan and apply: Terraform sees the hash differ from the plan's and
        # refuses; no package is written.
        app.write_text(original + "# edited again after the plan\n")
        applied = root.run("apply", "edited.tfplan", check=False)
        assert applied.returncode != 0
        assert sorted(p.name for p in (root.dir / ".build").rglob("*.zip")) == [package_file.name]
    finally:
        app.write_text(original)


@on_build_root
def test_packager_runs_with_python_when_there_is_no_python3(built, tmp_path: Path) -> None:
    """Runners with only `python` on PATH (python_executable unset): the module finds it."""
    root, plan, zip_bytes = built
    only_python = tmp_path / "bin"
    only_python.mkdir()
    (only_python / "python").symlink_to(sys.executable)
    for tool in ("sh",):
        (only_python / tool).symlink_to(shutil.which(tool))
    env = {**root.env, "PATH": str(only_python)}
    package_file = root.dir / plan.outputs["package_path"]
    package_file.unlink()

    result = subprocess.run([shutil.which("terraform"), "apply", "-auto-approve", "-refresh=false", "-no-color", PACKAGE_TARGET],
                            cwd=root.dir, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr
    assert package_file.read_bytes() == zip_bytes


@on_build_root
def test_packager_names_the_missing_interpreter(built, tmp_path: Path) -> None:
    root, plan, _ = built
    no_python = tmp_path / "bin"
    no_python.mkdir()
    (no_python / "sh").symlink_to(shutil.which("sh"))
    (root.dir / plan.outputs["package_path"]).unlink()
    env = {**root.env, "PATH": str(no_python)}

    result = subprocess.run([shutil.which("terraform"), "apply", "-auto-approve", "-refresh=false", "-no-color", PACKAGE_TARGET],
                            cwd=root.dir, env=env, capture_output=True, text=True)

    assert result.returncode != 0
    assert "lambda_route: no Python 3.9+ found as python3 or python on PATH; set the python_executable input" in " ".join(result.stderr.split())
    root.run("apply", "-auto-approve", "-refresh=false", PACKAGE_TARGET)  # leave the zip for the other tests


@on_build_root
def test_requirements_are_installed_for_the_platform_reproducibly(tf) -> None:
    """six from requirements.txt lands in the package root; a second build gives the same bytes."""
    root = tf.root(BUILD_ROOT)
    plan = root.plan()
    target = "-target=module.deps.terraform_data.package"
    package_file = root.dir / plan.outputs["deps_package_path"]
    root.run("apply", "-auto-approve", "-refresh=false", target)
    first = package_file.read_bytes()
    package_file.unlink()
    root.run("apply", "-auto-approve", "-refresh=false", target)  # missing at plan time: rebuilt

    assert package_file.read_bytes() == first
    with zipfile.ZipFile(package_file) as archive:
        names = archive.namelist()
    assert names == sorted(names)
    assert {"app.py", "requirements.txt", "six.py", "six-1.17.0.dist-info/METADATA", "six-1.17.0.dist-info/RECORD"} <= set(names)
    assert not [n for n in names if n.startswith("bin/") or n.endswith(".pyc") or "__pycache__" in n]
    # Lambda puts the package root on sys.path: the handler imports its dependency from it.
    imported = subprocess.run(
        [sys.executable, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import app; print(app.handler({}, None))", package_file],
        capture_output=True, text=True, check=True,
    )
    assert imported.stdout.strip() == "{'statusCode': 200, 'body': '1.17.0'}"


def test_example_handler_greets_by_query_parameter() -> None:
    spec = importlib.util.spec_from_file_location("example_app", REPO / "examples" / "lambda_route" / "src" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    with_name = {"version": "2.0", "routeKey": "GET /hello", "rawPath": "/hello", "queryStringParameters": {"name": "Ada"}}
    without_query = {"version": "2.0", "routeKey": "GET /hello", "rawPath": "/hello"}  # B2: the key is absent

    assert app.handler(with_name, None) == {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": '{"message": "Hello, Ada!"}',
    }
    assert json.loads(app.handler(without_query, None)["body"]) == {"message": "Hello, world!"}
