"""The shop's API on the local stack, with no AWS account:

    pytest --local-aws-root examples/own_root examples/own_root/tests

`local_stack` (from the local_aws pytest plugin) applied this root to a local AWS once for the
whole run, shared by every xdist worker; the tests call the API over HTTP with real tokens from
the local Cognito.
"""
import json
import urllib.error
import urllib.request

import pytest


def call(url, method="GET", token=None, body=None):
    """(status, JSON body) of one request."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# invocations() counts every run of the function, whoever caused it: the tests that call shop-orders
# run on one worker, one after the other (with xdist's --dist loadgroup, as this repository sets).
calls_orders = pytest.mark.xdist_group("shop-orders")


@pytest.fixture(scope="module")
def api(local_stack):
    return local_stack.url()  # the stage is in it: http://127.0.0.1:<port>/v1


def test_health_is_public_and_served_on_the_v1_stage(api):
    assert api.endswith("/v1")
    assert call(f"{api}/health") == (200, {"status": "ok", "stage": "v1"})


def test_orders_without_a_token_are_refused(api):
    assert call(f"{api}/orders/42") == (401, {"message": "Unauthorized"})


@calls_orders
def test_the_backend_reads_an_order_with_client_credentials(local_stack, api):
    token = local_stack.token("backend", scopes=["orders/read"])
    status, order = call(f"{api}/orders/42", token=token)
    backend_id = local_stack.pool()["clients"]["backend"]["id"]
    assert status == 200
    assert order == {"id": "42", "status": "shipped", "caller": {"sub": backend_id, "client_id": backend_id, "groups": ""}}


@calls_orders
def test_a_read_only_token_cannot_place_an_order_and_the_function_never_runs(local_stack, api):
    before = local_stack.invocations("shop-orders")
    token = local_stack.token("backend", scopes=["orders/read"])
    assert call(f"{api}/orders", "POST", token, {"item": "book"}) == (403, {"message": "Forbidden"})
    assert local_stack.invocations("shop-orders") == before


@calls_orders
def test_a_signed_in_user_places_an_order(local_stack, api):
    password = local_stack.create_user("ana@example.com", groups=["support"])
    token = local_stack.token("app", username="ana@example.com", password=password)
    before = local_stack.invocations("shop-orders")
    status, order = call(f"{api}/orders", "POST", token, {"item": "book"})
    assert status == 201 and order["item"] == "book"
    assert order["caller"]["client_id"] == local_stack.pool()["clients"]["app"]["id"]
    assert "support" in order["caller"]["groups"]
    assert local_stack.invocations("shop-orders") == before + 1


@calls_orders
def test_an_id_token_carries_no_scope_and_is_refused(local_stack, api):
    password = local_stack.create_user("bo@example.com")
    id_token = local_stack.token("app", username="bo@example.com", password=password, id_token=True)
    assert call(f"{api}/orders/42", token=id_token) == (403, {"message": "Forbidden"})


@calls_orders
def test_a_bad_body_is_the_handlers_400(local_stack, api):
    token = local_stack.token("backend", scopes=["orders/write"])
    assert call(f"{api}/orders", "POST", token, {"item": ""}) == (400, {"message": "item: a non-empty string is required"})
