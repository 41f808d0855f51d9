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


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    files = [REPO / name for name in listed.split("\0") if name]
    return [p for p in files if p.is_file() and b"\0" not in p.read_bytes()[:4096]]


# A user's clone holds only the repository: no file may lean on the workplace beside it or on a
# path of the machine it was written on.
_SHARED = "shared"  # spelled apart, so that this very line is not a path outside the repository
_OUTSIDE = re.compile(rf"\.\./{_SHARED}/(?:spec|guides)|/{_SHARED}/(?:spec|guides)/|/work/(?:main|{_SHARED}|wt)\b")


def test_no_file_points_outside_the_repository() -> None:
    found = [f"{p.relative_to(REPO)}:{n}: {line.strip()[:120]}" for p in _tracked_text_files()
             for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if _OUTSIDE.search(line)]
    assert not found, "paths outside the repository:\n" + "\n".join(found)


def test_every_cited_rule_is_in_the_behaviour_reference() -> None:
    reference = (REPO / "docs" / "aws-behaviour.md").read_text()
    defined = set(re.findall(r"\*\*([A-H]\d+)\b", reference))
    cited = {rule for p in _tracked_text_files() if p.suffix in {".py", ".md", ".tf", ".yaml"}
             for rule in re.findall(r"\bspec ([A-H]\d+)\b", p.read_text(errors="replace"))}
    assert defined >= {"A1", "A7", "B1", "B7", "C1", "C5", "D1", "D7", "E1", "E2", "G1", "G4", "H1", "H4"}
    assert cited, "expected code and tests to cite rules as 'spec A2'"
    assert not cited - defined, f"cited but not in docs/aws-behaviour.md: {sorted(cited - defined)}"


def test_module_readme_tables_are_generated_from_the_modules() -> None:
    """Inputs and Outputs tables follow variables.tf and outputs.tf (tests/readme_tables.py)."""
    from tests import readme_tables

    stale = [m.name for m in readme_tables.MODULES if len(set(readme_tables.rendered(m))) != 1]
    assert not stale, f"stale README tables in {stale}: run .venv/bin/python -m tests.readme_tables"
    assert len(readme_tables.MODULES) >= 3
