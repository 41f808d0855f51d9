"""`make local`: start the embedded AWS, apply the project's root to it, start the local data
plane (HTTP APIs, Cognito, Lambda runtime), write .local/stack.json, print a walkthrough, and
stay in the foreground until Ctrl-C (or `make local-down`) stops everything it started.
`apply` re-applies the root to a running stack; the data plane picks the change up by itself.

Safety: every AWS call made here or by Terraform goes to the embedded AWS with fake keys. The
environment is rebuilt from scratch (no AWS_* variable of the user's survives, no profile or
shared config file is read), and Terraform runs on a copy of the root under .local/root with its
own data dir and state, so the user's real state and backend are never opened.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from local_aws import aws, terraform

REPO = Path(__file__).resolve().parents[1]
REGION = aws.REGION
DEFAULT_AWS_PORT = 4599  # not 3000 (the callback app), not 4566 (LocalStack), not 5000 (macOS AirPlay)
DEFAULT_API_PORT = 4600
DEFAULT_AUTH_PORT = 4601
DEMO_USER = "demo@example.com"
ROOT_VARS = {"demo_user_email": DEMO_USER}
READY_TIMEOUT_S = 30
# Never copied into the working root: VCS, environments, caches, other Terraform state and tests.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".local", ".terraform", ".build", "__pycache__", ".pytest_cache", ".hypothesis",
    "node_modules", "tests", "*.tfstate", "*.tfstate.*", "*.tfplan",
)


class StackError(RuntimeError):
    """A failure the user can act on; its message says what and how."""


def isolated_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment without any AWS_* setting of the user's: fake keys, no profile or config file."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def sandbox_env(aws_endpoint: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment that can only reach the embedded AWS: isolated, and its endpoint for every service."""
    return isolated_env(base) | {"AWS_ENDPOINT_URL": aws_endpoint}


@dataclass
class Paths:
    """Everything make local writes, under one git-ignored folder."""

    base: Path

    @property
    def lock(self) -> Path:
        return self.base / "stack.lock"

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def logs(self) -> Path:
        return self.base / "logs"

    @property
    def stack_json(self) -> Path:
        return self.base / "stack.json"


def demo_password() -> str:
    """A fresh password that meets the pool's policy (12+ characters, all four kinds)."""
    kinds = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "-_.!%"]
    chars = [secrets.choice(kind) for kind in kinds] + [secrets.choice("".join(kinds)) for _ in range(14)]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


@dataclass
class Stack:
    repo: Path = REPO
    aws_port: int = DEFAULT_AWS_PORT
    api_port: int = DEFAULT_API_PORT
    auth_port: int = DEFAULT_AUTH_PORT
    paths: Paths = field(default_factory=lambda: Paths(REPO / ".local"))
    root_vars: dict[str, str] = field(default_factory=lambda: dict(ROOT_VARS))
    out: IO[str] = sys.stdout
    children: list[subprocess.Popen] = field(default_factory=list)

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    # -- one stack at a time ---------------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        self.paths.base.mkdir(parents=True, exist_ok=True)
        with open(self.paths.lock, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                pid = lock.read().strip() or "?"
                raise StackError(
                    f"make local is already running (pid {pid}). Use that one, or stop it with Ctrl-C in its "
                    "terminal or `make local-down`."
                ) from None
            lock.seek(0)
            lock.truncate()
            lock.write(str(os.getpid()))
            lock.flush()
            try:
                yield
            finally:
                lock.seek(0)
                lock.truncate()

    # -- processes ---------------------------------------------------------------------------
    def start_child(self, name: str, args: list[str], env: dict[str, str]) -> str:
        """Start a service that prints `ready <details>` once it serves; return the details."""
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        log_path = self.paths.logs / f"{name}.log"
        with open(log_path, "w") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", *args], cwd=self.repo, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
            )
        self.children.append(child)
        selector = selectors.DefaultSelector()
        selector.register(child.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = child.stdout.readline()
                if line.startswith("ready "):
                    return line.split(maxsplit=1)[1].strip()
                if not line:  # the child exited before it was ready
                    break
        child.poll()
        raise StackError(f"{name} did not start (see {log_path}):\n{log_path.read_text().strip()[-2000:]}")

    def stop_children(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                child.terminate()
        for child in reversed(self.children):
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.children.clear()

    # -- terraform ---------------------------------------------------------------------------
    def sync_root(self, fresh_state: bool) -> Path:
        """Copy the root's sources into .local/root, keeping its installed providers (and its state,
        unless a new embedded AWS makes it meaningless)."""
        root = self.paths.root
        root.mkdir(parents=True, exist_ok=True)
        kept = {".terraform"} | (set() if fresh_state else {"terraform.tfstate", "terraform.tfstate.backup"})
        for entry in root.iterdir():
            if entry.name not in kept:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        state_dir = self.paths.base.resolve()

        def not_copied(directory: str, names: list[str]) -> set[str]:
            # Never the state folder itself, wherever --state-dir put it (it holds this very copy).
            return set(NOT_COPIED(directory, names)) | {n for n in names if (Path(directory) / n).resolve() == state_dir}

        shutil.copytree(self.repo, root, ignore=not_copied, dirs_exist_ok=True)
        # A root that declares a backend would send this state there: keep it here instead.
        if any(re.search(r'^\s*backend\s+"', p.read_text(), re.M) for p in root.glob("*.tf")):
            (root / "local_stack_backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
        return root

    def apply(self, env: dict[str, str], extra_vars: dict[str, str], fresh_state: bool = True) -> dict:
        root = self.sync_root(fresh_state)
        tf_env = terraform.terraform_env(self.paths.base / "terraform-cli", env)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        log = self.paths.logs / "terraform.log"
        var_args = [f"-var={k}={v}" for k, v in extra_vars.items()]
        try:
            with open(log, "w") as out:
                terraform.run(["init", "-input=false", "-lockfile=readonly"], root, tf_env, log=out)
                terraform.run(["apply", "-auto-approve", "-input=false", *var_args], root, tf_env, log=out)
            return terraform.outputs(root, tf_env)
        except terraform.TerraformError as error:
            raise StackError(f"{error} (full log: {log}):\n{log.read_text()[-3000:]}") from None

    # -- stack.json --------------------------------------------------------------------------
    def describe(self, aws_endpoint: str, outputs: dict, data_plane: dict, demo_user: dict | None) -> dict:
        """What a client of the local stack needs, read from the embedded AWS itself."""
        cognito = aws.client("cognito-idp", aws_endpoint)
        pools = []
        for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
            clients = {}
            for summary in cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]:
                client = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=summary["ClientId"])["UserPoolClient"]
                clients[client["ClientName"]] = {"id": client["ClientId"]} | (
                    {"secret": client["ClientSecret"]} if client.get("ClientSecret") else {}
                ) | {"callback_urls": client.get("CallbackURLs", [])}
            pools.append({
                "id": pool["Id"], "name": pool["Name"],
                "issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}", "clients": clients,
            })
        api_url, auth_url = data_plane["api_url"], data_plane["auth_url"]
        for pool in pools:
            pool["jwks_uri"] = f"{auth_url}/{pool['id']}/.well-known/jwks.json"
        apis = {a["ApiId"]: a["Name"] for a in aws.client("apigatewayv2", aws_endpoint).get_apis()["Items"]}
        host = api_url.split("://", 1)[1]
        api_urls = {api_id: api_url if len(apis) == 1 else f"http://{api_id}.execute-api.localhost:{host.rsplit(':', 1)[1]}"
                    for api_id in apis}
        first = pools[0] if pools else {"id": None, "issuer": None, "clients": {}, "jwks_uri": None}
        return {
            "aws_endpoint_url": aws_endpoint,
            "region": REGION,
            "api_url": next(iter(api_urls.values())) if len(api_urls) == 1 else None,
            "apis": {api_id: {"name": apis[api_id], "url": url} for api_id, url in api_urls.items()},
            # REST APIs (spec H): {api id: {name, private, urls: {VPC endpoint id | "internet": url with the stage}}}
            "rest_apis": data_plane.get("rest_apis", {}),
            "auth_url": auth_url,
            "user_pool_id": first["id"],
            "issuer": first["issuer"],
            "jwks_uri": first["jwks_uri"],
            "clients": first["clients"],
            "demo_user": demo_user,
            "user_pools": pools,
            "terraform_root": str(self.paths.root),
            "outputs": outputs,
            "pid": os.getpid(),
        }

    def write_stack_json(self, description: dict) -> None:
        partial = self.paths.stack_json.with_suffix(".json.partial")
        partial.write_text(json.dumps(description, indent=2) + "\n")
        os.replace(partial, self.paths.stack_json)

    # -- the command -------------------------------------------------------------------------
    def up(self) -> dict:
        """Start everything, serve until a signal or a service dies, then stop everything."""
        with self.exclusive():
            stop = _StopSignal()
            try:
                started = time.monotonic()
                self.say(f"Starting the embedded AWS on 127.0.0.1:{self.aws_port} ...")
                aws_endpoint = self.start_child("embedded-aws", ["local_aws.embedded", "--port", str(self.aws_port)], isolated_env())
                env = sandbox_env(aws_endpoint)
                self.say(f"Applying {self.repo} to it (log: {self.paths.logs / 'terraform.log'}) ...")
                outputs = self.apply(env, self.root_vars)
                demo_user = self.set_demo_password(aws_endpoint)
                self.say(f"Starting the local API on 127.0.0.1:{self.api_port} and Cognito on 127.0.0.1:{self.auth_port} ...")
                data_plane = json.loads(self.start_child("data-plane", [
                    "local_aws.dataplane", "--aws-endpoint", aws_endpoint, "--api-port", str(self.api_port),
                    "--auth-port", str(self.auth_port), "--work-dir", str(self.paths.base / "data-plane"),
                ], env))
                description = self.describe(aws_endpoint, outputs, data_plane, demo_user)
                self.write_stack_json(description)
                self.say(walkthrough(description, time.monotonic() - started, self.paths))
                stop.wait(lambda: any(c.poll() is not None for c in self.children))
                if not stop.received:
                    died = [" ".join(c.args[2:4]) for c in self.children if c.poll() is not None]
                    raise StackError(f"{', '.join(died)} stopped unexpectedly; see {self.paths.logs}")
                return description
            finally:
                self.shutdown()
                stop.restore()

    def shutdown(self) -> None:
        self.paths.stack_json.unlink(missing_ok=True)
        self.stop_children()

    def set_demo_password(self, aws_endpoint: str) -> dict | None:
        """Give the demo user (created by the root) a fresh permanent password, and say it."""
        cognito = aws.client("cognito-idp", aws_endpoint)
        for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
            try:
                cognito.admin_get_user(UserPoolId=pool["Id"], Username=DEMO_USER)
            except cognito.exceptions.UserNotFoundException:
                continue
            password = demo_password()
            cognito.admin_set_user_password(UserPoolId=pool["Id"], Username=DEMO_USER, Password=password, Permanent=True)
            return {"username": DEMO_USER, "password": password, "user_pool_id": pool["Id"]}
        return None

    def reapply(self) -> dict:
        """Apply the root again to the running stack (the data plane reloads by itself)."""
        if not self.paths.stack_json.exists():
            raise StackError("make local is not running: start it with `make local` first.")
        description = json.loads(self.paths.stack_json.read_text())
        outputs = self.apply(sandbox_env(description["aws_endpoint_url"]), self.root_vars, fresh_state=False)
        description["outputs"] = outputs
        self.write_stack_json(description)
        return description


def walkthrough(d: dict, seconds: float, paths: Paths) -> str:
    """What make local prints when ready: where things are, and commands to paste, with live values."""
    api, cli = d["api_url"] or next(iter(d["apis"].values()), {}).get("url"), ".venv/bin/python -m local_aws"
    state = "" if paths.base == REPO / ".local" else f" --state-dir {paths.base}"
    lines = [
        f"Local stack ready in {seconds:.1f} s.",
        f"  API           {api}",
        f"  Cognito       {d['auth_url']}   (issuer {d['issuer']})",
        f"  Embedded AWS  {d['aws_endpoint_url']}   (region {d['region']}; AWS_ENDPOINT_URL for the AWS CLI or boto3)",
    ]
    demo = d.get("demo_user")
    if demo:
        lines.append(f"  Demo user     {demo['username']} / {demo['password']}")
    lines.append(f"  Everything, as JSON: {paths.stack_json}")
    if api:
        lines += ["", "Try it from another shell:",
                  f"  curl -s {api}/hello",
                  f"  TOKEN=$({cli} token{state} --client machine)",
                  f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/profile"]
        if demo:
            sign_in = f"--client spa --username {demo['username']} --password '{demo['password']}'"
            lines += [f"  USER_TOKEN=$({cli} token{state} {sign_in})",
                      f"  curl -s -H \"Authorization: Bearer $USER_TOKEN\" {api}/profile",
                      f"  curl -s -X POST -H \"Authorization: Bearer $USER_TOKEN\" -H 'content-type: application/json' "
                      f"-d '{{\"title\":\"First note\",\"content\":\"Hello\"}}' {api}/notes",
                      "", "Refused, as on AWS (the handler never runs):",
                      f"  curl -si {api}/profile                     # 401: no Authorization header",
                      f"  ID_TOKEN=$({cli} token{state} {sign_in} --id-token)",
                      f"  curl -si -H \"Authorization: Bearer $ID_TOKEN\" {api}/profile   # 403: an ID token carries no scope"]
        lines += [f"  READ_ONLY=$({cli} token{state} --client machine --scope notes-api/read)",
                  f"  curl -si -X POST -H \"Authorization: Bearer $READ_ONLY\" -d '{{}}' {api}/notes   # 403: needs notes-api/write",
                  "", f"Edit a handler, then `{f'{cli} apply{state}' if state else 'make local-apply'}`: "
                  "the change is served without a restart."]
    lines += ["", f"Stop with Ctrl-C here, or `{f'{cli} down{state}' if state else 'make local-down'}`."]
    return "\n".join(lines)


class _StopSignal:
    """SIGINT/SIGTERM end the foreground wait instead of raising mid-way through a shutdown."""

    def __init__(self) -> None:
        self.received = False
        self.previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    waiting = False

    def _handle(self, signum, frame) -> None:
        if not self.waiting:  # still starting: abort, and `up` cleans up what it started
            raise KeyboardInterrupt
        self.received = True  # serving or shutting down: finish the shutdown in order

    def wait(self, child_died) -> None:
        self.waiting = True
        while not self.received and not child_died():
            time.sleep(0.2)

    def restore(self) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def down(paths: Paths, out: IO[str] = sys.stdout, timeout_s: float = 20) -> int:
    """Stop the running `make local` (from another shell); 0 when nothing is left running."""
    if not paths.lock.exists():
        print("make local is not running.", file=out)
        return 0
    with open(paths.lock, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            print("make local is not running.", file=out)
            return 0
        except BlockingIOError:
            lock.seek(0)
            written = lock.read().strip()
            if not written.isdigit():  # taken a moment ago, pid not written yet (or being released)
                print("make local is starting or stopping; try again in a moment.", file=out)
                return 1
            pid = int(written)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                print(f"Stopped make local (pid {pid}).", file=out)
                return 0
            except BlockingIOError:
                time.sleep(0.1)
    print(f"make local (pid {pid}) did not stop within {timeout_s:.0f} s.", file=out)
    return 1
