"""Running Terraform from this project's tools and tests: where the AWS provider comes from.

The provider is installed from an unpacked filesystem mirror when one is named by
TF_PROVIDER_MIRROR (or found at a conventional path), else from the registry as usual. Either
way a root's committed .terraform.lock.hcl is honoured, so every root uses the same provider
build; a root without one gets one in its working copy (see stack.py), never in its own folder.

`declared_variables` reads which input variables a root declares, `local_module_dirs` which local
modules it calls (python-hcl2 for *.tf, json for *.tf.json), so that only those variables are
passed to it and its working copy holds the modules it needs. python-hcl2 takes about 0.1 s a
file (1.2 s for this repository's root and modules on a busy machine): each file is parsed once
a process, and with a parse cache file once for as long as its text stays the same.

`init_needed` tells whether a working copy must be initialised again (see its docstring).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any, Callable

MIRROR_ENV = "TF_PROVIDER_MIRROR"
PROVIDER = "registry.terraform.io/hashicorp/aws"
# Checked in order when TF_PROVIDER_MIRROR is unset: conventional places for an unpacked mirror.
MIRROR_CANDIDATES = (
    "/opt/tf-plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "~/.terraform.d/plugins",
)


def provider_mirror() -> Path | None:
    """The unpacked provider mirror to install hashicorp/aws from, or None for the registry."""
    named = os.environ.get(MIRROR_ENV)
    if named:
        path = Path(named).expanduser()
        if not (path / PROVIDER).is_dir():
            raise SystemExit(f"{MIRROR_ENV}={named}: no {PROVIDER} under it (expected an unpacked mirror)")
        return path
    for candidate in MIRROR_CANDIDATES:
        path = Path(candidate).expanduser()
        if (path / PROVIDER).is_dir():
            return path
    return None


def cli_config(directory: Path) -> Path:
    """Write a Terraform CLI configuration into `directory` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    mirror = provider_mirror()
    if mirror is None:
        text = "# hashicorp/aws from the registry\n"
    else:
        text = (
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{PROVIDER}"]\n  }}\n'
            f'  direct {{\n    exclude = ["{PROVIDER}"]\n  }}\n'
            "}\n"
        )
    path = directory / "terraform.tfrc"
    path.write_text(text)
    return path


# The caller's own Terraform settings would change what is planned or applied here: variables,
# extra arguments, the workspace, another data dir.
_CALLER_SETTINGS = ("TF_VAR_", "TF_CLI_ARGS", "TF_WORKSPACE", "TF_DATA_DIR")


def terraform_env(config_dir: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for non-interactive Terraform runs using the CLI config written in config_dir."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith(_CALLER_SETTINGS)}
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config(config_dir)),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
    )
    # Go's collector for Terraform and the provider, unless the caller tuned it: measured on an
    # apply of this repository's root, GOGC=400 takes 15 % less CPU (8.9 s -> 7.5 s) for 70 MB
    # more memory at the peak (480 -> 545 MB).
    env.setdefault("GOGC", "400")
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], *, quiet: bool = False, check: bool = True,
        log: IO[str] | None = None, watch: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `terraform <args>` in cwd. Its output streams, or goes to `log`, or with quiet is captured
    (stdout and stderr apart, both shown on failure). A failure raises TerraformError unless not check.
    `watch` (with `log` only) is called every 0.2 s while Terraform runs: what it raises stops
    Terraform and is raised here (say, the AWS it applies to failed to start)."""
    if log is not None:
        streams = {"stdout": log, "stderr": subprocess.STDOUT}
    else:
        streams = {"capture_output": True} if quiet else {}
    if watch is not None and log is not None:
        result = _watched(["terraform", *args, "-no-color"], cwd, env, log, watch)
    else:
        result = subprocess.run(["terraform", *args, "-no-color"], cwd=cwd, env=env, text=True, **streams)
    if check and result.returncode != 0:
        shown = "".join(f"\n{text}" for text in (result.stdout, result.stderr) if text)
        raise TerraformError(f"terraform {args[0]} failed in {cwd} (exit {result.returncode}){shown}")
    return result


def _watched(command: list[str], cwd: Path, env: dict[str, str], log: IO[str],
             watch: Callable[[], None]) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen(command, cwd=cwd, env=env, text=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        while True:
            try:
                process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                watch()
    except BaseException:
        process.terminate()  # Terraform stops what it does, and writes what it did into its state
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    return subprocess.CompletedProcess(command, process.returncode)


def outputs(cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """The root's outputs as plain values (sensitive ones included: the caller decides what to show)."""
    result = run(["output", "-json"], cwd, env, quiet=True)
    return {name: output["value"] for name, output in json.loads(result.stdout).items()}


def state_outputs(workdir: Path, since: float) -> dict[str, Any] | None:
    """The root's outputs as `outputs` gives them, read from the local state an apply in workdir
    wrote at or after `since` (a time.time()); None when there is no such state (another backend,
    an older file, another format): then ask `terraform output`. Reading the file spares a
    Terraform process, which hashes the whole provider before it answers (half a second)."""
    path = workdir / "terraform.tfstate"
    try:
        if path.stat().st_mtime < since:
            return None
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("version") != 4 or not isinstance(state.get("outputs"), dict):
        return None
    return {name: output["value"] for name, output in state["outputs"].items()}


LOCK_FILE = ".terraform.lock.hcl"


def init_args(has_own_lock: bool) -> list[str]:
    """`terraform init` for a working copy: a root's own lock file is the law (readonly); without
    one, init writes a lock into the working copy and keeps to it on later inits."""
    return ["init", "-input=false", *(["-lockfile=readonly"] if has_own_lock else [])]


# In Terraform's data dir, so that removing .terraform also forgets that it was initialised.
INIT_RECORD = Path(".terraform") / "local-aws-init"
# What init reads besides the configuration: the lock file, test files that call modules.
_INIT_FILE_SUFFIXES = (".tf", ".tf.json", ".hcl", ".tftest.json")


def _init_inputs(workdir: Path, tree: Path, args: list[str], env: dict[str, str]) -> str:
    """A digest of everything `terraform init` in workdir reads: its arguments, the terraform
    binary, the TF_* settings and the CLI configuration (where providers come from), the lock
    file, and the text of every configuration file of the working copy (the root's and its local
    modules': module calls, provider requirements, backend)."""
    digest = hashlib.sha256(json.dumps(args).encode())
    binary = shutil.which("terraform", path=env.get("PATH"))
    if binary:
        stat = Path(binary).stat()
        digest.update(f"\0{binary}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    for name, value in sorted(env.items()):
        if name.startswith("TF_") and not name.startswith("TF_LOG"):
            digest.update(f"\0{name}={value}".encode())
    config = env.get("TF_CLI_CONFIG_FILE")
    if config and Path(config).is_file():
        digest.update(b"\0" + Path(config).read_bytes())
    digest.update(f"\0{workdir.relative_to(tree)}".encode())
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree)
        if ".terraform" not in relative.parts and path.name.endswith(_INIT_FILE_SUFFIXES) and path.is_file():
            digest.update(f"\0{relative}\0".encode() + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def init(workdir: Path, tree: Path, args: list[str], env: dict[str, str], log: IO[str]) -> bool:
    """`terraform init <args>` in workdir (inside the working copy `tree`), unless the last one
    there succeeded with the very same inputs (see _init_inputs): then it would install and write
    nothing, and skipping it saves its second or so (hashing the provider, for one). Returns
    whether init ran; a skipped one says so in the log."""
    record = workdir / INIT_RECORD
    try:
        if record.read_text() == _init_inputs(workdir, tree, args, env):
            log.write("terraform init: skipped, the working copy is initialised for this configuration, "
                      "lock file and provider installation (local_aws)\n")
            log.flush()  # before what the next command writes to the same file
            return False
    except OSError:
        pass
    record.unlink(missing_ok=True)  # an init that fails must not leave the previous record standing
    log.flush()
    run(args, workdir, env, log=log)
    record.parent.mkdir(exist_ok=True)  # init makes no data dir for a root with nothing to install
    record.write_text(_init_inputs(workdir, tree, args, env))  # with the lock file init may have written
    return True


def configuration_files(root: Path) -> list[Path]:
    """The files Terraform reads as the root module's configuration (test files aside)."""
    return sorted([*root.glob("*.tf"), *root.glob("*.tf.json")])


def _blocks(document: Any, block_type: str) -> dict[str, Any]:
    """{label: body} of one block type, from python-hcl2's or the JSON syntax's shape: a list of
    {label: body} objects, or one object of them (python-hcl2 keeps a quoted label's quotes)."""
    blocks = document.get(block_type, []) if isinstance(document, dict) else []
    found = {}
    for block in blocks if isinstance(blocks, list) else [blocks]:
        if isinstance(block, dict):
            found.update({label.strip('"'): body for label, body in block.items()})
    return found


# Parsed documents by the sha256 of their text (a document depends on nothing else).
_PARSED: dict[str, Any] = {}
PARSE_CACHE_ENTRIES = 256  # a cache file keeps the latest this many: a few roots' worth


def _stored(cache: Path | None) -> dict[str, Any]:
    """The documents a parse cache file holds (none if it is missing, unreadable or of another
    python-hcl2, whose documents may have another shape)."""
    if cache is None:
        return {}
    try:
        stored = json.loads(cache.read_text())
        return dict(stored["documents"]) if stored.get("python-hcl2") == version("python-hcl2") else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _store(cache: Path | None, documents: dict[str, Any]) -> None:
    if cache is None:
        return
    kept = dict(list(documents.items())[-PARSE_CACHE_ENTRIES:])
    partial = cache.with_name(cache.name + ".partial")
    try:
        partial.write_text(json.dumps({"python-hcl2": version("python-hcl2"), "documents": kept}))
        os.replace(partial, cache)
    except OSError:  # a cache: without it the next process parses again, nothing more
        pass


def _documents(directory: Path, stored: dict[str, Any]) -> list[Any]:
    """Each configuration file of a module, parsed, or as `stored` (a parse cache's documents)
    holds it for the same text; what is parsed here is added to `stored`. A file that cannot be
    parsed is a TerraformError naming it and the line: what it declares would be unknown, so
    nothing is guessed (and nothing kept)."""
    documents = []
    for path in configuration_files(directory):
        try:
            text = path.read_text()
            json_syntax = path.name.endswith(".tf.json")
            key = f"{'json' if json_syntax else 'hcl'}:{hashlib.sha256(text.encode()).hexdigest()}"
            if key not in _PARSED:
                if key in stored:
                    _PARSED[key] = stored[key]
                elif json_syntax:
                    _PARSED[key] = json.loads(text)
                else:
                    import hcl2  # here, not at the top: 0.15 s of imports that a warm start does without

                    _PARSED[key] = hcl2.loads(text)
            if key not in stored:
                stored[key] = _PARSED[key]
            documents.append(_PARSED[key])
        except Exception as error:  # lark's parse errors, JSONDecodeError, a bad encoding: all "unreadable"
            line = getattr(error, "line", None) or getattr(error, "lineno", None)
            where = f"{path} line {line}" if line else str(path)
            raise TerraformError(f"{where}: cannot be parsed, so what it declares is unknown "
                                 "(`terraform validate` in the root says what is wrong)") from None
    return documents


def _with_parse_cache(cache: Path | None, read: Callable[[dict[str, Any]], Any]) -> Any:
    """read(stored) with the cache's documents, and the cache file updated if it learnt any."""
    stored = _stored(cache)
    known = len(stored)
    found = read(stored)
    if len(stored) > known:
        _store(cache, stored)
    return found


def declared_variables(root: Path, parse_cache: Path | None = None) -> set[str]:
    """Names of the input variables the root module declares. With `parse_cache` (a JSON file),
    files whose text did not change since they were last parsed are not parsed again."""
    return _with_parse_cache(parse_cache, lambda stored: {
        name for document in _documents(root, stored) for name in _blocks(document, "variable")})


def local_module_dirs(root: Path, parse_cache: Path | None = None) -> set[Path]:
    """Directories of the local modules (a source starting with ./ or ../) the root calls, and
    those they call in turn, resolved. `parse_cache` as for declared_variables."""

    def read(stored: dict[str, Any]) -> set[Path]:
        found: set[Path] = set()
        pending = [root.resolve()]
        while pending:
            directory = pending.pop()
            for document in _documents(directory, stored):
                for body in _blocks(document, "module").values():
                    source = body.get("source") if isinstance(body, dict) else None
                    if isinstance(source, str) and source.strip('"').startswith(("./", "../")):
                        called = (directory / source.strip('"')).resolve()
                        if called not in found and called.is_dir():
                            found.add(called)
                            pending.append(called)
        return found

    return _with_parse_cache(parse_cache, read)


class TerraformError(RuntimeError):
    """A Terraform command failed; its message says which and where."""
