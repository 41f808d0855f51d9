"""What makes a warm `make local` faster must not make it wrong (issue 8, speed): a skipped
`terraform init` still notices a changed lock file, a new module or a new provider; outputs read
from the state are those `terraform output` gives; parsed HCL is reused only for the same text;
a service started ahead of time runs with the arguments and environment it is told.

Real Terraform on small roots (terraform_data and local modules: no AWS is reached, the
hashicorp/aws provider comes from the offline mirror), real child processes.
"""
from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local_aws import aws, stack, terraform
from tests.support.embedded_aws import EmbeddedAws

REPO = Path(__file__).resolve().parents[1]
# Nothing here reaches AWS; a port nobody listens on makes sure of it.
NO_AWS = stack.sandbox_env("http://127.0.0.1:9")

ROOT_TF = '''resource "terraform_data" "greeting" {
  input = "hello"
}

output "greeting" {
  value = terraform_data.greeting.output
}
'''
MODULE_CALL = '''
module "naming" {
  source = "./naming"
}

output "name" {
  value = module.naming.name
}
'''
NEEDS_AWS_PROVIDER = '''
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100, < 7.0"
    }
  }
}
'''


def _stack(tmp_path: Path) -> tuple[stack.Stack, Path]:
    root = tmp_path / "theirs"
    root.mkdir()
    (root / "main.tf").write_text(ROOT_TF)
    (root / "naming").mkdir()
    (root / "naming" / "main.tf").write_text('output "name" {\n  value = "greeter"\n}\n')
    paths = stack.Paths(tmp_path / "state")
    paths.base.mkdir()
    return stack.Stack(repo=root, paths=paths, out=io.StringIO()), root


def _apply(working: stack.Stack) -> tuple[dict, bool]:
    """The outputs, and whether `terraform init` ran (read from the log the stack wrote)."""
    outputs = working.apply(NO_AWS, {})
    log = (working.paths.logs / "terraform.log").read_text()
    ran = "Terraform has been successfully initialized" in log
    assert ran != ("terraform init: skipped" in log), log
    return outputs, ran


def test_a_skipped_init_still_notices_a_new_module_a_changed_lock_and_a_new_provider(tmp_path) -> None:
    working, root = _stack(tmp_path)
    assert _apply(working) == ({"greeting": "hello"}, True)
    assert _apply(working) == ({"greeting": "hello"}, False)  # nothing changed: nothing to install

    (root / "main.tf").write_text(ROOT_TF + MODULE_CALL)  # a module to install
    assert _apply(working) == ({"greeting": "hello", "name": "greeter"}, True)
    assert _apply(working)[1] is False

    (root / terraform.LOCK_FILE).write_text("# their own lock: init -lockfile=readonly\n")
    assert _apply(working)[1] is True
    (root / terraform.LOCK_FILE).write_text("# their own lock, edited\n")
    assert _apply(working)[1] is True
    assert _apply(working)[1] is False
    (root / terraform.LOCK_FILE).unlink()  # init keeps to the lock in the working copy again

    (root / "versions.tf").write_text(NEEDS_AWS_PROVIDER)  # a provider to install, and a lock entry for it
    assert _apply(working)[1] is True
    assert 'provider "registry.terraform.io/hashicorp/aws"' in (working.paths.root / terraform.LOCK_FILE).read_text()
    assert _apply(working) == ({"greeting": "hello", "name": "greeter"}, False)


def test_an_init_that_failed_is_run_again(tmp_path) -> None:
    working, root = _stack(tmp_path)
    assert _apply(working)[1] is True
    (root / "main.tf").write_text(ROOT_TF + MODULE_CALL.replace("./naming", "./missing"))
    with pytest.raises(stack.StackError, match="terraform init failed"):
        working.apply(NO_AWS, {})
    (root / "main.tf").write_text(ROOT_TF)  # back to what the last successful init saw
    assert _apply(working)[1] is True, "the failed init's inputs were never recorded as initialised"


def test_a_deleted_data_dir_is_initialised_again(tmp_path) -> None:
    working, root = _stack(tmp_path)
    (root / "main.tf").write_text(ROOT_TF + MODULE_CALL)
    assert _apply(working)[1] is True
    subprocess.run(["rm", "-rf", str(working.paths.root / ".terraform")], check=True)
    assert _apply(working) == ({"greeting": "hello", "name": "greeter"}, True)


def test_outputs_from_the_state_are_those_terraform_output_gives(tmp_path) -> None:
    working, root = _stack(tmp_path)
    (root / "main.tf").write_text(ROOT_TF + MODULE_CALL + 'output "secret" {\n  value     = "s3cr3t"\n  sensitive = true\n}\n'
                                  'output "nested" {\n  value = { list = [1, 2], flag = true }\n}\n')
    since = time.time()
    outputs = working.apply(NO_AWS, {})
    copy = working.paths.root
    env = terraform.terraform_env(working.paths.base / "terraform-cli", NO_AWS)
    assert terraform.state_outputs(copy, since) == terraform.outputs(copy, env) == outputs
    assert outputs["nested"] == {"list": [1, 2], "flag": True} and outputs["secret"] == "s3cr3t"
    # A state this apply did not write says nothing about it: `terraform output` is asked instead.
    assert terraform.state_outputs(copy, time.time() + 60) is None
    (copy / "terraform.tfstate").write_text("not a state")
    assert terraform.state_outputs(copy, since) is None


def _declared_in_another_process(root: Path, cache: Path, parse: bool) -> subprocess.CompletedProcess[str]:
    """declared_variables in a new process with `cache`; without `parse`, python-hcl2 cannot parse."""
    script = ("import sys, hcl2; from pathlib import Path; from local_aws import terraform\n"
              + ("" if parse else "hcl2.loads = None  # any parse fails: only the cache can answer\n")
              + "print(sorted(terraform.declared_variables(Path(sys.argv[1]), Path(sys.argv[2]))))")
    return subprocess.run([sys.executable, "-c", script, str(root), str(cache)], capture_output=True, text=True, timeout=60)


def test_parsed_hcl_is_reused_for_the_same_text_only(tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "variables.tf").write_text('variable "first" {\n  type = string\n}\n')
    (root / "more.tf.json").write_text(json.dumps({"variable": {"from_json": {}}}))
    cache = tmp_path / "parsed.json"
    assert _declared_in_another_process(root, cache, parse=True).stdout == "['first', 'from_json']\n"
    assert _declared_in_another_process(root, cache, parse=False).stdout == "['first', 'from_json']\n"

    (root / "variables.tf").write_text('variable "second" {\n  type = string\n}\n')  # another text: parsed again
    refused = _declared_in_another_process(root, cache, parse=False)
    assert refused.returncode == 1 and "variables.tf: cannot be parsed" in refused.stderr
    assert terraform.declared_variables(root, cache) == {"second", "from_json"}
    assert _declared_in_another_process(root, cache, parse=False).stdout == "['from_json', 'second']\n"

    (root / "broken.tf").write_text('variable "third" {\n')
    for _ in range(2):  # a parse error is never kept as an answer
        with pytest.raises(terraform.TerraformError, match="broken.tf line"):
            terraform.declared_variables(root, cache)
    cache.write_text("not json")  # a cache that cannot be read is no cache
    (root / "broken.tf").unlink()
    assert terraform.declared_variables(root, cache) == {"second", "from_json"}


# -- a service started ahead of time (local_aws/held.py) -----------------------------------------

def _held(module: str, told: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local_aws.held", module], cwd=REPO, input=told,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "LEFT_BEHIND": "yes"})


def test_a_held_service_runs_with_the_arguments_and_environment_it_is_told() -> None:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "TOLD": "this"}
    result = _held("tests.support.echo_service", json.dumps({"argv": ["--flag", "a b"], "env": env}) + "\n")
    assert result.returncode == 3, result.stderr
    shown = json.loads(result.stdout.removeprefix("ready "))
    assert shown == {"argv": ["--flag", "a b"], "sys_argv": ["tests.support.echo_service", "--flag", "a b"],
                     "env": env}  # LEFT_BEHIND, of the environment it was started with, is gone


def test_a_held_service_told_nothing_exits_having_done_nothing() -> None:
    result = _held("tests.support.echo_service", "")
    assert (result.returncode, result.stdout) == (0, "")


def test_start_child_tells_the_held_process_of_its_module_and_replaces_another(tmp_path) -> None:
    paths = stack.Paths(tmp_path / "state")
    paths.base.mkdir()
    working = stack.Stack(paths=paths, out=io.StringIO())
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO)}
    try:
        working.hold_child("echo", "tests.support.echo_service", env)
        held = working.children[-1]
        details = json.loads(working.start_child("echo", ["tests.support.echo_service", "--x"], env | {"TOLD": "1"}))
        assert details["argv"] == ["--x"] and details["env"]["TOLD"] == "1"
        assert working.children == [held]

        working.hold_child("other", "local_aws.held", env)  # holds another module than the one started
        replaced = working.children[-1]
        details = json.loads(working.start_child("other", ["tests.support.echo_service", "--y"], env))
        assert details["argv"] == ["--y"] and replaced.poll() is not None and replaced not in working.children
    finally:
        working.stop_children()
    assert working.children == []


# -- the embedded AWS, started while Terraform starts --------------------------------------------

def test_the_embedded_aws_answers_a_client_that_connects_before_it_serves(tmp_path) -> None:
    paths = stack.Paths(tmp_path / "state")
    paths.base.mkdir()
    working = stack.Stack(paths=paths, aws_port=0, out=io.StringIO())
    try:
        url = working.start_embedded_aws()  # returns before the embedded AWS has imported moto
        identity = aws.client("sts", url).get_caller_identity()
        assert identity["Account"] == "123456789012"
        working.embedded_aws_ready()
    finally:
        working.stop_children()


def test_a_taken_aws_port_is_refused_naming_the_flag(tmp_path) -> None:
    paths = stack.Paths(tmp_path / "state")
    paths.base.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        working = stack.Stack(paths=paths, aws_port=port, out=io.StringIO())
        with pytest.raises(stack.StackError, match=f"--aws-port {port}: .*already in use"):
            working.start_embedded_aws()
    assert working.children == []


class _EmbeddedAwsThatFails(stack.Stack):
    def start_child(self, name, args, env, **kwargs):
        if name == "embedded-aws":
            args = [*args, "--host", "not-an-address"]  # it exits at once, refusing the option
        return super().start_child(name, args, env, **kwargs)


def test_terraform_is_stopped_when_the_embedded_aws_fails_to_start(tmp_path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "main.tf").write_text('resource "terraform_data" "slow" {\n  provisioner "local-exec" {\n'
                                  '    command = "sleep 30"\n  }\n}\n')
    paths = stack.Paths(tmp_path / "state")
    working = _EmbeddedAwsThatFails(repo=root, paths=paths, aws_port=0, api_port=0, auth_port=0, out=io.StringIO())
    started = time.monotonic()
    with pytest.raises(stack.StackError, match="embedded-aws did not start") as refused:
        working.start()
    assert "not-an-address" in str(refused.value)
    assert time.monotonic() - started < 25, "Terraform ran on, against an AWS that never started"
    assert working.children == [] and not paths.stack_json.exists()


def test_the_warm_up_of_the_embedded_aws_writes_nothing_and_holds_nothing(tmp_path) -> None:
    with EmbeddedAws.start(tmp_path) as embedded:
        log = tmp_path / "embedded-aws.log"
        deadline = time.monotonic() + 30
        while "warmed up in" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "warmed up in" in log.read_text() and "failed" not in log.read_text(), log.read_text()
        assert aws.generation(embedded.url) == 0  # no write counted: the data plane would reload for nothing
        assert aws.regions(embedded.url) == []  # nothing held in any region
        iam = embedded.client("iam")
        assert iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")["Policy"]
