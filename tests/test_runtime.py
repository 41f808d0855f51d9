"""local_aws/runtime.py: Lambda execution environments, against a real embedded AWS.

Every function here is created with boto3 in the embedded AWS from a zip built by the test, and
runs in real worker processes; nothing stands in for the runtime, the bootstrap or CloudWatch.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local_aws import aws
from local_aws.runtime import (
    FunctionNotFound,
    InvocationTimeout,
    LambdaRuntimeError,
    Runtime,
    UnsupportedFunction,
)
from tests.support.lambdas import lambda_role
from tests.support.lambdas import zip_of as support_zip

pytestmark = pytest.mark.xdist_group("runtime")

REPOSITORY = Path(__file__).resolve().parents[1]
EVENTS = Path(__file__).parent / "events"
STREAM_NAME = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# A handler that reports who ran it and keeps a count in module state.
COUNTER = """
import os
import time

invocations = 0

def handler(event, context):
    global invocations
    invocations += 1
    started = time.time()
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid(), "invocations": invocations, "version": VERSION,
            "started": started, "ended": time.time()}
"""

# One function whose event says what to do: used where a test needs several behaviours in one environment.
BEHAVIOURS = """
import ctypes
import os
import time

def handler(event, context):
    action = event.get("action")
    if action == "exit":
        os._exit(event["status"])
    if action == "segfault":
        ctypes.string_at(0)
    if action == "sleep":
        time.sleep(event["seconds"])
    return {"pid": os.getpid()}
"""


# --- fixtures and helpers --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def role(aws_url: str) -> str:
    return lambda_role(aws.client("iam", aws_url), "runtime-tests")


@pytest.fixture
def runtime(aws_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(aws_url, tmp_path / "runtime", max_environments=3)
    yield runtime
    runtime.close()


@pytest.fixture
def single_runtime(aws_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(aws_url, tmp_path / "single", max_environments=1)
    yield runtime
    runtime.close()


def zip_of(files: dict[str, str | bytes]) -> bytes:
    """A package of these files, source text dedented."""
    return support_zip({name: textwrap.dedent(content) if isinstance(content, str) else content
                        for name, content in files.items()})


@pytest.fixture
def deploy(aws_url: str, role: str) -> Callable[..., str]:
    """Create a function (and, unless told not to, its log group); return its name."""

    def create(files: dict[str, str | bytes], *, handler: str = "app.handler", runtime: str = "python3.12",
               timeout: int = 3, memory: int = 128, environment: dict[str, str] | None = None,
               log_group: bool = True) -> str:
        name = f"rt-{uuid.uuid4().hex[:12]}"
        if log_group:
            aws.client("logs", aws_url).create_log_group(logGroupName=f"/aws/lambda/{name}")
        extra = {"Environment": {"Variables": environment}} if environment else {}
        aws.client("lambda", aws_url).create_function(
            FunctionName=name, Runtime=runtime, Role=role, Handler=handler, Timeout=timeout, MemorySize=memory,
            Code={"ZipFile": zip_of(files)}, **extra)
        return name

    return create


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie (PID 1 here may never reap orphans)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def log_events(aws_url: str, group: str, until: Callable[[list[dict]], bool], timeout_s: float = 5.0) -> list[dict]:
    """The group's events, in order, polled until `until` holds (the shipper batches in the background)."""
    logs = aws.client("logs", aws_url)
    deadline = time.monotonic() + timeout_s
    while True:
        events, token = [], None
        while True:
            page = logs.filter_log_events(logGroupName=group, **({"nextToken": token} if token else {}))
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                break
        if until(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def messages(events: list[dict]) -> list[str]:
    return [event["message"] for event in events]


def has_line(prefix: str) -> Callable[[list[dict]], bool]:
    return lambda events: any(event["message"].startswith(prefix) for event in events)


# --- results and warm reuse -------------------------------------------------------------------------

def test_the_handlers_result_is_the_payload(runtime: Runtime, deploy) -> None:
    name = deploy({"app.py": """
        import decimal

        def handler(event, context):
            if event.get("none"):
                return None
            return {"echo": event, "text": "caf\u00e9 \u2713", "price": decimal.Decimal("1.5"), "count": decimal.Decimal(3)}
    """})
    function = runtime.function(name)
    assert (function.name, function.handler, function.runtime) == (name, "app.handler", "python3.12")
    assert function.arn == f"arn:aws:lambda:us-east-1:{aws.ACCOUNT_ID}:function:{name}"
    assert function.log_group == f"/aws/lambda/{name}"

    invocation = runtime.invoke(function, {"a": [1, 2, {"b": None}]})
    assert invocation.error is None
    # Decimals (DynamoDB numbers) marshal as JSON numbers, as the AWS runtime writes them.
    assert invocation.payload == {"echo": {"a": [1, 2, {"b": None}]}, "text": "caf\u00e9 \u2713", "price": 1.5, "count": 3}
    assert UUID.match(invocation.request_id) and invocation.duration_ms >= 0

    returned_none = runtime.invoke(function, {"none": True})
    assert (returned_none.payload, returned_none.error) == (None, None)
    assert returned_none.request_id != invocation.request_id


def test_a_warm_environment_keeps_its_process_and_module_state(runtime: Runtime, deploy) -> None:
    function = runtime.function(deploy({"app.py": "VERSION = 1\n" + COUNTER}))
    first = runtime.invoke(function, {}).payload
    second = runtime.invoke(function, {}).payload
    assert second["pid"] == first["pid"]
    assert (first["invocations"], second["invocations"]) == (1, 2)


def test_big_events_and_results_and_noisy_output_do_not_disturb_the_protocol(runtime: Runtime, deploy) -> None:
    function = runtime.function(deploy({"app.py": """
        import os
        import sys

        def handler(event, context):
            print("x" * 200_000)                     # more than a pipe holds
            os.write(1, b"\\x00\\xff raw bytes on fd 1\\n")
            sys.stdout.buffer.write(b"bytes through sys.stdout.buffer\\n")
            print("to stderr", file=sys.stderr)
            return {"size": len(event["blob"]), "blob": event["blob"][::-1]}
    """}))
    blob = "ab\u00e9" * 400_000  # 1.2 M characters each way
    invocation = runtime.invoke(function, {"blob": blob})
    assert invocation.error is None
    assert invocation.payload == {"size": len(blob), "blob": blob[::-1]}
    assert runtime.invoke(function, {"blob": "again"}).payload["blob"] == "niaga"


# --- code and configuration changes ---------------------------------------------------------------------

def test_a_code_update_is_served_by_a_new_environment_and_the_old_one_is_retired(
        runtime: Runtime, deploy, aws_url: str) -> None:
    name = deploy({"app.py": "VERSION = 1\n" + COUNTER})
    old = runtime.function(name)
    before = runtime.invoke(old, {}).payload
    assert before["version"] == 1

    generation = json.loads(aws.private(aws_url, "state")[1])["generation"]
    aws.client("lambda", aws_url).update_function_code(FunctionName=name, ZipFile=zip_of({"app.py": "VERSION = 2\n" + COUNTER}))
    # A caller that passes the generation it knows gets the cached configuration, without a round trip.
    assert runtime.function(name, generation=generation) is old
    new = runtime.function(name)
    assert new.code_sha256 != old.code_sha256
    assert not running(before["pid"]), "the idle environment of the old code is stopped"

    after = runtime.invoke(new, {}).payload
    assert (after["version"], after["invocations"]) == (2, 1)
    assert after["pid"] != before["pid"]
    assert runtime.function(name) is new  # nothing changed since: the cached configuration


def test_a_configuration_change_retires_environments_too(runtime: Runtime, deploy, aws_url: str) -> None:
    name = deploy({"app.py": """
        import os

        def handler(event, context):
            return {"pid": os.getpid(), "colour": os.environ.get("COLOUR"), "memory": context.memory_limit_in_mb}
    """}, environment={"COLOUR": "red"})
    before = runtime.invoke(runtime.function(name), {}).payload
    assert before["colour"] == "red"
    aws.client("lambda", aws_url).update_function_configuration(
        FunctionName=name, Environment={"Variables": {"COLOUR": "blue"}}, MemorySize=512)
    function = runtime.function(name)
    assert (function.environment, function.memory_mb) == ({"COLOUR": "blue"}, 512)
    after = runtime.invoke(function, {}).payload
    assert (after["colour"], after["memory"]) == ("blue", "512")
    assert after["pid"] != before["pid"] and not running(before["pid"])


def test_an_environment_busy_during_an_update_finishes_then_retires(runtime: Runtime, deploy, aws_url: str) -> None:
    name = deploy({"app.py": "VERSION = 1\n" + COUNTER})
    old = runtime.function(name)
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(runtime.invoke, old, {"sleep": 0.5})
        time.sleep(0.2)
        aws.client("lambda", aws_url).update_function_code(FunctionName=name, ZipFile=zip_of({"app.py": "VERSION = 2\n" + COUNTER}))
        new = runtime.function(name)
        result = busy.result(timeout=10)
    assert result.error is None and result.payload["version"] == 1  # its invocation was not cut short
    assert gone_within(result.payload["pid"], 3), "then it was retired, not kept warm"
    assert runtime.invoke(new, {}).payload["version"] == 2


# --- concurrency ------------------------------------------------------------------------------------------

def test_parallel_invocations_use_at_most_max_environments(runtime: Runtime, deploy) -> None:
    function = runtime.function(deploy({"app.py": "VERSION = 1\n" + COUNTER}))
    started = time.monotonic()
    with ThreadPoolExecutor(9) as pool:
        invocations = list(pool.map(lambda _: runtime.invoke(function, {"sleep": 0.4}, wait_s=20), range(9)))
    assert time.monotonic() - started < 9 * 0.4, "they ran in parallel"
    assert all(invocation.error is None for invocation in invocations)
    results = [invocation.payload for invocation in invocations]
    by_pid: dict[int, list[int]] = {}
    for result in results:
        by_pid.setdefault(result["pid"], []).append(result["invocations"])
    assert len(by_pid) == 3  # max_environments, each one reused warm for the waiting invocations
    assert all(sorted(counts) == list(range(1, len(counts) + 1)) for counts in by_pid.values())
    # Never more than three running at once (ends sort before starts at the same instant).
    edges = sorted([(r["started"], 1) for r in results] + [(r["ended"], -1) for r in results])
    running_now = peak = 0
    for _, step in edges:
        running_now += step
        peak = max(peak, running_now)
    assert 2 <= peak <= 3


def test_waiting_for_a_free_environment_is_bounded_by_wait_s(single_runtime: Runtime, deploy) -> None:
    function = single_runtime.function(deploy({"app.py": "VERSION = 1\n" + COUNTER}))
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(single_runtime.invoke, function, {"sleep": 1.5})
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(InvocationTimeout, match="busy"):
            single_runtime.invoke(function, {}, wait_s=0.3)
        assert 0.25 < time.monotonic() - started < 1.0
        assert busy.result(timeout=10).error is None  # the busy one was left alone
    # With patience, the next caller gets the environment once it is free.
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(single_runtime.invoke, function, {"sleep": 0.5})
        time.sleep(0.2)
        waited = single_runtime.invoke(function, {}, wait_s=5)
        assert waited.error is None and waited.payload["pid"] == busy.result().payload["pid"]


# --- failures ---------------------------------------------------------------------------------------

def test_a_crash_is_an_exit_error_and_the_environment_is_replaced(runtime: Runtime, deploy, aws_url: str) -> None:
    function = runtime.function(deploy({"app.py": BEHAVIOURS}))
    pid = runtime.invoke(function, {}).payload["pid"]
    crash = runtime.invoke(function, {"action": "exit", "status": 3})
    assert crash.payload is None
    assert crash.error["errorType"] == "Runtime.ExitError"
    assert crash.error["errorMessage"] == f"RequestId: {crash.request_id} Error: Runtime exited with error: exit status 3"
    assert not running(pid)
    replacement = runtime.invoke(function, {}).payload["pid"]
    assert replacement != pid

    segfault = runtime.invoke(function, {"action": "segfault"})
    assert segfault.error["errorType"] == "Runtime.ExitError"
    assert segfault.error["errorMessage"].endswith("Runtime exited with error: signal: segmentation fault")
    assert not running(replacement)
    assert runtime.invoke(function, {}).error is None

    events = log_events(aws_url, function.log_group, has_line(f"REPORT RequestId: {segfault.request_id}"))
    lines = messages(events)
    assert f"RequestId: {crash.request_id} Error: Runtime exited with error: exit status 3\nRuntime.ExitError\n" in lines
    assert f"END RequestId: {crash.request_id}\n" in lines


def test_the_function_timeout_kills_the_environment(single_runtime: Runtime, deploy, aws_url: str) -> None:
    function = single_runtime.function(deploy({"app.py": BEHAVIOURS}, timeout=1))
    pid = single_runtime.invoke(function, {}).payload["pid"]
    started = time.monotonic()
    timed_out = single_runtime.invoke(function, {"action": "sleep", "seconds": 30}, wait_s=30)
    assert 1.0 <= time.monotonic() - started < 3.0
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert timed_out.error["errorMessage"] == f"RequestId: {timed_out.request_id} Error: Task timed out after 1.00 seconds"
    assert timed_out.duration_ms == pytest.approx(1000)
    assert not running(pid)
    after = single_runtime.invoke(function, {})
    assert after.error is None and after.payload["pid"] != pid

    events = log_events(aws_url, function.log_group, has_line(f"REPORT RequestId: {timed_out.request_id}"))
    lines = messages(events)
    assert any(line.endswith(f"{timed_out.request_id} Task timed out after 1.00 seconds\n") for line in lines)
    report = next(line for line in lines if line.startswith(f"REPORT RequestId: {timed_out.request_id}"))
    assert "Duration: 1000.00 ms" in report and "Status: timeout" in report


def test_the_callers_wait_s_raises_invocation_timeout(single_runtime: Runtime, deploy) -> None:
    function = single_runtime.function(deploy({"app.py": BEHAVIOURS}, timeout=30))
    pid = single_runtime.invoke(function, {}).payload["pid"]
    started = time.monotonic()
    with pytest.raises(InvocationTimeout, match="no result within 0.300 s"):
        single_runtime.invoke(function, {"action": "sleep", "seconds": 30}, wait_s=0.3)
    assert time.monotonic() - started < 2.0
    # The environment is stopped (AWS would let the function run on, unobserved).
    assert not running(pid)
    after = single_runtime.invoke(function, {}, wait_s=10)
    assert after.error is None and after.payload["pid"] != pid


def test_an_exception_is_reported_with_its_class_name_and_message(runtime: Runtime, deploy, aws_url: str) -> None:
    function = runtime.function(deploy({"app.py": """
        import os

        class OrderRejected(Exception):
            pass

        def handler(event, context):
            if event.get("fail"):
                check(event)
            return {"pid": os.getpid()}

        def check(event):
            raise OrderRejected(f"order {event['fail']} is too large")
    """}))
    pid = runtime.invoke(function, {}).payload["pid"]
    failed = runtime.invoke(function, {"fail": 7})
    assert failed.payload is None
    assert failed.error["errorType"] == "OrderRejected"
    assert failed.error["errorMessage"] == "order 7 is too large"
    trace = failed.error["stackTrace"]
    assert [entry.split(", in ")[1].split("\n")[0] for entry in trace] == ["handler", "check"]
    assert all("app.py" in entry and "runtime_bootstrap" not in entry for entry in trace)
    assert runtime.invoke(function, {}).payload["pid"] == pid  # a handled error keeps the environment

    events = log_events(aws_url, function.log_group, has_line("[ERROR] OrderRejected"))
    error = next(line for line in messages(events) if line.startswith("[ERROR]"))
    # One event, with its traceback, as the AWS runtime writes it.
    assert error.startswith("[ERROR] OrderRejected: order 7 is too large\nTraceback (most recent call last):\n")
    assert 'raise OrderRejected(f"order {event' in error


@pytest.mark.parametrize("files, handler, error_type, message", [
    ({"app.py": "import not_installed_anywhere\n\ndef handler(e, c):\n    return 1\n"}, "app.handler",
     "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'not_installed_anywhere'"),
    ({"other.py": "def handler(e, c):\n    return 1\n"}, "app.handler",
     "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'app'"),
    ({"app.py": "raise RuntimeError('no configuration')\n"}, "app.handler", "RuntimeError", "no configuration"),
    ({"app.py": "def handler(e, c)\n    return 1\n"}, "app.handler",
     "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': expected ':' (app.py, line 1)"),
    ({"app.py": "def handler(e, c):\n    return 1\n"}, "app",
     "Runtime.MalformedHandlerName", "Bad handler 'app': not enough values to unpack (expected 2, got 1)"),
    ({"app.py": "def handler(e, c):\n    return 1\n"}, "sys.handler",
     "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"),
], ids=["missing-dependency", "missing-module", "raises-at-import", "syntax-error", "malformed-name", "builtin-module"])
def test_init_errors_are_reported_as_lambda_reports_them(runtime: Runtime, deploy, aws_url: str,
                                                         files, handler, error_type, message) -> None:
    function = runtime.function(deploy(files, handler=handler))
    for _ in range(2):  # the failed environment is dropped; the next invocation initialises again
        failed = runtime.invoke(function, {})
        assert failed.payload is None
        assert (failed.error["errorType"], failed.error["errorMessage"]) == (error_type, message)
        assert failed.error["requestId"] == failed.request_id
    events = log_events(aws_url, function.log_group, has_line(f"REPORT RequestId: {failed.request_id}"))
    lines = messages(events)
    assert f"[ERROR] {error_type}: {message}\nTraceback (most recent call last):" in "".join(lines)
    assert f"START RequestId: {failed.request_id} Version: $LATEST\n" in lines


def test_a_missing_handler_function_fails_each_invocation(runtime: Runtime, deploy) -> None:
    function = runtime.function(deploy({"app.py": "def handler(e, c):\n    return 1\n"}, handler="app.nope"))
    for _ in range(2):
        failed = runtime.invoke(function, {})
        assert (failed.error["errorType"], failed.error["errorMessage"]) == (
            "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'")


def test_a_result_that_is_not_json_is_a_marshal_error(runtime: Runtime, deploy) -> None:
    function = runtime.function(deploy({"app.py": """
        import os

        def handler(event, context):
            return {"pid": os.getpid(), "tags": {"a", "b"}} if event.get("set") else {"pid": os.getpid()}
    """}))
    pid = runtime.invoke(function, {}).payload["pid"]
    failed = runtime.invoke(function, {"set": True})
    assert failed.payload is None
    assert failed.error["errorType"] == "Runtime.MarshalError"
    assert failed.error["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
    assert runtime.invoke(function, {}).payload["pid"] == pid


def test_a_handler_that_corrupts_the_protocol_is_a_loud_error_not_a_stuck_environment(runtime: Runtime, deploy) -> None:
    function = runtime.function(deploy({"app.py": """
        import os
        import sys

        def handler(event, context):
            if event.get("corrupt"):
                os.write(int(sys.argv[2]), b"\\x00\\x00\\x00\\x02{]")  # a frame that is not JSON, on the runtime's fd
            return os.getpid()
    """}))
    pid = runtime.invoke(function, {}).payload
    with pytest.raises(LambdaRuntimeError, match="broke the runtime protocol"):
        runtime.invoke(function, {"corrupt": True})
    assert not running(pid)
    assert runtime.invoke(function, {}).payload != pid
    with pytest.raises(ValueError, match="wait_s must be positive"):
        runtime.invoke(function, {}, wait_s=0)


# --- what the handler sees ----------------------------------------------------------------------------

def test_the_context_object(runtime: Runtime, deploy) -> None:
    function = runtime.function(deploy({"app.py": """
        import time

        def handler(event, context):
            first = context.get_remaining_time_in_millis()
            time.sleep(0.25)
            return {
                "aws_request_id": context.aws_request_id,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "invoked_function_arn": context.invoked_function_arn,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "client_context": context.client_context,
                "remaining": [first, context.get_remaining_time_in_millis()],
            }
    """}, timeout=7, memory=256))
    invocation = runtime.invoke(function, {})
    seen = invocation.payload
    assert seen["aws_request_id"] == invocation.request_id
    assert (seen["function_name"], seen["function_version"]) == (function.name, "$LATEST")
    assert seen["memory_limit_in_mb"] == "256"  # a string, as in the AWS Python runtime
    assert seen["invoked_function_arn"] == function.arn
    assert seen["log_group_name"] == f"/aws/lambda/{function.name}"
    assert STREAM_NAME.match(seen["log_stream_name"])
    assert seen["client_context"] is None
    first, second = seen["remaining"]
    assert 6500 < first <= 7000
    assert 200 <= first - second < 1000


def test_the_environment_is_lambdas_and_boto3_reaches_only_the_embedded_aws(
        runtime: Runtime, deploy, aws_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    name = deploy({"app.py": """
        import os
        import sys
        import tempfile

        import boto3

        def handler(event, context):
            groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix=event["prefix"])["logGroups"]
            return {"environ": dict(os.environ), "path0": sys.path[0], "cwd": os.getcwd(),
                    "tmp": tempfile.gettempdir(), "groups": [group["logGroupName"] for group in groups]}
    """}, environment={"GREETING": "hello", "TZ": ":UTC"}, memory=192)
    function = runtime.function(name)
    # The user's own credentials and settings (set before the environment starts) never reach a handler.
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALUSERKEY00000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("USER_ONLY_SETTING", "leaked")
    seen = runtime.invoke(function, {"prefix": function.log_group}, wait_s=30)
    assert seen.error is None, seen.error
    environ = seen.payload["environ"]

    assert environ["GREETING"] == "hello"
    assert {key: environ.get(key) for key in (
        "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "_HANDLER", "AWS_EXECUTION_ENV",
        "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE")} == {
        "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "192",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "_HANDLER": "app.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "AWS_ENDPOINT_URL": aws_url, "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    assert STREAM_NAME.match(environ["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert "AWS_PROFILE" not in environ and "AWS_SESSION_TOKEN" not in environ
    assert "USER_ONLY_SETTING" not in environ
    assert "real-secret" not in json.dumps(environ)
    # The zip's root is the working directory and comes first on sys.path; /tmp is the environment's own.
    assert seen.payload["cwd"] == seen.payload["path0"] == environ["LAMBDA_TASK_ROOT"]
    assert Path(seen.payload["tmp"]).is_relative_to(runtime.work_dir)
    # The handler's boto3 call, with no endpoint of its own, was answered by the embedded AWS.
    assert seen.payload["groups"] == [function.log_group]


@pytest.mark.parametrize("variables, refusal", [
    ({"AWS_REGION": "eu-west-1"}, "reserves: AWS_REGION"),
    ({"AWS_ENDPOINT_URL_S3": "https://s3.amazonaws.com"}, "sets AWS_ENDPOINT_URL_S3"),
    ({"AWS_PROFILE": "production"}, "sets AWS_PROFILE"),
])
def test_variables_that_lambda_reserves_or_that_leave_the_sandbox_are_refused(
        runtime: Runtime, deploy, variables, refusal) -> None:
    name = deploy({"app.py": "def handler(e, c):\n    return 1\n"}, environment=variables)
    with pytest.raises(UnsupportedFunction, match=refusal):
        runtime.function(name)


def test_what_is_not_emulated_is_a_clear_error(runtime: Runtime, deploy, aws_url: str) -> None:
    node = deploy({"index.js": "exports.handler = async () => 1;\n"}, handler="index.handler", runtime="nodejs20.x")
    with pytest.raises(UnsupportedFunction, match=rf"function {node} has runtime nodejs20.x: .*only Python"):
        runtime.function(node)
    python = deploy({"app.py": "def handler(e, c):\n    return 1\n"})
    arn = runtime.function(python).arn
    assert runtime.function(f"{arn}:$LATEST").arn == arn
    with pytest.raises(UnsupportedFunction, match="versions and aliases"):
        runtime.function(f"{arn}:live")
    with pytest.raises(FunctionNotFound, match="no-such-function"):
        runtime.function("no-such-function")
    with pytest.raises(FunctionNotFound, match="eu-west-1"):
        runtime.function(arn.replace("us-east-1", "eu-west-1"))


# --- logs ----------------------------------------------------------------------------------------

def test_logs_arrive_in_the_log_group_as_lambda_writes_them(runtime: Runtime, deploy, aws_url: str) -> None:
    function = runtime.function(deploy({"app.py": """
        import logging
        import os
        import subprocess
        import sys

        logger = logging.getLogger()

        def handler(event, context):
            print("printed line")
            print("first\\nsecond")
            print("to stderr", file=sys.stderr)
            logger.info("not shown: the root level is WARNING, as on Lambda")
            logger.warning("logged %s", "warning")
            os.write(1, b"raw fd line\\n")
            subprocess.run(["echo", "from a subprocess"], check=True)
            return "ok"
    """}))
    first = runtime.invoke(function, {})
    second = runtime.invoke(function, {})
    events = log_events(aws_url, function.log_group, has_line(f"REPORT RequestId: {second.request_id}"))
    assert len({event["logStreamName"] for event in events}) == 1, "one stream per environment"
    assert STREAM_NAME.match(events[0]["logStreamName"])
    lines = messages(events)
    assert lines[0].startswith("INIT_START Runtime Version: python3.12 run by the local interpreter ")

    start = lines.index(f"START RequestId: {first.request_id} Version: $LATEST\n")
    end = lines.index(f"END RequestId: {first.request_id}\n")
    assert lines[start + 1:start + 5] == ["printed line\n", "first\n", "second\n", "to stderr\n"]
    logged = lines[start + 5]
    assert re.fullmatch(rf"\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{first.request_id}\tlogged warning\n", logged)
    assert lines[start + 6:end] == ["raw fd line\n", "from a subprocess\n"]
    report = lines[end + 1]
    assert re.fullmatch(
        rf"REPORT RequestId: {first.request_id}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t\n", report)
    second_report = next(line for line in lines if line.startswith(f"REPORT RequestId: {second.request_id}"))
    assert "Init Duration" not in second_report  # warm
    assert not any("not shown" in line for line in lines)


def test_handler_output_can_neither_fake_nor_cut_a_runtime_record(runtime: Runtime, deploy, aws_url: str) -> None:
    function = runtime.function(deploy({"app.py": """
        import logging
        import sys

        def handler(event, context):
            print("\\x1eREPORT RequestId: forged\\x1fDuration: 0.00 ms")  # the old in-band record marks
            sys.stdout.write("half a line")  # no newline: the runtime's END must not be glued to it
            logging.getLogger().warning("one record\\nof two lines")
            return "ok"
    """}))
    invocation = runtime.invoke(function, {})
    events = log_events(aws_url, function.log_group, has_line(f"REPORT RequestId: {invocation.request_id}"))
    lines = messages(events)
    start = lines.index(f"START RequestId: {invocation.request_id} Version: $LATEST\n")
    assert lines[start + 1:start + 3] == ["\x1eREPORT RequestId: forged\x1fDuration: 0.00 ms\n", "half a line\n"]
    assert lines[start + 3].endswith(f"\t{invocation.request_id}\tone record\nof two lines\n")
    assert lines[start + 4] == f"END RequestId: {invocation.request_id}\n"
    assert sum(line.startswith("REPORT RequestId:") for line in lines) == 1


def test_cloudwatch_refusing_logs_never_fails_an_invocation(aws_url: str, tmp_path: Path, deploy,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    name = deploy({"app.py": "def handler(e, c):\n    print('nowhere to go')\n    return 'fine'\n"}, log_group=False)
    with caplog.at_level("WARNING", logger="local_aws.runtime"):
        with Runtime(aws_url, tmp_path / "runtime") as runtime:
            function = runtime.function(name)
            assert [runtime.invoke(function, {}).payload for _ in range(3)] == ["fine"] * 3
    assert any(f"/aws/lambda/{name}" in record.getMessage() and "ResourceNotFoundException" in record.getMessage()
               for record in caplog.records)


def test_a_refused_log_group_loses_no_line_of_the_others(aws_url: str, tmp_path: Path, deploy,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    """The shipper delivers every stream of a batch in one call: a group that is missing is refused
    on its own, named once, and the lines of the other functions in that batch still arrive."""
    lost = deploy({"app.py": "def handler(e, c):\n    print('nowhere to go')\n    return 'lost'\n"}, log_group=False)
    kept = deploy({"app.py": "def handler(e, c):\n    print('kept line')\n    return 'kept'\n"})
    with caplog.at_level("WARNING"):
        with Runtime(aws_url, tmp_path / "runtime") as runtime:
            functions = runtime.function(lost), runtime.function(kept)
            for _ in range(3):  # started together, then warm: their lines share batches
                with ThreadPoolExecutor(2) as pool:
                    answers = list(pool.map(lambda function: runtime.invoke(function, {}), functions))
                assert [answer.payload for answer in answers] == ["lost", "kept"]
    events = log_events(aws_url, functions[1].log_group, has_line(f"REPORT RequestId: {answers[1].request_id}"))
    assert messages(events).count("kept line\n") == 3
    refusals = [record.getMessage() for record in caplog.records if "dropped" in record.getMessage()]
    assert len(refusals) == 1 and f"/aws/lambda/{lost}" in refusals[0] and "ResourceNotFoundException" in refusals[0]


# --- processes --------------------------------------------------------------------------------------

def test_close_leaves_no_process(aws_url: str, tmp_path: Path, deploy) -> None:
    name = deploy({"app.py": """
        import os
        import subprocess
        import time

        def handler(event, context):
            child = subprocess.Popen(["sleep", "60"])  # a process of the handler's own
            time.sleep(event.get("sleep", 0))
            return {"pid": os.getpid(), "child": child.pid}
    """}, timeout=30)
    runtime = Runtime(aws_url, tmp_path / "runtime", max_environments=3)
    function = runtime.function(name)
    with ThreadPoolExecutor(3) as pool:
        warm = [result.payload for result in pool.map(lambda _: runtime.invoke(function, {"sleep": 0.3}), range(3))]
    pids = [result["pid"] for result in warm] + [result["child"] for result in warm]
    assert len(set(pids)) == 6 and all(running(pid) for pid in pids)

    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(runtime.invoke, function, {"sleep": 30})
        time.sleep(0.5)
        runtime.close()
        with pytest.raises(LambdaRuntimeError, match="closed"):
            busy.result(timeout=10)
    # The worker processes were reaped by close(); their children are killed with their group.
    assert not any(running(result["pid"]) for result in warm)
    assert all(gone_within(result["child"], 5) for result in warm)
    with pytest.raises(LambdaRuntimeError, match="closed"):
        runtime.invoke(function, {})
    runtime.close()  # twice is fine


def test_environments_die_with_the_process_that_started_them(aws_url: str, tmp_path: Path, deploy) -> None:
    name = deploy({"app.py": "import os\n\ndef handler(e, c):\n    return os.getpid()\n"})
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from local_aws.runtime import Runtime
        runtime = Runtime({aws_url!r}, Path({str(tmp_path / 'orphaned')!r}))
        print(runtime.invoke(runtime.function({name!r}), {{}}).payload, flush=True)
        os._exit(0)  # no close(): as if the data plane were killed
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPOSITORY)})
    assert done.returncode == 0, done.stderr
    assert gone_within(int(done.stdout.strip()), 5), "the environment outlived its parent"


# --- the project's own handlers ------------------------------------------------------------------

def _packager():
    spec = importlib.util.spec_from_file_location("lambda_route_package", REPOSITORY / "modules" / "lambda_route" / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("function_dir", ["hello", "profile", "create_note"])
def test_the_projects_handlers_run_from_their_packaged_zip(runtime: Runtime, aws_url: str, role: str,
                                                           tmp_path: Path, function_dir: str) -> None:
    packager = _packager()
    package = tmp_path / f"{function_dir}.zip"
    packager.write_zip(packager.collect([REPOSITORY / "functions" / function_dir, REPOSITORY / "functions" / "shared"]), package)
    name = f"project-{function_dir}-{uuid.uuid4().hex[:8]}"
    aws.client("logs", aws_url).create_log_group(logGroupName=f"/aws/lambda/{name}")
    environment = {}
    if function_dir == "create_note":  # it stores the note: a table as main.tf declares it
        aws.client("dynamodb", aws_url).create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "ownerSub", "KeyType": "HASH"}, {"AttributeName": "noteId", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "ownerSub", "AttributeType": "S"},
                                  {"AttributeName": "noteId", "AttributeType": "S"}])
        environment = {"Environment": {"Variables": {"NOTES_TABLE": name}}}
    aws.client("lambda", aws_url).create_function(
        FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler", Timeout=10,
        Code={"ZipFile": package.read_bytes()}, **environment)
    function = runtime.function(name)
    event_file = {"hello": "hello", "profile": "profile_user_access_token", "create_note": "create_note"}[function_dir]
    event = json.loads((EVENTS / f"{event_file}.json").read_text())

    answered = runtime.invoke(function, event)
    assert answered.error is None, answered.error
    response = answered.payload
    assert response["headers"] == {"content-type": "application/json"}
    body = json.loads(response["body"])
    if function_dir == "hello":
        assert response["statusCode"] == 200
        assert body == {"message": "Hello from Lambda", "path": "/hello", "method": "GET"}
    elif function_dir == "profile":
        assert response["statusCode"] == 200 and body["user"]["sub"] == event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
    else:
        assert response["statusCode"] == 201 and body["note"]["title"] == "Groceries"

    # An unexpected exception propagates out of the handler (the gateway then answers 500, spec B6).
    broken = runtime.invoke(function, {**event, "requestContext": "not an object"})
    assert broken.payload is None
    assert broken.error["errorType"] == ("TypeError" if function_dir == "hello" else "AttributeError")
