"""Edges of make local's commands that the end-to-end run does not reach."""
from __future__ import annotations

import fcntl
import io
import json
import subprocess
import sys

import pytest

from local_aws import stack
from tests.support.embedded_aws import free_port


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


class _RecordingStack(stack.Stack):
    """A Stack that remembers every service it started, to check them after stop() forgot them."""

    def start_child(self, *args, **kwargs) -> str:
        self.started = getattr(self, "started", []) + [None]
        details = super().start_child(*args, **kwargs)
        self.started[-1] = self.children[-1]
        return details


def _empty_root(tmp_path, text: str = "# nothing to create\n"):
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text(text)
    paths = stack.Paths(tmp_path / "state")
    return _RecordingStack(repo=root, aws_port=0, api_port=0, auth_port=0, paths=paths, out=io.StringIO()), paths


def test_start_serves_without_waiting_and_stop_leaves_nothing_running(tmp_path) -> None:
    running, paths = _empty_root(tmp_path)
    description = running.start()
    try:
        assert json.loads(paths.stack_json.read_text()) == description
        assert description["apis"] == {} and description["user_pools"] == []
        assert len(running.started) == 2 and all(child.poll() is None for child in running.started)  # embedded AWS, data plane
        with pytest.raises(stack.StackError, match="already running"):
            stack.Stack(repo=running.repo, paths=paths, out=io.StringIO()).start()
        assert paths.stack_json.exists()  # the refused second start touched nothing of the first
    finally:
        running.stop()
    assert all(child.poll() is not None for child in running.started)
    assert not paths.stack_json.exists()
    running.stop()  # stopping twice is harmless
    assert stack.down(paths, io.StringIO()) == 0  # the state dir is free again


def test_a_start_that_fails_stops_what_it_started(tmp_path) -> None:
    failing = 'resource "terraform_data" "fails" {\n  provisioner "local-exec" {\n    command = "exit 3"\n  }\n}\n'
    running, paths = _empty_root(tmp_path, failing)
    with pytest.raises(stack.StackError, match="terraform apply failed"):
        running.start()
    assert len(running.started) == 1 and running.started[0].poll() is not None  # the embedded AWS, stopped
    assert running.children == [] and not paths.stack_json.exists()
    out = io.StringIO()
    assert stack.down(paths, out) == 0 and "not running" in out.getvalue()


def test_the_walkthrough_of_another_root_names_its_clients_and_no_route_of_ours(tmp_path) -> None:
    d = {"api_url": "http://127.0.0.1:9", "apis": {"a1": {"url": "http://127.0.0.1:9", "name": "orders", "region": "eu-west-1"}},
         "user_pools": [{"id": "eu-west-1_x", "name": "shop", "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x",
                         "auth_url": "http://127.0.0.1:8", "clients": {"backend": {}, "browser": {}}}],
         "auth_url": "http://127.0.0.1:8", "issuer": None, "region": "eu-west-1", "regions": ["eu-west-1"],
         "aws_endpoint_url": "http://127.0.0.1:7", "clients": {}, "outputs": {"api_id": "a1"}}
    text = stack.walkthrough(d, 1.0, stack.Paths(tmp_path / "state"))
    assert "token --state-dir" in text and "clients: backend, browser" in text and "audit --state-dir" in text
    assert "/hello" not in text and "notes-api" not in text and "--client machine" not in text


def test_demo_passwords_meet_the_policy_and_never_read_as_a_flag() -> None:
    for _ in range(300):
        password = stack.demo_password()
        assert len(password) >= 12 and password[0].isalpha()
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password) and any(c in "-_.!%" for c in password)
