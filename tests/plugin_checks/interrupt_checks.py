"""Run by tests/test_pytest_plugin.py in a pytest of its own, on tests/fixtures/plugin_root: one
test fails after using the stack, the next one waits to be interrupted."""
import os
import signal
import time
from pathlib import Path

SIGNALS = Path(os.environ["PLUGIN_CHECK_DIR"])

# Ctrl-C as in a terminal: Python's own handler, SIGINT not blocked. A process keeps the SIGINT
# disposition and mask of the one that started it, and the test process that starts this pytest
# may have had SIGINT ignored or blocked by then (twice in CI: Ctrl-C then never reached this run).
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


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
