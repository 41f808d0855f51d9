"""modules/http_api beyond its inventories (tests/inventories/http_api/*.yaml).

- the access log format, a JSON string the inventories can only compare as a whole;
- every validation rule and precondition: it rejects a bad input with a message naming the input,
  and accepts the values at the edge of what it allows;
- what a plan cannot show (ids, ARNs, the permission's source_arn, the domain's DNS target): the
  module's mocked apply, modules/http_api/tests/mocked_apply.tftest.hcl, one item per run block;
- the README's input and output tables against the module.

A plan takes seconds even when it fails, and Terraform reports every failed rule of every input in
one plan, so each rejected case breaks as many rules as can fail together; each rule is then its own
test item reading that cached result.

Valid inputs are read from the plan of tests/fixtures/http_api_cases (module "minimal"), which the
inventories share; the module itself is planned for the validation cases and the mocked apply.
"""
from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

MODULE = "modules/http_api"
CASES_ROOT = "tests/fixtures/http_api_cases"  # one module block per inventory case
REPO = Path(__file__).resolve().parents[1]
MOCKED_APPLY = REPO / MODULE / "tests" / "mocked_apply.tftest.hcl"
README = REPO / MODULE / "README.md"

# Tests that read the same root share a worker, which initialises it once and caches its plans:
# the cases root with the module's inventories, the module root among the validation tests.
on_module_root = pytest.mark.xdist_group(MODULE)
on_cases_root = pytest.mark.xdist_group(CASES_ROOT)


# --- Access logs -------------------------------------------------------------------------------


@pytest.fixture
def access_log_format(tf) -> str:
    plan = tf.root(CASES_ROOT).plan()
    return plan.values["module.minimal.aws_apigatewayv2_stage.default"]["access_log_settings"][0]["format"]


@on_cases_root
def test_access_log_format_is_one_json_object_of_context_variables(access_log_format: str) -> None:
    fields = json.loads(access_log_format)
    assert isinstance(fields, dict) and fields
    assert all(value.startswith("$context.") for value in fields.values()), fields


@on_cases_root
@pytest.mark.parametrize(
    ("field", "context_variable"),
    [
        ("requestId", "$context.requestId"),
        ("status", "$context.status"),
        ("routeKey", "$context.routeKey"),
        # Why a JWT was refused (spec A2, A4): the response itself only says 401 or 403.
        ("authorizerError", "$context.authorizer.error"),
        # Why the integration failed (spec B6): the response itself only says 500.
        ("integrationErrorMessage", "$context.integrationErrorMessage"),
    ],
)
def test_access_log_format_records(access_log_format: str, field: str, context_variable: str) -> None:
    assert json.loads(access_log_format).get(field) == context_variable


@on_cases_root
def test_access_log_format_fits_the_3_kb_template_quota(access_log_format: str) -> None:
    # http-api-quotas: "Access log template size 3 KB", not adjustable.
    assert len(access_log_format.encode()) <= 3 * 1024


# --- Validation rules and preconditions ------------------------------------------------------

INVOKE_ARN = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:us-east-1:123456789012:function:orders-authorizer/invocations"
)
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"
PREFLIGHT_INVOKE_ARN = INVOKE_ARN.replace("orders-authorizer", "orders-preflight")
CERTIFICATE_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


def lambda_authorizer(**fields) -> dict:
    return {"function_name": "orders-authorizer", "invoke_arn": INVOKE_ARN, **fields}


def audiences(count: int) -> list[str]:
    return [f"client-{i}" for i in range(count)]


REJECTED = {
    "too_low": {
        "name": "",
        "cors": {"allow_origins": [], "max_age_seconds": -1},
        "jwt_authorizers": {"cognito": {"issuer": ISSUER, "audience": []}},
        "lambda_authorizers": {"api_key": lambda_authorizer(result_ttl_seconds=-1)},
        "throttling_rate_limit": 0,
        "throttling_burst_limit": 0,
        "log_retention_days": 0,
        "route_settings": {"GET /orders": {"throttling_rate_limit": 0, "throttling_burst_limit": 0}},
    },
    "too_high": {
        "name": "a" * 129,
        "cors": {"allow_origins": ["*"], "allow_credentials": True, "max_age_seconds": 86401},
        "jwt_authorizers": {"cognito": {"issuer": ISSUER, "audience": audiences(51)}},  # spec A5: 50 at most
        "lambda_authorizers": {
            "slow_cache": lambda_authorizer(result_ttl_seconds=3601),
            "unkeyed_cache": lambda_authorizer(result_ttl_seconds=300, identity_sources=[]),
        },
        "throttling_burst_limit": 2.5,
        "log_retention_days": 3654,
        "route_settings": {"GET /orders": {"throttling_burst_limit": 2.5}},
    },
    "malformed": {
        "name": "-orders",
        "cors": {"allow_origins": ["https://app.example.com/callback"], "allow_methods": ["FETCH"]},
        "jwt_authorizers": {
            "insecure": {"issuer": "http://issuer.example.com", "audience": ["orders"]},
            "bare_header": {"issuer": ISSUER, "audience": ["orders"], "identity_source": "Authorization"},
        },
        "lambda_authorizers": {"api_key": lambda_authorizer(identity_sources=["X-Api-Key"])},
        "log_kms_key_arn": "alias/access-logs",
        "custom_domain": {"domain_name": "api.example.com", "certificate_arn": "arn:aws:iam::123456789012:server-certificate/api"},
        "route_settings": {"FETCH /orders": {}, "/orders": {}},
        "preflight_route": {"function_name": "orders-preflight", "invoke_arn": "arn:aws:lambda:us-east-1:123456789012:function:orders-preflight"},
    },
    # Valid inputs that clash: checked by a precondition once every input is valid.
    "shared_key": {
        "name": "orders-api",
        "jwt_authorizers": {"main": {"issuer": ISSUER, "audience": ["orders"]}},
        "lambda_authorizers": {"main": lambda_authorizer()},
    },
    # No way in left.
    "nothing_to_call": {"name": "orders-api", "disable_execute_api_endpoint": True},
    # A preflight route on an API that has no CORS, so answers no preflight.
    "preflight_without_cors": {
        "name": "orders-api",
        "preflight_route": {"function_name": "orders-preflight", "invoke_arn": PREFLIGHT_INVOKE_ARN},
    },
}

INVALID = "Invalid value for variable: "
RULES = [  # (case, the input the message must name, the error the user sees)
    ("too_low", "name", INVALID + "name must be 1-128 letters, digits, hyphens, underscores or dots."),
    ("too_high", "name", INVALID + "name must be 1-128 letters, digits, hyphens, underscores or dots."),
    ("malformed", "name", INVALID + "name must be 1-128 letters, digits, hyphens, underscores or dots."),
    ("too_low", "cors.allow_origins", INVALID + "cors.allow_origins must name at least one origin."),
    ("malformed", "cors.allow_origins", INVALID + 'cors.allow_origins entries must be "*" or scheme://host[:port] with no path.'),
    ("too_high", "cors", INVALID + 'cors: allow_credentials cannot be combined with the "*" origin (browsers refuse it and API Gateway rejects it).'),
    ("malformed", "cors.allow_methods", INVALID + "cors.allow_methods entries must be *, GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS."),
    ("too_low", "cors.max_age_seconds", INVALID + "cors.max_age_seconds must be between 0 and 86400."),
    ("too_high", "cors.max_age_seconds", INVALID + "cors.max_age_seconds must be between 0 and 86400."),
    ("malformed", "jwt_authorizers", INVALID + "jwt_authorizers: issuer must be an https:// URL (API Gateway fetches its /.well-known/openid-configuration)."),
    ("too_low", "jwt_authorizers", INVALID + "jwt_authorizers: audience must list 1 to 50 client ids."),
    ("too_high", "jwt_authorizers", INVALID + "jwt_authorizers: audience must list 1 to 50 client ids."),
    ("malformed", "jwt_authorizers", INVALID + "jwt_authorizers: identity_source must be $request.header.<name> or $request.querystring.<name>."),
    ("too_low", "lambda_authorizers", INVALID + "lambda_authorizers: result_ttl_seconds must be between 0 and 3600."),
    ("too_high", "lambda_authorizers", INVALID + "lambda_authorizers: result_ttl_seconds must be between 0 and 3600."),
    ("too_high", "lambda_authorizers", INVALID + "lambda_authorizers: caching (result_ttl_seconds > 0) needs identity_sources to key the cache on."),
    ("malformed", "lambda_authorizers", INVALID + "lambda_authorizers: identity_sources entries must be $request.header.<name>, $request.querystring.<name>, $context.<variable> or $stageVariables.<name>."),
    ("shared_key", "lambda_authorizers", 'Resource precondition failed: lambda_authorizers["main"]: jwt_authorizers has the same key; authorizer_ids needs each name once.'),
    ("too_low", "throttling_rate_limit", INVALID + "throttling_rate_limit must be greater than 0."),
    ("too_low", "throttling_burst_limit", INVALID + "throttling_burst_limit must be a whole number of at least 1."),
    ("too_high", "throttling_burst_limit", INVALID + "throttling_burst_limit must be a whole number of at least 1."),
    ("too_low", "log_retention_days", INVALID + "log_retention_days must be one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."),
    ("too_high", "log_retention_days", INVALID + "log_retention_days must be one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."),
    ("malformed", "log_kms_key_arn", INVALID + "log_kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not a key id or alias."),
    ("malformed", "custom_domain.certificate_arn", INVALID + "custom_domain.certificate_arn must be an ACM certificate ARN."),
    ("malformed", "route_settings", INVALID + 'route_settings "/orders", "FETCH /orders": keys are route keys, "$default" or "METHOD /path" with METHOD one of ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS.'),
    ("too_low", "route_settings", INVALID + 'route_settings "GET /orders": throttling_rate_limit must be greater than 0.'),
    ("too_low", "route_settings", INVALID + 'route_settings "GET /orders": throttling_burst_limit must be a whole number of at least 1.'),
    ("too_high", "route_settings", INVALID + 'route_settings "GET /orders": throttling_burst_limit must be a whole number of at least 1.'),
    ("malformed", "preflight_route.invoke_arn", INVALID + "preflight_route.invoke_arn must be a Lambda function's invoke ARN (arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations)."),
    ("nothing_to_call", "disable_execute_api_endpoint", "Resource precondition failed: disable_execute_api_endpoint = true needs custom_domain: without one the API would have no endpoint left to call."),
    ("preflight_without_cors", "preflight_route", "Resource precondition failed: preflight_route answers CORS preflights: it needs cors to be set."),
]

# The last value each rule allows, on every side it has: all in one plan, which must succeed.
AT_THE_EDGES = {
    "name": "Orders_API.v2-" + "a" * 114,  # 128 characters
    "cors": {
        "allow_origins": ["https://app.example.com:8443", "http://localhost:3000"],
        "allow_methods": ["*"],
        "max_age_seconds": 86400,
        "allow_credentials": True,
    },
    "jwt_authorizers": {
        "cognito": {"issuer": ISSUER, "audience": audiences(50), "identity_source": "$request.querystring.access_token"},
    },
    "lambda_authorizers": {
        "cached": lambda_authorizer(
            result_ttl_seconds=3600,
            identity_sources=["$request.header.X-Api-Key", "$request.querystring.key", "$context.identity.sourceIp", "$stageVariables.tenant"],
        ),
        "uncached": lambda_authorizer(result_ttl_seconds=0, identity_sources=[]),
    },
    "throttling_rate_limit": 0.5,
    "throttling_burst_limit": 1,
    "log_retention_days": 3653,
    "log_kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "custom_domain": {"domain_name": "api.example.com", "certificate_arn": CERTIFICATE_ARN, "mapping_key": "v1"},
    "disable_execute_api_endpoint": True,  # allowed: the custom domain is a way in
    "detailed_metrics_enabled": True,
    "route_settings": {
        "$default": {"throttling_rate_limit": 0.5, "throttling_burst_limit": 1},
        "ANY /orders/{id+}": {"detailed_metrics_enabled": False},
    },
    "preflight_route": {"function_name": "orders-preflight", "invoke_arn": PREFLIGHT_INVOKE_ARN},
}


def first_paragraph(error: str) -> str:
    """An error without Terraform's trailing "This was checked by the validation rule at ..."."""
    return error.split("\n\n")[0]


@on_module_root
@pytest.mark.parametrize(
    ("case", "variable", "expected"),
    RULES,
    ids=[f"{case}-{variable}-{i}" for i, (case, variable, _) in enumerate(RULES)],
)
def test_rule_rejects_with_a_message_naming_the_input(tf, case: str, variable: str, expected: str) -> None:
    errors = [first_paragraph(e) for e in tf.root(MODULE).errors(REJECTED[case])]
    assert expected in errors, f"{case}: no error {expected!r} among:\n  " + "\n  ".join(errors)
    message = errors[errors.index(expected)].split(": ", 1)[1]  # what follows Terraform's summary
    assert variable in message


@on_module_root
@pytest.mark.parametrize("case", REJECTED)
def test_rejected_case_fails_only_the_rules_it_breaks(tf, case: str) -> None:
    errors = sorted(first_paragraph(e) for e in tf.root(MODULE).errors(REJECTED[case]))
    assert errors == sorted(expected for c, _, expected in RULES if c == case)


@on_module_root
def test_values_at_the_edges_of_every_rule_are_accepted(tf) -> None:
    assert tf.root(MODULE).errors(AT_THE_EDGES) == []


# --- CORS preflights and authorized catch-all routes ------------------------------------------
# http_api wired to lambda_route by its `api` output alone, as a user does: the route learns
# whether the API has CORS and a preflight route from that one wire.

PREFLIGHT_ROOT = "tests/fixtures/http_api_preflight"
on_preflight_root = pytest.mark.xdist_group(PREFLIGHT_ROOT)
PREFLIGHT_REFUSED = (
    "Resource precondition failed: routes[{key}]: an authorized ANY or $default route on an API with CORS also"
    " receives the browsers' preflight OPTIONS requests, which carry no credentials, so its authorizer refuses them"
    " and every cross-origin call fails. Set preflight_route on modules/http_api (an unauthenticated OPTIONS"
    " /{{proxy+}} route), or use explicit methods."
)


@on_preflight_root
@pytest.mark.parametrize("route_key", ["ANY /{proxy+}", "$default", "ANY /orders"])
def test_authorized_catch_all_route_on_an_api_with_cors_is_refused(tf, route_key: str) -> None:
    errors = [first_paragraph(e) for e in tf.root(PREFLIGHT_ROOT).errors({"cors": True, "preflight_route": False, "route_key": route_key})]
    assert errors == [PREFLIGHT_REFUSED.format(key=json.dumps(route_key))]


@on_preflight_root
@pytest.mark.parametrize(
    ("cors", "preflight_route", "route_key"),
    [
        (True, True, "ANY /{proxy+}"),  # the OPTIONS /{proxy+} route answers preflights first
        (True, True, "$default"),
        (False, False, "ANY /{proxy+}"),  # no CORS: browsers send no preflight worth answering
        (True, False, "GET /orders"),  # an explicit method: API Gateway answers its preflight itself
    ],
)
def test_authorized_catch_all_route_is_accepted_when_preflights_are_answered(tf, cors: bool, preflight_route: bool, route_key: str) -> None:
    assert tf.root(PREFLIGHT_ROOT).errors({"cors": cors, "preflight_route": preflight_route, "route_key": route_key}) == []


@on_preflight_root
def test_authorized_catch_all_route_is_accepted_beside_its_own_unauthenticated_options_route(tf) -> None:
    inputs = {"cors": True, "preflight_route": False, "route_key": "ANY /{proxy+}", "own_options_route": True}
    assert tf.root(PREFLIGHT_ROOT).errors(inputs) == []


@on_preflight_root
def test_preflight_route_is_unauthenticated_and_served_by_the_function_it_names(tf) -> None:
    plan = tf.root(PREFLIGHT_ROOT).plan({"cors": True, "preflight_route": True, "route_key": "ANY /{proxy+}"})
    route = plan.values["module.http_api.aws_apigatewayv2_route.preflight[0]"]
    assert (route["route_key"], route["authorization_type"]) == ("OPTIONS /{proxy+}", "NONE")
    assert plan.values["module.http_api.aws_lambda_permission.preflight[0]"]["function_name"] == "orders"
    assert plan.values["module.orders.aws_apigatewayv2_route.this[\"ANY /{proxy+}\"]"]["authorization_type"] == "JWT"


# --- Mocked apply ------------------------------------------------------------------------------

MOCKED_RUNS = re.findall(r'^run "([^"]+)"', MOCKED_APPLY.read_text(), re.M)


@pytest.fixture(scope="module")
def mocked_apply(tf) -> dict[str, tuple[str | None, list[str]]]:
    """Each run block of the mocked apply: its status and its error messages."""
    result = tf.root(MODULE).run("test", "-json", check=False)
    statuses: dict[str, str] = {}
    messages: dict[str, list[str]] = defaultdict(list)
    for line in result.stdout.splitlines():
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        run = event.get("@testrun")
        if event["type"] == "test_run" and event["test_run"]["progress"] == "complete":
            statuses[run] = event["test_run"]["status"]
        elif event["type"] == "diagnostic" and event["diagnostic"]["severity"] == "error":
            messages[run].append(f"{event['diagnostic']['summary']}: {event['diagnostic'].get('detail', '')}")
    return {run: (statuses.get(run), messages[run] + messages[None]) for run in MOCKED_RUNS}


@on_module_root
@pytest.mark.parametrize("run", MOCKED_RUNS)
def test_mocked_apply(mocked_apply, run: str) -> None:
    status, messages = mocked_apply[run]
    assert status == "pass", f"{MOCKED_APPLY.name} run {run!r}: {status}\n  " + "\n  ".join(messages)


# --- README ------------------------------------------------------------------------------------


def readme_table(section: str) -> dict[str, list[str]]:
    """The rows of the table under a `## <section>` heading, by the name in their first cell."""
    text = README.read_text().split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in text.splitlines():
        cells = [html.unescape(c.strip()) for c in line.strip().strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


@pytest.fixture
def module_configuration(tf) -> dict:
    """The module's configuration (variables, outputs) as the cases root's plan shows it."""
    return tf.root(CASES_ROOT).plan().raw["configuration"]["root_module"]["module_calls"]["minimal"]["module"]


@on_cases_root
def test_readme_inputs_table_matches_variables(module_configuration: dict) -> None:
    """Columns: name, type, default, description; a required input's default is "required"."""
    variables = module_configuration["variables"]
    rows = readme_table("Inputs")
    assert list(rows) == sorted(variables)
    for name, variable in variables.items():
        _type, default, description = rows[name]
        assert description == variable["description"], name
        expected_default = f"`{json.dumps(variable['default'])}`" if "default" in variable else "required"
        assert default == expected_default, name


@on_cases_root
def test_readme_outputs_table_matches_outputs(module_configuration: dict) -> None:
    outputs = module_configuration["outputs"]
    rows = readme_table("Outputs")
    assert list(rows) == sorted(outputs)
    for name, output in outputs.items():
        assert rows[name] == [output["description"]], name
