"""Run by tests/test_pytest_plugin.py in a pytest of its own, on tests/fixtures/plugin_root: one
test fails after using the stack, the next one waits to be interrupted."""
import os
import time
from pathlib import Path

SIGNALS = Path(os.environ["PLUGIN_CHECK_DIR"])


def test_fails_after_using_the_stack(local_stack):
    response = local_stack.request("GET", f"{local_stack.url()}/ping")
    assert response.body == b"pong"  # a Lambda environment now runs too
    (SIGNALS / "failing").write_text("")
    assert False, "failing on purpose"


def test_waits_to_be_interrupted(local_stack):
    deadline = time.monotonic() + 300
    while not (SIGNALS / "failing").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    (SIGNALS / "ready.partial").write_text(str(local_stack.description["pid"]))
    os.replace(SIGNALS / "ready.partial", SIGNALS / "ready")  # whole: the outer test reads it once it exists
    time.sleep(300)
