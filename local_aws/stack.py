"""`make local`: start the embedded AWS, apply the project's root to it, write .local/stack.json,
and stay in the foreground until Ctrl-C (or `make local-down`) stops everything it started.

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
DEMO_USER = "demo@example.com"
READY_TIMEOUT_S = 30
# Never copied into the working root: VCS, environments, caches, other Terraform state and tests.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", ".local", ".terraform", ".build", "__pycache__", ".pytest_cache", ".hypothesis",
    "node_modules", "tests", "*.tfstate", "*.tfstate.*", "*.tfplan",
)


class StackError(RuntimeError):
    """A failure the user can act on; its message says what and how."""


def sandbox_env(aws_endpoint: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment that can only reach the embedded AWS: fake keys, its endpoint, no profile."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=aws_endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


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


@dataclass
class Stack:
    repo: Path = REPO
    aws_port: int = DEFAULT_AWS_PORT
    paths: Paths = field(default_factory=lambda: Paths(REPO / ".local"))
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
        """Start a service that prints `ready <url>` once it serves; return that url."""
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
    def sync_root(self) -> Path:
        """Copy the root's sources into .local/root, keeping only its installed providers."""
        root = self.paths.root
        root.mkdir(parents=True, exist_ok=True)
        for entry in root.iterdir():
            if entry.name != ".terraform":
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        shutil.copytree(self.repo, root, ignore=NOT_COPIED, dirs_exist_ok=True)
        # A root that declares a backend would send this state there: keep it here instead.
        if any(re.search(r'^\s*backend\s+"', p.read_text(), re.M) for p in root.glob("*.tf")):
            (root / "local_stack_backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
        return root

    def apply(self, env: dict[str, str], extra_vars: dict[str, str]) -> dict:
        root = self.sync_root()
        tf_env = terraform.terraform_env(self.paths.base / "terraform-cli", env)
        log = self.paths.logs / "terraform.log"
        var_args = [f"-var={k}={v}" for k, v in extra_vars.items()]
        with open(log, "w") as out:
            for args in (["init", "-input=false", "-lockfile=readonly"], ["apply", "-auto-approve", "-input=false", *var_args]):
                result = subprocess.run(["terraform", *args, "-no-color"], cwd=root, env=tf_env, stdout=out, stderr=subprocess.STDOUT)
                if result.returncode != 0:
                    raise StackError(f"terraform {args[0]} failed (full log: {log}):\n{log.read_text()[-3000:]}")
        return terraform.outputs(root, tf_env)

    # -- stack.json --------------------------------------------------------------------------
    def describe(self, aws_endpoint: str, env: dict[str, str], outputs: dict) -> dict:
        """What a client of the local stack needs, read from the embedded AWS itself."""
        cognito = aws.client("cognito-idp", aws_endpoint)
        pools = []
        for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
            clients = {}
            for summary in cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]:
                client = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=summary["ClientId"])["UserPoolClient"]
                clients[client["ClientName"]] = {"id": client["ClientId"]} | (
                    {"secret": client["ClientSecret"]} if client.get("ClientSecret") else {}
                )
            pools.append({
                "id": pool["Id"], "name": pool["Name"],
                "issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{pool['Id']}", "clients": clients,
            })
        first = pools[0] if pools else {"id": None, "issuer": None, "clients": {}}
        return {
            "aws_endpoint_url": aws_endpoint,
            "region": REGION,
            "user_pool_id": first["id"],
            "issuer": first["issuer"],
            "clients": first["clients"],
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
                aws_endpoint = self.start_child("embedded-aws", ["local_aws.embedded", "--port", str(self.aws_port)], dict(os.environ))
                env = sandbox_env(aws_endpoint)
                self.say(f"Applying the root to it (log: {self.paths.logs / 'terraform.log'}) ...")
                outputs = self.apply(env, {"demo_user_email": DEMO_USER})
                description = self.describe(aws_endpoint, env, outputs)
                self.write_stack_json(description)
                self.say(self.summary(description, time.monotonic() - started))
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

    def summary(self, description: dict, seconds: float) -> str:
        lines = [f"Ready in {seconds:.1f} s. Embedded AWS: {description['aws_endpoint_url']} (region {description['region']})"]
        lines.append(f"User pool {description['user_pool_id']}, issuer {description['issuer']}")
        for name, client in description["clients"].items():
            lines.append(f"  client {name}: {client['id']}" + (" (with secret)" if "secret" in client else ""))
        lines.append(f"Everything above, and the root's outputs: {self.paths.stack_json}")
        lines.append("Press Ctrl-C (or run `make local-down`) to stop.")
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
            pid = int(lock.read().strip())
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
