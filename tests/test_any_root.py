"""Any root, anywhere: the local stack runs a root in another team's style (tests/fixtures/
other_team_root: plain aws_* resources, no lock file, variables of its own and none named
demo_user_email), copied to a temporary folder and started from yet another directory, the way a
user of the installed `local-aws` command would. One stack start serves the end-to-end checks.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_aws import aws, stack, terraform
from tests.support.embedded_aws import free_port
from tests.support.http import request

pytestmark = pytest.mark.xdist_group("any-root")
FIXTURE = Path(__file__).parent / "fixtures" / "other_team_root"
START_TIMEOUT_S = 240
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
CONSOLE_COMMAND = Path(sys.executable).parent / "local-aws"


def their_root(destination: Path) -> Path:
    """A copy of the fixture root, with the zip its CI would build before apply."""
    shutil.copytree(FIXTURE, destination)
    (destination / "dist").mkdir()
    with zipfile.ZipFile(destination / "dist" / "greeter.zip", "w") as package:
        package.write(destination / "src" / "greeter.py", "greeter.py")
    return destination


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def local_aws(*args: str, cwd: Path, command: tuple[str, ...] = (sys.executable, "-m", "local_aws")) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, timeout=240)


# -- which variables a root declares -----------------------------------------------------------

def test_declared_variables_are_read_from_tf_and_tf_json_files(tmp_path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "quoted" {\n  type = string\n}\n'
        "variable unquoted {}\n"
        '/* variable "in_a_comment" {} */\n'
        '# variable "in_a_line_comment" {}\n'
        'locals {\n  text = <<-EOT\n    variable "in_a_heredoc" {}\n  EOT\n}\n'
        'resource "aws_iam_role" "variable" {\n  name = "variable"\n}\n'
    )
    (tmp_path / "more.tf.json").write_text(json.dumps({"variable": {"from_json": {"type": "string"}, "and_this": {}}}))
    (tmp_path / "listed.tf.json").write_text(json.dumps({"variable": [{"in_a_json_list": {}}], "locals": {"variable": 1}}))
    (tmp_path / "notes.txt").write_text('variable "not_terraform" {}\n')
    assert terraform.declared_variables(tmp_path) == {"quoted", "unquoted", "from_json", "and_this", "in_a_json_list"}


def test_declared_variables_of_this_repository_and_of_the_fixture() -> None:
    assert "demo_user_email" in terraform.declared_variables(stack.REPO)
    assert terraform.declared_variables(FIXTURE) == {"service", "greeting", "log_retention_days"}


def test_a_file_that_cannot_be_parsed_is_named_with_its_line(tmp_path) -> None:
    (tmp_path / "ok.tf").write_text('variable "a" {}\n')
    (tmp_path / "broken.tf").write_text('variable "b" {\n  default =\n}\n')
    with pytest.raises(terraform.TerraformError, match=r"broken\.tf line 2: cannot be parsed"):
        terraform.declared_variables(tmp_path)


def test_the_stack_own_variable_is_checked_like_the_user_ones(tmp_path) -> None:
    root = their_root(tmp_path / "their-infra")
    assert stack.check_root(root, {"greeting": "hi"}, []) == {"service", "greeting", "log_retention_days"}
    with pytest.raises(stack.StackError, match='--var demo_user_email: the root declares no variable "demo_user_email"'):
        stack.check_root(root, {"demo_user_email": "x@example.com"}, [])


# -- AWS managed policies in the embedded AWS ---------------------------------------------------

def test_aws_managed_policies_are_attachable_and_loaded_in_the_aws_partition_only(aws_url) -> None:
    from moto.iam.models import iam_backends

    iam = aws.client("iam", aws_url)
    iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    iam.attach_role_policy(RoleName="fn", PolicyArn=BASIC_EXECUTION)
    assert iam.get_policy(PolicyArn=BASIC_EXECUTION)["Policy"]["IsAttachable"]
    account = iam_backends[aws.ACCOUNT_ID]
    assert BASIC_EXECUTION in account["aws"].managed_policies
    assert not account["aws-cn"].managed_policies, "each further partition would cost ~0.1 s of CPU"


# -- the command line refuses bad input before anything starts ---------------------------------

@pytest.mark.parametrize("args, message", [
    (["--var", "foo=1"], '--var foo: the root declares no variable "foo"'),
    (["--var-file", "missing.tfvars"], "--var-file {cwd}/missing.tfvars: no such file"),
    (["--root", "nowhere"], "--root {cwd}/nowhere: no such directory"),
    (["--root", "empty"], "--root {cwd}/empty: no Terraform files (*.tf, *.tf.json) in it"),
])
def test_up_refuses_bad_input_naming_the_flag(tmp_path, args, message) -> None:
    their_root(tmp_path / "their-infra")
    (tmp_path / "empty").mkdir()
    result = local_aws("up", "--root", "their-infra", *args, "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message.format(cwd=tmp_path) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists(), "nothing may start on bad input"


# -- the working copy: lock files --------------------------------------------------------------

def test_a_lock_init_wrote_is_kept_and_a_root_own_lock_is_used_as_it_is(tmp_path) -> None:
    theirs = their_root(tmp_path / "their-infra")
    paths = stack.Paths(tmp_path / "state")
    paths.base.mkdir()
    working = stack.Stack(repo=theirs, paths=paths)
    copy = working.sync_root(fresh_state=True)
    paths.root_record.write_text(json.dumps({"root": str(theirs), "vars": {}, "var_files": []}))  # as apply does
    (copy / terraform.LOCK_FILE).write_text("# written by init\n")  # as init does
    for fresh_state in (False, True):  # a re-apply, then a new `up`
        assert (working.sync_root(fresh_state) / terraform.LOCK_FILE).read_text() == "# written by init\n"
    assert not (theirs / terraform.LOCK_FILE).exists()
    assert terraform.init_args(has_own_lock=False) == ["init", "-input=false"]

    (theirs / terraform.LOCK_FILE).write_text("# their own\n")
    assert (working.sync_root(fresh_state=False) / terraform.LOCK_FILE).read_text() == "# their own\n"
    assert terraform.init_args(has_own_lock=True) == ["init", "-input=false", "-lockfile=readonly"]


def test_another_root_starts_from_an_empty_working_copy(tmp_path) -> None:
    paths = stack.Paths(tmp_path / "state")
    paths.base.mkdir()
    first = stack.Stack(repo=their_root(tmp_path / "first"), paths=paths)
    copy = first.sync_root(fresh_state=True)
    paths.root_record.write_text(json.dumps({"root": str(first.repo), "vars": {}, "var_files": []}))
    for leftover in (terraform.LOCK_FILE, "terraform.tfstate"):
        (copy / leftover).write_text("of the first root\n")
    (copy / ".terraform").mkdir()
    copy = stack.Stack(repo=their_root(tmp_path / "second"), paths=paths).sync_root(fresh_state=True)
    assert not {terraform.LOCK_FILE, "terraform.tfstate", ".terraform"} & {p.name for p in copy.iterdir()}


def test_local_modules_above_the_root_come_along_into_the_working_copy(tmp_path) -> None:
    team = tmp_path / "team"  # envs/dev calls ../../modules/naming, which calls ./words and ../shared
    for folder, text in {
        "envs/dev": 'module "naming" {\n  source = "../../modules/naming"\n  prefix = "dev"\n}\n\n'
                    'output "name" {\n  value = module.naming.name\n}\n',
        "modules/naming": 'variable "prefix" {\n  type = string\n}\n\nmodule "words" {\n  source = "./words"\n}\n\n'
                          'module "shared" {\n  source = "../shared"\n}\n\n'
                          'output "name" {\n  value = "${var.prefix}-${module.words.word}-${module.shared.suffix}"\n}\n',
        "modules/naming/words": 'output "word" {\n  value = "greeter"\n}\n',
        "modules/shared": 'output "suffix" {\n  value = "api"\n}\n',
        "other-team-stuff": "",
    }.items():
        (team / folder).mkdir(parents=True)
        if text:
            (team / folder / "main.tf").write_text(text)
    paths = stack.Paths(tmp_path / "state")
    working = stack.Stack(repo=team / "envs" / "dev", paths=paths)
    assert working.source_tree() == team
    copy = working.sync_root(fresh_state=True)
    assert copy == paths.root / "envs" / "dev"
    env = terraform.terraform_env(tmp_path / "cli")
    terraform.run(["init", "-input=false", "-backend=false"], copy, env, quiet=True)
    assert terraform.run(["validate", "-json"], copy, env, quiet=True).stdout.count('"valid": true') == 1
    assert not (team / "envs" / "dev" / ".terraform").exists()

    # A re-apply keeps what Terraform installed beside the root; another source tree is refused then.
    (copy / ".terraform" / "kept").write_text("")
    paths.root_record.write_text(json.dumps({"root": str(working.repo), "tree": str(team), "vars": {}, "var_files": []}))
    assert (working.sync_root(fresh_state=False) / ".terraform" / "kept").exists()
    (team / "envs" / "dev" / "main.tf").write_text('output "name" {\n  value = "dev"\n}\n')  # no module any more
    with pytest.raises(stack.StackError, match="working copy would move"):
        working.sync_root(fresh_state=False)


# -- end to end: one stack on their root, started from elsewhere --------------------------------

@dataclass
class Running:
    process: subprocess.Popen
    d: dict  # stack.json
    theirs: Path
    files_before: dict[str, bytes]
    state_dir: Path
    elsewhere: Path
    output: str

    def greet(self, name: str) -> tuple[int, dict]:
        reply = request("GET", f"{self.d['api_url']}/live/greet/{name}")
        return reply.status, reply.json() if reply.status < 400 else {"body": reply.text}


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Running:
    base = tmp_path_factory.mktemp("any-root")
    theirs = their_root(base / "their-infra")
    files_before = files_under(theirs)
    elsewhere = base / "elsewhere"  # neither this repository nor their root
    elsewhere.mkdir()
    state_dir = base / "state"
    names = base / "names.tfvars.json"  # a var file of the JSON kind, outside their root
    names.write_text(json.dumps({"service": "their-greeter"}))
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "up", "--root", "../their-infra", "--state-dir", str(state_dir),
         "--var-file", "../their-infra/dev.tfvars", "--var-file", str(names), "--var", "log_retention_days=14",
         "--aws-port", str(free_port()), "--api-port", str(free_port()), "--auth-port", str(free_port())],
        cwd=elsewhere, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    for line in process.stdout:
        output.append(line)
        if line.startswith("Stop with Ctrl-C") or time.monotonic() > deadline:
            break
    assert (state_dir / "stack.json").exists(), "the stack did not get ready:\n" + "".join(output)
    yield Running(process, json.loads((state_dir / "stack.json").read_text()), theirs, files_before, state_dir, elsewhere,
                  "".join(output))
    stopped = local_aws("down", "--state-dir", str(state_dir), cwd=elsewhere, command=(str(CONSOLE_COMMAND),))
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_their_root_serves_with_the_var_file_value(running) -> None:
    assert running.greet("ada") == (200, {"message": "Hello from a var file, ada!"})
    assert running.d["outputs"]["greeting"] == "Hello from a var file"
    assert running.d["outputs"]["function_name"] == "their-greeter"


def test_the_managed_policy_attachment_applied(running) -> None:
    iam = aws.client("iam", running.d["aws_endpoint_url"])
    attached = iam.list_attached_role_policies(RoleName=running.d["outputs"]["role_name"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [BASIC_EXECUTION]
    assert iam.get_policy(PolicyArn=BASIC_EXECUTION)["Policy"]["PolicyName"] == "AWSLambdaBasicExecutionRole"


def test_the_var_value_reached_terraform(running) -> None:
    logs = aws.client("logs", running.d["aws_endpoint_url"])
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/their-greeter")["logGroups"]
    assert group["retentionInDays"] == 14


def test_nothing_is_written_into_their_folder(running) -> None:
    assert files_under(running.theirs) == running.files_before
    assert not (running.theirs / terraform.LOCK_FILE).exists()
    lock = (running.state_dir / "root" / terraform.LOCK_FILE).read_text()
    assert 'provider "registry.terraform.io/hashicorp/aws"' in lock


def test_apply_from_elsewhere_reapplies_the_running_root_with_its_variables(running) -> None:
    lock = running.state_dir / "root" / terraform.LOCK_FILE
    lock_before = lock.read_bytes()
    result = local_aws("apply", "--state-dir", str(running.state_dir), "--var", "greeting=Re-applied",
                       cwd=running.elsewhere, command=(str(CONSOLE_COMMAND),))
    assert result.returncode == 0, result.stdout + result.stderr
    assert lock.read_bytes() == lock_before
    assert files_under(running.theirs) == running.files_before
    deadline = time.monotonic() + 20  # the data plane reloads by itself after the write
    while running.greet("ada") != (200, {"message": "Re-applied, ada!"}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running.greet("ada") == (200, {"message": "Re-applied, ada!"})
    logs = aws.client("logs", running.d["aws_endpoint_url"])
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/their-greeter")["logGroups"]
    assert group["retentionInDays"] == 14, "the --var of `up` holds on re-apply"


def test_apply_of_another_root_is_refused(running) -> None:
    result = local_aws("apply", "--root", str(stack.REPO), "--state-dir", str(running.state_dir), cwd=running.elsewhere)
    assert result.returncode == 1
    assert f"the running stack runs {running.theirs}" in result.stderr and "Traceback" not in result.stderr
