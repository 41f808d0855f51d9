"""Authorized GET /profile through the local API, beside a bare server returning the same body.

8 concurrent clients (separate processes, one keep-alive connection each) for a fixed time
against (1) the local API: JWT checked against the pool's keys, a Lambda event built, the
profile handler run in a warm execution environment; and (2) the floor: the same threaded
werkzeug server the data plane uses, answering the same bytes with no work at all.
Issue 4's goal: (1) >= 50 % of (2)'s throughput, and p99 <= 20 ms.

    .venv/bin/python bench/throughput.py [--seconds 10] [--clients 8] [--state-dir .local]

Without --state-dir it starts its own stack on free ports, with the stage throttling raised
out of the way, and stops it afterwards.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from local_aws import tokens  # noqa: E402
from local_aws.serving import WsgiServer  # noqa: E402
from tests.embedded_aws import free_port  # noqa: E402


def client(args: tuple[str, dict, float]) -> tuple[list[float], int]:
    """One client: requests back to back on one connection until the deadline; latencies in ms."""
    url, headers, deadline = args
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    latencies, failures = [], 0
    while time.time() < deadline:
        started = time.perf_counter()
        connection.request("GET", parts.path, headers=headers)
        response = connection.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        failures += response.status != 200
    connection.close()
    return latencies, failures


def load(url: str, headers: dict, clients: int, seconds: float) -> dict[str, float]:
    with multiprocessing.Pool(clients) as pool:
        deadline = time.time() + seconds
        results = pool.map(client, [(url, headers, deadline)] * clients)
    latencies = sorted(ms for run, _ in results for ms in run)
    failures = sum(f for _, f in results)
    if failures:
        raise SystemExit(f"{url}: {failures} responses were not 200")
    return {"requests/s": len(latencies) / seconds, "p50 ms": statistics.median(latencies),
            "p99 ms": latencies[int(len(latencies) * 0.99) - 1], "requests": len(latencies)}


@contextmanager
def running_stack(state_dir: Path | None) -> Iterator[dict]:
    if state_dir is not None:
        yield json.loads((state_dir / "stack.json").read_text())
        return
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        process = subprocess.Popen(
            [sys.executable, "-m", "local_aws", "up", "--state-dir", str(state), "--aws-port", str(free_port()),
             "--api-port", str(free_port()), "--auth-port", str(free_port()),
             # The root's own limits (50/s, burst 100) would answer most of the load with 429, as AWS would.
             "--var", "throttling_rate_limit=100000", "--var", "throttling_burst_limit=50000"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            if line.startswith("Stop with Ctrl-C"):
                break
        try:
            yield json.loads((state / "stack.json").read_text())
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--state-dir", type=Path, help="use the running make local of this state folder")
    args = parser.parse_args()
    with running_stack(args.state_dir) as stack:
        machine = stack["clients"]["machine"]
        token = tokens.client_credentials(stack["auth_url"], tokens.AppClient(machine["id"], machine["secret"]), ["notes-api/read"])
        headers = {"authorization": f"Bearer {token['access_token']}"}
        url = f"{stack['api_url']}/profile"
        connection = http.client.HTTPConnection(*urllib.parse.urlsplit(url).netloc.split(":"))
        connection.request("GET", "/profile", headers=headers)
        warm = connection.getresponse()
        body, content_type = warm.read(), warm.getheader("content-type")
        assert warm.status == 200, body

        def bare(environ, start_response):
            start_response("200 OK", [("content-type", content_type), ("content-length", str(len(body)))])
            return [body]

        local = load(url, headers, args.clients, args.seconds)
        with WsgiServer(bare, "127.0.0.1", 0) as floor:
            baseline = load(f"{floor.url}/profile", headers, args.clients, args.seconds)

    print(f"{args.clients} clients, {args.seconds:.0f} s each, GET /profile ({len(body)} bytes)")
    print(f"{'':<22}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}")
    for name, figures in (("local API (JWT+Lambda)", local), ("bare server (floor)", baseline)):
        print(f"{name:<22}{figures['requests/s']:>12.0f}{figures['p50 ms']:>9.2f}{figures['p99 ms']:>9.2f}{figures['requests']:>10}")
    print(f"local API / floor throughput: {local['requests/s'] / baseline['requests/s']:.0%}")


if __name__ == "__main__":
    main()
