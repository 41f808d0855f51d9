"""Shared fixtures: a per-worker Terraform workspace for plan tests, the embedded AWS (in this
process, or a notes table in a process of its own) and the copy of the repository the local stack runs."""
from __future__ import annotations

import pytest

from tests.tfharness import Workspace


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
