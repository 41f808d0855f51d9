"""The pytest plugin (local_aws/pytest_plugin.py), used as a user would: `pytest` runs of their
own, with --local-aws-root on roots that are not this repository, checked from the outside.

Each inner run starts one stack of its own.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local_aws import stack

INNER_TIMEOUT_S = 420


def processes_below(pid: int) -> dict[int, str]:
    """Every process below pid (Linux /proc), with its command line."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            parents.setdefault(int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            try:
                found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            todo.append(child)
    return found


def alive(pids) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def inner_pytest(tmp_path: Path, *args: str, **popen) -> subprocess.Popen:
    """`python -m pytest ARGS` from the repository, as a user runs it (the plugin comes from its
    entry point), with its own basetemp and no cache."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "basetemp"), *args],
        cwd=stack.REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PLUGIN_CHECK_DIR": str(tmp_path)}, **popen,
    )


def test_ctrl_c_after_a_failing_test_leaves_nothing_running(tmp_path) -> None:
    # Without xdist (the other runs here use it). Its own session, like a job in a terminal:
    # Ctrl-C signals the whole group.
    inner = inner_pytest(tmp_path, "-n", "0", "--noconftest", "--local-aws-root", "tests/fixtures/plugin_root",
                         "tests/plugin_checks/interrupt_checks.py", start_new_session=True)
    try:
        deadline = time.monotonic() + INNER_TIMEOUT_S
        while not (tmp_path / "ready").exists() and inner.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (tmp_path / "ready").exists(), inner.communicate(timeout=60)[0] if inner.poll() is not None else "not ready"
        started = processes_below(inner.pid)
        ups = [pid for pid, command in started.items() if "-m local_aws up" in command]
        assert len(ups) == 1, started  # one stack for both tests
        assert int((tmp_path / "ready").read_text()) == ups[0]
        assert any("local_aws.embedded" in c for c in started.values()) and any("local_aws.dataplane" in c for c in started.values())
        assert len(started) >= 4  # with the ping function's Lambda environment
        state_dir = Path(started[ups[0]].split("--state-dir ", 1)[1].split(" ", 1)[0])
        assert (state_dir / "stack.json").exists()

        os.killpg(inner.pid, signal.SIGINT)
        try:
            output = inner.communicate(timeout=INNER_TIMEOUT_S)[0]
        except subprocess.TimeoutExpired:  # say what was still running, and what the stack logged
            still = {pid: command for pid, command in processes_below(inner.pid).items()}
            logs = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in sorted(tmp_path.rglob("*.log")))
            raise AssertionError(f"pytest did not stop within {INNER_TIMEOUT_S} s of Ctrl-C; still running: {still}\n{logs}")
    finally:
        if inner.poll() is None:
            os.killpg(inner.pid, signal.SIGKILL)
            inner.wait()
    signals = [line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(("SigBlk", "SigIgn"))]
    assert inner.returncode == pytest.ExitCode.INTERRUPTED, f"{output}\nthis test's process: {signals}"
    assert "failing on purpose" in output and "KeyboardInterrupt" in output
    time.sleep(0.5)
    assert alive(started) == []
    assert not state_dir.parent.parent.exists()  # the run's temporary directory of stacks is gone


@pytest.mark.parametrize("arguments, message", [
    (["--local-aws-root", "no/such/root"], "--local-aws-root no/such/root: no such directory"),
    (["--local-aws-root", "examples/own_root", "--local-aws-var", "region"], "--local-aws-var region: expected NAME=VALUE"),
    (["--local-aws-root", "examples/own_root", "--local-aws-var-file", "no.tfvars"], "--local-aws-var-file no.tfvars: no such file"),
])
def test_bad_options_are_usage_errors_naming_the_option(tmp_path, arguments: list[str], message: str) -> None:
    inner = inner_pytest(tmp_path, "-n", "0", *arguments, "examples/own_root/tests")
    output = inner.communicate(timeout=120)[0]
    assert inner.returncode == pytest.ExitCode.USAGE_ERROR, output
    assert f"ERROR: {message}" in output


def test_a_folder_without_terraform_is_a_usage_error_too(tmp_path) -> None:
    inner = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "examples/own_root/tests"],
                           cwd=stack.REPO, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "LOCAL_AWS_ROOT": "functions"})
    assert inner.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: LOCAL_AWS_ROOT=functions: not a Terraform root (no *.tf files in it)" in inner.stderr


def test_the_plugin_is_registered_and_imports_no_aws_library() -> None:
    # Loaded by every pytest run of the venv: it must cost nothing until a test needs the stack.
    probe = ("import importlib.metadata, sys, local_aws.pytest_plugin\n"
             "print(sorted(e.value for e in importlib.metadata.entry_points(group='pytest11') if e.name == 'local_aws'))\n"
             "print(sorted(m for m in ('boto3', 'botocore', 'moto', 'werkzeug', 'jwt', 'cryptography') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd="/", capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["['local_aws.pytest_plugin']", "[]"]


def run_to_the_end(inner: subprocess.Popen) -> tuple[str, dict[int, str]]:
    """The inner run's output, and every process it had below it (sampled while it ran)."""
    seen: dict[int, str] = {}
    deadline = time.monotonic() + INNER_TIMEOUT_S
    while inner.poll() is None and time.monotonic() < deadline:
        seen.update(processes_below(inner.pid))
        time.sleep(0.5)
    if inner.poll() is None:
        inner.kill()
    return inner.communicate(timeout=60)[0], seen


def test_the_own_root_example_passes_as_the_readme_runs_it(tmp_path) -> None:
    # The README's command, with the repository's own pytest settings (xdist on every core).
    inner = inner_pytest(tmp_path, "--local-aws-root", "examples/own_root", "examples/own_root/tests")
    output, seen = run_to_the_end(inner)
    assert inner.returncode == 0, output
    assert "7 passed" in output
    ups = [pid for pid, command in seen.items() if "-m local_aws up" in command]
    assert len(ups) == 1, seen  # one stack for every worker
    assert alive(seen) == []


def test_several_apis_and_pools_in_two_regions_through_the_plugin(tmp_path) -> None:
    # A copy, since one check edits a handler and re-applies.
    root = tmp_path / "root"
    shutil.copytree(stack.REPO / "tests" / "fixtures" / "multi_region_root", root)
    (tmp_path / "europe.tfvars.json").write_text(json.dumps({"europe": "eu-central-1"}))
    inner = inner_pytest(tmp_path, "-n", "2", "--noconftest", "--local-aws-root", str(root),
                         "--local-aws-var-file", str(tmp_path / "europe.tfvars.json"), "--local-aws-var", "status_stage=live",
                         "tests/plugin_checks/multi_region_checks.py")
    output, seen = run_to_the_end(inner)
    assert inner.returncode == 0, output
    assert "7 passed" in output
    used = [json.loads(line) for line in (tmp_path / "stacks").read_text().splitlines()]
    assert len({pid for _, pid in used}) == 1 and len({worker for worker, _ in used}) == 2  # one stack, both workers
    assert alive(seen) == []
    assert not (root / ".build").exists() and not (root / ".terraform.lock.hcl").exists()  # the user's folder untouched


def test_a_stack_that_cannot_start_fails_each_test_with_its_log_once(tmp_path) -> None:
    inner = inner_pytest(tmp_path, "-n", "2", "--noconftest", "--local-aws-root", "tests/fixtures/failing_root",
                         "tests/plugin_checks/start_failure_checks.py")
    output, seen = run_to_the_end(inner)
    assert inner.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "2 errors" in output and "never reached" not in output
    assert "ERROR at setup of test_one" in output and "ERROR at setup of test_two" in output
    assert output.count("failing_root exited with status 1 (log: ") >= 2  # the same failure, told to each test
    assert "this root cannot be applied" in output and "terraform apply failed" in output
    assert "Traceback" not in output
    assert len([pid for pid, command in seen.items() if "-m local_aws up" in command]) <= 1  # started once, if seen at all
    assert alive(seen) == []
    log = Path(output.split("failing_root exited with status 1 (log: ", 1)[1].split(")", 1)[0])
    assert "terraform apply failed" in log.read_text()  # kept for the reader
    shutil.rmtree(log.parent.parent)
