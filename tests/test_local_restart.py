"""A restart of the local stack (stack.py's "what survives a restart"): a root of one Terraform
built-in resource, started, stopped and started again in one state dir with real processes.
Their data surviving on a root with functions, a pool and a JWT route: tests/test_any_root.py."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from local_aws import stack

pytestmark = pytest.mark.xdist_group("local-restart")
UNCHANGED = "Root unchanged since the last apply: not re-applied."
ROOT = 'resource "terraform_data" "kept" {\n  input = "one"\n}\n\noutput "value" {\n  value = terraform_data.kept.output\n}\n'


def a_root(tmp_path: Path) -> tuple[Path, stack.Paths]:
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(ROOT)
    return root, stack.Paths(tmp_path / "state")


def start(root: Path, paths: stack.Paths) -> tuple[stack.Stack, dict, str]:
    """A started stack, its description and what it said while starting."""
    running = stack.Stack(repo=root, aws_port=0, api_port=0, auth_port=0, paths=paths, out=io.StringIO())
    description = running.start()
    return running, description, running.out.getvalue()


def reset(paths: stack.Paths) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local_aws", "reset", "--state-dir", str(paths.base)],
                          cwd=stack.REPO, capture_output=True, text=True, timeout=60)


def test_an_unchanged_root_is_not_applied_again_and_a_changed_one_gets_only_the_difference(tmp_path) -> None:
    root, paths = a_root(tmp_path)
    first, described, said = start(root, paths)
    first.stop()
    assert f"Applying {root} to it" in said and described["outputs"] == {"value": "one"}
    log = paths.logs / "terraform.log"
    applied = (log.read_text(), log.stat().st_mtime_ns)

    second, described, said = start(root, paths)
    try:
        assert UNCHANGED in said and "Applying" not in said
        assert (log.read_text(), log.stat().st_mtime_ns) == applied, "Terraform did not run"
        assert described["outputs"] == {"value": "one"}, "the outputs of the last apply"
        refused = reset(paths)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert f"cannot reset {paths.base}: make local is running on it (pid {second_pid(paths)})" in refused.stderr
        assert "`make local-down`" in refused.stderr and paths.aws_state.exists()
    finally:
        second.stop()

    (root / "more.tf").write_text('output "extra" {\n  value = "two"\n}\n')
    third, described, said = start(root, paths)
    third.stop()
    assert f"Applying the changes of {root} to the restored state" in said and UNCHANGED not in said
    assert described["outputs"] == {"value": "one", "extra": "two"}
    assert "Resources: 0 added, 0 changed, 0 destroyed." in log.read_text(), "the resource of the state was kept"


def second_pid(paths: stack.Paths) -> str:
    return paths.lock.read_text().strip()


def test_an_unreadable_saved_state_is_named_and_reset_makes_the_next_start_from_scratch(tmp_path) -> None:
    root, paths = a_root(tmp_path)
    first, _, _ = start(root, paths)
    first.stop()
    paths.aws_state.write_bytes(b"scribbled over")

    second, described, said = start(root, paths)
    second.stop()
    assert (f"The saved state of the embedded AWS is not restored ({paths.aws_state} is not a snapshot of the "
            "embedded AWS (no header)): it starts empty.") in said
    assert f"Applying {root} to it" in said and "Traceback" not in said
    assert "Resources: 1 added" in (paths.logs / "terraform.log").read_text(), "applied from scratch"
    assert described["outputs"] == {"value": "one"}

    state_files = [paths.aws_state, paths.apply_record, paths.root / "terraform.tfstate"]
    assert all(path.exists() for path in state_files)
    done = reset(paths)
    assert done.returncode == 0, done.stderr
    assert "the next start applies the root from scratch" in done.stdout
    assert not any(path.exists() for path in state_files) and not paths.data_plane.exists()
    assert (paths.root / "main.tf").exists(), "the working copy's sources (and installed providers) stay"
    quiet = stack.Stack(repo=root, paths=paths, out=io.StringIO())
    assert quiet.restorable() == (None, True) and quiet.out.getvalue() == "", "nothing to restore, nothing to say"
    assert json.loads(paths.root_record.read_text())["root"] == str(root)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
        except OSError:
            pass  # gone meanwhile
    return found


def test_a_service_that_dies_is_named_with_its_log(tmp_path) -> None:
    root, paths = a_root(tmp_path)
    up = subprocess.Popen([sys.executable, "-m", "local_aws", "up", "--root", str(root), "--state-dir", str(paths.base),
                           "--aws-port", "0", "--api-port", "0", "--auth-port", "0"],
                          cwd=stack.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in up.stdout:
            if line.startswith("Stop with Ctrl-C"):
                break
        data_plane = [pid for pid in children_of(up.pid) if b"local_aws.dataplane" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(data_plane) == 1
        os.kill(data_plane[0], signal.SIGKILL)
        said = up.stdout.read()
        assert up.wait(timeout=60) == 1
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert f"the data-plane service stopped unexpectedly (exit status -9): see {paths.logs / 'data-plane.log'}" in said
    assert "Traceback" not in said
