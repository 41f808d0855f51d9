"""Static checks over all Terraform: formatting, validation of every root, and checkov."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.tfharness import REPO

CHECKOV = REPO / ".venv" / "checkov" / "bin" / "checkov"
# Every root a user may run or import: the repository root, each module, each example.
ROOTS = ["."] + sorted(str(p.parent.relative_to(REPO)) for p in REPO.glob("modules/*/main.tf")) + sorted(
    str(p.parent.relative_to(REPO)) for p in REPO.glob("examples/*/main.tf")
)
TERRAFORM_FILES = [p for p in REPO.rglob("*.tf") if not {".venv", ".terraform", ".local", ".build"} & set(p.parts)]


def test_terraform_fmt() -> None:
    result = subprocess.run(["terraform", "fmt", "-check", "-recursive", "-list=true", str(REPO)], capture_output=True, text=True)
    assert result.returncode == 0, f"not formatted (run `terraform fmt -recursive`):\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("root", [pytest.param(r, marks=pytest.mark.xdist_group(r)) for r in ROOTS])
def test_terraform_validate(tf, root: str) -> None:
    result = tf.root(root).run("validate", "-json", check=False)
    report = json.loads(result.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


def test_checkov_has_no_failed_checks() -> None:
    # tests/ holds plan fixtures and the offline provider settings, not deployable Terraform.
    result = subprocess.run(
        [str(CHECKOV), "-d", str(REPO), "--framework", "terraform", "--skip-path", ".venv", "--skip-path", "tests",
         "--skip-download", "--quiet", "--compact", "-o", "json"],
        capture_output=True, text=True, cwd=REPO,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for r in reports for c in r["results"]["failed_checks"]]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 0, "checkov scanned nothing"


def test_every_checkov_skip_has_a_reason() -> None:
    skips = [(p, line.strip()) for p in TERRAFORM_FILES for line in p.read_text().splitlines() if "checkov:skip" in line]
    unjustified = [f"{p.relative_to(REPO)}: {line}" for p, line in skips if not re.search(r"#checkov:skip=CKV2?_[A-Z]+_\d+:\S.{15,}", line)]
    assert skips, "expected the documented skips to be found"
    assert not unjustified, "checkov skips need an inline reason:\n" + "\n".join(unjustified)
