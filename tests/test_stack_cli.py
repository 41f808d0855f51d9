"""Edges of make local's commands that the end-to-end run does not reach."""
from __future__ import annotations

import fcntl
import io
import json
import subprocess
import sys

from local_aws import stack
from tests.embedded_aws import free_port


def test_a_state_dir_inside_the_root_is_not_copied_into_itself(tmp_path) -> None:
    repo = tmp_path / "repo"
    (repo / "functions").mkdir(parents=True)
    (repo / "main.tf").write_text("")
    root = stack.Stack(repo=repo, paths=stack.Paths(repo / "my-state")).sync_root(fresh_state=True)
    assert sorted(p.name for p in root.iterdir()) == ["functions", "main.tf"]


def test_token_with_a_stack_json_whose_stack_is_gone_says_so(tmp_path) -> None:
    (tmp_path / "stack.json").write_text(json.dumps({
        "auth_url": f"http://127.0.0.1:{free_port()}", "clients": {"machine": {"id": "abc", "secret": "s"}}}))
    result = subprocess.run([sys.executable, "-m", "local_aws", "token", "--client", "machine", "--state-dir", str(tmp_path)],
                            cwd=stack.REPO, capture_output=True, text=True)
    assert result.returncode == 1
    assert "does not answer" in result.stderr and "is make local running?" in result.stderr
    assert "Traceback" not in result.stderr


def test_down_while_the_lock_is_held_but_its_pid_not_yet_written(tmp_path) -> None:
    paths = stack.Paths(tmp_path)
    with open(paths.lock, "a+") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        out = io.StringIO()
        assert stack.down(paths, out) == 1
    assert "starting or stopping" in out.getvalue()
