"""Authorized GET /profile: the local API beside serverless-offline and a standard-library floor.

In one run, rounds alternated (so a busy moment of the machine hits all three alike), 8
concurrent clients (separate processes, one keep-alive connection each), the same time each:

1. the local API: the JWT verified against the pool's keys (RS256), the route's scope checked,
   a payload 2.0 event built, the functions/profile handler run in a warm execution environment,
   its logs shipped to CloudWatch Logs of the embedded AWS;
2. serverless-offline 13.10.1 on serverless 3.40.0 (the most used local API Gateway emulator),
   serving the same handler (python runtime) behind its httpApi JWT authorizer with the same
   issuer, audience and scope. It checks the token's issuer, audience, expiry and scope but does
   NOT verify its signature: a forged token passes there. Installed on first use with npm into
   ~/.cache/local-aws-bench (never part of `make test`); `--no-offline` leaves it out;
3. the floor: http.server's ThreadingHTTPServer (HTTP/1.1 keep-alive) answering the same bytes
   with no work at all.

    .venv/bin/python bench/throughput.py [--seconds 5] [--rounds 3] [--clients 8] [--state-dir .local]

"server CPU" is the CPU time (user + system) of the serving process tree per request: the local
stack's (embedded AWS, data plane, execution environments) and serverless-offline's (node and its
Python processes); the clients' share is the same for every target.

Without --state-dir it starts its own stack on free ports, with the stage throttling raised out
of the way, and stops it afterwards. Issue 8's goal: the local API at >= 1.2x serverless-offline's
throughput with a p99 no worse than its.
"""
from __future__ import annotations

import argparse
import http.client
import http.server
import json
import multiprocessing
import multiprocessing.pool
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator

import jwt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from local_aws import aws, tokens  # noqa: E402
from tests.support.embedded_aws import free_port  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "local-aws-bench"
OFFLINE_PACKAGES = ("serverless@3.40.0", "serverless-offline@13.10.1")


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


def load(pool: multiprocessing.pool.Pool, url: str, headers: dict, clients: int, seconds: float) -> list[float]:
    deadline = time.time() + seconds
    results = pool.map(client, [(url, headers, deadline)] * clients)
    failures = sum(f for _, f in results)
    if failures:
        raise SystemExit(f"{url}: {failures} responses were not 200")
    return [ms for run, _ in results for ms in run]


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user + system) used so far by a process and everything below it (from /proc)."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, wanted = 0.0, [root]
    while wanted:
        pid = wanted.pop()
        total += used.get(pid, 0.0)
        wanted += [child for child, parent in parents.items() if parent == pid]
    return total


def figures(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"requests/s": len(ordered) / seconds, "p50 ms": ordered[len(ordered) // 2],
            "p99 ms": ordered[max(0, int(len(ordered) * 0.99) - 1)], "requests": len(ordered)}


@contextmanager
def local_stack(state_dir: Path | None) -> Iterator[dict]:
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
        else:
            raise SystemExit("make local did not start")
        try:
            yield json.loads((state / "stack.json").read_text())
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


def jwt_authorizer(stack: dict) -> dict:
    """The issuer, audience and scopes of GET /profile's JWT authorizer, from the embedded AWS."""
    apigw = aws.client("apigatewayv2", stack["aws_endpoint_url"], stack["region"])
    api_id = next(iter(stack["apis"]))
    route = next(r for r in apigw.get_routes(ApiId=api_id)["Items"] if r["RouteKey"] == "GET /profile")
    authorizer = apigw.get_authorizer(ApiId=api_id, AuthorizerId=route["AuthorizerId"])
    return {"issuer": authorizer["JwtConfiguration"]["Issuer"], "audience": authorizer["JwtConfiguration"]["Audience"],
            "scopes": route.get("AuthorizationScopes") or []}


def install_offline() -> Path:
    folder = CACHE / "serverless-offline-13.10.1"
    if not (folder / "node_modules" / ".bin" / "serverless").exists():
        if shutil.which("npm") is None:
            raise SystemExit("serverless-offline needs node and npm (or pass --no-offline)")
        folder.mkdir(parents=True, exist_ok=True)
        print(f"installing {' '.join(OFFLINE_PACKAGES)} into {folder} ...", file=sys.stderr, flush=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *OFFLINE_PACKAGES],
                       cwd=folder, check=True, stdout=subprocess.DEVNULL)
    return folder


@contextmanager
def serverless_offline(authorizer: dict) -> Iterator[tuple[str, int]]:
    """serverless offline serving functions/profile behind an httpApi JWT authorizer: (URL, its pid)."""
    folder = install_offline()
    with tempfile.TemporaryDirectory() as tmp:
        service = Path(tmp)
        # functions/profile/app, as in this repository ("profile" alone is a standard-library module)
        handler_dir = service / "functions" / "profile"
        shutil.copytree(REPO / "functions" / "profile", handler_dir)
        shutil.copy(REPO / "functions" / "shared" / "apigw_http.py", handler_dir)  # as the package has it
        (service / "node_modules").symlink_to(folder / "node_modules")
        runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"  # run by `python3`, as ours by this one
        (service / "serverless.yml").write_text(json.dumps({
            "service": "bench", "frameworkVersion": "3", "plugins": ["serverless-offline"],
            "provider": {"name": "aws", "runtime": runtime, "region": "us-east-1",
                         "httpApi": {"authorizers": {"cognito": {
                             "type": "jwt", "identitySource": "$request.header.Authorization",
                             "issuerUrl": authorizer["issuer"], "audience": authorizer["audience"]}}}},
            "functions": {"profile": {"handler": "functions/profile/app.handler", "events": [{"httpApi": {
                "path": "/profile", "method": "get",
                "authorizer": {"name": "cognito", "scopes": authorizer["scopes"]}}}]}},
        }))
        port = free_port()
        env = {**os.environ, "SLS_TELEMETRY_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "PYTHONPATH": str(handler_dir)}
        env.pop("VIRTUAL_ENV", None)
        process = subprocess.Popen(
            [str(folder / "node_modules" / ".bin" / "serverless"), "offline", "start", "--httpPort", str(port),
             "--lambdaPort", str(free_port()), "--noPrependStageInUrl", "--host", "127.0.0.1",
             # without it, serverless-offline 13 ignores JWT authorizers altogether (it never checks a signature)
             "--ignoreJWTSignature"],
            cwd=service, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}/profile"
            for _ in range(600):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None:
                        raise SystemExit("serverless offline exited at start")
                    time.sleep(0.1)
            else:
                raise SystemExit("serverless offline did not listen within 60 s")
            yield url, process.pid
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextmanager
def floor_server(body: bytes, content_type: str) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else the body, written after the head, waits for a delayed ACK

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/profile"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str, headers: dict) -> tuple[int, bytes, str | None]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request("GET", parts.path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), response.getheader("content-type")
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--state-dir", type=Path, help="use the running make local of this state folder")
    parser.add_argument("--no-offline", action="store_true", help="leave serverless-offline out")
    args = parser.parse_args()
    with local_stack(args.state_dir) as stack, ExitStack() as cleanup:
        enter = cleanup.enter_context
        machine = stack["clients"]["machine"]
        token = tokens.client_credentials(stack["auth_url"], tokens.AppClient(machine["id"], machine["secret"]),
                                          ["notes-api/read"])["access_token"]
        headers = {"authorization": f"Bearer {token}"}
        targets = {"local API": f"{stack['api_url']}/profile"}
        servers = {"local API": stack["pid"]}  # whose process tree serves each target (CPU per request)
        status, body, content_type = get(targets["local API"], headers)
        assert status == 200, body
        if not args.no_offline:
            authorizer = jwt_authorizer(stack)
            offline, servers["serverless-offline"] = enter(serverless_offline(authorizer))
            status, offline_body, _ = get(offline, headers)
            assert status == 200, offline_body
            claims = jwt.decode(token, options={"verify_signature": False})
            forged = jwt.encode(claims, "a key that is not any of the pool keys", algorithm="HS256")
            forged_status = get(offline, {"authorization": f"Bearer {forged}"})[0]
            assert get(targets["local API"], {"authorization": f"Bearer {forged}"})[0] == 401
            targets["serverless-offline"] = offline
        targets["stdlib floor"] = enter(floor_server(body, content_type))
        latencies: dict[str, list[float]] = {name: [] for name in targets}
        cpu_s: dict[str, float] = {name: 0.0 for name in servers}
        with multiprocessing.Pool(args.clients) as pool:
            for name, url in targets.items():  # warm-up: connections, caches, handler processes
                load(pool, url, headers, args.clients, 1)
            for _ in range(args.rounds):
                for name, url in targets.items():
                    before = tree_cpu_s(servers[name]) if name in servers else 0.0
                    latencies[name] += load(pool, url, headers, args.clients, args.seconds)
                    if name in servers:
                        cpu_s[name] += tree_cpu_s(servers[name]) - before

    total = args.seconds * args.rounds
    results = {name: figures(found, total) for name, found in latencies.items()}
    print(f"{args.clients} clients, {args.rounds} rounds of {args.seconds:.0f} s per target, GET /profile "
          f"({len(body)} bytes), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'':<20}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'server CPU us/req':>19}")
    for name, found in results.items():
        cpu = f"{cpu_s[name] / found['requests'] * 1e6:.0f}" if name in cpu_s else "-"
        print(f"{name:<20}{found['requests/s']:>12.0f}{found['p50 ms']:>9.2f}{found['p99 ms']:>9.2f}{found['requests']:>10}"
              f"{cpu:>19}")
    local = results["local API"]
    if "serverless-offline" in results:
        offline = results["serverless-offline"]
        print(f"local API / serverless-offline: {local['requests/s'] / offline['requests/s']:.2f}x throughput, "
              f"p99 {local['p99 ms']:.2f} vs {offline['p99 ms']:.2f} ms")
        print(f"a token signed with another key: local API 401, serverless-offline {forged_status}")
    print(f"local API / floor: {local['requests/s'] / results['stdlib floor']['requests/s']:.0%} of the throughput")


if __name__ == "__main__":
    main()
