"""pytest plugin: test your own Terraform root against the local stack, in CI, with no AWS account.

    pytest --local-aws-root path/to/root tests/

Installed with the package (entry point `local_aws` of the `pytest11` group), so every pytest run
of the venv loads it: importing it costs nothing (no boto3, no moto), and nothing starts until a
test asks for the `local_stack` fixture. `-p no:local_aws` switches it off.

- `--local-aws-root PATH`: the Terraform root to run. Default: $LOCAL_AWS_ROOT, else pytest's
  rootdir. A root named by the option or the variable that is not a directory of *.tf files is a
  usage error at once; the rootdir default is only checked when a test needs the stack.
- `--local-aws-var NAME=VALUE`, `--local-aws-var-file PATH` (repeatable): the root's variables,
  as `local-aws up --var` and `--var-file` take them.
- `local_stack` (session scope): the stack of that root, started once on free ports in a
  temporary state dir and stopped at the end of the run, after failing tests and on Ctrl-C too.
  Under pytest-xdist the workers share one stack per root: the first worker that needs it starts
  it, the others wait for it, and the controller stops it once every worker is done.
- `local_aws_root` (session scope): the root `local_stack` runs; override it in a conftest.py to
  run another one (say, a copy a test may edit before `local_stack.apply()`). Each distinct root
  gets its own stack.

The stack is `python -m local_aws up` in a subprocess (what `make local` runs), so its signals,
lock and logs are its own: its output is in `local_stack.log`, its state in `local_stack.state_dir`
(kept after a run where a stack failed to start, removed otherwise).
"""
from __future__ import annotations

import fcntl
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pytest

ROOT_ENV = "LOCAL_AWS_ROOT"
START_TIMEOUT_S = 600  # a cold Terraform init and apply on a loaded CI machine
STOP_TIMEOUT_S = 30  # `up` itself gives each service 10 s
APPLY_SERVED_TIMEOUT_S = 30
# invocations(): the runtime ships log lines in batches (0.2 s, runtime.LOG_BATCH_WINDOW_S), so a
# count that held for this long has every invocation that already answered.
INVOCATIONS_SETTLE_S = 0.6
INVOCATIONS_TIMEOUT_S = 15
_SHARED_DIR = "local_aws_dir"  # xdist workerinput: the controller's directory of stacks


class LocalStackError(RuntimeError):
    """The local stack could not do what a test asked; the message says what and where to look."""


_STACKS = pytest.StashKey["_Stacks"]()


# -- options --------------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("local-aws", "local AWS stack (local_stack fixture)")
    group.addoption("--local-aws-root", metavar="PATH", default=None,
                    help=f"Terraform root the local_stack fixture runs (default: ${ROOT_ENV}, else the rootdir)")
    group.addoption("--local-aws-var", metavar="NAME=VALUE", action="append", default=[],
                    help="a variable of the root for terraform apply (repeatable)")
    group.addoption("--local-aws-var-file", metavar="PATH", action="append", default=[],
                    help="a .tfvars or .tfvars.json file for terraform apply (repeatable)")


def root_problem(root: Path) -> str | None:
    """Why `root` cannot be run, or None."""
    if not root.is_dir():
        return "no such directory"
    if not any(root.glob("*.tf")) and not any(root.glob("*.tf.json")):
        return "not a Terraform root (no *.tf files in it)"
    return None


def _named_root(config: pytest.Config) -> tuple[Path, str] | None:
    """The root the user named, with how they named it (for error messages), or None."""
    given = config.getoption("local_aws_root")
    if given:
        return (config.invocation_params.dir / given).resolve(), f"--local-aws-root {given}"
    if os.environ.get(ROOT_ENV):
        return (config.invocation_params.dir / os.environ[ROOT_ENV]).resolve(), f"{ROOT_ENV}={os.environ[ROOT_ENV]}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    named = _named_root(config)
    if named is not None:
        root, how = named
        problem = root_problem(root)
        if problem:
            raise pytest.UsageError(f"{how}: {problem}")
    for var in config.getoption("local_aws_var"):
        name, equals, _ = var.partition("=")
        if not equals or not name.isidentifier():
            raise pytest.UsageError(f"--local-aws-var {var}: expected NAME=VALUE")
    for var_file in config.getoption("local_aws_var_file"):
        if not (config.invocation_params.dir / var_file).is_file():
            raise pytest.UsageError(f"--local-aws-var-file {var_file}: no such file")
    config.stash[_STACKS] = _Stacks(config)


def _up_arguments(config: pytest.Config) -> list[str]:
    """The root's variables as `local-aws up` takes them (a var file by its absolute path)."""
    return ([f"--var={var}" for var in config.getoption("local_aws_var")]
            + [f"--var-file={(config.invocation_params.dir / f).resolve()}" for f in config.getoption("local_aws_var_file")])


def pytest_unconfigure(config: pytest.Config) -> None:
    stacks = config.stash.get(_STACKS, None)
    if stacks is not None:
        stacks.close()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: every worker finds the stacks in the same directory."""
    node.workerinput[_SHARED_DIR] = str(node.config.stash[_STACKS].base())


# -- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def local_aws_root(pytestconfig: pytest.Config) -> Path:
    """The Terraform root `local_stack` runs (override to run another)."""
    named = _named_root(pytestconfig)
    return named[0] if named else pytestconfig.rootpath


@pytest.fixture(scope="session")
def local_stack(pytestconfig: pytest.Config, local_aws_root: Path) -> "LocalStack":
    """The local stack of the root, started once for the run (see the module docstring)."""
    try:
        return pytestconfig.stash[_STACKS].get(Path(local_aws_root).resolve(), _up_arguments(pytestconfig))
    except LocalStackError as error:
        pytest.fail(str(error), pytrace=False)


@dataclass
class Response:
    """What local_stack.request() got back."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


# -- the running stack, as a test sees it -----------------------------------------------------------

class LocalStack:
    """One running stack: where it is, and what a test does with it. Methods talk to it over HTTP."""

    def __init__(self, root: Path, stack_dir: Path, process: subprocess.Popen | None):
        self.root = root
        self.stack_dir = stack_dir
        self.state_dir = stack_dir / "state"
        self.log = stack_dir / "up.log"
        self.process = process  # only in the process that started it (under xdist: one worker)
        self._description: dict | None = None

    def __repr__(self) -> str:
        return f"<LocalStack {self.root} state={self.state_dir}>"

    @property
    def description(self) -> dict:
        """stack.json: endpoints, APIs, user pools and clients, functions, outputs."""
        if self._description is None:
            path = self.state_dir / "stack.json"
            if not path.exists():
                raise LocalStackError(f"the local stack of {self.root} is not running (it stopped; log: {self.log})")
            self._description = json.loads(path.read_text())
        return self._description

    @property
    def aws_endpoint_url(self) -> str:
        return self.description["aws_endpoint_url"]

    def aws_client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client of the embedded AWS (fake keys; the stack's region unless told)."""
        from local_aws import aws
        return aws.client(service, self.aws_endpoint_url, region or self.description.get("region") or aws.REGION)

    # -- APIs --------------------------------------------------------------------------------------
    def api_id(self, api: str | None = None) -> str:
        """The id of the API `api` (an id or a name); None: the root's only API."""
        apis = self.description["apis"]
        if api is None:
            if len(apis) != 1:
                listed = ", ".join(f"{i} ({a['name']})" for i, a in apis.items()) or "none"
                raise LocalStackError(f"the root has {len(apis)} HTTP APIs ({listed}): pass api= an id or a name")
            return next(iter(apis))
        matches = [api_id for api_id, found in apis.items() if api in (api_id, found["name"])]
        if not matches:
            listed = ", ".join(f"{i} ({a['name']})" for i, a in apis.items()) or "none"
            raise LocalStackError(f"api={api!r}: no such HTTP API (there are: {listed})")
        if len(matches) > 1:
            raise LocalStackError(f"api={api!r}: {len(matches)} APIs have that name ({', '.join(matches)}): pass the id")
        return matches[0]

    def url(self, api: str | None = None, stage: str | None = None) -> str:
        """Base URL of an API, without a trailing slash, with the stage for a named stage: append
        the route's path. api: an id or a name (None: the only API); stage: None for the only
        stage (or `$default` when there is one)."""
        api_id = self.api_id(api)
        found = self.description["apis"][api_id]
        base = found["url"].rstrip("/")
        stages = found.get("stages")
        if stages is None:
            stages = [s["StageName"] for s in self.aws_client("apigatewayv2", found.get("region")).get_stages(ApiId=api_id)["Items"]]
        if stage is None:
            if "$default" in stages:
                return base
            if len(stages) != 1:
                raise LocalStackError(f"API {api_id} ({found['name']}) has stages {', '.join(sorted(stages)) or '(none)'}: pass stage=")
            stage = stages[0]
        if stage not in stages:
            raise LocalStackError(f"stage={stage!r}: API {api_id} ({found['name']}) has stages {', '.join(sorted(stages)) or '(none)'}")
        return base if stage == "$default" else f"{base}/{stage}"

    def request(self, method: str, url: str, *, token: str | None = None, headers: dict[str, str] | None = None,
                json_body: Any = None, body: bytes | str | None = None, timeout: float = 30) -> Response:
        """One HTTP request (no redirects followed). With several APIs each answers on its own host
        name, http://<api id>.execute-api.localhost:<port>; names under .localhost are reached on
        loopback here whatever the machine's resolver says (browsers and curl do the same)."""
        parts = urllib.parse.urlsplit(url)
        headers = dict(headers or {})
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if json_body is not None:
            body = json.dumps(json_body)
            headers.setdefault("content-type", "application/json")
        host = parts.hostname or "127.0.0.1"
        connect_to = "127.0.0.1" if host == "localhost" or host.endswith(".localhost") else host
        connection = http.client.HTTPConnection(connect_to, parts.port or 80, timeout=timeout)
        try:
            headers.setdefault("host", parts.netloc)
            connection.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                               body=body.encode() if isinstance(body, str) else body, headers=headers)
            answer = connection.getresponse()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read())
        finally:
            connection.close()

    # -- Cognito -----------------------------------------------------------------------------------
    def pool(self, pool: str | None = None) -> dict:
        """The user pool `pool` (an id or a name) of stack.json; None: the root's only pool."""
        pools = self.description.get("user_pools", [])
        if pool is None:
            if len(pools) != 1:
                listed = ", ".join(f"{p['id']} ({p['name']})" for p in pools) or "none"
                raise LocalStackError(f"the root has {len(pools)} user pools ({listed}): pass pool= an id or a name")
            return pools[0]
        matches = [p for p in pools if pool in (p["id"], p["name"])]
        if len(matches) != 1:
            listed = ", ".join(f"{p['id']} ({p['name']})" for p in pools) or "none"
            raise LocalStackError(f"pool={pool!r}: {'no such user pool' if not matches else 'several pools have that name'} (there are: {listed})")
        return matches[0]

    def token(self, client: str, scopes: Iterable[str] | None = None, username: str | None = None,
              password: str | None = None, id_token: bool = False, pool: str | None = None) -> str:
        """A real token from the local Cognito: client credentials, or, with username and password,
        the authorization code flow with PKCE through the sign-in form. The access token, or the ID
        token with id_token. scopes: None asks for all the client's."""
        from local_aws import stack, tokens
        if (username is None) != (password is None):
            raise LocalStackError("token(): username and password go together")
        if id_token and username is None:
            raise LocalStackError("token(id_token=True) needs username and password: only a signed-in user gets an ID token")
        try:
            found = stack.find_client(self.description, client, pool)
        except stack.ClientLookupError as error:  # its message names the CLI's flags: say the arguments
            raise LocalStackError(str(error).replace("--pool ID_OR_NAME", "pool=").replace("--pool ", "pool=")
                                  .replace("--client ", "client=")) from None
        app = tokens.AppClient(found.id, found.secret, found.callback_urls)
        auth_url = found.auth_url
        scopes = list(scopes) if scopes is not None else None
        try:
            if username is None:
                answer = tokens.client_credentials(auth_url, app, scopes)
            else:
                answer = tokens.authorization_code(auth_url, app, username, password, scopes)
        except tokens.TokenError as error:
            raise LocalStackError(f"client={client!r}: {error}") from None
        if id_token:
            if "id_token" not in answer:
                raise LocalStackError(f"client={client!r}: no ID token in the answer (ask for the openid scope)")
            return answer["id_token"]
        return answer["access_token"]

    def create_user(self, email: str, password: str | None = None, groups: Iterable[str] = (),
                    pool: str | None = None) -> str:
        """A confirmed user of the root's pool (or `pool`) with a permanent password (generated
        when not given), in the groups named; returns the password."""
        from local_aws import stack
        found = self.pool(pool)
        cognito = self.aws_client("cognito-idp", found.get("region"))
        password = password or stack.demo_password()
        cognito.admin_create_user(UserPoolId=found["id"], Username=email, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}])
        cognito.admin_set_user_password(UserPoolId=found["id"], Username=email, Password=password, Permanent=True)
        for group in groups:
            cognito.admin_add_user_to_group(UserPoolId=found["id"], Username=email, GroupName=group)
        return password

    # -- Lambda --------------------------------------------------------------------------------------
    def invocations(self, function_name: str) -> int:
        """How many times the function ran: START lines in its log group. The count is read until it
        holds still for a moment, so an invocation that already answered is in it."""
        function = next((f for f in self.description.get("functions", []) if f.get("name") == function_name), {})
        log_group = function.get("log_group") or f"/aws/lambda/{function_name}"
        logs = self.aws_client("logs", function.get("region"))

        def count() -> int:
            try:
                pages = logs.get_paginator("filter_log_events").paginate(logGroupName=log_group, filterPattern="START")
                return sum(e["message"].startswith("START RequestId") for page in pages for e in page["events"])
            except logs.exceptions.ResourceNotFoundException:
                raise LocalStackError(f"invocations({function_name!r}): no log group {log_group} in the embedded AWS") from None

        last, since = count(), time.monotonic()
        deadline = since + INVOCATIONS_TIMEOUT_S
        while time.monotonic() - since < INVOCATIONS_SETTLE_S and time.monotonic() < deadline:
            time.sleep(0.1)
            now = count()
            if now != last:
                last, since = now, time.monotonic()
        return last

    # -- Terraform -----------------------------------------------------------------------------------
    def apply(self) -> dict:
        """Apply the root again (after an edit), with the variables it was started with, and return
        the new description once the data plane serves the change."""
        command = [sys.executable, "-m", "local_aws", "apply", "--state-dir", str(self.state_dir)]
        result = subprocess.run(command, cwd=self.stack_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=START_TIMEOUT_S)
        if result.returncode != 0:
            raise LocalStackError(f"re-applying {self.root} failed:\n{(result.stderr or result.stdout).strip()[-3000:]}")
        self._wait_served()
        self._description = None
        return self.description

    def _wait_served(self) -> None:
        """Until the data plane has reloaded what the embedded AWS holds now."""
        from local_aws import aws
        wanted = aws.generation(self.aws_endpoint_url)
        served = self.state_dir / "data-plane" / "generation"
        deadline = time.monotonic() + APPLY_SERVED_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if int(served.read_text()) >= wanted:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise LocalStackError(f"the data plane did not reload within {APPLY_SERVED_TIMEOUT_S} s (log: {self.state_dir / 'logs'})")


# -- starting and stopping, once per root ----------------------------------------------------------

class _Stacks:
    """The stacks of one pytest run, one directory each under a base directory. The process that
    made the base (the xdist controller, or pytest itself without xdist) stops them at the end."""

    def __init__(self, config: pytest.Config):
        shared = getattr(config, "workerinput", {}).get(_SHARED_DIR)
        self._base = Path(shared) if shared else None
        self.owner = shared is None
        self.started: dict[Path, LocalStack] = {}  # by stack dir: what this process holds

    def base(self) -> Path:
        if self._base is None:
            self._base = Path(tempfile.mkdtemp(prefix="pytest-local-aws-"))
        return self._base

    def get(self, root: Path, up_arguments: list[str]) -> LocalStack:
        key = hashlib.sha256(json.dumps([str(root), up_arguments]).encode()).hexdigest()[:12]
        stack_dir = self.base() / f"{root.name}-{key}"
        if stack_dir in self.started:
            return self.started[stack_dir]
        stack_dir.mkdir(exist_ok=True)
        with open(stack_dir / "start.lock", "a+") as start_lock:
            fcntl.flock(start_lock, fcntl.LOCK_EX)  # another worker may be starting it: wait for it
            failed = stack_dir / "failed"
            if failed.exists():
                raise LocalStackError(failed.read_text())
            if (stack_dir / "pid").exists():  # started by another worker
                running = LocalStack(root, stack_dir, None)
                running.description  # noqa: B018 - raises when that stack has stopped since
            else:
                running = self._start(root, stack_dir, up_arguments)
        self.started[stack_dir] = running
        return running

    def _start(self, root: Path, stack_dir: Path, up_arguments: list[str]) -> LocalStack:
        problem = root_problem(root)
        if problem:
            raise LocalStackError(f"local_aws_root {root}: {problem} (set --local-aws-root or ${ROOT_ENV})")
        command = [sys.executable, "-m", "local_aws", "up", "--root", str(root), "--state-dir", str(stack_dir / "state"),
                   "--aws-port", "0", "--api-port", "0", "--auth-port", "0", *up_arguments]
        with open(stack_dir / "up.log", "w") as log:
            # Not a pipe: the stack outlives the xdist worker that started it, and keeps writing.
            process = subprocess.Popen(command, cwd=stack_dir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        (stack_dir / "pid").write_text(str(process.pid))
        running = LocalStack(root, stack_dir, process)
        self.started[stack_dir] = running  # stopped by close() even if the start fails or is interrupted
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (running.state_dir / "stack.json").exists():
            if process.poll() is not None or time.monotonic() > deadline:
                why = f"exited with status {process.returncode}" if process.returncode is not None else f"was not ready within {START_TIMEOUT_S} s"
                message = (f"the local stack of {root} {why} (log: {running.log}):\n"
                           f"{running.log.read_text().strip()[-3000:]}")
                (stack_dir / "failed").write_text(message)
                raise LocalStackError(message)
            time.sleep(0.1)
        return running

    def close(self) -> None:
        """Stop every stack of the run (the owner), or only forget them (an xdist worker)."""
        if not self.owner or self._base is None:
            return
        for stack_dir in sorted(p for p in self._base.iterdir() if p.is_dir()):
            held = self.started.get(stack_dir)
            _stop(stack_dir, held.process if held else None)
        if not any(self._base.glob("*/failed")):  # a failed start keeps its logs for the reader
            shutil.rmtree(self._base, ignore_errors=True)


def _stop(stack_dir: Path, process: subprocess.Popen | None) -> None:
    """SIGTERM to `up` (which stops its services and their Lambda environments), then wait; what
    is still alive after STOP_TIMEOUT_S is killed."""
    try:
        pid = process.pid if process else int((stack_dir / "pid").read_text())
    except (OSError, ValueError):
        return  # never started

    def alive() -> bool:
        if process is not None:
            return process.poll() is None
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False

    if not alive():
        return
    tree = _descendants(pid)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive():
        os.kill(pid, signal.SIGKILL)
    survivors = _descendants(pid) if alive() else {}
    for child, started in tree.items():  # the same process only: same pid and same start time
        if _processes().get(child, (None, None))[1] == started:
            survivors[child] = started
    for child in survivors:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if process is not None:
        process.wait()


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process (Linux /proc; elsewhere none are known)."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            found[int(entry.name)] = (int(fields[1]), fields[19])
        except (OSError, IndexError, ValueError):
            continue
    return found


def _descendants(pid: int) -> dict[int, str]:
    """The processes below pid, with their start times."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in processes.items():
        children.setdefault(parent, []).append(child)
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = processes[child][1]
            todo.append(child)
    return found

