"""Run by tests/test_pytest_plugin.py in a pytest of its own (-n 2), on a copy of
tests/fixtures/multi_region_root: several APIs and user pools in two regions, through the plugin.
The outer test sets europe=eu-central-1 in a var file and status_stage=live as a var."""
import json
import os
from pathlib import Path

import pytest

from local_aws.pytest_plugin import LocalStackError

EUROPE, APAC = "eu-central-1", "ap-southeast-2"
# Tests that call the JWT routes, some counting invocations: on one worker, one after the other
# (the repository's settings give --dist loadgroup), while the others run on the second worker.
counted = pytest.mark.xdist_group("counted")


def call(local_stack, url, token=None):
    """(status, JSON body); with several APIs, each is at its own *.localhost name: request() reaches it."""
    answer = local_stack.request("GET", url, token=token)
    return answer.status, answer.json()


@pytest.fixture(autouse=True)
def record_the_stack(local_stack):
    """Which stack each worker used: the outer test checks there was one."""
    with open(Path(os.environ["PLUGIN_CHECK_DIR"]) / "stacks", "a") as record:
        record.write(json.dumps([os.environ.get("PYTEST_XDIST_WORKER"), local_stack.description["pid"]]) + "\n")


def test_each_api_has_its_own_url_with_its_stage(local_stack):
    admin, status, shop = local_stack.url("admin"), local_stack.url("status"), local_stack.url("shop")
    assert len({admin, status, shop}) == 3
    assert not admin.endswith("/$default") and status.endswith("/live") and shop.endswith("/v2")
    assert local_stack.url("shop", stage="v2") == shop
    with pytest.raises(LocalStackError, match="3 HTTP APIs"):
        local_stack.url()
    with pytest.raises(LocalStackError, match="stage='v1'"):
        local_stack.url("shop", stage="v1")


def test_stack_json_lists_pools_and_apis_with_their_regions(local_stack):
    d = local_stack.description
    pools = {p["name"]: p for p in d["user_pools"]}
    assert {name: p["region"] for name, p in pools.items()} == {"staff": EUROPE, "customers": APAC}
    assert pools["customers"]["issuer"] == f"https://cognito-idp.{APAC}.amazonaws.com/{pools['customers']['id']}"
    assert {a["name"]: a["region"] for a in d["apis"].values()} == {"admin": EUROPE, "status": EUROPE, "shop": APAC}


@counted
def test_each_pool_issues_tokens_its_own_api_accepts(local_stack):
    staff, customers = local_stack.pool("staff"), local_stack.pool("customers")
    status, body = call(local_stack, f"{local_stack.url('admin')}/reports", local_stack.token("ops", pool="staff"))
    assert status == 200
    assert body == {"function": "admin-reports", "region": EUROPE, "route": "GET /reports",
                    "issuer": staff["issuer"], "client_id": staff["clients"]["ops"]["id"]}
    status, body = call(local_stack, f"{local_stack.url('shop')}/catalog", local_stack.token("ops", pool="customers", scopes=["shop/read"]))
    assert status == 200
    assert body == {"function": "shop-catalog", "region": APAC, "route": "GET /catalog",
                    "issuer": customers["issuer"], "client_id": customers["clients"]["ops"]["id"]}


@counted
def test_a_token_of_one_pool_is_refused_by_the_other_pools_api(local_stack):
    before = local_stack.invocations("shop-catalog"), local_stack.invocations("admin-reports")
    assert call(local_stack, f"{local_stack.url('shop')}/catalog", local_stack.token("ops", pool="staff")) == (401, {"message": "Unauthorized"})
    assert call(local_stack, f"{local_stack.url('admin')}/reports", local_stack.token("ops", pool="customers")) == (401, {"message": "Unauthorized"})
    assert (local_stack.invocations("shop-catalog"), local_stack.invocations("admin-reports")) == before


def test_a_client_name_two_pools_share_needs_the_pool(local_stack):
    with pytest.raises(LocalStackError, match="choose one with pool="):
        local_stack.token("ops")


@counted
def test_a_customer_signs_in_on_the_apac_pool(local_stack):
    password = local_stack.create_user("kim@example.com", pool="customers")
    token = local_stack.token("web", username="kim@example.com", password=password)  # the only "web": no pool needed
    before = local_stack.invocations("shop-catalog")
    status, body = call(local_stack, f"{local_stack.url('shop')}/catalog", token)
    assert status == 200 and body["client_id"] == local_stack.pool("customers")["clients"]["web"]["id"]
    assert local_stack.invocations("shop-catalog") == before + 1


def test_an_edited_handler_is_served_when_apply_returns(local_stack):
    assert call(local_stack, f"{local_stack.url('status')}/status") == (200, {"region": EUROPE, "stage": "live", "release": "first"})
    handler = local_stack.root / "src" / "status.py"
    handler.write_text(handler.read_text().replace('RELEASE = "first"', 'RELEASE = "second"'))
    local_stack.apply()
    assert call(local_stack, f"{local_stack.url('status')}/status") == (200, {"region": EUROPE, "stage": "live", "release": "second"})
