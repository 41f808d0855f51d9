"""Plan Terraform roots offline with the real AWS provider, and read the plans as inventories.

A Workspace gives each root it plans a copy of the repository's Terraform (modules, functions,
examples, fixture roots, the root module) in a per-worker temporary directory: a module planned
as a root gets provider settings written into it, which must never reach the roots that call
that module. Each root is initialised once, against the shared lock file, with the provider
from the mirror (linked, not copied); plans are cached by their inputs, so tests that read the
same plan share one run.

Inventory style (as in cloud-foundation-fabric): `values` are matched as a subset per full
resource address, `counts` per resource type, `outputs` by name. With `module: module.<name>`
an inventory speaks of that one module instance of its root: addresses in `values` are relative
to it and `counts` count its resources only, so the cases of a fixture root that calls a module
once per case share a single plan. Print a plan's full inventory:
    .venv/bin/python -m tests.tfharness <root> [tfvars.json]
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tftest

from local_aws.terraform import terraform_env

REPO = Path(__file__).resolve().parents[1]
OFFLINE_PROVIDER = REPO / "tests" / "offline_provider.tf"
COPIED = ("modules", "functions", "examples", "tests/fixtures")
SKIPPED = shutil.ignore_patterns(".terraform", ".build", "__pycache__", "*.tfstate*", ".terraform.lock.hcl")


@dataclass
class Plan:
    """A plan read as an inventory."""

    raw: dict[str, Any]
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # address -> planned values
    unknown: dict[str, dict[str, Any]] = field(default_factory=dict)  # address -> after_unknown
    actions: dict[str, list[str]] = field(default_factory=dict)  # address -> planned actions
    counts: Counter = field(default_factory=Counter)  # resource type -> count (managed resources)
    types: dict[str, str] = field(default_factory=dict)  # address -> resource type
    outputs: dict[str, Any] = field(default_factory=dict)  # known output values

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Plan":
        plan = cls(raw)
        modules = [raw.get("planned_values", {}).get("root_module", {})]
        while modules:
            module = modules.pop()
            modules.extend(module.get("child_modules", []))
            for resource in module.get("resources", []):
                if resource["mode"] != "managed":
                    continue
                plan.values[resource["address"]] = resource.get("values", {})
                plan.types[resource["address"]] = resource["type"]
                plan.counts[resource["type"]] += 1
        for change in raw.get("resource_changes", []):
            plan.unknown[change["address"]] = change["change"].get("after_unknown") or {}
            plan.actions[change["address"]] = change["change"]["actions"]
        for name, output in raw.get("planned_values", {}).get("outputs", {}).items():
            if "value" in output:
                plan.outputs[name] = output["value"]
        return plan

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Planned values of every resource of a type, by address."""
        return {a: v for a, v in self.values.items() if re.search(rf"(^|\.){resource_type}\.", a)}


class Root:
    """One Terraform root in the workspace, initialised once."""

    def __init__(self, directory: Path, env: dict[str, str]):
        self.dir = directory
        self.env = env
        self.tf = tftest.TerraformTest(str(directory), env=env)
        self._plans: dict[str, Plan] = {}
        self._errors: dict[str, list[str]] = {}
        shutil.copy(REPO / ".terraform.lock.hcl", directory / ".terraform.lock.hcl")
        configures_provider = any(re.search(r'^provider\s+"aws"', p.read_text(), re.M) for p in directory.glob("*.tf"))
        name = "offline_provider_override.tf" if configures_provider else "offline_provider.tf"
        shutil.copy(OFFLINE_PROVIDER, directory / name)
        self.run("init", "-backend=false", "-lockfile=readonly")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["terraform", *args, "-no-color"], cwd=self.dir, env=self.env, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} failed in {self.dir}:\n{result.stdout}\n{result.stderr}")
        return result

    def var_file(self, tfvars: dict[str, Any] | None) -> str | None:
        """Write inputs to a .tfvars.json (not -var: Python booleans and nested values are not HCL)."""
        if not tfvars:
            return None
        handle, path = tempfile.mkstemp(suffix=".tfvars.json", dir=self.dir)
        with open(handle, "w") as out:
            json.dump(tfvars, out)
        return path

    def plan(self, tfvars: dict[str, Any] | None = None) -> Plan:
        """The plan for these inputs; fails the test if Terraform reports an error."""
        key = json.dumps(tfvars or {}, sort_keys=True)
        if key not in self._plans:
            raw = self.tf.plan(output=True, refresh=False, tf_var_file=self.var_file(tfvars))
            self._plans[key] = Plan.from_json(raw._raw)
        return self._plans[key]

    def errors(self, tfvars: dict[str, Any] | None = None) -> list[str]:
        """The error diagnostics ("summary: detail") of a plan with these inputs; none if it succeeds."""
        key = json.dumps(tfvars or {}, sort_keys=True)
        if key not in self._errors:
            var_file = self.var_file(tfvars)
            args = [f"-var-file={var_file}"] if var_file else []
            result = self.run("plan", "-refresh=false", "-json", *args, check=False)
            diagnostics = [json.loads(line).get("diagnostic") for line in result.stdout.splitlines() if line.startswith("{")]
            self._errors[key] = [f"{d['summary']}: {d.get('detail', '')}" for d in diagnostics if d and d["severity"] == "error"]
        return self._errors[key]


class Workspace:
    """Per-worker copies of the repository's Terraform, one per root, initialised on demand."""

    def __init__(self, base: Path):
        self.base = base
        self.env = terraform_env(base / ".terraform-cli")
        self._roots: dict[str, Root] = {}

    def _copy_tree(self) -> Path:
        tree = self.base / f"tree-{len(self._roots)}"
        for name in COPIED:
            if (REPO / name).is_dir():
                shutil.copytree(REPO / name, tree / name, ignore=SKIPPED)
        for tf_file in REPO.glob("*.tf"):
            shutil.copy(tf_file, tree / tf_file.name)
        return tree

    def root(self, relative: str = ".") -> Root:
        """The root at this path relative to the repository ("." is the repository's root module)."""
        if relative not in self._roots:
            self._roots[relative] = Root(self._copy_tree() / relative, self.env)
        return self._roots[relative]


def is_subset(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` departs from `expected`: dicts match on expected keys, lists item by item."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a mapping, got {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing (unknown until apply, or not set)")
            else:
                problems.extend(is_subset(value, actual[key], f"{path}.{key}"))
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return [p for i, (e, a) in enumerate(zip(expected, actual)) for p in is_subset(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def inventory_problems(plan: Plan, inventory: dict[str, Any]) -> list[str]:
    """Every departure of a plan from an inventory's values, counts and outputs."""
    problems = []
    prefix = f"{inventory['module']}." if inventory.get("module") else ""
    for relative, values in (inventory.get("values") or {}).items():
        address = prefix + relative
        if address not in plan.values:
            problems.append(f"{address}: not in the plan")
        else:
            problems.extend(is_subset(values, plan.values[address], address))
    counts = Counter(t for a, t in plan.types.items() if a.startswith(prefix)) if prefix else plan.counts
    for resource_type, count in (inventory.get("counts") or {}).items():
        if counts.get(resource_type, 0) != count:
            problems.append(f"counts.{resource_type}: expected {count}, got {counts.get(resource_type, 0)}")
    for name, value in (inventory.get("outputs") or {}).items():
        if name not in plan.outputs:
            problems.append(f"outputs.{name}: unknown at plan time or missing")
        else:
            problems.extend(is_subset(value, plan.outputs[name], f"outputs.{name}"))
    return problems


def dump_inventory(plan: Plan) -> dict[str, Any]:
    """A full inventory of a plan, to start or refresh an inventory file from."""
    return {"values": plan.values, "counts": dict(sorted(plan.counts.items())), "outputs": plan.outputs}


if __name__ == "__main__":
    import yaml

    root_path = sys.argv[1] if len(sys.argv) > 1 else "."
    tfvars = json.loads(Path(sys.argv[2]).read_text()) if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as tmp:
        plan = Workspace(Path(tmp)).root(root_path).plan(tfvars)
        yaml.safe_dump(dump_inventory(plan), sys.stdout, sort_keys=True, width=120)
