"""The root module's plan: what inventories cannot say, because it is unknown until apply.

The issuer, client ids, execution ARN and authorizer id only exist after apply (the apply tests
check their values against the embedded AWS). Here the plan's configuration shows they are
wired from the right places, and the packages are named after the handlers' own sources.
"""
from __future__ import annotations

import importlib.util

import pytest

from tests.tfharness import REPO

pytestmark = pytest.mark.xdist_group(".")

spec = importlib.util.spec_from_file_location("package_lambda", REPO / "modules" / "lambda_route" / "package.py")
package_lambda = importlib.util.module_from_spec(spec)
spec.loader.exec_module(package_lambda)


def module_call(plan, name: str) -> dict:
    return plan.raw["configuration"]["root_module"]["module_calls"][name]


def references(plan, module: str, argument: str) -> list[str]:
    return module_call(plan, module)["expressions"][argument]["references"]


def test_plan_needs_no_variables(tf) -> None:
    assert tf.root(".").errors() == []


def test_jwt_authorizer_trusts_the_user_pool_and_its_api_clients(tf) -> None:
    refs = references(tf.root(".").plan(), "http_api", "jwt_authorizers")
    assert "module.cognito.issuer_url" in refs
    assert "module.cognito.client_ids" in refs


def test_routes_use_the_api_its_execution_arn_and_its_authorizer(tf) -> None:
    plan = tf.root(".").plan()
    # One wire: the api object carries the id, the execution ARN and the CORS facts routes are checked against.
    assert references(plan, "route", "api") == ["module.http_api.api", "module.http_api"]
    assert "module.http_api.authorizer_ids" in references(plan, "route", "routes")


@pytest.mark.parametrize("function", ["hello", "profile", "create_note"])
def test_each_package_is_named_after_its_handler_and_the_shared_helper(tf, function: str) -> None:
    plan = tf.root(".").plan()
    values = plan.values[f'module.route["{function}"].aws_lambda_function.this']
    files = package_lambda.collect([REPO / "functions" / function, REPO / "functions" / "shared"])
    expected = package_lambda.source_hash(files)
    assert "app.py" in files and "apigw_http.py" in files
    assert values["source_code_hash"] == expected
    assert values["s3_key"] == f"functions/{expected}.zip"
    stored = plan.values[f'module.route["{function}"].aws_s3_object.package[0]']
    assert stored["key"] == values["s3_key"]
    assert stored["source"] == f"./.build/lambda/notes-api-{function.replace('_', '-')}-{expected[:16]}.zip"


def test_functions_upload_directly_when_s3_packaging_is_off(tf) -> None:
    plan = tf.root(".").plan({"lambda_packages_in_s3": False})
    assert plan.counts["aws_s3_bucket"] == 0 and plan.counts["aws_s3_object"] == 0
    values = plan.values['module.route["hello"].aws_lambda_function.this']
    assert values["s3_bucket"] is None and values["filename"].startswith("./.build/lambda/notes-api-hello-")


def test_packages_differ_per_function(tf) -> None:
    plan = tf.root(".").plan()
    hashes = {plan.values[f'module.route["{f}"].aws_lambda_function.this']["source_code_hash"] for f in ("hello", "profile", "create_note")}
    assert len(hashes) == 3
