"""`make local` end to end: the real stack in subprocesses (embedded AWS, Terraform apply, data
plane with its Lambda environments), used over HTTP on loopback the way the walkthrough does.
The stack is the pytest plugin's `local_stack`, which runs `python -m local_aws up` itself.

The rejection matrix proves each refusal never reaches the handler: the function's log group
(written by the local Lambda runtime, START line per invocation) must grow by exactly the one
allowed request made after it.
"""
from __future__ import annotations

import base64
import concurrent.futures
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from jwt.algorithms import RSAAlgorithm

from local_aws import aws, stack, tokens
from tests.support.embedded_aws import free_port
from tests.support.http import request
from tests.support import tokens as tokens_support
from tests.support.keys import rsa_key

pytestmark = pytest.mark.xdist_group("local-stack")
START_TIMEOUT_S = 240


@dataclass
class Running:
    process: subprocess.Popen
    d: dict  # stack.json
    state_dir: Path
    root: Path
    output: list[str]

    @property
    def api(self) -> str:
        return self.d["api_url"]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "local_aws", *args, "--state-dir", str(self.state_dir)],
                              cwd=stack.REPO, capture_output=True, text=True, timeout=240)

    def client(self, name: str) -> tokens.AppClient:
        c = self.d["clients"][name]
        return tokens.AppClient(c["id"], c.get("secret"), tuple(c["callback_urls"]))

    def pool_keys(self) -> dict:
        return json.loads((self.state_dir / "data-plane" / "cognito-keys" / f"{self.d['user_pool_id']}.json").read_text())

    def invocations(self, function: str) -> int:
        """START lines in the function's log group: one per invocation."""
        logs = aws.client("logs", self.d["aws_endpoint_url"])
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}", filterPattern="START")["events"]
        return sum(e["message"].startswith("START RequestId") for e in events)


def descendants(pid: int) -> set[int]:
    """Every process below pid (Linux /proc), to prove nothing outlives the stack."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.fixture(scope="module")
def local(local_stack) -> Running:
    """The plugin's stack (local_aws.pytest_plugin): `python -m local_aws up` on free ports, the
    very command `make local` runs, started by this worker (the tests below signal it)."""
    assert local_stack.process is not None, "the stack was started by another xdist worker"
    deadline = time.monotonic() + START_TIMEOUT_S
    output = local_stack.log.read_text()
    while "Stop with Ctrl-C" not in output and time.monotonic() < deadline:  # printed just after stack.json
        time.sleep(0.1)
        output = local_stack.log.read_text()
    return Running(local_stack.process, local_stack.description, local_stack.state_dir, local_stack.root,
                   output.splitlines(keepends=True))


# -- what make local tells and writes (issues 3 and 4) ------------------------------------------

def test_stack_json_describes_the_running_stack(local) -> None:
    d = local.d
    assert d["region"] == "us-east-1" and d["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert d["issuer"] == f"https://cognito-idp.us-east-1.amazonaws.com/{d['user_pool_id']}"
    assert set(d["clients"]) == {"web", "spa", "machine"}
    assert "secret" in d["clients"]["web"] and "secret" in d["clients"]["machine"] and "secret" not in d["clients"]["spa"]
    assert d["api_url"].startswith("http://127.0.0.1:") and list(d["apis"]) == [d["outputs"]["api_id"]]
    assert d["jwks_uri"] == f"{d['auth_url']}/{d['user_pool_id']}/.well-known/jwks.json"
    assert d["demo_user"]["username"] == "demo@example.com" and len(d["demo_user"]["password"]) >= 12
    assert d["outputs"]["function_names"] == {
        "hello": "notes-api-hello", "profile": "notes-api-profile", "create_note": "notes-api-create-note",
        "list_notes": "notes-api-list-notes", "get_note": "notes-api-get-note", "delete_note": "notes-api-delete-note",
        "note_stats": "notes-api-note-stats"}


def test_walkthrough_has_live_values(local) -> None:
    printed = "".join(local.output)
    assert f"curl -s {local.api}/hello" in printed
    assert local.d["demo_user"]["password"] in printed
    assert "--client machine --scope notes-api/read" in printed


def test_a_second_make_local_says_one_is_running(local) -> None:
    result = local.cli("up", "--aws-port", str(free_port()), "--api-port", str(free_port()), "--auth-port", str(free_port()))
    assert result.returncode == 1
    assert f"make local is already running (pid {local.process.pid})" in result.stderr


def test_jwks_uri_serves_the_pool_keys(local) -> None:
    status, _, body = request("GET", local.d["jwks_uri"])
    keys = json.loads(body)["keys"]
    assert status == 200 and {k["kid"] for k in keys} == {local.pool_keys()["access"]["kid"], local.pool_keys()["id"]["kid"]}


# -- the walkthrough ---------------------------------------------------------------------------

def test_hello_is_public(local) -> None:
    status, headers, body = request("GET", f"{local.api}/hello")
    assert status == 200 and headers["apigw-requestid"]
    assert json.loads(body) == {"message": "Hello from Lambda", "path": "/hello", "method": "GET"}


def test_machine_token_from_the_cli_calls_profile(local) -> None:
    result = local.cli("token", "--client", "machine")
    assert result.returncode == 0, result.stderr
    status, _, body = request("GET", f"{local.api}/profile", headers={"authorization": f"Bearer {result.stdout.strip()}"})
    profile = json.loads(body)
    assert status == 200
    assert profile["user"] == {"sub": local.d["clients"]["machine"]["id"], "username": None, "clientId": local.d["clients"]["machine"]["id"]}
    assert profile["auth"] == {"tokenUse": "access", "scopes": ["notes-api/read", "notes-api/write"]}


def test_user_signs_in_with_pkce_from_the_cli_and_creates_a_note(local) -> None:
    demo = local.d["demo_user"]
    result = local.cli("token", "--client", "spa", "--username", demo["username"], "--password", demo["password"])
    assert result.returncode == 0, result.stderr
    bearer = {"authorization": f"Bearer {result.stdout.strip()}"}
    status, _, body = request("GET", f"{local.api}/profile", headers=bearer)
    profile = json.loads(body)
    assert status == 200 and profile["user"]["clientId"] == local.d["clients"]["spa"]["id"]
    assert profile["user"]["username"] and profile["auth"]["tokenUse"] == "access"
    status, _, body = request("POST", f"{local.api}/notes", headers={**bearer, "content-type": "application/json"},
                              body=json.dumps({"title": "First note", "content": "Hello"}))
    note = json.loads(body)
    assert status == 201 and note["note"]["title"] == "First note" and note["note"]["ownerSub"] == profile["user"]["sub"]


def test_cli_refuses_a_wrong_password_and_an_unknown_client(local) -> None:
    wrong = local.cli("token", "--client", "spa", "--username", "demo@example.com", "--password", "not-it")
    assert wrong.returncode == 1 and "sign-in failed" in wrong.stderr
    unknown = local.cli("token", "--client", "nope")
    assert unknown.returncode == 2 and "--client nope: no such app client" in unknown.stderr


def test_web_client_code_flow_refresh_userinfo_and_revoke(local) -> None:
    demo, auth, web = local.d["demo_user"], local.d["auth_url"], local.client("web")
    signed_in = tokens.authorization_code(auth, web, demo["username"], demo["password"])
    assert {"access_token", "id_token", "refresh_token"} <= set(signed_in)
    status, _, body = request("GET", f"{auth}/oauth2/userInfo", headers={"authorization": f"Bearer {signed_in['access_token']}"})
    assert status == 200 and json.loads(body)["email"] == "demo@example.com"
    refreshed = tokens.refresh(auth, web, signed_in["refresh_token"])
    assert "access_token" in refreshed and "refresh_token" not in refreshed
    basic = base64.b64encode(f"{web.id}:{web.secret}".encode()).decode()
    status, _, _ = request("POST", f"{auth}/oauth2/revoke", headers={"authorization": f"Basic {basic}"},
                           form={"token": signed_in["refresh_token"]})
    assert status == 200
    with pytest.raises(tokens.TokenError, match="invalid_grant"):
        tokens.refresh(auth, web, signed_in["refresh_token"])


# -- the authorizer, through the real gateway (spec A) -------------------------------------------

def minted(local, *, key: str = "access", signer=None, headers: dict | None = None, **changes) -> str:
    """A token signed with the pool's own key (or `signer`), claims as a machine token plus changes."""
    now = int(time.time())
    jwk = local.pool_keys()[key]
    claims = {"sub": local.d["clients"]["machine"]["id"], "client_id": local.d["clients"]["machine"]["id"],
              "token_use": "access", "scope": "notes-api/read notes-api/write", "auth_time": now,
              "iss": local.d["issuer"], "exp": now + 600, "iat": now, "jti": "e2e", "version": 2}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    private = signer or RSAAlgorithm.from_jwk(json.dumps(jwk))
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": jwk["kid"], **(headers or {})})


def alg_none_token(local) -> str:
    claims = jwt.decode(minted(local), options={"verify_signature": False})
    return jwt.encode(claims, None, algorithm="none", headers={"kid": local.pool_keys()["access"]["kid"]})


def hs256_with_public_key(local) -> str:
    """The key-confusion attack: HMAC-sign with the issuer's public key, hoping it is used as a secret."""
    access = local.pool_keys()["access"]
    claims = jwt.decode(minted(local), options={"verify_signature": False})
    return tokens_support.hs256_with_public_key(RSAAlgorithm.from_jwk(json.dumps(access)).public_key(), access["kid"], claims)


def user_id_token(local) -> str:
    demo = local.d["demo_user"]
    return tokens.authorization_code(local.d["auth_url"], local.client("spa"), demo["username"], demo["password"])["id_token"]


REJECTIONS = {
    # name: (route, headers builder, status)
    "A4 no header": ("GET /profile", lambda l: {}, 401),
    "A2.2 Bearer garbage": ("GET /profile", lambda l: {"authorization": "Bearer not-a-jwt"}, 401),
    "A2.3 bad signature": ("GET /profile", lambda l: {"authorization": f"Bearer {minted(l, signer=rsa_key())}"}, 401),
    "A2.3 alg none": ("GET /profile", lambda l: {"authorization": f"Bearer {alg_none_token(l)}"}, 401),
    "A2.3 HS256 signed with the public key": ("GET /profile", lambda l: {"authorization": f"Bearer {hs256_with_public_key(l)}"}, 401),
    "A2.3 unknown kid": ("GET /profile", lambda l: {"authorization": f"Bearer {minted(l, headers={'kid': 'unknown-kid'})}"}, 401),
    "A2.4 wrong issuer": ("GET /profile", lambda l: {"authorization": f"Bearer {minted(l, iss=l.d['issuer'] + 'x')}"}, 401),
    "A2.5 wrong audience": ("GET /profile", lambda l: {"authorization": f"Bearer {minted(l, aud='someone-else')}"}, 401),
    "A2.5 wrong client id": ("GET /profile", lambda l: {"authorization": f"Bearer {minted(l, client_id='someone-else')}"}, 401),
    "A2.6 expired": ("GET /profile", lambda l: {"authorization": f"Bearer {minted(l, exp=int(time.time()) - 5)}"}, 401),
    "A2.6 nbf in the future": ("GET /profile", lambda l: {"authorization": f"Bearer {minted(l, nbf=int(time.time()) + 300)}"}, 401),
    "A3 ID token on a scoped route": ("GET /profile", lambda l: {"authorization": f"Bearer {user_id_token(l)}"}, 403),
    "A2.7 missing the route's scope": ("POST /notes", lambda l: {"authorization": f"Bearer {minted(l, scope='notes-api/read')}"}, 403),
}
FUNCTIONS = {"GET /profile": "notes-api-profile", "POST /notes": "notes-api-create-note"}


@pytest.mark.parametrize("case", list(REJECTIONS))
def test_refused_without_invoking_the_function(local, case: str) -> None:
    route, build_headers, expected_status = REJECTIONS[case]
    method, path = route.split(" ")
    function = FUNCTIONS[route]
    before = local.invocations(function)
    status, headers, body = request(method, f"{local.api}{path}", headers=build_headers(local),
                                    body=b"{}" if method == "POST" else None)
    assert status == expected_status, body
    assert json.loads(body) == {"message": "Unauthorized" if status == 401 else "Forbidden"}
    if status == 401:
        assert headers["www-authenticate"].startswith('Bearer scope="" error="invalid_token"')
    # One allowed call after the refusal: the log group must grow by that call alone.
    allowed = request(method, f"{local.api}{path}", headers={"authorization": f"Bearer {minted(local)}", "content-type": "application/json"},
                      body=b"{}" if method == "POST" else None)
    assert allowed.status in (200, 201)
    deadline = time.monotonic() + 10
    while local.invocations(function) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)
    assert local.invocations(function) == before + 1


def test_a_minted_token_with_the_right_claims_is_accepted(local) -> None:
    status, _, body = request("GET", f"{local.api}/profile", headers={"authorization": f"Bearer {minted(local, scope='notes-api/read')}"})
    assert status == 200 and json.loads(body)["auth"]["scopes"] == ["notes-api/read"]


# -- gateway behaviour on the real stack (spec B, C) -------------------------------------------

def test_unknown_route_is_404(local) -> None:
    status, headers, body = request("GET", f"{local.api}/nothing-here")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"}) and headers["apigw-requestid"]
    status, _, _ = request("DELETE", f"{local.api}/hello")  # a route exists for GET only (C2)
    assert status == 404


def test_cors_preflight_from_the_configured_origin_and_another(local) -> None:
    preflight = {"access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type"}
    status, headers, _ = request("OPTIONS", f"{local.api}/notes", headers={"origin": "http://localhost:3000", **preflight})
    assert status in (200, 204) and headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "POST" in headers["access-control-allow-methods"]
    status, headers, _ = request("OPTIONS", f"{local.api}/notes", headers={"origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in headers


def test_form_encoded_body_arrives_base64_and_is_decoded(local) -> None:
    status, _, body = request("POST", f"{local.api}/notes",
                              headers={"authorization": f"Bearer {minted(local)}", "content-type": "application/x-www-form-urlencoded"},
                              body=json.dumps({"title": "from curl -d"}))
    assert status == 201 and json.loads(body)["note"]["title"] == "from curl -d"


def test_oversize_body_is_refused(local) -> None:
    status, headers, body = request("POST", f"{local.api}/notes", headers={"authorization": f"Bearer {minted(local)}"},
                                    body=b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413 and headers["apigw-requestid"]


def test_burst_above_the_stage_limit_gets_429(local) -> None:
    # The stage allows 50 requests/s with a burst of 100, per route (root defaults).
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: request("GET", f"{local.api}/hello").status, range(300)))
    assert statuses.count(429) > 0 and statuses.count(200) >= 100
    status, _, body = request("GET", f"{local.api}/hello")
    while status == 429:
        time.sleep(0.1)
        status, _, body = request("GET", f"{local.api}/hello")
    assert status == 200


def test_handler_logs_reach_the_embedded_cloudwatch(local) -> None:
    request("GET", f"{local.api}/hello")
    logs = aws.client("logs", local.d["aws_endpoint_url"])
    deadline = time.monotonic() + 10
    messages: list[str] = []
    while time.monotonic() < deadline and not any(m.startswith("REPORT RequestId") for m in messages):
        messages = [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/notes-api-hello")["events"]]
        time.sleep(0.2)
    assert any(m.startswith("START RequestId") for m in messages) and any(m.startswith("END RequestId") for m in messages)
    assert any(m.startswith("REPORT RequestId") and "Duration" in m for m in messages)


# -- re-apply and stop ---------------------------------------------------------------------------

def test_edited_handler_is_served_after_reapply(local) -> None:
    handler = local.root / "functions" / "hello" / "app.py"
    handler.write_text(handler.read_text().replace('"Hello from Lambda"', '"Hello again"'))
    result = local.cli("apply", "--root", str(local.root))
    assert result.returncode == 0, result.stdout + result.stderr
    deadline = time.monotonic() + 10
    body = {}
    while time.monotonic() < deadline and body.get("message") != "Hello again":
        body = request("GET", f"{local.api}/hello").json()
        time.sleep(0.2)
    assert body["message"] == "Hello again"


@pytest.mark.last_of_group  # the group's other tests (tests/test_audit.py, tests/test_local_notes.py) use this stack
def test_ctrl_c_stops_everything(local) -> None:
    started = descendants(local.process.pid)
    assert len(started) >= 3  # the embedded AWS, the data plane, and at least one Lambda environment
    local.process.send_signal(signal.SIGINT)
    assert local.process.wait(timeout=30) == 0
    time.sleep(0.5)
    alive = [pid for pid in started if Path(f"/proc/{pid}").exists()]
    assert alive == []
    assert not (local.state_dir / "stack.json").exists()
    with pytest.raises(ConnectionRefusedError):
        request("GET", f"{local.api}/hello")
