"""Running Terraform from this project's tools and tests: where the AWS provider comes from.

The provider is installed from an unpacked filesystem mirror when one is named by
TF_PROVIDER_MIRROR (or found at a conventional path), else from the registry as usual. Either
way a root's committed .terraform.lock.hcl is honoured, so every root uses the same provider
build; a root without one gets one in its working copy (see stack.py), never in its own folder.

`declared_variables` reads which input variables a root declares, `local_module_dirs` which local
modules it calls (python-hcl2 for *.tf, json for *.tf.json), so that only those variables are
passed to it and its working copy holds the modules it needs.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import IO, Any

import hcl2

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
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], *, quiet: bool = False, check: bool = True,
        log: IO[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `terraform <args>` in cwd. Its output streams, or goes to `log`, or with quiet is captured
    (stdout and stderr apart, both shown on failure). A failure raises TerraformError unless not check."""
    if log is not None:
        streams = {"stdout": log, "stderr": subprocess.STDOUT}
    else:
        streams = {"capture_output": True} if quiet else {}
    result = subprocess.run(["terraform", *args, "-no-color"], cwd=cwd, env=env, text=True, **streams)
    if check and result.returncode != 0:
        shown = "".join(f"\n{text}" for text in (result.stdout, result.stderr) if text)
        raise TerraformError(f"terraform {args[0]} failed in {cwd} (exit {result.returncode}){shown}")
    return result


def outputs(cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """The root's outputs as plain values (sensitive ones included: the caller decides what to show)."""
    result = run(["output", "-json"], cwd, env, quiet=True)
    return {name: output["value"] for name, output in json.loads(result.stdout).items()}


LOCK_FILE = ".terraform.lock.hcl"


def init_args(has_own_lock: bool) -> list[str]:
    """`terraform init` for a working copy: a root's own lock file is the law (readonly); without
    one, init writes a lock into the working copy and keeps to it on later inits."""
    return ["init", "-input=false", *(["-lockfile=readonly"] if has_own_lock else [])]


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


def _documents(directory: Path) -> list[Any]:
    """Each configuration file of a module, parsed. A file that cannot be parsed is a TerraformError
    naming it and the line: what it declares would be unknown, so nothing is guessed."""
    documents = []
    for path in configuration_files(directory):
        try:
            if path.name.endswith(".tf.json"):
                documents.append(json.loads(path.read_text()))
            else:
                documents.append(hcl2.loads(path.read_text()))
        except Exception as error:  # lark's parse errors, JSONDecodeError, a bad encoding: all "unreadable"
            line = getattr(error, "line", None) or getattr(error, "lineno", None)
            where = f"{path} line {line}" if line else str(path)
            raise TerraformError(f"{where}: cannot be parsed, so what it declares is unknown "
                                 "(`terraform validate` in the root says what is wrong)") from None
    return documents


def declared_variables(root: Path) -> set[str]:
    """Names of the input variables the root module declares."""
    return {name for document in _documents(root) for name in _blocks(document, "variable")}


def local_module_dirs(root: Path) -> set[Path]:
    """Directories of the local modules (a source starting with ./ or ../) the root calls, and
    those they call in turn, resolved."""
    found: set[Path] = set()
    pending = [root.resolve()]
    while pending:
        directory = pending.pop()
        for document in _documents(directory):
            for body in _blocks(document, "module").values():
                source = body.get("source") if isinstance(body, dict) else None
                if isinstance(source, str) and source.strip('"').startswith(("./", "../")):
                    called = (directory / source.strip('"')).resolve()
                    if called not in found and called.is_dir():
                        found.add(called)
                        pending.append(called)
    return found


class TerraformError(RuntimeError):
    """A Terraform command failed; its message says which and where."""
