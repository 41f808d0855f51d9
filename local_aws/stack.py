"""`make local`: start the embedded AWS, apply the project's root to it, start the local data
plane (HTTP APIs, Cognito, Lambda runtime), write .local/stack.json, print a walkthrough, and
stay in the foreground until Ctrl-C (or `make local-down`) stops everything it started.
`apply` re-applies the root to a running stack; the data plane picks the change up by itself.

Restarts: the embedded AWS saves its state into the state dir (embedded_state.py), and each apply
that finishes is recorded (applied.json: a digest of its inputs, the outputs) once that state is
saved, so the Terraform state and the saved state match. The next start restores both and runs no
Terraform when the digest is unchanged, or applies the difference when not; without a record (an
interrupted apply), with a state that cannot be read or of another root, it starts empty and
applies from scratch, saying why. `reset` deletes all of it (README: "What survives a restart").

Speed (README: "Speed"): what can run at once does. The data plane's process starts first and
imports while the rest goes on (held.py); the embedded AWS's port is bound here and handed to it,
so Terraform starts at once (its first AWS call comes seconds later) and is stopped if the
embedded AWS fails to start; the stack's reading of the embedded AWS runs beside the data plane's
first load. `terraform init` is skipped when the working copy was initialised with the same
configuration, lock file and provider installation (terraform.init); the root's HCL is parsed
once for as long as its text stays the same (terraform-parsed.json); the outputs are read from
the state the apply wrote; Terraform applies APPLY_PARALLELISM operations at once instead of 10.

Safety: every AWS call made here or by Terraform goes to the embedded AWS with fake keys. The
environment is rebuilt from scratch (no AWS_* variable of the user's survives, no profile or
shared config file is read), and Terraform runs on a copy of the root under .local/root with its
own data dir and state, so the user's real state and backend are never opened.

Any root, from any directory: the services run with the state dir as working directory and import
the installed package (`make` installs it into .venv, editable). Nothing is written into the
root's own folder: a root without a .terraform.lock.hcl gets one in its working copy, kept there
across applies (a root's own lock file is always used as it is, `-lockfile=readonly`). The working
copy belongs to one root (root.json says which), and holds the local modules it calls, even from
folders above it (`source = "../modules/x"`): `up` on another root starts from an empty one,
and `apply` re-applies the running root with the variables `up` was given (plus any new ones).
Variables: the stack's own (demo_user_email) only where the root declares them, then the user's
var files, then the user's --var values (Terraform lets a later one win); a --var the root does not
declare is refused before anything starts.
"""
from __future__ import annotations

import concurrent.futures
import fcntl
import hashlib
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
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Iterator

from local_aws import aws, serving, terraform
from local_aws.cognito import domain_hosts
from local_aws.cognito_triggers import not_emulated_triggers

REPO = Path(__file__).resolve().parents[1]
REGION = aws.REGION
DEFAULT_AWS_PORT = 4599  # not 3000 (the callback app), not 4566 (LocalStack), not 5000 (macOS AirPlay)
DEFAULT_API_PORT = 4600
DEFAULT_AUTH_PORT = 4601
DEMO_USER = "demo@example.com"
ROOT_VARS = {"demo_user_email": DEMO_USER}
READY_TIMEOUT_S = 30
# Terraform's default is 10 operations at a time. A function's create holds one through the AWS
# provider's fixed 5 s wait, and a root's packaging steps hold theirs while they build, so the
# 11th function waited 5 s more and the roles, log groups and buckets waited behind the builds.
# The embedded AWS answers in milliseconds. Not unbounded: a root's local-exec builds (pip, say)
# run this many at once too, and 32 keeps a laptop's memory out of reach of the usual roots.
APPLY_PARALLELISM = 32
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
    env.update(aws.sandbox_variables(), AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION)
    return env


def sandbox_env(aws_endpoint: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment that can only reach the embedded AWS: isolated, and its endpoint for every service."""
    return isolated_env(base) | {"AWS_ENDPOINT_URL": aws_endpoint}


@dataclass
class Paths:
    """Everything make local writes, under one git-ignored folder."""

    base: Path

    def __post_init__(self) -> None:
        # Absolute: the services run with the state dir as working directory.
        self.base = Path(self.base).resolve()

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

    @property
    def parse_cache(self) -> Path:
        """The root's parsed configuration files, by content (see terraform.declared_variables)."""
        return self.base / "terraform-parsed.json"

    @property
    def aws_state(self) -> Path:
        """The embedded AWS's state, saved while it runs and restored at the next start (embedded_state.py)."""
        return self.base / "aws-state.pickle"

    @property
    def apply_record(self) -> Path:
        """The last apply that finished: a digest of its inputs and the root's outputs. Present only
        while the Terraform state and aws_state match (removed before an apply, written after it)."""
        return self.base / "applied.json"

    @property
    def demo_user(self) -> Path:
        """The demo user's password, kept across restarts (0600)."""
        return self.base / "demo-user.json"

    @property
    def data_plane(self) -> Path:
        """The data plane's work dir: code packages, and the Cognito signing keys (cognito-keys/<pool id>.json)."""
        return self.base / "data-plane"

    @property
    def root_record(self) -> Path:
        """Which root the working copy holds (and the folder copied with it), and the variables `up`
        applied it with."""
        return self.base / "root.json"


def check_root(root: Path, user_vars: dict[str, str], var_files: list[Path], parse_cache: Path | None = None) -> set[str]:
    """The root's declared variables, once what the user gives it is checked; a StackError names the flag.
    `parse_cache`: see terraform.declared_variables."""
    if not root.is_dir():
        raise StackError(f"--root {root}: no such directory")
    if not terraform.configuration_files(root):
        raise StackError(f"--root {root}: no Terraform files (*.tf, *.tf.json) in it")
    for path in var_files:
        if not path.is_file():
            raise StackError(f"--var-file {path}: no such file")
    try:
        declared = terraform.declared_variables(root, parse_cache)
    except terraform.TerraformError as error:
        raise StackError(f"--root {root}: {error}") from None
    for name in user_vars:
        if name not in declared:
            raise StackError(f'--var {name}: the root declares no variable "{name}"')
    return declared


def applied_root(paths: Paths) -> dict | None:
    """What root.json says: {"root", "vars", "var_files"} of the last `up`, or None."""
    try:
        return json.loads(paths.root_record.read_text())
    except (OSError, ValueError):
        return None


def demo_password() -> str:
    """A fresh password that meets the pool's policy (12+ characters, all four kinds)."""
    kinds = ["ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "-_.!%"]
    chars = [secrets.choice(kind) for kind in kinds] + [secrets.choice("".join(kinds)) for _ in range(13)]
    secrets.SystemRandom().shuffle(chars)
    # A letter first: a password starting with "-" would read as a flag in `token --password ...`.
    return secrets.choice(kinds[0] + kinds[1]) + "".join(chars)


@dataclass
class Stack:
    repo: Path = REPO
    aws_port: int = DEFAULT_AWS_PORT
    api_port: int = DEFAULT_API_PORT
    auth_port: int = DEFAULT_AUTH_PORT
    paths: Paths = field(default_factory=lambda: Paths(REPO / ".local"))
    # The user's variables (--var); the stack's own ROOT_VARS are added where the root declares them.
    root_vars: dict[str, str] = field(default_factory=dict)
    var_files: list[Path] = field(default_factory=list)  # --var-file, in order
    out: IO[str] = sys.stdout
    children: list[subprocess.Popen] = field(default_factory=list)
    _service: dict[int, str] = field(default_factory=dict, init=False, repr=False)  # child pid -> service name
    _held: dict[str, subprocess.Popen] = field(default_factory=dict, init=False, repr=False)  # hold_child's, by name
    _embedded_ready: concurrent.futures.Future | None = field(default=None, init=False, repr=False)  # start_embedded_aws's
    _lock: AbstractContextManager | None = field(default=None, init=False, repr=False)  # held from start() to stop()

    def say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    # -- one stack at a time ---------------------------------------------------------------
    @contextmanager
    def exclusive(self, refusal: str = "make local is already running (pid {pid}). Use that one, or stop it with "
                  "Ctrl-C in its terminal or `make local-down`.") -> Iterator[None]:
        self.paths.base.mkdir(parents=True, exist_ok=True)
        # The default state dir is ./.local, maybe inside the user's repository: keep it out of git.
        ignore = self.paths.base / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# local_aws state: nothing here is source\n*\n")
        with open(self.paths.lock, "a+") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                pid = lock.read().strip() or "?"
                raise StackError(refusal.format(pid=pid)) from None
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
    def start_child(self, name: str, args: list[str], env: dict[str, str], *, wait: bool = True,
                    pass_fds: tuple[int, ...] = ()) -> str | Callable[[], str]:
        """Start a service that prints `ready <details>` once it serves; return the details, or with
        wait=False at once a function that waits for them (meanwhile the caller gets on with other
        work). A process hold_child started for `name` is used if it holds the same module."""
        held = self._held.pop(name, None)
        log_path = self.paths.logs / f"{name}.log"
        if held is not None and held.poll() is None and held.args[-1] == args[0]:
            held.stdin.write(json.dumps({"argv": args[1:], "env": env}) + "\n")
            held.stdin.close()
            self.children.remove(held)
            self.children.append(held)  # the last started, as if started now
            child = held
        else:
            if held is not None:
                held.kill()
                held.wait()
                self.children.remove(held)
            self.paths.logs.mkdir(parents=True, exist_ok=True)
            with open(log_path, "w") as log:
                child = subprocess.Popen(
                    # The state dir is a valid working directory wherever the root is; the package comes
                    # from the installed local_aws (make installs it into .venv), not from the cwd.
                    [sys.executable, "-m", *args], cwd=self.paths.base, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
                    pass_fds=pass_fds,
                )
            self.children.append(child)
        self._service[child.pid] = name
        ready = lambda: self._wait_ready(name, child, log_path)  # noqa: E731
        return ready() if wait else ready

    def start_embedded_aws(self, args: tuple[str, ...] | list[str] = ()) -> str:
        """Start the embedded AWS (with `args` besides its port) and return its URL at once: the port
        is bound here and the socket handed to it, so a client may connect while it starts
        (Terraform, which spends seconds on its own first, does) and is answered once it serves;
        no other server can be on that port meanwhile. Until embedded_aws_ready() has returned, a
        Terraform apply is stopped if the embedded AWS fails to start."""
        try:
            listener = serving.listen("127.0.0.1", self.aws_port)
        except serving.PortInUseError as error:
            raise StackError(f"--aws-port {self.aws_port}: {error.strerror}; choose another port") from None
        host, port = listener.getsockname()[:2]
        try:
            ready = self.start_child("embedded-aws", ["local_aws.embedded", "--port", str(port), "--listen-fd",
                                                      str(listener.fileno()), *args], isolated_env(), wait=False,
                                     pass_fds=(listener.fileno(),))
        finally:
            listener.close()  # the embedded AWS holds it now: if it dies, connections are refused
        self._embedded_ready = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-aws").submit(ready)
        return f"http://{host}:{port}"

    def embedded_aws_ready(self) -> None:
        """Wait until the embedded AWS serves; StackError (with its log) when it did not start."""
        if self._embedded_ready is not None:
            self._embedded_ready.result()

    def _watch_embedded_aws(self) -> None:
        if self._embedded_ready is not None and self._embedded_ready.done():
            self._embedded_ready.result()  # raises when it failed to start

    def hold_child(self, name: str, module: str, env: dict[str, str]) -> None:
        """Start the process of service `name` now, to import `module` while other work goes on;
        start_child(name, [module, ...]) later tells it its arguments (see local_aws/held.py)."""
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        with open(self.paths.logs / f"{name}.log", "w") as log:
            child = subprocess.Popen([sys.executable, "-m", "local_aws.held", module], cwd=self.paths.base, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        self.children.append(child)
        self._service[child.pid] = name
        self._held[name] = child

    def _wait_ready(self, name: str, child: subprocess.Popen, log_path: Path) -> str:
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
        self._held.clear()
        self._embedded_ready = None

    # -- terraform ---------------------------------------------------------------------------
    def source_tree(self) -> Path:
        """The folder copied into the working copy: the root, or the closest folder above it that
        also holds every local module it calls (`source = "../modules/x"`)."""
        try:
            modules = terraform.local_module_dirs(self.repo, self.paths.parse_cache)
        except terraform.TerraformError as error:
            raise StackError(str(error)) from None
        return Path(os.path.commonpath([self.repo.resolve(), *modules]))

    def not_copied(self, directory: str, names: list[str]) -> set[str]:
        """What of `directory` the working copy leaves out (shutil.copytree's ignore)."""
        # Never the state folder itself, wherever --state-dir put it (it holds this very copy).
        state_dir = self.paths.base.resolve()
        return set(NOT_COPIED(directory, names)) | {n for n in names if (Path(directory) / n).resolve() == state_dir}

    def sync_root(self, fresh_state: bool) -> Path:
        """Copy the root's sources (with the local modules it calls) into .local/root, keeping its
        installed providers (and its state, unless a new embedded AWS makes it meaningless).
        Returns the root's folder in the copy, where Terraform runs."""
        tree, top = self.paths.root, self.source_tree()
        workdir = tree / self.repo.resolve().relative_to(top)
        record = applied_root(self.paths)
        same = record is not None and record.get("root") == str(self.repo) and record.get("tree", record["root"]) == str(top)
        if fresh_state and tree.exists() and not same:
            shutil.rmtree(tree)  # another root's providers, lock file and state: none of them apply here
        elif not fresh_state and record is not None and not same:
            raise StackError(f"{self.repo} now calls modules from {top}, so its working copy would move and lose "
                             "the running stack's state: stop the stack and start it again.")
        workdir.mkdir(parents=True, exist_ok=True)
        kept = {".terraform"} | (set() if fresh_state else {"terraform.tfstate", "terraform.tfstate.backup"})
        if not (self.repo / terraform.LOCK_FILE).is_file():
            kept.add(terraform.LOCK_FILE)  # the one init wrote here for a root without its own

        def clear(directory: Path) -> None:
            for entry in directory.iterdir():
                if directory == workdir and entry.name in kept:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    clear(entry) if workdir.is_relative_to(entry) else shutil.rmtree(entry)
                else:
                    entry.unlink()

        clear(tree)
        shutil.copytree(top, tree, ignore=self.not_copied, dirs_exist_ok=True)
        # A root that declares a backend would send this state there: keep it here instead.
        if any(re.search(r'^\s*backend\s+"', p.read_text(), re.M) for p in workdir.glob("*.tf")):
            (workdir / "local_stack_backend_override.tf").write_text('terraform {\n  backend "local" {}\n}\n')
        return workdir

    def apply(self, env: dict[str, str], extra_vars: dict[str, str], fresh_state: bool = True,
              var_files: list[Path] | None = None) -> dict:
        """Apply the root with the stack's own variables it declares, then the var files (default
        self.var_files), then extra_vars (the user's --var values: Terraform lets the last one win)."""
        var_files = list(dict.fromkeys(path.resolve() for path in (self.var_files if var_files is None else var_files)))
        declared = check_root(self.repo, extra_vars, var_files, self.paths.parse_cache)
        root = self.sync_root(fresh_state)
        if fresh_state:
            self.write_root_record(extra_vars, var_files)
        tf_env = terraform.terraform_env(self.paths.base / "terraform-cli", env)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        log = self.paths.logs / "terraform.log"
        own_vars = {name: value for name, value in ROOT_VARS.items() if name in declared}
        var_args = ([f"-var={k}={v}" for k, v in own_vars.items()] + [f"-var-file={p}" for p in var_files]
                    + [f"-var={k}={v}" for k, v in extra_vars.items()])
        try:
            with open(log, "w") as out:
                terraform.init(root, self.paths.root, terraform.init_args((self.repo / terraform.LOCK_FILE).is_file()),
                               tf_env, out)
                applied_since = time.time()
                terraform.run(["apply", "-auto-approve", "-input=false", f"-parallelism={APPLY_PARALLELISM}", *var_args],
                              root, tf_env, log=out, watch=self._watch_embedded_aws)
            found = terraform.state_outputs(root, applied_since)
            return found if found is not None else terraform.outputs(root, tf_env)
        except terraform.TerraformError as error:
            raise StackError(f"{error} (full log: {log}):\n{log.read_text()[-3000:]}") from None

    def write_root_record(self, extra_vars: dict[str, str], var_files: list[Path]) -> None:
        self.paths.root_record.write_text(json.dumps(
            {"root": str(self.repo), "tree": str(self.source_tree()), "vars": extra_vars,
             "var_files": [str(p) for p in var_files]}, indent=2) + "\n")

    # -- stack.json --------------------------------------------------------------------------
    def describe(self, aws_endpoint: str, outputs: dict, data_plane: dict, demo_user: dict | None,
                 found: dict | None = None) -> dict:
        """What a client of the local stack needs, read from the embedded AWS itself, in every region
        it holds anything in (see the README's stack.json section for the shape). `found`: the
        inventory of the embedded AWS, if the caller read it already."""
        found = inventory(aws_endpoint) if found is None else found
        api_url, auth_url = data_plane["api_url"], data_plane["auth_url"]
        api_port, auth_port = api_url.rsplit(":", 1)[1], auth_url.rsplit(":", 1)[1]
        with_domain = [pool for pool in found["user_pools"] if pool["domain"]]
        hosts = domain_hosts((pool["region"], pool["domain"]) for pool in with_domain)
        pools = []
        for pool in found["user_pools"]:
            if not pool["domain"]:
                pool_auth_url = None
            elif len(with_domain) == 1:  # the sole domain answers on any Host, as the sole API does
                pool_auth_url = auth_url
            else:
                pool_auth_url = f"http://{hosts[(pool['region'], pool['domain'])]}:{auth_port}"
            pools.append({**pool, "jwks_uri": f"{auth_url}/{pool['id']}/.well-known/jwks.json",
                          "auth_url": pool_auth_url})
        apis = found["apis"]
        for api_id, api in apis.items():
            api["url"] = api_url if len(apis) == 1 else f"http://{api_id}.execute-api.localhost:{api_port}"
        first = pools[0] if pools else {"id": None, "issuer": None, "clients": {}, "jwks_uri": None}
        return {
            "aws_endpoint_url": aws_endpoint,
            "region": REGION,
            "regions": found["regions"],
            "api_url": next(iter(apis.values()))["url"] if len(apis) == 1 else None,
            "apis": apis,
            # REST APIs (spec H): {api id: {name, private, urls: {VPC endpoint id | "internet": url with the stage}}}
            "rest_apis": data_plane.get("rest_apis", {}),
            "auth_url": auth_url,
            "user_pool_id": first["id"],
            "issuer": first["issuer"],
            "jwks_uri": first["jwks_uri"],
            "clients": first["clients"],
            "demo_user": demo_user,
            "user_pools": pools,
            "functions": found["functions"],
            "not_served": found["not_served"],
            "not_emulated": found["not_emulated"],
            "data_plane": {"api_url": api_url, "auth_url": auth_url},
            "terraform_root": str(self.paths.root),
            "outputs": outputs,
            "pid": os.getpid(),
        }

    def write_stack_json(self, description: dict) -> None:
        _write_json(self.paths.stack_json, description)

    # -- the command -------------------------------------------------------------------------
    def start(self) -> dict:
        """Start everything and return the description (also written to stack.json), without
        waiting: the stack serves until stop(). A second stack on the same state dir is refused."""
        lock = self.exclusive()
        lock.__enter__()  # raises StackError when another stack holds the state dir
        self._lock = lock
        try:
            started = time.monotonic()
            applied, changed = self.restorable()
            # What can go on at once does: the data plane's imports and the embedded AWS's start
            # with Terraform's (which spends seconds before its first AWS call); the data plane's
            # loading with the stack's own reading of the embedded AWS.
            self.hold_child("data-plane", "local_aws.dataplane", isolated_env())
            self.say(f"Starting the embedded AWS on 127.0.0.1:{self.aws_port} ...")
            aws_endpoint = self.start_embedded_aws(["--state-file", str(self.paths.aws_state)])
            env = sandbox_env(aws_endpoint)
            if applied is not None:
                self.embedded_aws_ready()
                applied = self.check_restored(aws_endpoint, applied)
            if applied is None:
                self.say(f"Applying {self.repo} to it (log: {self.paths.logs / 'terraform.log'}) ...")
                outputs = self.apply_recorded(env, self.root_vars, fresh_state=True)
            elif changed:
                self.say(f"Applying the changes of {self.repo} to the restored state (log: {self.paths.logs / 'terraform.log'}) ...")
                self.write_root_record(self.root_vars, self.var_files)
                outputs = self.apply_recorded(env, self.root_vars, fresh_state=False)
            else:
                self.say("Root unchanged since the last apply: not re-applied.")
                outputs = applied.get("outputs") or {}
            self.embedded_aws_ready()
            demo_user = self.set_demo_password(aws_endpoint)
            self.say(f"Starting the local API on 127.0.0.1:{self.api_port} and Cognito on 127.0.0.1:{self.auth_port} ...")
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as background:
                found = background.submit(inventory, aws_endpoint)
                data_plane = json.loads(self.start_child("data-plane", [
                    "local_aws.dataplane", "--aws-endpoint", aws_endpoint, "--api-port", str(self.api_port),
                    "--auth-port", str(self.auth_port), "--work-dir", str(self.paths.data_plane),
                ], env))
                description = self.describe(aws_endpoint, outputs, data_plane, demo_user, found.result())
            self.write_stack_json(description)
            self.say(walkthrough(description, time.monotonic() - started, self.paths))
            return description
        except BaseException:  # a failed or interrupted start leaves nothing running
            self.stop()
            raise

    def stop(self) -> None:
        """Stop what start() started and release the state dir; nothing when it was not started."""
        lock, self._lock = self._lock, None
        if lock is None:
            return
        try:
            self.shutdown()
        finally:
            lock.__exit__(None, None, None)

    def up(self) -> dict:
        """Start everything, serve until a signal or a service dies, then stop everything."""
        stop = _StopSignal()
        try:
            description = self.start()
            stop.wait(lambda: any(c.poll() is not None for c in self.children))
            if not stop.received:
                died = [(self._service.get(c.pid, c.args[2]), c.returncode) for c in self.children if c.poll() is not None]
                raise StackError("; ".join(f"the {name} service stopped unexpectedly (exit status {code}): see "
                                           f"{self.paths.logs / (name + '.log')}" for name, code in died))
            return description
        finally:
            self.stop()
            stop.restore()

    def shutdown(self) -> None:
        self.paths.stack_json.unlink(missing_ok=True)
        self.stop_children()

    def set_demo_password(self, aws_endpoint: str) -> dict | None:
        """Give the demo user (created by the root, in a pool of any region) a permanent password, and say it:
        generated at the first start, the same at every restart until `make local-reset`."""
        for region in _regions_first_default(aws.regions(aws_endpoint, "cognito-idp")):
            cognito = aws.client("cognito-idp", aws_endpoint, region)
            for pool in aws.pages(cognito.list_user_pools, "UserPools", "NextToken", MaxResults=60):
                try:
                    cognito.admin_get_user(UserPoolId=pool["Id"], Username=DEMO_USER)
                except cognito.exceptions.UserNotFoundException:
                    continue
                # The one of the last start, if any, so that a restart does not change it (README).
                password = _read_json(self.paths.demo_user).get("password") or demo_password()
                status, _ = aws.private(aws_endpoint, f"cognito/{pool['Id']}/authenticate",
                                        {"username": DEMO_USER, "password": password})
                if status != 200:
                    cognito.admin_set_user_password(UserPoolId=pool["Id"], Username=DEMO_USER, Password=password, Permanent=True)
                _write_json(self.paths.demo_user, {"username": DEMO_USER, "password": password})
                return {"username": DEMO_USER, "password": password, "user_pool_id": pool["Id"]}
        return None

    def reapply(self) -> dict:
        """Apply the root again to the running stack (the data plane reloads by itself)."""
        if not self.paths.stack_json.exists():
            raise StackError("make local is not running: start it with `make local` first.")
        description = json.loads(self.paths.stack_json.read_text())
        record = applied_root(self.paths) or {"root": str(self.repo), "vars": {}, "var_files": []}
        if record["root"] != str(self.repo):
            raise StackError(f"--root {self.repo}: the running stack runs {record['root']}; re-apply that root, "
                             "or stop the stack and start it on this one.")
        # What `up` was given still holds; what is given now comes after it, so it wins.
        outputs = self.apply_recorded(sandbox_env(description["aws_endpoint_url"]), record["vars"] | self.root_vars,
                                      fresh_state=False, var_files=[Path(p) for p in record["var_files"]] + self.var_files)
        description["outputs"] = outputs
        if "data_plane" in description:  # the root may now hold other pools, APIs, regions, unserved things
            description = self.describe(description["aws_endpoint_url"], outputs, description["data_plane"],
                                        description.get("demo_user")) | {"pid": description["pid"]}
        self.write_stack_json(description)
        return description


    # -- what survives a restart (README: "What survives a restart") ---------------------------
    def inputs_digest(self, tree: Path, extra_vars: dict[str, str], var_files: list[Path]) -> str:
        """A digest of what an apply of the root reads: the files its working copy gets from `tree`
        (its lock file among them), the stack's own variables, the var files (names, order and
        contents) and the --var values. The same digest: an apply would change nothing.
        OSError when a file cannot be read."""
        var_files = list(dict.fromkeys(path.resolve() for path in var_files))
        digest = hashlib.sha256(json.dumps({
            "root": str(self.repo), "tree": str(tree), "own": ROOT_VARS, "vars": extra_vars,
            "var_files": [str(path) for path in var_files]}, sort_keys=True).encode())
        for path in var_files:
            digest.update(b"\0" + path.read_bytes())
        for directory, dirs, files in os.walk(tree, followlinks=True):  # what sync_root copies, in a fixed order
            ignored = self.not_copied(directory, dirs + files)
            dirs[:] = sorted(name for name in dirs if name not in ignored)
            for name in sorted(name for name in files if name not in ignored):
                path = Path(directory, name)
                digest.update(b"\0" + str(path.relative_to(tree)).encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    def restorable(self) -> tuple[dict | None, bool]:
        """(the record of the last apply, whether the root changed since) when the saved state can be
        restored; else (None, True), having said why (when something was saved) and forgotten it all,
        so that the embedded AWS starts empty and the root is applied from scratch."""
        why = None
        applied, record = _read_json(self.paths.apply_record), applied_root(self.paths)
        changed = True
        if not self.paths.aws_state.exists():
            applied = None
        elif not applied:
            why = "the last apply did not finish, so the Terraform state may not match it"
        elif record is None or record.get("root") != str(self.repo) or applied.get("root") != str(self.repo):
            why = f"it is of another root ({(record or applied).get('root')})"
        else:
            tree = Path(record.get("tree", record["root"]))
            workdir = self.paths.root / self.repo.relative_to(tree) if self.repo.is_relative_to(tree) else None
            try:
                changed = self.inputs_digest(tree, self.root_vars, self.var_files) != applied.get("inputs")
            except OSError:
                pass  # a file that cannot be read now: apply, and let Terraform name it
            if workdir is None or not (workdir / "terraform.tfstate").is_file():
                why = "the Terraform state is missing"
            elif changed and self.source_tree() != tree:
                why = f"the root now calls modules from {self.source_tree()}, so its working copy moves"
        if why is not None:
            self.say(f"The saved state of the embedded AWS is not restored ({why}): it starts empty.")
            applied = None
        if applied is None:
            self.forget_saved_state()
            return None, True
        return applied, changed

    def check_restored(self, aws_endpoint: str, applied: dict) -> dict | None:
        """`applied`, once the embedded AWS says it restored the saved state; None (said why, and
        forgotten the rest) when it could not, and started empty."""
        status, body = aws.private(aws_endpoint, "snapshot")
        answer = json.loads(body) if status == 200 else {"problem": f"{status} {body[:200]!r}"}
        if answer.get("restored"):
            return applied
        self.say(f"The saved state of the embedded AWS is not restored ({answer.get('problem')}): it starts empty.")
        self.forget_saved_state()
        return None

    def forget_saved_state(self) -> None:
        """Before the root is applied to an empty embedded AWS: nothing of an earlier one comes back."""
        self.paths.aws_state.unlink(missing_ok=True)
        self.paths.apply_record.unlink(missing_ok=True)
        shutil.rmtree(self.paths.data_plane / "cognito-keys", ignore_errors=True)  # keys of pools that are gone

    def apply_recorded(self, env: dict[str, str], extra_vars: dict[str, str], fresh_state: bool,
                       var_files: list[Path] | None = None) -> dict:
        """apply(), and the record that lets the next start skip it: removed first (an apply that is
        interrupted leaves none, and the next start is from scratch), written once the embedded AWS
        has saved the state the apply left. A failed apply is recorded too (Terraform kept its state
        of what it did), with no digest: the next start applies again."""
        self.paths.apply_record.unlink(missing_ok=True)
        var_files = self.var_files if var_files is None else var_files
        record = applied_root(self.paths)
        # The tree of the last apply of this root, when there is one: finding it anew parses every
        # module (0.5 s). If it moved, the digest differs next time and the root is applied once more.
        tree = Path(record.get("tree", record["root"])) if record and record.get("root") == str(self.repo) else None
        try:
            digest = self.inputs_digest(tree or self.source_tree(), extra_vars, var_files)
        except OSError:
            digest = None  # apply names what cannot be read
        try:
            outputs = self.apply(env, extra_vars, fresh_state, var_files)
        except StackError:
            self.record_apply(env["AWS_ENDPOINT_URL"], None, None)
            raise
        self.record_apply(env["AWS_ENDPOINT_URL"], digest, outputs)
        return outputs

    def record_apply(self, aws_endpoint: str, digest: str | None, outputs: dict | None) -> None:
        self.embedded_aws_ready()  # a root that reached no AWS may be applied before it serves
        try:
            status, body = aws.private(aws_endpoint, "snapshot", {})
        except OSError as error:
            status, body = None, str(error).encode()
        if status != 200:
            self.say(f"warning: the embedded AWS did not save its state ({status} {body[:300]!r}); "
                     "the next start applies the root from scratch.")
            return
        _write_json(self.paths.apply_record, {"root": str(self.repo), "inputs": digest, "outputs": outputs})


def _write_json(path: Path, value: dict) -> None:
    """Write the file whole or not at all (a partial file renamed over it), readable by the user only."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(value, indent=2) + "\n")
    os.replace(partial, path)


def _read_json(path: Path) -> dict:
    """A JSON object file's contents; {} when it is missing or not a JSON object."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def reset(paths: Paths, out: IO[str] = sys.stdout) -> int:
    """`make local-reset`: delete what a restart would restore, so the next start is from scratch:
    the embedded AWS's saved state, the Terraform state, the apply record, the Cognito signing
    keys (the whole data plane work dir) and the demo user's password. Kept: the working copy's
    sources and installed provider, the lock file init wrote, the logs. Refused while a stack runs
    on the state dir (StackError)."""
    if not paths.base.is_dir():
        print(f"Nothing to reset: {paths.base} does not exist.", file=out)
        return 0
    refusal = (f"cannot reset {paths.base}: make local is running on it (pid {{pid}}). Stop it first, with Ctrl-C in "
               f"its terminal or `make local-down` (`local-aws down --state-dir {paths.base}`), then reset.")
    with Stack(paths=paths, out=out).exclusive(refusal):
        for path in (paths.aws_state, paths.aws_state.with_name(paths.aws_state.name + ".partial"),
                     paths.apply_record, paths.demo_user, paths.stack_json):
            path.unlink(missing_ok=True)
        shutil.rmtree(paths.data_plane, ignore_errors=True)
        if paths.root.is_dir():
            for state in paths.root.rglob("*.tfstate*"):
                if ".terraform" not in state.relative_to(paths.root).parts:
                    state.unlink()
    print(f"Reset {paths.base}: the embedded AWS's saved state, the Terraform state, the Cognito signing keys and the "
          "demo user's password are deleted; the next start applies the root from scratch.", file=out)
    return 0


# -- what the embedded AWS holds, in every region ----------------------------------------------

# Why each kind of resource that a root may hold is not served (named at startup, never silently absent).
NOT_SERVED_WHY = {
    "WebSocket API": "WebSocket APIs are not emulated; the local stack serves HTTP APIs",
    "Lambda function URL": "function URLs are not served; the function runs only behind an HTTP API route",
}


# Settings that change no request's answer locally: named at startup, never silently ignored.
NOT_EMULATED_WHY = {
    "VpcConfig": "a function's VPC placement: locally it runs on this machine's network",
    "TracingConfig": "X-Ray tracing: no trace is recorded locally",
    "KMSKeyArn": "the KMS key of a function's environment variables: they are passed in clear locally",
    "ReservedConcurrentExecutions": "reserved concurrency: not enforced locally (at most 10 environments a function)",
    "CloudWatch alarm": "alarms are not evaluated locally (no metrics are emitted)",
    "MfaConfiguration": "MFA: the local sign-in form asks for no second factor",
    "EmailConfiguration": "the pool's email sending: no email is sent locally",
    "UserPoolTier": "the feature plan: locally every feature emulated is available on any tier",
    "Identity provider": "federation is not emulated: /oauth2/authorize refuses identity_provider other than COGNITO",
    "ManagedLoginVersion": "managed login (version 2) and its branding: the local domain serves a plain sign-in form",
    "EphemeralStorage": "the size of /tmp: not enforced locally (a directory of this machine)",
    "DetailedMetricsEnabled": "per-route metrics: no metrics are emitted locally",
}


def not_emulated_entry(region: str, kind: str, resource_id: str, name: str, setting: str, value: str,
                       why: str | None = None) -> dict:
    return {"region": region, "kind": kind, "id": resource_id, "name": name, "setting": setting, "value": value,
            "why": why or NOT_EMULATED_WHY[setting]}


def pool_not_emulated(cognito, region: str, described: dict) -> list[dict]:
    """A pool's settings that the local stack does not emulate (its triggers other than pre token
    generation, MFA, email sending, tier, identity providers)."""
    pool_id, name = described["Id"], described.get("Name", "")
    found = [not_emulated_entry(region, "user pool", pool_id, name, f"LambdaConfig.{key}", value,
                                f"{why}: not emulated, never invoked locally")
             for key, value, why in not_emulated_triggers(described.get("LambdaConfig"))]
    if described.get("MfaConfiguration") not in (None, "OFF"):
        found.append(not_emulated_entry(region, "user pool", pool_id, name, "MfaConfiguration",
                                        described["MfaConfiguration"]))
    email = described.get("EmailConfiguration") or {}
    if email.get("EmailSendingAccount") == "DEVELOPER" or email.get("SourceArn"):
        found.append(not_emulated_entry(region, "user pool", pool_id, name, "EmailConfiguration",
                                        email.get("SourceArn") or email.get("EmailSendingAccount", "")))
    if described.get("UserPoolTier"):
        found.append(not_emulated_entry(region, "user pool", pool_id, name, "UserPoolTier", described["UserPoolTier"]))
    if described.get("Domain"):
        domain = cognito.describe_user_pool_domain(Domain=described["Domain"]).get("DomainDescription") or {}
        if domain.get("ManagedLoginVersion") == 2:
            found.append(not_emulated_entry(region, "user pool", pool_id, name, "ManagedLoginVersion", "2"))
    for provider in aws.pages(cognito.list_identity_providers, "Providers", "NextToken", UserPoolId=pool_id, MaxResults=60):
        found.append(not_emulated_entry(region, "user pool", pool_id, name, "Identity provider",
                                        f"{provider['ProviderName']} ({provider.get('ProviderType', '')})"))
    return found


def function_not_emulated(lam, region: str, function: dict) -> list[dict]:
    """A function's settings that change no answer locally (VPC, tracing, KMS key, /tmp size, reserved concurrency)."""
    name = function["FunctionName"]
    found = []

    def add(setting: str, value: str) -> None:
        found.append(not_emulated_entry(region, "Lambda function", name, name, setting, value))

    vpc = function.get("VpcConfig") or {}
    if vpc.get("SubnetIds") or vpc.get("SecurityGroupIds"):
        add("VpcConfig", ", ".join(vpc.get("SubnetIds", []) + vpc.get("SecurityGroupIds", [])))
    if (function.get("TracingConfig") or {}).get("Mode") == "Active":
        add("TracingConfig", "Active")
    if function.get("KMSKeyArn"):
        add("KMSKeyArn", function["KMSKeyArn"])
    storage = (function.get("EphemeralStorage") or {}).get("Size", 512)
    if storage != 512:
        add("EphemeralStorage", f"{storage} MB")
    reserved = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
    if reserved is not None:
        add("ReservedConcurrentExecutions", str(reserved))
    return found


def _regions_first_default(regions: list[str]) -> list[str]:
    """The default region first (where a root without a region setting puts everything), then the others."""
    return sorted(regions, key=lambda region: (region != REGION, region))


def inventory(aws_endpoint: str) -> dict:
    """Pools (with clients), HTTP APIs, functions (with log groups) and what is not served, each with
    its region, from every region the embedded AWS holds anything in."""
    services = {service: _regions_first_default(aws.regions(aws_endpoint, service))
                for service in ("cognito-idp", "apigatewayv2", "apigateway", "lambda")}  # REST APIs: rest_gateway.py
    pools: list[dict] = []
    not_emulated: list[dict] = []
    for region in services["cognito-idp"]:
        cognito = aws.client("cognito-idp", aws_endpoint, region)
        for pool in aws.pages(cognito.list_user_pools, "UserPools", "NextToken", MaxResults=60):
            described = cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
            not_emulated += pool_not_emulated(cognito, region, described)
            clients = {}
            for summary in aws.pages(cognito.list_user_pool_clients, "UserPoolClients", "NextToken",
                                  UserPoolId=pool["Id"], MaxResults=60):
                client = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=summary["ClientId"])["UserPoolClient"]
                clients[client["ClientName"]] = {"id": client["ClientId"]} | (
                    {"secret": client["ClientSecret"]} if client.get("ClientSecret") else {}
                ) | {"callback_urls": client.get("CallbackURLs", [])}
            pools.append({"id": pool["Id"], "name": pool["Name"], "region": region,
                          "issuer": aws.issuer(region, pool["Id"]), "domain": described.get("Domain") or None,
                          "clients": clients})
    apis: dict[str, dict] = {}
    not_served: list[dict] = []

    def unserved(region: str, kind: str, resource_id: str, name: str) -> None:
        not_served.append({"region": region, "kind": kind, "id": resource_id, "name": name, "why": NOT_SERVED_WHY[kind]})

    for region in services["apigatewayv2"]:
        for api in aws.pages(aws.client("apigatewayv2", aws_endpoint, region).get_apis, "Items", "NextToken"):
            if api.get("ProtocolType") == "WEBSOCKET":
                unserved(region, "WebSocket API", api["ApiId"], api.get("Name", ""))
            else:
                apis[api["ApiId"]] = {"name": api.get("Name", ""), "region": region}
                for stage in aws.pages(aws.client("apigatewayv2", aws_endpoint, region).get_stages, "Items", "NextToken",
                                    ApiId=api["ApiId"]):
                    if (stage.get("DefaultRouteSettings") or {}).get("DetailedMetricsEnabled"):
                        not_emulated.append(not_emulated_entry(region, "HTTP API stage", f"{api['ApiId']}/{stage['StageName']}",
                                                               api.get("Name", ""), "DetailedMetricsEnabled", "true"))
    functions: list[dict] = []
    for region in services["lambda"]:
        lam = aws.client("lambda", aws_endpoint, region)
        for function in aws.pages(lam.list_functions, "Functions", "NextMarker", "Marker"):
            name = function["FunctionName"]
            log_group = (function.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"
            functions.append({"name": name, "arn": function["FunctionArn"], "region": region, "log_group": log_group})
            not_emulated += function_not_emulated(lam, region, function)
            try:  # moto has no ListFunctionUrlConfigs: one GetFunctionUrlConfig per function
                lam.get_function_url_config(FunctionName=name)
            except lam.exceptions.ResourceNotFoundException:
                continue
            unserved(region, "Lambda function URL", name, name)
    for region in _regions_first_default(aws.regions(aws_endpoint, "cloudwatch")):
        cloudwatch = aws.client("cloudwatch", aws_endpoint, region)
        for alarm in aws.pages(cloudwatch.describe_alarms, "MetricAlarms", "NextToken"):
            not_emulated.append(not_emulated_entry(region, "CloudWatch alarm", alarm["AlarmName"], alarm["AlarmName"],
                                                   "CloudWatch alarm", alarm.get("MetricName", "")))
    regions = _regions_first_default(sorted({r for found in services.values() for r in found}))
    return {"regions": regions, "user_pools": pools, "apis": apis, "functions": functions, "not_served": not_served,
            "not_emulated": not_emulated}


# -- app clients, for `token` and the pytest plugin ---------------------------------------------

class ClientLookupError(StackError):
    """No such app client, or several of that name: `flag` is the option the user should change."""

    def __init__(self, flag: str, message: str):
        super().__init__(message)
        self.flag = flag


@dataclass(frozen=True)
class FoundClient:
    """An app client of stack.json, with what a token request needs: its pool's domain URL."""

    name: str
    id: str
    secret: str | None
    callback_urls: tuple[str, ...]
    pool_id: str | None
    region: str | None
    auth_url: str


def find_client(description: dict, name: str, pool: str | None = None) -> FoundClient:
    """The app client `name` in whichever user pool of stack.json holds it; `pool` (an id or a name)
    picks one when several do. Raises ClientLookupError naming the flag to change (--client, --pool)."""
    pools = description.get("user_pools")
    if pools is None:  # a stack.json of one pool, before user_pools existed
        pools = [{"id": description.get("user_pool_id"), "name": None, "region": None,
                  "clients": description.get("clients") or {}, "auth_url": description.get("auth_url")}]
    if pool is not None:
        chosen = [p for p in pools if pool in (p.get("id"), p.get("name"))]
        if not chosen:
            known = ", ".join(f"{p['id']} ({p['name']})" for p in pools) or "none"
            raise ClientLookupError("--pool", f"--pool {pool}: no such user pool (there are: {known})")
        if len(chosen) > 1:
            raise ClientLookupError("--pool", f"--pool {pool}: {len(chosen)} user pools have this name "
                                    f"({', '.join(p['id'] for p in chosen)}); give the pool id")
        pools = chosen
    holders = [p for p in pools if name in (p.get("clients") or {})]
    if not holders:
        known = sorted({client for p in pools for client in p.get("clients") or {}})
        where = f" of user pool {pool}" if pool is not None else ""
        raise ClientLookupError("--client", f"--client {name}: no such app client{where} "
                                f"(there are: {', '.join(known) or 'none'})")
    if len(holders) > 1:
        raise ClientLookupError("--pool", f"--client {name}: {len(holders)} user pools have an app client of this name ("
                                + ", ".join(f"{p['id']} ({p['name']})" for p in holders)
                                + "): choose one with --pool ID_OR_NAME")
    holder = holders[0]
    auth_url = holder.get("auth_url", description.get("auth_url"))
    if not auth_url:
        raise ClientLookupError("--client", f"--client {name}: its user pool {holder['id']} has no domain, "
                                "so it has no token endpoint")
    client = holder["clients"][name]
    return FoundClient(name, client["id"], client.get("secret"), tuple(client.get("callback_urls") or ()),
                       holder.get("id"), holder.get("region"), auth_url)


def walkthrough(d: dict, seconds: float, paths: Paths) -> str:
    """What make local prints when ready: where things are, and commands to paste, with live values."""
    api = d["api_url"] or next(iter(d["apis"].values()), {}).get("url")
    # In this repository (make local) the venv's interpreter; elsewhere the installed command.
    cli = ".venv/bin/python -m local_aws" if Path.cwd().resolve() == REPO else "local-aws"
    state = "" if paths.base == REPO / ".local" else f" --state-dir {paths.base}"
    regions = d.get("regions") or [d["region"]]
    lines = [f"Local stack ready in {seconds:.1f} s."]
    apis, pools = d.get("apis") or {}, d.get("user_pools") or []
    if len(apis) > 1:
        lines += [f"  API           {a['url']}   ({a['name']}, {a['region']})" for a in apis.values()]
    else:
        lines.append(f"  API           {api}")
    if len(pools) > 1:
        lines += [f"  Cognito       {p['auth_url'] or '(no domain)'}   ({p['name']}: issuer {p['issuer']})" for p in pools]
    else:
        lines.append(f"  Cognito       {d['auth_url']}   (issuer {d['issuer']})")
    for api_id, rest in sorted((d.get("rest_apis") or {}).items()):  # spec H: one URL per VPC endpoint
        lines += [f"  REST API      {url}   ({rest['name']}{', private' if rest['private'] else ''}; "
                  f"{'the internet' if via == 'internet' else 'through ' + via})" for via, url in rest["urls"].items()]
    lines.append(f"  Embedded AWS  {d['aws_endpoint_url']}   (region{'s' if len(regions) > 1 else ''} {', '.join(regions)}; "
                 "AWS_ENDPOINT_URL for the AWS CLI or boto3)")
    demo = d.get("demo_user")
    if demo:
        lines.append(f"  Demo user     {demo['username']} / {demo['password']}")
    lines.append(f"  Everything, as JSON: {paths.stack_json}")
    if d.get("not_served"):
        lines += ["", "Not served by the local stack (the root has them; nothing answers for them here):"]
        lines += [f"  {n['kind']} {n['id']}" + (f" ({n['name']})" if n["name"] and n["name"] != n["id"] else "")
                  + f" in {n['region']}: {n['why']}" for n in d["not_served"]]
    if d.get("not_emulated"):
        lines += ["", "Not emulated, no effect locally (the root sets them; the local stack ignores them, by name):"]
        lines += [f"  {n['kind']} {n['id']}" + (f" ({n['name']})" if n["name"] and n["name"] != n["id"] else "")
                  + f" in {n['region']}: {n['setting']} = {n['value']}: {n['why']}" for n in d["not_emulated"]]
    apply_hint = f"{cli} apply{state}" if state else "make local-apply"
    if api and _is_this_repository(d):
        lines += ["", "Try it from another shell:",
                  f"  curl -s {api}/hello",
                  f"  TOKEN=$({cli} token{state} --client machine)",
                  f"  curl -s -H \"Authorization: Bearer $TOKEN\" {api}/profile"]
        if demo:
            sign_in = f"--client spa --username {demo['username']} --password '{demo['password']}'"
            bearer = "-H \"Authorization: Bearer $USER_TOKEN\""
            lines += [f"  USER_TOKEN=$({cli} token{state} {sign_in})",
                      f"  curl -s {bearer} {api}/profile",
                      f"  curl -s -X POST {bearer} -H 'content-type: application/json' -H 'idempotency-key: first' "
                      f"-d '{{\"title\":\"First note\",\"content\":\"Hello\"}}' {api}/notes",
                      f"  curl -s {bearer} '{api}/notes?limit=10'          # newest first; pass ?cursor=<next> for more",
                      f"  NOTE=$(curl -s {bearer} {api}/notes | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"notes\"][0][\"id\"])')",
                      f"  curl -s {bearer} {api}/notes/$NOTE",
                      f"  curl -si -X DELETE {bearer} {api}/notes/$NOTE    # 204; then 404, as for anyone else's note",
                      "", "Refused, as on AWS (the handler never runs):",
                      f"  curl -si {api}/profile                     # 401: no Authorization header",
                      f"  ID_TOKEN=$({cli} token{state} {sign_in} --id-token)",
                      f"  curl -si -H \"Authorization: Bearer $ID_TOKEN\" {api}/profile   # 403: an ID token carries no scope"]
        lines += [f"  READ_ONLY=$({cli} token{state} --client machine --scope notes-api/read)",
                  f"  curl -si -X POST -H \"Authorization: Bearer $READ_ONLY\" -d '{{}}' {api}/notes   # 403: needs notes-api/write",
                  f"  curl -si {api}/notes/stats?owner=x         # 403: an AWS_IAM route needs a SigV4 signature"]
    elif api or pools:
        clients = sorted({name for p in pools for name in p.get("clients", {})})
        lines += ["", "From another shell:",
                  f"  {cli} token{state} --client NAME      # a token (clients: {', '.join(clients) or 'none'}); --username/--password to sign in",
                  f"  {cli} audit{state}                    # every route attacked; exit 0 when each refuses what it must"]
    if api:
        lines += ["", f"Edit a handler, then `{apply_hint}`: the change is served without a restart."]
    lines += ["", f"Stop with Ctrl-C here, or `{f'{cli} down{state}' if state else 'make local-down'}`."]
    return "\n".join(lines)


def _is_this_repository(d: dict) -> bool:
    """Whether the root is this repository's own (its walkthrough names its routes and clients)."""
    names = (d.get("outputs") or {}).get("function_names") or {}
    return {"hello", "profile", "create_note"} <= set(names) and {"machine", "spa"} <= set(d.get("clients") or {})


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
