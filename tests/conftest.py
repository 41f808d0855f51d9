"""Shared fixtures: a per-worker Terraform workspace for plan tests, the embedded AWS (in this
process, or a notes table in a process of its own) and the copy of the repository the local stack runs;
and the order in which xdist hands out the work."""
from __future__ import annotations

import os

import pytest

from tests.tfharness import Workspace

# Terraform and the AWS provider are Go programs that live for seconds: most of the suite's CPU is
# theirs (each run starts the 700 MB provider and builds its schema). Collecting garbage a quarter
# as often cuts a root plan's CPU by about a fifth (7.1 s to 5.6 s) for about 3 % more memory.
# Inherited by every Terraform the tests run, the local stacks' too; a GOGC of the caller's wins.
os.environ.setdefault("GOGC", "400")

# xdist (--dist loadgroup --no-loadscope-reorder, see pyproject.toml) hands a worker one unit at a
# time in collection order: an xdist group, or an ungrouped test. The longest go first, so that
# the short ones at the end fill in and the two workers end together. Seconds measured on the
# project's 2-core machine (make test, Dec 2026), rounded; units not named here keep their
# collection order after these. A new long group belongs here.
LONGEST_FIRST = {
    "apply-examples": 135, "apply": 90, "local-stack": 85, "tests/fixtures/lambda_route_build": 60,
    "any-root": 55, "apply-packaging": 55,
    "tests/test_pytest_plugin.py::test_several_apis_and_pools_in_two_regions_through_the_plugin": 50,
    "tests/fixtures/http_api_preflight": 45, "rest-gateway": 40, "modules/cognito": 40, "modules/http_api": 35,
    "modules/lambda_route": 35, "audit-broken-root": 30, ".": 30,
    "tests/test_pytest_plugin.py::test_the_own_root_example_passes_as_the_readme_runs_it": 30,
    "embedded-state": 30, "modules/private_rest_api": 25, "local-restart": 20, "runtime": 20,
    "tests/test_pytest_plugin.py::test_ctrl_c_after_a_failing_test_leaves_nothing_running": 15,
}


def work_unit(item: pytest.Item) -> str:
    """What xdist's loadgroup scheduler hands out together: the test's group, else the test."""
    group = item.get_closest_marker("xdist_group")
    return group.args[0] if group else item.nodeid


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "last_of_group: ends what its xdist group shares (say, stops the stack): "
                                       "runs after the group's other tests, whatever files were named")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Longest units first; a unit's tests together, in collection order but last_of_group last."""
    first_seen: dict[str, int] = {}
    for item in items:
        first_seen.setdefault(work_unit(item), len(first_seen))
    items.sort(key=lambda item: (-LONGEST_FIRST.get(work_unit(item), 0), first_seen[work_unit(item)],
                                 item.get_closest_marker("last_of_group") is not None))


@pytest.fixture(scope="session")
def tf(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """This worker's copy of the repository's Terraform; `tf.root(path)` plans a root offline."""
    return Workspace(tmp_path_factory.mktemp("terraform"))


@pytest.fixture(scope="module")
def aws_url():
    """The URL of an embedded AWS the module serves from this process (embedded_aws.in_process).
    In-process servers share moto's backends: what a module creates, a later module of the worker sees."""
    from tests.support.embedded_aws import in_process

    with in_process() as url:
        yield url


@pytest.fixture(scope="module")
def embedded_aws(tmp_path_factory: pytest.TempPathFactory):
    """An embedded AWS process of the module's own (embedded_aws.EmbeddedAws): nothing another module
    created is in it."""
    from tests.support.embedded_aws import EmbeddedAws

    with EmbeddedAws.start(tmp_path_factory.mktemp("embedded-aws")) as aws:
        yield aws


@pytest.fixture(scope="session")
def notes_table(tmp_path_factory: pytest.TempPathFactory):
    """A notes table (as main.tf declares it) in this worker's own embedded AWS; yields the
    environment a function of the root gets: the table's name and the sandbox to reach it."""
    from local_aws import stack
    from tests.support.embedded_aws import EmbeddedAws

    with EmbeddedAws.start(tmp_path_factory.mktemp("notes-aws")) as embedded:
        embedded.client("dynamodb").create_table(
            TableName="notes", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "ownerSub", "KeyType": "HASH"}, {"AttributeName": "noteId", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "ownerSub", "AttributeType": "S"},
                                  {"AttributeName": "noteId", "AttributeType": "S"}],
        )
        yield stack.sandbox_env(embedded.url, base={}) | {"NOTES_TABLE": "notes"}


@pytest.fixture(scope="session")
def local_aws_root(tmp_path_factory: pytest.TempPathFactory):
    """The plugin's `local_stack` of this repository's tests runs a copy of it, so that a test may
    edit a handler (tests/test_audit.py, tests/test_local_notes.py, tests/test_local_stack.py: one
    stack, one worker, xdist group "local-stack")."""
    import shutil

    from local_aws import stack

    root = tmp_path_factory.mktemp("local-stack") / "root"
    shutil.copytree(stack.REPO, root, ignore=stack.NOT_COPIED)
    return root
