"""modules/private_rest_api: every validation rule and precondition refusing bad input with its message.

The inventories in tests/inventories/private_rest_api/ hold what a plan creates; the rendered
resource policy (unknown until the API exists) is checked by the embedded apply of the example
(tests/test_local_apply.py) and served by the local stack (tests/test_rest_gateway.py).
"""
from __future__ import annotations

import pytest

MODULE = "modules/private_rest_api"
on_module_root = pytest.mark.xdist_group(MODULE)

FN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
VALID = {"name": "orders", "vpc_endpoint_ids": ["vpce-0123456789abcdef0"], "routes": {"GET /orders/{id}": {"function_arn": FN}}}

# One plan per batch: Terraform reports every failing rule of every variable.
BATCHES = {
    "every variable wrong": {
        "name": "orders api",
        "stage_name": "v 1",
        "vpc_endpoint_ids": ["vpc-0123456789abcdef0", "vpce-0123456789abcdef0"],
        "vpc_endpoint": {"vpc_id": "vpc-1", "subnet_ids": [], "allowed_cidrs": ["10.0.0.0/16", "0.0.0.0/0"]},
        "allowed_principals": ["bob", "123456789012"],
        "routes": {},
        "integration_timeout_ms": 29001,
        "throttling": {"rate_limit": 0, "burst_limit": 1.5},
        "logging_level": "DEBUG",
        "log_retention_days": 2,
        "usage_plan": {"api_keys": [], "rate_limit": 0, "quota": {"limit": 0, "period": "YEAR"}},
    },
    "every route rule broken": {
        "name": "orders",
        "vpc_endpoint_ids": ["vpce-0123456789abcdef0"],
        "routes": {
            "FETCH /orders": {"function_arn": FN},
            "GET /files/{path+}/raw": {"function_arn": FN},
            "GET /orders//items": {"function_arn": FN},
            "GET /a/b/c/d/e/f/g": {"function_arn": FN},
            "GET /jwt": {"function_arn": FN, "authorization": "JWT"},
            "GET /not-a-function": {"function_arn": "arn:aws:s3:::bucket"},
            "GET /valid/{id}": {"function_arn": FN, "authorization": "AWS_IAM"},
        },
    },
    "every cross-input rule broken": {  # the preconditions: no endpoint at all, and so on
        "name": "orders",
        "allowed_principals": ["arn:aws:iam::123456789012:role/client"],
        "routes": {
            "GET /public": {"function_arn": FN},
            "GET /metered": {"function_arn": FN, "authorization": "AWS_IAM", "api_key_required": True},
        },
    },
}
ROUTE_KEY_RULE = (
    'routes "FETCH /orders", "GET /files/{path+}/raw", "GET /orders//items": a route key is "METHOD /path", METHOD one of '
    "ANY, GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, each path segment a name or a {parameter}, and a greedy {parameter+} only as the last segment."
)
# (rule, batch, message): the message as Terraform reports it, without its "Invalid value for variable: " prefix.
RULES = [
    ("name", "every variable wrong", "name must be 1-128 letters, digits, hyphens or underscores."),
    ("stage_name", "every variable wrong", "stage_name must be 1-128 letters, digits, hyphens or underscores."),
    ("vpc_endpoint_ids", "every variable wrong", 'vpc_endpoint_ids "vpc-0123456789abcdef0": each must be a VPC endpoint id, vpce- and 8 to 17 hex digits.'),
    ("vpc_endpoint subnets", "every variable wrong", "vpc_endpoint.subnet_ids must name at least one subnet (one per Availability Zone for high availability)."),
    ("vpc_endpoint CIDRs", "every variable wrong", "vpc_endpoint.allowed_cidrs must name at least one CIDR block, none of them 0.0.0.0/0 or ::/0 (the endpoint serves the private network)."),
    ("allowed_principals", "every variable wrong", 'allowed_principals "bob": each must be an IAM ARN or a 12-digit account id.'),
    ("routes empty", "every variable wrong", "routes must name at least one route."),
    ("integration_timeout_ms", "every variable wrong", "integration_timeout_ms must be between 50 and 29000."),
    ("throttling", "every variable wrong", "throttling.rate_limit must be above 0, and throttling.burst_limit a whole number above 0."),
    ("logging_level", "every variable wrong", "logging_level must be OFF, ERROR or INFO."),
    (
        "log_retention_days",
        "every variable wrong",
        "log_retention_days must be one of CloudWatch's values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653.",
    ),
    ("usage_plan api_keys", "every variable wrong", "usage_plan.api_keys must name at least one key, each 1-64 letters, digits, hyphens or underscores."),
    ("usage_plan limits", "every variable wrong", "usage_plan.rate_limit and usage_plan.burst_limit must be above 0."),
    ("usage_plan quota", "every variable wrong", "usage_plan.quota.limit must be above 0 and usage_plan.quota.period one of DAY, WEEK, MONTH."),
    ("route key", "every route rule broken", ROUTE_KEY_RULE),
    ("route depth", "every route rule broken", 'routes "GET /a/b/c/d/e/f/g": paths may be at most 6 segments deep (one resource block per level in the module).'),
    ("authorization", "every route rule broken", 'routes "GET /jwt": authorization must be NONE or AWS_IAM.'),
    ("function_arn", "every route rule broken", 'routes "GET /not-a-function": function_arn must be a Lambda function ARN (arn:aws:lambda:region:account:function:name).'),
]
PRECONDITIONS = [
    ("no endpoint", "Set vpc_endpoint_ids, vpc_endpoint or both: a private API is reachable only through interface VPC endpoints."),
    (
        "principals with a NONE route",
        'allowed_principals narrows the policy to signed callers: routes "GET /public" must use AWS_IAM authorization, or no caller could reach them.',
    ),
    ("API key without usage plan", 'routes "GET /metered" require an API key: set usage_plan, which creates the keys.'),
]


def refusals(tf, batch: str) -> list[str]:
    prefix, suffix = "Invalid value for variable: ", "\n\nThis was checked by the validation rule"
    return [error.removeprefix(prefix).split(suffix)[0] for error in tf.root(MODULE).errors(BATCHES[batch])]


@on_module_root
@pytest.mark.parametrize(("rule", "batch", "message"), RULES, ids=[rule for rule, _, _ in RULES])
def test_validation_rule_refuses_with_its_message(tf, rule: str, batch: str, message: str) -> None:
    assert message in refusals(tf, batch)


@on_module_root
@pytest.mark.parametrize("batch", ["every variable wrong", "every route rule broken"])
def test_batch_is_refused_only_by_the_rules_it_breaks(tf, batch: str) -> None:
    # Nothing else fails (so each message above is the rule's own), and valid routes are never named.
    assert sorted(refusals(tf, batch)) == sorted({message for _, b, message in RULES if b == batch})


@on_module_root
@pytest.mark.parametrize(("rule", "message"), PRECONDITIONS, ids=[rule for rule, _ in PRECONDITIONS])
def test_cross_input_rule_refuses_with_its_message(tf, rule: str, message: str) -> None:
    assert f"Resource precondition failed: {message}" in refusals(tf, "every cross-input rule broken")


@on_module_root
def test_cross_input_batch_is_refused_by_the_preconditions_only(tf) -> None:
    assert sorted(refusals(tf, "every cross-input rule broken")) == sorted(f"Resource precondition failed: {m}" for _, m in PRECONDITIONS)


@on_module_root
def test_valid_inputs_plan(tf) -> None:
    plan = tf.root(MODULE).plan(VALID)
    assert plan.values["aws_api_gateway_rest_api.this"]["endpoint_configuration"][0]["types"] == ["PRIVATE"]
