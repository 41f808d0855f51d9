"""The data plane's HTTP server serves every connection from one event-loop thread (http11.py); a
request waits for its function without holding the loop (loop_bridge.py). Real gateway, real
functions in the real Runtime, real HTTP on loopback: each test fails if a wait blocks the loop."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_aws.authorizer import JwksCache
from local_aws.gateway import Gateway
from local_aws.runtime import Runtime
from tests.gateway_support import Builder, Served
from tests.support.embedded_aws import EmbeddedAws
from tests.support.http import call

pytestmark = pytest.mark.xdist_group("gateway")

SLEEP_S = 0.8


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedded_aws: EmbeddedAws):
    tmp = tmp_path_factory.mktemp("event-loop")
    clients = {service: embedded_aws.client(service) for service in ("lambda", "apigatewayv2", "iam")}
    builder = Builder(clients, tmp / "invocations.log")
    api = builder.api("loop-api")
    api.route("GET /sleepy", builder.function("loop-sleepy", "slow", env={"SLEEP_S": str(SLEEP_S)}))
    api.route("GET /echo", builder.function("loop-echo", "echo"))
    api.route("GET /cold", builder.function("loop-cold", "echo", env={"INIT_SLEEP_S": "2"}))
    runtime = Runtime(embedded_aws.url, tmp / "runtime")
    gateway = Gateway(embedded_aws.url, runtime, JwksCache(lambda issuer: {}))
    gateway.reload()
    server = Served(gateway)
    try:
        yield lambda target: call(server.port, "GET", target, host=f"{api.host_name}:{server.port}")
    finally:
        server.stop()
        runtime.close()


def timed(send, targets: list[str]) -> tuple[list[int], float]:
    """Send the requests at once, each on its own connection: their statuses and the seconds all took."""
    started = time.monotonic()
    with ThreadPoolExecutor(len(targets)) as pool:
        statuses = [reply.status for reply in pool.map(send, targets)]
    return statuses, time.monotonic() - started


def test_requests_waiting_for_their_functions_wait_together(served) -> None:
    assert timed(served, ["/sleepy"] * 3)[0] == [200] * 3  # three warm environments
    statuses, seconds = timed(served, ["/sleepy"] * 3)
    assert statuses == [200] * 3
    assert seconds < 2 * SLEEP_S, f"three {SLEEP_S} s invocations took {seconds:.2f} s: they waited in turn"


def test_a_cold_start_does_not_hold_the_other_requests(served) -> None:
    assert served("/echo").status == 200  # warm
    with ThreadPoolExecutor(1) as pool:
        cold = pool.submit(served, "/cold")  # its environment imports for 2 s
        time.sleep(0.3)
        started = time.monotonic()
        assert [served("/echo").status for _ in range(5)] == [200] * 5
        warm_s = time.monotonic() - started
        assert not cold.done(), "the cold start should still be initialising"
        assert cold.result(timeout=30).status == 200
    assert warm_s < 1.0, f"5 warm requests took {warm_s:.2f} s beside a cold start"
