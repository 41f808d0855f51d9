"""Shared fixtures: a per-worker Terraform workspace for plan tests."""
from __future__ import annotations

import pytest

from tests.tfharness import Workspace


@pytest.fixture(scope="session")
def tf(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """This worker's copy of the repository's Terraform; `tf.root(path)` plans a root offline."""
    return Workspace(tmp_path_factory.mktemp("terraform"))
