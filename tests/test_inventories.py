"""Every inventory under tests/inventories: plan its root with its inputs and compare.

An inventory file names a root (`root:`, relative to the repository), its inputs (`tfvars:`),
and what the plan must hold: `values` (subset per resource address), `counts` (per resource
type; 0 asserts absence) and `outputs`. A module's cases are module blocks of one fixture root,
tests/fixtures/<module>_cases, planned once: each case's file names its block (`module:`), and
its values and counts speak of that block alone. Print a plan's full inventory to start a new file:
    .venv/bin/python -m tests.tfharness <root> [tfvars.json]
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.tfharness import inventory_problems

INVENTORIES = sorted((Path(__file__).parent / "inventories").glob("**/*.yaml"))


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=str(p.relative_to(p.parents[1])), marks=pytest.mark.xdist_group(_load(p)["root"])) for p in INVENTORIES],
)
def test_plan_matches_inventory(tf, path: Path) -> None:
    inventory = _load(path)
    plan = tf.root(inventory["root"]).plan(inventory.get("tfvars"))
    problems = inventory_problems(plan, inventory)
    assert not problems, (
        f"{path.name}: the plan departs from the inventory:\n  " + "\n  ".join(problems)
        + f"\nFull inventory: .venv/bin/python -m tests.tfharness {inventory['root']} <tfvars.json>"
    )
