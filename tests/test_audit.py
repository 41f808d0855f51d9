"""`local-aws audit`: the forged requests (each refused by the real authorizers for the reason it
aims at), the configuration findings, the command's flags and errors, and the audit of two
running stacks: this repository's root (passes: `GET /hello` is declared public in
.local-aws-public) and tests/fixtures/audit_broken_root (each finding named).

This root's stack is the plugin's `local_stack` on conftest.py's copy of the repository, which
tests/test_local_notes.py and tests/test_local_stack.py use too (one start, their xdist group
"local-stack"; tests/test_local_stack.py's last_of_group test stops it). The broken root's stack is started here,
once for its tests, in a group of its own, so on two workers it starts beside the other.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_aws import audit, aws, stack
from local_aws.authorizer import Caller, HttpRequest, JwksCache, authorize_iam, authorize_jwt
from local_aws.cognito import PoolKeys, SigningKey
from tests.support.embedded_aws import free_port

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AuditPool"
CLIENT = "audit-client-id"
BROKEN_ROOT = stack.REPO / "tests" / "fixtures" / "audit_broken_root"
START_TIMEOUT_S = 240
on_repo_root = pytest.mark.xdist_group("local-stack")  # see the module docstring
on_broken_root = pytest.mark.xdist_group("audit-broken-root")


# -- forged tokens, checked by the real JWT authorizer (spec A2-A4) ------------------------------

@pytest.fixture(scope="module")
def pool_keys() -> PoolKeys:
    return PoolKeys(SigningKey.generate(), SigningKey.generate())


def judge(keys: PoolKeys, setup: audit.JwtSetup, token: str | None):
    cache = JwksCache(fetch=lambda issuer: keys.jwks() if issuer == ISSUER else (_ for _ in ()).throw(KeyError(issuer)))
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    return authorize_jwt(HttpRequest("GET", "/profile", "", headers), issuer=setup.issuer, audience=list(setup.audience),
                         identity_source="$request.header.Authorization", route_scopes=list(setup.scopes), keys=cache)


def description_of(decision) -> str | None:
    challenge = decision.headers.get("www-authenticate", "")
    return challenge.split('error_description="', 1)[1].rstrip('"') if "error_description" in challenge else None


JWT_ATTACKS = ["no-token", "garbage", "bad-signature", "alg-none", "hs256-public-key", "unknown-kid", "wrong-issuer",
               "wrong-audience", "wrong-client-id", "expired", "nbf-future", "id-token", "missing-scope"]


def test_the_token_every_attack_starts_from_is_accepted(pool_keys) -> None:
    setup = audit.JwtSetup(ISSUER, (CLIENT,), ("notes/read",), pool_keys)
    decision = judge(pool_keys, setup, audit.valid_token(setup))
    assert decision.allowed, decision.reason


@pytest.mark.parametrize("name", JWT_ATTACKS)
def test_each_forged_token_is_refused_for_the_reason_it_aims_at(pool_keys, name: str) -> None:
    setup = audit.JwtSetup(ISSUER, (CLIENT,), ("notes/read",), pool_keys)
    attacks = {a.name: a for a in audit.jwt_attacks(setup)}
    assert list(attacks) == JWT_ATTACKS
    attack = attacks[name]
    decision = judge(pool_keys, setup, attack.token)
    assert decision.status == attack.expected == (403 if name in ("id-token", "missing-scope") else 401), decision.reason
    assert description_of(decision) == attack.reason  # None for the 403s: no www-authenticate


def test_a_route_without_scopes_gets_no_id_token_or_scope_attack(pool_keys) -> None:
    setup = audit.JwtSetup(ISSUER, (CLIENT,), (), pool_keys)
    attacks = audit.jwt_attacks(setup)
    assert [a.name for a in attacks] == JWT_ATTACKS[:-2]
    assert all(judge(pool_keys, setup, a.token).status == 401 for a in attacks)


def test_without_an_audience_every_attack_expects_401(pool_keys) -> None:
    setup = audit.JwtSetup(ISSUER, (), ("notes/read",), pool_keys)
    attacks = audit.jwt_attacks(setup)
    assert {a.expected for a in attacks} == {401} and {a.reason for a in attacks} == {None}
    assert all(judge(pool_keys, setup, a.token).status == 401 for a in attacks)


# -- forged SigV4 requests, checked by the real IAM authorizer (spec E) ----------------------------

def test_each_iam_attack_is_refused_and_the_allowed_callers_own_signature_is_good() -> None:
    route_arn = "arn:aws:execute-api:us-east-1:123456789012:api1/$default/GET/iam"
    allow = {"Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}
    deny = {"Statement": [*allow["Statement"], {"Effect": "Deny", "Action": "execute-api:Invoke",
                                                "Resource": "arn:aws:execute-api:us-east-1:123456789012:api1/*"}]}
    keys = {name: audit.AccessKey(f"AKIAAUDIT{name.upper():0<11}"[:20], f"secret-{name}") for name in ("allowed", "none", "denied")}
    callers = {k.id: Caller(k.id, k.secret, f"arn:aws:iam::123456789012:user/{n}", f"AIDA{n.upper()}", n, "123456789012",
                            policies) for (n, k), policies in zip(keys.items(), ([allow], [], [deny]))}
    host = "127.0.0.1:4600"

    def decide(headers: dict):
        request = HttpRequest("GET", "/iam", "", headers)
        return authorize_iam(request, host=host, region="us-east-1", route_arn=route_arn, find_caller=callers.get)

    good = audit.sigv4_headers(keys["allowed"], "GET", host, "/iam", b"", "us-east-1")
    assert decide(good).allowed
    attacks = audit.iam_attacks(method="GET", host=host, target="/iam", body=b"", region="us-east-1",
                                allowed=keys["allowed"], unpermitted=keys["none"], denied=keys["denied"])
    expected = {"unsigned": "not signed", "bad-signature": "signature mismatch", "unknown-key": "unknown access key",
                "no-permission": "no statement allows", "denied": "explicit Deny"}
    assert [a.name for a in attacks] == list(expected)
    for attack in attacks:
        decision = decide(dict(attack.headers))
        assert (decision.status, attack.expected) == (403, 403)
        assert expected[attack.name] in decision.reason, (attack.name, decision.reason)


def test_custom_attacks_leave_out_or_fill_every_identity_source() -> None:
    attacks, notes = audit.custom_attacks(["$request.header.x-key", "$request.querystring.k"], "authorizer", "nope")
    assert [(a.name, a.expected, a.headers, a.query, a.may_run) for a in attacks] == [
        ("missing-identity", 401, (), (), None), ("refused-value", 403, (("x-key", "nope"),), (("k", "nope"),), "authorizer")]
    assert notes == []
    attacks, notes = audit.custom_attacks([], "authorizer", None)
    assert attacks == [] and "no identity source" in notes[0]


# -- findings from the configuration ---------------------------------------------------------------

def api_view(routes: list[tuple[str, str, list[str]]], cors: bool = False) -> audit.ApiView:
    raw = [{"RouteKey": key, "AuthorizationType": auth, "AuthorizationScopes": scopes, "Target": "integrations/i1"}
           for key, auth, scopes in routes]
    integration = {"i1": {"IntegrationUri": "arn:aws:lambda:us-east-1:123456789012:function:fn"}}
    return audit.ApiView("api1", "demo", "us-east-1", cors, ["$default"], raw, {}, integration, "http://127.0.0.1:1")


def permission(source_arn: str | None, sid: str = "s1") -> dict:
    statement = {"Sid": sid, "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                 "Action": "lambda:InvokeFunction", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:fn"}
    if source_arn:
        statement["Condition"] = {"ArnLike": {"AWS:SourceArn": source_arn}}
    return statement


FN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
EXEC = "arn:aws:execute-api:us-east-1:123456789012:api1"


@pytest.mark.parametrize("routes, source_arn, wide", [
    ([("GET /hello", "NONE", [])], f"{EXEC}/*/GET/hello", False),  # what modules/lambda_route grants
    ([("ANY /items", "JWT", ["s"])], f"{EXEC}/*/*/items", False),
    ([("$default", "JWT", ["s"])], f"{EXEC}/*/$default", False),
    ([("GET /hello", "NONE", [])], f"{EXEC}/*/*", True),
    ([("GET /hello", "NONE", []), ("POST /hello", "NONE", [])], f"{EXEC}/*/*/hello", True),  # PUT /hello too
    ([("GET /hello", "NONE", [])], "*", True),
    ([("GET /hello", "NONE", [])], None, True),  # no SourceArn: any API of any account
])
def test_wide_invoke_permissions(routes, source_arn, wide: bool) -> None:
    found = audit.permission_findings([api_view(routes)], {FN: [permission(source_arn)]})
    assert [f.kind for f in found] == (["wide-invoke-permission"] if wide else [])


def test_scope_less_jwt_routes_and_undeclared_public_routes_are_named() -> None:
    api = api_view([("GET /open", "NONE", []), ("GET /hello", "NONE", []), ("GET /me", "JWT", []), ("GET /x", "JWT", ["s"])])
    assert [f.route_key for f in audit.scope_findings(api)] == ["GET /me"]
    public = [audit.parse_selector("demo/GET /hello")]
    assert [f.route_key for f in audit.public_findings(api, public, "--public")] == ["GET /open"]


@pytest.mark.parametrize("routes, cors, found", [
    ([("ANY /items", "JWT", ["s"])], True, ["ANY /items"]),
    ([("$default", "CUSTOM", [])], True, ["$default"]),
    ([("ANY /items", "JWT", ["s"])], False, []),
    ([("ANY /items", "NONE", [])], True, []),
    ([("ANY /items", "JWT", ["s"]), ("OPTIONS /items", "NONE", [])], True, []),  # preflights take the OPTIONS route
    ([("GET /items", "JWT", ["s"])], True, []),
])
def test_authorized_catch_all_routes_take_preflights_on_a_cors_api(routes, cors: bool, found: list[str]) -> None:
    assert [f.route_key for f in audit.preflight_findings(api_view(routes, cors))] == found


def test_selectors() -> None:
    assert audit.parse_selector("GET /hello") == audit.Selector(None, "GET /hello")
    assert audit.parse_selector("notes-api/ANY /{proxy+}") == audit.Selector("notes-api", "ANY /{proxy+}")
    assert audit.parse_selector("$default") == audit.Selector(None, "$default")
    assert audit.parse_custom_value("GET /admin=a=b") == (audit.Selector(None, "GET /admin"), "a=b")
    for bad in ("hello", "get /hello", "GET hello", "FETCH /x"):
        with pytest.raises(ValueError, match="expected a route key"):
            audit.parse_selector(bad)
    with pytest.raises(ValueError, match="ROUTE=VALUE"):
        audit.parse_custom_value("GET /admin")


def test_public_routes_file(tmp_path) -> None:
    path = tmp_path / audit.PUBLIC_ROUTES_FILE
    path.write_text("# public\nGET /hello   # the greeting\n\nnotes-api/GET /status\n")
    assert audit.read_public_file(path) == [audit.Selector(None, "GET /hello"), audit.Selector("notes-api", "GET /status")]
    path.write_text("GET /hello\nhello\n")
    with pytest.raises(audit.AuditError, match=r":2: expected a route key"):
        audit.read_public_file(path)


def test_regions_are_read_from_any_shape_of_stack_json() -> None:
    assert audit.stack_regions({}) == ["us-east-1"]
    assert audit.stack_regions({"region": "eu-west-1", "regions": ["us-east-1", {"region": "ap-south-1"}],
                                "apis": {"a": {"region": "eu-central-1"}}, "user_pools": [{"region": "eu-west-1"}]}) == [
        "eu-west-1", "us-east-1", "ap-south-1", "eu-central-1"]


def test_an_attack_passes_only_when_refused_as_aws_for_its_reason_with_no_function_run() -> None:
    def result(**changes) -> audit.AttackResult:
        fields = dict(name="expired", label="expired", expected=401, status=401, reason="the token has expired",
                      expected_reason="the token has expired", ran=False)
        return audit.AttackResult(**{**fields, **changes})

    assert result().judge()
    assert not result(status=500).judge()
    assert not result(reason="the token is not signed by a key of the issuer").judge()  # refused, but not by that check
    assert not result(ran=True).judge() and not result(ran=None).judge()
    assert not audit.AttackResult("tokens", "forged tokens", 401).judge()  # never sent


@pytest.mark.parametrize("routes, key, probe", [
    ([("ANY /items", "JWT", ["s"])], "ANY /items", ("GET", "/items")),
    ([("ANY /items", "JWT", ["s"]), ("GET /items", "NONE", [])], "ANY /items", ("POST", "/items")),
    ([("GET /pets/{id}", "JWT", ["s"]), ("GET /pets/mine", "NONE", [])], "GET /pets/{id}", ("GET", "/pets/local-aws-audit")),
    ([("GET /{proxy+}", "JWT", ["s"])], "GET /{proxy+}", ("GET", "/local-aws-audit/probe")),
    ([("$default", "JWT", ["s"]), ("GET /local-aws-audit/probe", "NONE", [])], "$default", ("POST", "/local-aws-audit/probe")),
    ([("$default", "JWT", ["s"]), ("ANY /{proxy+}", "NONE", [])], "$default", None),  # never selected
])
def test_attacks_go_where_the_gateway_routes_them_to_the_route(routes, key: str, probe) -> None:
    api = api_view(routes)
    raw = next(r for r in api.routes if r["RouteKey"] == key)
    assert audit.probe_for(api, raw, api.router()) == probe


def test_a_throttled_attack_is_sent_again(tmp_path) -> None:
    import http.server
    import threading

    answers = [429, 429, 401]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(answers.pop(0))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = audit.Target("127.0.0.1", server.server_port, f"127.0.0.1:{server.server_port}", "")
        assert audit.send(target, "GET", "/x", (), {}, b"")[0] == 401 and answers == []
    finally:
        server.shutdown()
        server.server_close()


# -- the command without a stack ------------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local_aws", "audit", *args], cwd=stack.REPO,
                          capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("args, flag", [
    (["--public", "hello"], "--public"),
    (["--custom-value", "GET /custom"], "--custom-value"),
    (["--public-file", "no-such-file"], "--public-file"),
])
def test_bad_flags_are_argparse_errors_naming_the_flag(tmp_path, args: list[str], flag: str) -> None:
    result = run_cli(*args, "--state-dir", str(tmp_path))
    assert result.returncode == 2 and flag in result.stderr and "Traceback" not in result.stderr


def test_no_running_stack_is_a_clear_error(tmp_path) -> None:
    result = run_cli("--state-dir", str(tmp_path))
    assert result.returncode == 1 and "no stack.json; is make local running?" in result.stderr
    (tmp_path / "stack.json").write_text(json.dumps({"aws_endpoint_url": f"http://127.0.0.1:{free_port()}", "region": "us-east-1"}))
    result = run_cli("--state-dir", str(tmp_path), "--json")
    assert result.returncode == 1 and "does not answer" in result.stderr and "is make local running?" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# -- running stacks ---------------------------------------------------------------------------------

@dataclass
class Running:
    process: subprocess.Popen | None  # None: started by another xdist worker
    state_dir: Path
    d: dict

    def audit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("--state-dir", str(self.state_dir), *args)

    def audit_json(self, *args: str) -> tuple[int, dict]:
        return run_json("--state-dir", str(self.state_dir), *args)


def run_json(*args: str) -> tuple[int, dict]:
    result = run_cli("--json", *args)
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout)


def start(root: Path, base: Path):
    state_dir = base / "state"
    # The children run from the root; PYTHONPATH lets a root outside the package import it.
    env = {**os.environ, "PYTHONPATH": str(stack.REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "up", "--root", str(root), "--state-dir", str(state_dir),
         "--aws-port", str(free_port()), "--api-port", str(free_port()), "--auth-port", str(free_port())],
        cwd=stack.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output, deadline = [], time.monotonic() + START_TIMEOUT_S
    for line in process.stdout:
        output.append(line)
        if line.startswith("Stop with Ctrl-C") or time.monotonic() > deadline:
            break
    try:
        assert (state_dir / "stack.json").exists(), "the stack did not get ready:\n" + "".join(output)
        yield Running(process, state_dir, json.loads((state_dir / "stack.json").read_text()))
    finally:
        process.send_signal(signal.SIGINT)  # up stops everything it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def repo_stack(local_stack):
    return Running(local_stack.process, local_stack.state_dir, local_stack.description)


@pytest.fixture(scope="module")
def broken_stack(tmp_path_factory):
    yield from start(BROKEN_ROOT, tmp_path_factory.mktemp("audit-broken"))


def by_route(report: dict) -> dict[str, dict]:
    return {r["route_key"]: r for r in report["routes"]}


@on_repo_root
def test_this_root_passes(repo_stack) -> None:
    code, report = repo_stack.audit_json()
    assert code == 0 and report["ok"] and report["findings"] == [] and report["errors"] == []
    routes = by_route(report)
    assert routes["GET /hello"]["public"] is True and routes["GET /hello"]["attacks"] == []
    for key in ("GET /profile", "POST /notes"):
        attacks = routes[key]["attacks"]
        assert [a["name"] for a in attacks] == JWT_ATTACKS
        assert all(a["ok"] and a["ran"] is False and a["status"] == a["expected"] for a in attacks)


@on_repo_root
def test_without_its_declaration_the_public_route_is_a_finding(repo_stack, tmp_path) -> None:
    (tmp_path / "public").write_text("# nothing is public\n")
    code, report = repo_stack.audit_json("--public-file", str(tmp_path / "public"))
    assert code == 1 and not report["ok"]
    assert [(f["kind"], f["route_key"]) for f in report["findings"]] == [("undeclared-public-route", "GET /hello")]
    text = repo_stack.audit("--public-file", str(tmp_path / "public"), "--public", "GET /hello")
    assert text.returncode == 0 and text.stdout.endswith("PASS: 70 attacks on 7 routes refused as AWS refuses them, "
                                                          "no function ran, no findings.\n")
    row = next(line for line in text.stdout.splitlines() if "HS256 signed with the public key" in line)
    assert row.split()[-4:] == ["401", "401", "no", "ok"]


@on_repo_root
def test_flags_naming_routes_the_stack_lacks_are_errors(repo_stack) -> None:
    missing = repo_stack.audit("--public", "GET /nope")
    assert missing.returncode == 2 and "--public GET /nope: no such route" in missing.stderr
    not_custom = repo_stack.audit("--custom-value", "GET /profile=x")
    assert not_custom.returncode == 2 and "--custom-value GET /profile: not a route with a Lambda (CUSTOM) authorizer" in not_custom.stderr


@on_repo_root
def test_signing_keys_that_are_not_the_stacks_make_the_audit_fail(repo_stack, tmp_path) -> None:
    # A state dir with the same stack.json but other keys (or none): no token can be trusted to mean anything.
    (tmp_path / "stack.json").write_text((repo_stack.state_dir / "stack.json").read_text())
    code, report = run_json("--state-dir", str(tmp_path))
    notes = [n for r in report["routes"] for n in r["notes"]]
    assert code == 1 and any("no signing keys of pool" in n for n in notes)
    other = PoolKeys(SigningKey.generate(), SigningKey.generate())
    key_dir = tmp_path / "data-plane" / "cognito-keys"
    key_dir.mkdir(parents=True)
    pool = repo_stack.d["user_pool_id"]
    (key_dir / f"{pool}.json").write_text(json.dumps({"pool_id": pool, "access": other.access.private_jwk(), "id": other.id.private_jwk()}))
    (key_dir / f"{pool}.json").chmod(0o600)
    code, report = run_json("--state-dir", str(tmp_path))
    routes = by_route(report)
    assert code == 1 and any("are not those the running stack serves" in n for n in routes["GET /profile"]["notes"])
    assert [a["ok"] for a in routes["GET /profile"]["attacks"]] == [False]


@on_broken_root
def test_broken_root_fails_naming_each_finding(broken_stack) -> None:
    code, report = broken_stack.audit_json()
    assert code == 1 and not report["ok"]
    named = {(f["kind"], f["route_key"]) for f in report["findings"]}
    assert named == {("jwt-route-without-scopes", "GET /any-scope"), ("undeclared-public-route", "GET /open"),
                     ("preflight-needs-credentials", "ANY /items"), ("wide-invoke-permission", None)}
    wide = next(f for f in report["findings"] if f["kind"] == "wide-invoke-permission")
    assert "AllowEverything" in wide["message"] and f"{wide['api_id']}/*/*" in wide["message"]
    # Every attack itself is refused: the findings alone fail the audit.
    routes = by_route(report)
    assert [a["name"] for a in routes["ANY /items"]["attacks"]] == JWT_ATTACKS
    assert [a["name"] for a in routes["GET /any-scope"]["attacks"]] == JWT_ATTACKS[:-2]
    assert [a["name"] for a in routes["GET /iam"]["attacks"]] == ["unsigned", "bad-signature", "unknown-key", "no-permission", "denied"]
    assert [a["name"] for a in routes["GET /custom"]["attacks"]] == ["missing-identity"]
    assert all(a["ok"] for r in report["routes"] for a in r["attacks"])


@on_broken_root
def test_iam_and_lambda_authorizer_refusals_and_no_temporary_user_left(broken_stack) -> None:
    code, report = broken_stack.audit_json("--custom-value", "GET /custom=nope", "--public", "audit-broken/GET /open")
    routes = by_route(report)
    custom = {a["name"]: a for a in routes["GET /custom"]["attacks"]}
    assert (custom["refused-value"]["status"], custom["refused-value"]["ran"], custom["refused-value"]["ok"]) == (403, False, True)
    assert (custom["missing-identity"]["status"], custom["missing-identity"]["ran"]) == (401, False)
    assert all(a["status"] == 403 and a["ok"] for a in routes["GET /iam"]["attacks"])
    assert "undeclared-public-route" not in {f["kind"] for f in report["findings"]} and code == 1
    users = aws.client("iam", broken_stack.d["aws_endpoint_url"]).list_users()["Users"]
    assert not [u["UserName"] for u in users if u["UserName"].startswith(audit.TEMP_USER_PREFIX)]


@on_broken_root
def test_a_value_the_authorizer_accepts_shows_the_function_ran(broken_stack) -> None:
    text = broken_stack.audit("--custom-value", "GET /custom=letmein")
    assert text.returncode == 1 and text.stderr == ""
    # The authorizer's own run is allowed; the integration's run on top of it is what shows.
    row = next(line for line in text.stdout.splitlines() if "identity 'letmein'" in line)
    assert row.split()[-6:] == ["200", "403", "yes", "FAIL", "(answered", "200)"]
    findings = text.stdout.split("Findings", 1)[1]
    for named in ("GET /any-scope", "GET /open", "ANY /items", "AllowEverything"):
        assert named in findings
    assert "FAIL: 1 of 31 attacks" in text.stdout


@on_broken_root
def test_a_function_without_a_log_group_cannot_pass(broken_stack) -> None:
    # Last of its group: the fixture's stack loses the log group for good.
    aws.client("logs", broken_stack.d["aws_endpoint_url"]).delete_log_group(logGroupName="/aws/lambda/audit-broken")
    code, report = broken_stack.audit_json("--public", "GET /open")
    unobservable = [f for f in report["findings"] if f["kind"] == "unobservable-function"]
    assert code == 1 and len(unobservable) == 1 and "audit-broken has no log group" in unobservable[0]["message"]
    attacks = [a for r in report["routes"] for a in r["attacks"]]
    assert attacks and all(a["ran"] is None and not a["ok"] for a in attacks)
