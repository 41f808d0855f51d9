"""Any root, anywhere: the local stack runs a root in another team's style (tests/fixtures/
other_team_root: plain aws_* resources, no lock file, variables of its own and none named
demo_user_email), copied to a temporary folder and started from yet another directory, the way a
user of the installed `local-aws` command would. One stack start serves the end-to-end checks;
at the end it is stopped and started twice (a changed root, then an unchanged one) for what
survives a restart.
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

from local_aws import aws, stack, terraform, tokens
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
        return get_json(f"{self.d['api_url']}/live/greet/{name}")


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """(status, the JSON body), or for an error status (status, {"body": its text})."""
    reply = request("GET", url, headers=headers)
    return reply.status, reply.json() if reply.status < 400 else {"body": reply.text}


def up_on_their_root(state_dir: Path, elsewhere: Path, names: Path) -> tuple[subprocess.Popen, str]:
    """`up` from elsewhere on their root with var files and a --var; the process and what it said until ready."""
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
    return process, "".join(output)


def down_from_elsewhere(state_dir: Path, elsewhere: Path, process: subprocess.Popen) -> None:
    stopped = local_aws("down", "--state-dir", str(state_dir), cwd=elsewhere, command=(str(CONSOLE_COMMAND),))
    try:
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


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
    process, output = up_on_their_root(state_dir, elsewhere, names)
    running = Running(process, json.loads((state_dir / "stack.json").read_text()), theirs, files_before, state_dir,
                      elsewhere, output)
    yield running
    down_from_elsewhere(state_dir, elsewhere, running.process)  # the restarts' stack, after them


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


# -- restarts: an unchanged root is not applied again; their data and tokens survive -------------

UNCHANGED = "Root unchanged since the last apply: not re-applied."
# Added to their root before a restart: a pool with a domain and the demo user, a machine client
# and a JWT route.
AUTH_TF = """
resource "aws_cognito_user_pool" "users" {
  name = "${var.service}-users"
}

resource "aws_cognito_user_pool_domain" "users" {
  domain       = "${var.service}-auth"
  user_pool_id = aws_cognito_user_pool.users.id
}

resource "aws_cognito_user" "demo" { # the stack gives this user a password, kept across restarts
  user_pool_id = aws_cognito_user_pool.users.id
  username     = "demo@example.com"
}

resource "aws_cognito_resource_server" "greeter" {
  identifier   = "greeter"
  name         = "greeter"
  user_pool_id = aws_cognito_user_pool.users.id

  scope {
    scope_name        = "read"
    scope_description = "greet privately"
  }
}

resource "aws_cognito_user_pool_client" "machine" {
  name                                 = "machine"
  user_pool_id                         = aws_cognito_user_pool.users.id
  generate_secret                      = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_scopes                 = aws_cognito_resource_server.greeter.scope_identifiers
}

resource "aws_apigatewayv2_authorizer" "users" {
  api_id           = aws_apigatewayv2_api.public.id
  name             = "users"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = "https://${aws_cognito_user_pool.users.endpoint}"
    audience = [aws_cognito_user_pool_client.machine.id]
  }
}

resource "aws_apigatewayv2_route" "private" {
  api_id               = aws_apigatewayv2_api.public.id
  route_key            = "GET /private/{name}"
  target               = "integrations/${aws_apigatewayv2_integration.greeter.id}"
  authorization_type   = "JWT"
  authorizer_id        = aws_apigatewayv2_authorizer.users.id
  authorization_scopes = ["greeter/read"]
}
"""
PASSWORD = "Their-Pa55word"


@dataclass
class Restarted:
    changed: str  # what the start on their changed root said
    unchanged: str  # what the next start, on the same root, said
    d: dict  # stack.json of the last start
    demo_user_before: dict  # stack.json's demo_user between the two restarts
    token: str  # issued between the two restarts
    answer_before: tuple[int, dict]  # the JWT route's answer to it then
    log_before: tuple[str, int]  # terraform.log (text, mtime) before the unchanged start

    def private_greet(self, name: str, token: str | None) -> tuple[int, dict]:
        return get_json(f"{self.d['api_url']}/live/private/{name}", {"Authorization": f"Bearer {token}"} if token else {})


@pytest.fixture(scope="module")
def restarted(running) -> Restarted:
    """The stack of `running` stopped and started twice from elsewhere, with the same arguments: first on
    their root with AUTH_TF added (applied: the difference), then unchanged. Before each stop, data is
    written through the embedded AWS (a bucket and an object, a table and an item, a user) and a token issued."""
    names = running.theirs.parent / "names.tfvars.json"
    embedded = running.d["aws_endpoint_url"]
    aws.client("s3", embedded).create_bucket(Bucket="their-uploads")
    aws.client("s3", embedded).put_object(Bucket="their-uploads", Key="first.txt", Body=b"written before a restart")
    dynamodb = aws.client("dynamodb", embedded)
    dynamodb.create_table(TableName="their-table", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    dynamodb.put_item(TableName="their-table", Item={"id": {"S": "first"}, "text": {"S": "written before a restart"}})
    down_from_elsewhere(running.state_dir, running.elsewhere, running.process)

    (running.theirs / "auth.tf").write_text(AUTH_TF)
    running.process, changed = up_on_their_root(running.state_dir, running.elsewhere, names)
    d = json.loads((running.state_dir / "stack.json").read_text())
    cognito = aws.client("cognito-idp", d["aws_endpoint_url"])
    cognito.admin_create_user(UserPoolId=d["user_pool_id"], Username="ada")
    cognito.admin_set_user_password(UserPoolId=d["user_pool_id"], Username="ada", Password=PASSWORD, Permanent=True)
    machine = stack.find_client(d, "machine")
    token = tokens.client_credentials(machine.auth_url, tokens.AppClient(machine.id, machine.secret), ["greeter/read"])["access_token"]
    before = Restarted(changed, "", d, d["demo_user"], token, (0, {}), ("", 0))
    before.answer_before = before.private_greet("ada", token)
    log = running.state_dir / "logs" / "terraform.log"
    before.log_before = (log.read_text(), log.stat().st_mtime_ns)
    down_from_elsewhere(running.state_dir, running.elsewhere, running.process)

    running.process, before.unchanged = up_on_their_root(running.state_dir, running.elsewhere, names)
    before.d = json.loads((running.state_dir / "stack.json").read_text())
    return before


def test_their_changed_root_is_applied_to_the_restored_state_with_only_the_difference(restarted) -> None:
    assert "Applying the changes of" in restarted.changed and UNCHANGED not in restarted.changed
    applied = restarted.log_before[0]
    # Seven resources of AUTH_TF; the function's greeting back to up's var file (a re-apply had changed it).
    assert "Resources: 7 added, 1 changed, 0 destroyed." in applied, applied[-2000:]


def test_a_restart_of_their_unchanged_root_runs_no_terraform_and_serves(restarted, running) -> None:
    assert UNCHANGED in restarted.unchanged and "Applying" not in restarted.unchanged
    log = running.state_dir / "logs" / "terraform.log"
    assert (log.read_text(), log.stat().st_mtime_ns) == restarted.log_before
    assert get_json(f"{restarted.d['api_url']}/live/greet/ada") == (200, {"message": "Hello from a var file, ada!"})
    assert restarted.d["outputs"]["function_name"] == "their-greeter"


def test_what_was_written_before_a_stop_is_there_after_it(restarted) -> None:
    embedded = restarted.d["aws_endpoint_url"]
    body = aws.client("s3", embedded).get_object(Bucket="their-uploads", Key="first.txt")["Body"].read()
    assert body == b"written before a restart", "through two restarts and an apply"
    item = aws.client("dynamodb", embedded).get_item(TableName="their-table", Key={"id": {"S": "first"}})["Item"]
    assert item["text"] == {"S": "written before a restart"}
    status, user = aws.private(embedded, f"cognito/{restarted.d['user_pool_id']}/authenticate",
                               {"username": "ada", "password": PASSWORD})
    assert status == 200 and json.loads(user)["username"] == "ada"


def test_a_token_issued_before_a_restart_passes_the_jwt_authorizer_after_it(restarted) -> None:
    assert restarted.answer_before == (200, {"message": "Hello from a var file, ada!"})
    assert restarted.private_greet("ada", restarted.token) == (200, {"message": "Hello from a var file, ada!"})
    assert restarted.private_greet("ada", None)[0] == 401, "the route still refuses a request without one"


def test_the_demo_user_keeps_its_password_across_a_restart(restarted) -> None:
    demo = restarted.demo_user_before
    assert demo["username"] == "demo@example.com" and restarted.d["demo_user"] == demo
    assert f"Demo user     demo@example.com / {demo['password']}" in restarted.unchanged
    status, _ = aws.private(restarted.d["aws_endpoint_url"], f"cognito/{demo['user_pool_id']}/authenticate",
                            {"username": demo["username"], "password": demo["password"]})
    assert status == 200
