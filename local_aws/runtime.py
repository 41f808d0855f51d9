"""Execution environments running Lambda handlers for the local data plane, their context and logs.

    runtime = Runtime(aws_endpoint, work_dir)
    function = runtime.function("arn:aws:lambda:us-east-1:123456789012:function:hello")
    invocation = runtime.invoke(function, event, wait_s=30)   # .payload, or .error as Lambda reports it
    runtime.close()                                            # no process is left

What is emulated, and how:

- Configuration and code come from the embedded AWS: GetFunction, and the deployed zip from its
  private endpoint, each in the function's own region (its ARN's; a bare name is looked up in the
  runtime's default region). A function sees its own region as AWS_REGION and AWS_DEFAULT_REGION,
  and its logs go to its log group in that region. The zip is checked against CodeSha256 and extracted once per hash under
  work_dir/code/. `function()` re-reads the configuration only when the embedded AWS's write
  counter (/_local/state) moved; a caller that already knows the counter passes it as
  `generation=` and saves that round trip (about 1 ms; GetFunction is about 3 ms more). When the
  code or any setting changed, idle environments of the old configuration are stopped at once and
  busy ones when they finish. (The counter moves only with writes to APIs, functions, pools and
  IAM, so log shipping and a handler's own AWS calls cause no re-read.)
- One OS process per execution environment (`python -I -S runtime_bootstrap.py`, this
  interpreter), started on demand in a session of its own, kept warm and reused, most recently used first.
  Module state survives between invocations, as on Lambda; /tmp is a directory per environment
  (TMPDIR). At most `max_environments` per function exist at once (busy, idle or retiring); an
  invocation that finds them all busy waits for one, for at most `wait_s`, then raises
  InvocationTimeout (AWS would throttle instead).
- Python runtimes only (python3.x), run by this interpreter whatever minor version the function
  names (the first line of each environment's log stream says which, and when the minor version
  differs a `LOCAL NOTE:` line follows: the standard library, the language and C extension ABI
  are this interpreter's). Other runtimes, container images, EFS mounts, the JSON log format,
  versions and aliases, and environment variables that AWS reserves or that would point boto3
  away from the embedded AWS are refused with UnsupportedFunction (fail closed). Architecture is
  ignored (the local CPU runs the code).
- What a handler can import is what Lambda offers: sys.path is the function's package (its
  working directory), its layers' `python/lib/python3.x/site-packages` and `python` (3.x as the
  function declares), the AWS SDK, then the standard library, in that order (package before
  layers before the runtime's libraries is AWS's documented order; the standard library last, as a
  PYTHONPATH puts it, is UNCONFIRMED, a local choice). The SDK is a folder of links to the installed
  distributions of boto3 and what their metadata requires (botocore, s3transfer, jmespath,
  python-dateutil, six, urllib3), at this venv's versions, not Lambda's. `-I -S` keep out every
  site-packages folder, .pth file and PYTHON* variable, so nothing else of the venv (nor the
  local_aws package, editable install or not) is importable; `import jwt` fails with
  Runtime.ImportModuleError as on AWS. Not closed: a handler that starts `sys.executable` itself
  gets a plain interpreter of the venv, with its site-packages.
- Layers (version ARNs from GetFunction): each version's zip comes from the embedded AWS's private
  endpoint once per ARN (a layer version never changes on AWS) and is unpacked under
  work_dir/layers/ by the hash of its zip; a function's /opt is work_dir/opt/<hash of its layers>,
  the layers copied in the function's order, a later layer's file replacing an earlier one's, as
  Lambda extracts them into /opt. Its bin/ ends PATH and its lib/ ends LD_LIBRARY_PATH, as on
  Lambda. The folder is not /opt: a handler that opens /opt/... by absolute path finds nothing.
- The environment of a handler is built from scratch, never from the user's: PATH, LANG, TZ=:UTC,
  the function's variables, the Lambda variables (AWS_LAMBDA_*, _HANDLER, LAMBDA_TASK_ROOT, ...),
  and a sandbox for boto3: AWS_ENDPOINT_URL = the embedded AWS, keys `test`, no config or
  credentials file, no instance metadata. (A handler that passes its own endpoint_url, or calls
  AWS over plain HTTP, is beyond what environment variables can stop.)
- Errors as Lambda reports them: the handler's exception ({"errorType": class name, ...}),
  Runtime.ImportModuleError and friends at init (the environment is dropped and the next
  invocation initialises again), Runtime.HandlerNotFound, Runtime.MarshalError, Runtime.ExitError
  when the process dies (os._exit, a signal), Sandbox.Timedout after the function's timeout (the
  process is killed). The init phase may take 10 s, as on AWS; a slower init eats into the
  function's timeout, as AWS's retried init does.
- `wait_s` is the caller's patience (the gateway's integration timeout). When it runs out first,
  invoke() raises InvocationTimeout and the environment is killed; AWS would let the function run
  on to its own timeout, unobserved.
- Memory: the configured size is reported (REPORT, context, AWS_LAMBDA_FUNCTION_MEMORY_SIZE) with
  the process's peak RSS as Max Memory Used; it is not enforced.
- Logs as Lambda writes them, into the function's log group (never created here: on AWS that
  needs logs:CreateLogGroup, and Terraform creates it): a stream per environment named
  `YYYY/MM/DD/[$LATEST]<32 hex>`, INIT_START, START, every line the handler prints (stdout,
  stderr, even from subprocesses), logging records and error reports as one event each, END,
  REPORT (with Init Duration on a cold start). START, END and REPORT are the platform's lines on
  AWS, and here too: written by this process when it sends the invocation and when the answer
  comes, after everything the environment wrote before answering (runtime_bootstrap waits until
  its log pipes are read). The runtime's own records come on a framed channel
  of their own (runtime_bootstrap.py), so a handler's output can neither fake nor cut one. A background thread ships them with PutLogEvents
  in batches; invocations never wait for CloudWatch, and a refusal is logged here, never raised.

Not emulated: the Runtime API (AWS_LAMBDA_RUNTIME_API), extensions and wrapper scripts, X-Ray
(_X_AMZN_TRACE_ID), memory and /tmp size limits, a read-only task root for root users,
provisioned concurrency and SnapStart.

Cost: a trivial handler on a warm environment takes about 0.2 ms per invocation from this
process, one invocation at a time (two pipe messages, JSON both ways; about 60 us of the
environment's CPU), whatever the log shipping does meanwhile.

Parts: runtime_model.py (Function, Invocation, the runtime's errors), runtime_code.py (the code,
layers and SDK on disk), runtime_bootstrap.py (the environment process), log_shipping.py.

POSIX only (pipes, process groups). If this process dies without close(), each environment sees
its lifeline pipe close and kills its own process group.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import orjson
from botocore.exceptions import ClientError

from local_aws import aws, ids, loop_bridge
from local_aws.aws import REGION
from local_aws.log_shipping import MAX_EVENT_BYTES, LogsApi, LogShipper
from local_aws.runtime_code import FunctionCode, sdk_dir  # noqa: F401 - sdk_dir: importable from here
from local_aws.runtime_model import (  # noqa: F401 - the runtime's API, importable from here
    Function,
    FunctionNotFound,
    Invocation,
    InvocationTimeout,
    LambdaRuntimeError,
    UnsupportedFunction,
)

log = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).with_name("runtime_bootstrap.py")
INIT_LIMIT_S = 10.0          # AWS's limit on the init phase of an on-demand environment
RETIRE_GRACE_S = 2.0         # an environment told to stop gets this long to finish its log lines

# Lambda refuses a configuration that sets these.
RESERVED_VARIABLES = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
# Lambda allows these, but locally they would take boto3 out of the sandbox (or need a wrapper
# script this runtime does not run).
SANDBOX_VARIABLES = frozenset({
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    "AWS_EC2_METADATA_DISABLED", "AWS_LAMBDA_EXEC_WRAPPER",
})
SANDBOX_PREFIXES = ("AWS_ENDPOINT_URL", "AWS_CONTAINER_")
# The only variables of this process an environment inherits (the interpreter may need them).
INHERITED_VARIABLES = ("PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH")


class Runtime:
    def __init__(self, aws_endpoint: str, work_dir: Path, *, region: str = REGION, max_environments: int = 10) -> None:
        if max_environments < 1:
            raise ValueError("max_environments must be at least 1")
        self.aws_endpoint = aws_endpoint
        self.work_dir = Path(work_dir)
        self.region = region
        self.max_environments = max_environments
        (self.work_dir / "tmp").mkdir(parents=True, exist_ok=True)
        self.code = FunctionCode(aws_endpoint, self.work_dir)
        self.sdk_dir = self.code.sdk_dir
        self._lambdas: dict[str, Any] = {}                  # lambda clients by region
        self._shippers: dict[str, LogShipper] = {}         # log shippers by region
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()
        self._functions: dict[str, tuple[Function, int]] = {}   # by the name or ARN asked for
        self._pools: dict[str, _Pool] = {}                     # by function name
        self._closed = False
        # Each environment holds the read end; when this process dies, the write end closes with it.
        self._lifeline_r, self._lifeline_w = os.pipe()

    # --- configuration and code --------------------------------------------------------------

    def function(self, name_or_arn: str, *, generation: int | None = None) -> Function:
        """The function's configuration as the embedded AWS has it now, its code ready to run.

        `generation` is the embedded AWS's write counter (GET /_local/state) if the caller read it
        already; the configuration is fetched again only when the counter moved.
        """
        self._check_open()
        if generation is None:
            generation = self._generation()
        cached = self._functions.get(name_or_arn)
        if cached is not None and cached[1] == generation:
            return cached[0]
        with self._load_lock:
            cached = self._functions.get(name_or_arn)
            if cached is not None and cached[1] == generation:
                return cached[0]
            try:
                function = self._load(name_or_arn)
            except FunctionNotFound:
                if cached is not None:  # deleted: its environments have nothing left to serve
                    self._pool(cached[0]).use(None)
                self._functions.pop(name_or_arn, None)
                raise
            if cached is not None and cached[0] == function:
                function = cached[0]  # unchanged (the counter moved for something else): same object
            self._functions[name_or_arn] = (function, generation)
        self._pool(function).use(function)
        return function

    def _generation(self) -> int:
        try:
            return aws.generation(self.aws_endpoint)
        except aws.EmbeddedAwsError as error:
            raise LambdaRuntimeError(str(error)) from error

    def _load(self, name_or_arn: str) -> Function:
        name = self._function_name(name_or_arn)
        region = name_or_arn.split(":")[3] if name_or_arn.startswith("arn:") else self.region
        for _ in range(3):
            try:
                config = self._lambda(region).get_function(FunctionName=name)["Configuration"]
            except ClientError as error:
                if error.response["Error"]["Code"] == "ResourceNotFoundException":
                    raise FunctionNotFound(f"no Lambda function {name_or_arn} in the embedded AWS ({region})") from None
                raise LambdaRuntimeError(f"GetFunction {name_or_arn}: {error}") from error
            function = _function_from(config)
            if self.code.fetch(function):
                return function
            # else the code changed between the two reads: read the configuration again
        raise LambdaRuntimeError(f"the code of {name_or_arn} kept changing while it was being read")

    def _function_name(self, name_or_arn: str) -> str:
        if not name_or_arn.startswith("arn:"):
            name, _, qualifier = name_or_arn.partition(":")
        else:
            parts = name_or_arn.split(":")
            if len(parts) not in (7, 8) or parts[2] != "lambda" or parts[5] != "function" or not parts[3]:
                raise FunctionNotFound(f"{name_or_arn} is not a Lambda function ARN")
            name, qualifier = parts[6], (parts[7] if len(parts) == 8 else "")
        if qualifier not in ("", "$LATEST"):
            raise UnsupportedFunction(f"{name_or_arn}: versions and aliases are not emulated, only $LATEST")
        return name

    def _code_dir(self, function: Function) -> Path:
        return self.code.code_dir(function)

    @property
    def _layer_dirs(self) -> dict[str, Path]:
        return self.code.layer_dirs

    # --- invocations ----------------------------------------------------------------------------

    def invoke(self, function: Function, event: dict, *, wait_s: float | None = None) -> Invocation:
        """Run the handler on `event` in a warm environment (or a new one) and return its outcome.

        Raises InvocationTimeout when wait_s elapses first (waiting for a free environment or for
        the function), LambdaRuntimeError when the runtime cannot run it at all.
        """
        self._check_open()
        if wait_s is not None and wait_s <= 0:
            raise ValueError(f"wait_s must be positive, not {wait_s}")
        started = time.monotonic()
        caller_deadline = None if wait_s is None else started + wait_s
        request_id = ids.uuid4()
        request = _event_json(event)
        pool = self._pool(function)
        if loop_bridge.on_loop():  # the data plane's loop waits only for a warm environment's answer
            environment = pool.take_idle(function)
            if environment is None:  # a start, or a wait for a free one: on a worker thread
                return loop_bridge.off_loop(self.invoke, function, event, wait_s=wait_s)
            try:
                environment.send_and_start(request_id, request, function.arn, float(function.timeout_s))
            except OSError:  # it died while idle: start again, off the loop
                loop_bridge.off_loop(pool.discard, environment)
                return loop_bridge.off_loop(self.invoke, function, event, wait_s=wait_s)
            return self._await_result(environment, pool, request_id, float(function.timeout_s), caller_deadline, wait_s)
        while True:
            environment = pool.acquire(function, caller_deadline, wait_s)
            budget_s = float(function.timeout_s)
            if environment is None:  # a free slot: start an environment in it
                try:
                    environment = self._start(function)
                except BaseException:
                    pool.discard(None)
                    raise
                if not pool.adopt(environment):  # close() came first
                    environment.dispose()
                    raise LambdaRuntimeError("the runtime is closed")
                outcome = self._initialise(environment, pool, request_id, caller_deadline, wait_s)
                if isinstance(outcome, Invocation):
                    return outcome
                budget_s = outcome
            try:
                environment.send_and_start(request_id, request, function.arn, budget_s)
                break
            except OSError:  # it died while idle: the request never reached it
                pool.discard(environment)
        return self._await_result(environment, pool, request_id, budget_s, caller_deadline, wait_s)

    def _initialise(self, environment: _Environment, pool: _Pool, request_id: str,
                    caller_deadline: float | None, wait_s: float | None) -> Invocation | float:
        """Wait for the environment's init; the handler's time budget, or the failed Invocation."""
        function = environment.function
        init_deadline = environment.started + INIT_LIMIT_S + function.timeout_s
        try:
            message = environment.read(_earliest(init_deadline, caller_deadline))
        except _TimedOut:
            if caller_deadline is not None and caller_deadline < init_deadline:
                self._stop_for_caller(environment, pool, request_id, wait_s, start=True)
            return self._timed_out(environment, pool, request_id, time.monotonic() - environment.started, start=True)
        except _Exited:
            return self._exited(environment, pool, request_id, time.monotonic() - environment.started, start=True)
        except BaseException as error:
            self._broken(environment, pool, error)
        environment.init_ms = message["ms"]
        if "error" in message:
            # Lambda drops the environment; the next invocation initialises a new one.
            error = {**message["error"], "requestId": request_id}
            pool.discard(environment)
            environment.platform_lines(request_id, message["ms"],
                                       f"Status: error\tError Type: {error['errorType']}", start=True)
            return Invocation(request_id, None, error, message["ms"])
        overrun_s = max(0.0, time.monotonic() - environment.started - INIT_LIMIT_S)
        return max(0.001, function.timeout_s - overrun_s)

    def _await_result(self, environment: _Environment, pool: _Pool, request_id: str, budget_s: float,
                      caller_deadline: float | None, wait_s: float | None) -> Invocation:
        sent = time.monotonic()
        function_deadline = sent + budget_s
        try:
            message = environment.read(_earliest(function_deadline, caller_deadline))
        except BaseException as error:  # ending the environment waits for it: off the loop
            return loop_bridge.off_loop(self._not_answered, error, environment, pool, request_id, budget_s, sent,
                                        function_deadline, caller_deadline, wait_s)
        environment.finished(request_id, message["ms"], message.get("max_memory_mb"))
        if not pool.release(environment):  # its configuration changed: retired, which waits for it
            loop_bridge.off_loop(pool.retire, environment)
        return Invocation(request_id, message.get("payload"), message.get("error"), message["ms"])

    def _not_answered(self, error: BaseException, environment: _Environment, pool: _Pool, request_id: str,
                      budget_s: float, sent: float, function_deadline: float, caller_deadline: float | None,
                      wait_s: float | None) -> Invocation:
        if isinstance(error, _TimedOut):
            if caller_deadline is not None and caller_deadline < function_deadline:
                self._stop_for_caller(environment, pool, request_id, wait_s)
            return self._timed_out(environment, pool, request_id, budget_s)
        if isinstance(error, _Exited):
            return self._exited(environment, pool, request_id, time.monotonic() - sent)
        self._broken(environment, pool, error)

    @staticmethod
    def _broken(environment: _Environment, pool: _Pool, error: BaseException) -> NoReturn:
        pool.discard(environment)
        if not isinstance(error, Exception):
            raise error  # KeyboardInterrupt and the like, after freeing the environment
        raise LambdaRuntimeError(
            f"{environment.function.name}: the execution environment broke the runtime protocol "
            f"(did the handler write to a file descriptor it does not own?): {error!r}") from error

    def _stop_for_caller(self, environment: _Environment, pool: _Pool, request_id: str, wait_s: float | None,
                         *, start: bool = False) -> None:
        pool.discard(environment)
        environment.platform_lines(
            request_id, (time.monotonic() - environment.busy_since) * 1000, "Status: stopped", start=start,
            note=f"RequestId: {request_id} Error: the local runtime stopped this environment: "
                 f"the caller stopped waiting after {wait_s:.2f} s (AWS would let the function run on)")
        raise InvocationTimeout(
            f"{environment.function.name}: no result within {wait_s:.3f} s; the execution environment was stopped")

    def _timed_out(self, environment: _Environment, pool: _Pool, request_id: str, budget_s: float,
                   *, start: bool = False) -> Invocation:
        pool.discard(environment)
        timeout = environment.function.timeout_s
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        environment.platform_lines(request_id, budget_s * 1000, "Status: timeout", start=start,
                                   note=f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds")
        error = {"errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
                 "errorType": "Sandbox.Timedout", "requestId": request_id, "stackTrace": []}
        return Invocation(request_id, None, error, budget_s * 1000)

    def _exited(self, environment: _Environment, pool: _Pool, request_id: str, elapsed_s: float,
                *, start: bool = False) -> Invocation:
        pool.discard(environment)  # reaps the process, so its exit status is known
        if self._closed:
            raise LambdaRuntimeError(f"{environment.function.name}: the runtime was closed during the invocation")
        message = f"RequestId: {request_id} Error: Runtime exited with error: {environment.exit_status()}"
        environment.platform_lines(request_id, elapsed_s * 1000, "Status: error\tError Type: Runtime.ExitError",
                                   start=start, note=f"{message}\nRuntime.ExitError")
        error = {"errorMessage": message, "errorType": "Runtime.ExitError", "requestId": request_id, "stackTrace": []}
        return Invocation(request_id, None, error, elapsed_s * 1000)

    def _start(self, function: Function) -> _Environment:
        self._check_open()  # the lifeline fd is only valid while open
        code_dir = self._code_dir(function)
        if not code_dir.is_dir():
            raise LambdaRuntimeError(f"the code of {function.name} is not loaded: get the function with Runtime.function()")
        return _Environment(self, function, code_dir)

    def _pool(self, function: Function) -> _Pool:
        key = f"{function.region}:{function.name}"  # one name may be used in two regions
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(key, _Pool(self.max_environments))
        return pool

    def _lambda(self, region: str) -> Any:
        """The lambda client of a region, made once."""
        with self._lock:
            if region not in self._lambdas:
                self._lambdas[region] = aws.client("lambda", self.aws_endpoint, region)
            return self._lambdas[region]

    def _shipper(self, region: str) -> LogShipper:
        """The log shipper of a region (log groups live in their function's region)."""
        with self._lock:
            if region not in self._shippers:
                self._shippers[region] = LogShipper(LogsApi(self.aws_endpoint, region))
            return self._shippers[region]

    def _check_open(self) -> None:
        if self._closed:
            raise LambdaRuntimeError("the runtime is closed")

    def close(self) -> None:
        """Stop every environment (idle ones get a moment to finish their logs) and ship the logs."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pools = list(self._pools.values())
        environments = [env for pool in pools for env in pool.close()]
        deadline = time.monotonic() + RETIRE_GRACE_S
        for environment in environments:
            environment.begin_retirement()
        for environment in environments:
            environment.finish_retirement(deadline)
        for shipper in list(self._shippers.values()):
            shipper.close()
        os.close(self._lifeline_w)
        os.close(self._lifeline_r)

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _event_json(event: Any) -> bytes:
    """The event as JSON, by orjson (a tenth of json's time); json for what orjson refuses (integers
    over 64 bits). orjson writes NaN and infinities as null, where json writes non-JSON tokens."""
    try:
        return orjson.dumps(event)
    except TypeError:
        return json.dumps(event).encode()


_LONG_INTEGER = re.compile(rb"\d{19}")


def _message_from_json(data: bytes) -> Any:
    """An environment's message, by orjson; by json where orjson would read it otherwise: integers of
    19 digits or more (orjson makes floats of those over 64 bits) and NaN or infinities (it refuses them)."""
    if _LONG_INTEGER.search(data) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data)


def _earliest(deadline: float, other: float | None) -> float:
    return deadline if other is None else min(deadline, other)


def _function_from(config: dict[str, Any]) -> Function:
    """The Function of a GetFunction configuration, or UnsupportedFunction for what is not emulated."""
    name = config["FunctionName"]
    runtime = config.get("Runtime") or ""
    if config.get("PackageType", "Zip") != "Zip":
        raise UnsupportedFunction(f"function {name} is a container image: the local runtime runs only zip packages")
    if not runtime.startswith("python3"):
        raise UnsupportedFunction(
            f"function {name} has runtime {runtime or '(none)'}: the local runtime runs only Python "
            f"functions (python3.x), with this machine's Python {sys.version_info.major}.{sys.version_info.minor}")
    if config.get("FileSystemConfigs"):
        raise UnsupportedFunction(f"function {name} mounts EFS file systems, which the local runtime does not emulate")
    logging_config = config.get("LoggingConfig") or {}
    if logging_config.get("LogFormat", "Text") != "Text":
        raise UnsupportedFunction(f"function {name} logs in {logging_config['LogFormat']} format; only Text is emulated")
    if config.get("Version", "$LATEST") != "$LATEST":
        raise UnsupportedFunction(f"function {name}: versions are not emulated, only $LATEST")
    environment = dict((config.get("Environment") or {}).get("Variables") or {})
    reserved = sorted(key for key in environment if key in RESERVED_VARIABLES)
    if reserved:
        raise UnsupportedFunction(f"function {name} sets environment variables Lambda reserves: {', '.join(reserved)}")
    escaping = sorted(key for key in environment if key in SANDBOX_VARIABLES or key.startswith(SANDBOX_PREFIXES))
    if escaping:
        raise UnsupportedFunction(
            f"function {name} sets {', '.join(escaping)}: locally that would take its AWS calls out of the "
            "embedded AWS, so it is refused")
    return Function(
        name=name,
        arn=config["FunctionArn"],
        handler=config.get("Handler") or "",
        runtime=runtime,
        timeout_s=int(config.get("Timeout") or 3),
        memory_mb=int(config.get("MemorySize") or 128),
        environment=environment,
        code_sha256=config["CodeSha256"],
        log_group=logging_config.get("LogGroup") or f"/aws/lambda/{name}",
        layers=tuple(layer["Arn"] for layer in config.get("Layers") or ()),
        region=aws.arn_region(config["FunctionArn"]),
    )


# --- environments --------------------------------------------------------------------------------

def report_line(request_id: str, duration_ms: float, memory_mb: str | int, *, max_memory_mb: int | None = None,
                init_ms: float | None = None, status: str = "") -> str:
    """Lambda's REPORT line, the one place it is built: after an invocation the environment finished
    (with the memory it reported), and after one it could not (a timeout, a crash: a Status, no memory)."""
    line = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\tMemory Size: {memory_mb} MB\t")
    if max_memory_mb is not None:
        line += f"Max Memory Used: {max_memory_mb} MB\t"
    if init_ms is not None:
        line += f"Init Duration: {init_ms:.2f} ms\t"
    return line + status


class _TimedOut(Exception):
    pass


class _Exited(Exception):
    pass


class _Environment:
    """One execution environment process, with its protocol pipes and its log stream."""

    def __init__(self, runtime: Runtime, function: Function, code_dir: Path):
        self.function = function
        self.started = time.monotonic()
        self.busy_since = self.started
        self.init_ms: float | None = None
        self.invocations = 0
        self.stream = f"{datetime.now(timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self._shipper = runtime._shipper(function.region)
        self._tmp = runtime.work_dir / "tmp" / self.stream.rsplit("]", 1)[1]
        self._tmp.mkdir(parents=True)
        self._buffer = bytearray()
        # Held by the log reader from reading a chunk to emitting it, and by the platform lines: so
        # the lines written on a protocol message follow everything read before it (see runtime_bootstrap).
        self._emit_lock = threading.Lock()
        self._partial = b""  # the handler's last line, not ended yet
        self._dead = False
        self._disposed = False
        self._kill_lock = threading.Lock()
        env = {key: os.environ[key] for key in INHERITED_VARIABLES if key in os.environ}
        env.update(LANG="en_US.UTF-8", TZ=":UTC")
        search_path = runtime.code.search_path(function)
        if function.layers:  # Lambda's PATH and LD_LIBRARY_PATH end with /opt/bin and /opt/lib
            opt = runtime.code.opt_dirs[function.layers]
            for variable, folder in (("PATH", "bin"), ("LD_LIBRARY_PATH", "lib")):
                env[variable] = os.pathsep.join(filter(None, (env.get(variable), str(opt / folder))))
        env.update(function.environment)
        env.update(
            AWS_LAMBDA_FUNCTION_NAME=function.name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(function.memory_mb),
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_LOG_GROUP_NAME=function.log_group,
            AWS_LAMBDA_LOG_STREAM_NAME=self.stream,
            AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
            AWS_EXECUTION_ENV=f"AWS_Lambda_{function.runtime}",
            AWS_REGION=function.region,
            AWS_DEFAULT_REGION=function.region,
            LAMBDA_TASK_ROOT=str(code_dir),
            LAMBDA_RUNTIME_DIR=str(BOOTSTRAP.parent),
            _HANDLER=function.handler,
            TMPDIR=str(self._tmp),
        )
        env.update(aws.sandbox_variables(runtime.aws_endpoint))  # boto3 in the handler reaches the embedded AWS only
        request_r, self._request_w = os.pipe()
        self._response_r, response_w = os.pipe()
        self._log_r, log_w = os.pipe()
        self._record_r, record_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                # -I -S: no site-packages (the venv's, the user's), no .pth files, no PYTHON* variables;
                # the bootstrap puts search_path before the standard library.
                [sys.executable, "-I", "-S", str(BOOTSTRAP), str(request_r), str(response_w), str(runtime._lifeline_r),
                 str(record_w), *search_path],
                cwd=code_dir, env=env, stdin=subprocess.DEVNULL, stdout=log_w, stderr=log_w,
                pass_fds=(request_r, response_w, runtime._lifeline_r, record_w), start_new_session=True,
            )
        except BaseException:
            for fd in (self._request_w, self._response_r, self._log_r, self._record_r):
                os.close(fd)
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        finally:
            for fd in (request_r, response_w, log_w, record_w):
                os.close(fd)
        self._poller = select.poll()
        self._poller.register(self._response_r, select.POLLIN)
        self._reader = threading.Thread(target=self._read_logs, name=f"lambda-logs-{function.name}", daemon=True)
        self._reader.start()

    # --- protocol ---

    def send(self, request_id: str, request_json: bytes, arn: str, budget_s: float) -> None:
        self.busy_since = time.monotonic()
        self.invocations += 1
        body = b'{"id":%s,"arn":%s,"timeout_ms":%d,"event":%s}' % (
            orjson.dumps(request_id), orjson.dumps(arn), int(budget_s * 1000), request_json)
        data = memoryview(len(body).to_bytes(4, "big") + body)
        while data:
            data = data[os.write(self._request_w, data):]

    def read(self, deadline: float) -> dict:
        """The next message; _TimedOut at the deadline, _Exited if the process is gone."""
        self._fill(4, deadline)
        size = int.from_bytes(self._buffer[:4], "big")
        self._fill(4 + size, deadline)
        message = _message_from_json(bytes(self._buffer[4:4 + size]))
        del self._buffer[:4 + size]
        return message

    def _fill(self, size: int, deadline: float) -> None:
        while len(self._buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _TimedOut()
            # In slices: a process that died while a forked child still holds its pipe gives no EOF.
            if not loop_bridge.wait_readable(self._response_r, min(remaining, 0.5), self._poller):
                if self.process.poll() is not None:
                    raise _Exited()
                continue
            chunk = os.read(self._response_r, max(1 << 16, size - len(self._buffer)))
            if not chunk:
                raise _Exited()
            self._buffer += chunk

    # --- logs ---

    def _read_logs(self) -> None:
        """Everything the environment writes: each line of its stdout/stderr, each runtime record
        (a frame on the record channel), one event each, in the order written (see
        runtime_bootstrap: a record is written only once the log bytes before it were read here,
        so the records read are handled before the log bytes read with them)."""
        frames = bytearray()
        poller = select.poll()
        for fd in (self._log_r, self._record_r):
            poller.register(fd, select.POLLIN)
        open_fds = {self._log_r, self._record_r}
        try:
            while open_fds:
                ready = {fd for fd, _ in poller.poll()}
                with self._emit_lock:
                    while self._record_r in ready:
                        chunk = os.read(self._record_r, 1 << 16)
                        if not chunk:
                            poller.unregister(self._record_r)
                            open_fds.discard(self._record_r)
                            break
                        frames += chunk
                        while len(frames) >= 4 and len(frames) >= 4 + (size := int.from_bytes(frames[:4], "big")):
                            self._end_partial_line()  # cut by a runtime record
                            self.emit(frames[4:4 + size].decode("utf-8", "replace"))
                            del frames[:4 + size]
                        if not frames:
                            break  # else the rest of a frame is on its way: it goes before any later log bytes
                    if self._log_r in ready:
                        chunk = os.read(self._log_r, 1 << 16)
                        if not chunk:
                            poller.unregister(self._log_r)
                            open_fds.discard(self._log_r)
                            continue
                        pending = self._partial + chunk
                        *lines, pending = pending.split(b"\n")
                        for line in lines:
                            self._emit_line(line)
                        while len(pending) > MAX_EVENT_BYTES:
                            self._emit_line(pending[:MAX_EVENT_BYTES])
                            pending = pending[MAX_EVENT_BYTES:]
                        self._partial = pending
            with self._emit_lock:
                self._end_partial_line()
        finally:
            os.close(self._log_r)
            os.close(self._record_r)

    def _end_partial_line(self) -> None:
        if self._partial:
            self._emit_line(self._partial)
            self._partial = b""

    def _emit_line(self, line: bytes) -> None:
        self.emit(line.decode("utf-8", "replace"))

    def emit(self, text: str) -> None:
        self._shipper.put(self.function.log_group, self.stream, int(time.time() * 1000), text + "\n")

    def send_and_start(self, request_id: str, request_json: bytes, arn: str, budget_s: float) -> None:
        """Send the invocation, and log its START line (as Lambda's platform does) before anything
        the handler writes: the reader waits for the lock."""
        with self._emit_lock:
            self.send(request_id, request_json, arn, budget_s)
            self._end_partial_line()
            self.emit(f"START RequestId: {request_id} Version: $LATEST")

    def finished(self, request_id: str, duration_ms: float, max_memory_mb: int | None) -> None:
        """END and REPORT of an invocation the environment answered: after everything it wrote
        before answering, which the reader has read by then (runtime_bootstrap waits for it)."""
        first = self.invocations <= 1 and self.init_ms is not None
        with self._emit_lock:
            self._end_partial_line()
            self.emit(f"END RequestId: {request_id}")
            self.emit(report_line(request_id, duration_ms, self.function.memory_mb, max_memory_mb=max_memory_mb,
                                  init_ms=self.init_ms if first else None))

    def platform_lines(self, request_id: str, duration_ms: float, status: str, *, note: str | None = None,
                       start: bool = False) -> None:
        """What the platform logs when the runtime could not answer: after everything the process wrote."""
        self._reader.join(RETIRE_GRACE_S)
        if start:
            self.emit(f"START RequestId: {request_id} Version: $LATEST")
        if note:
            self.emit(note)
        self.emit(f"END RequestId: {request_id}")
        first = self.invocations <= 1 and self.init_ms is not None  # the runtime would have said it
        self.emit(report_line(request_id, duration_ms, self.function.memory_mb, init_ms=self.init_ms if first else None,
                              status=status))

    # --- ending ---

    def exit_status(self) -> str:
        code = self.process.returncode
        if code is None:
            return "unknown"
        if code < 0:
            try:
                return f"signal: {signal.strsignal(-code).lower()}"
            except (ValueError, AttributeError):
                return f"signal: {-code}"
        return f"exit status {code}"

    def begin_retirement(self) -> None:
        """Ask the process to stop (end of its request pipe): it exits once its current work is done."""
        try:
            os.close(self._request_w)
        except OSError:
            pass
        self._request_w = -1

    def finish_retirement(self, deadline: float) -> None:
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        self.dispose()

    def kill(self) -> None:
        """Stop the process and everything it started, and reap it. Safe from any thread."""
        with self._kill_lock:
            if self._dead:
                return
            self._dead = True
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the handler's children too
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.kill()
            except OSError:
                pass
            self.process.wait()

    def dispose(self) -> None:
        """kill(), then release the pipes and /tmp. Only from the thread that uses the environment
        (or for an idle one): closing a pipe another thread reads could hand it a reused fd."""
        self.kill()
        with self._kill_lock:
            if self._disposed:
                return
            self._disposed = True
        self._poller.unregister(self._response_r)
        for fd in (self._request_w, self._response_r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._request_w = self._response_r = -1
        self._reader.join(RETIRE_GRACE_S)
        shutil.rmtree(self._tmp, ignore_errors=True)


class _Pool:
    """The environments of one function: idle ones (most recent last), busy ones, and the count."""

    def __init__(self, max_environments: int):
        self.max_environments = max_environments
        self.current: Function | None = None
        self._idle: list[_Environment] = []
        self._busy: set[_Environment] = set()
        self._slots = 0   # environments alive or starting, busy or not
        self._closed = False
        self._changed = threading.Condition()

    def acquire(self, function: Function, deadline: float | None, wait_s: float | None) -> _Environment | None:
        """An idle environment of this configuration, or None: a slot reserved to start one."""
        retired = []
        try:
            with self._changed:
                while True:
                    if self._closed:
                        raise LambdaRuntimeError("the runtime is closed")
                    idle = self._take_idle(function)
                    if idle is not None:
                        return idle
                    if self._slots < self.max_environments:
                        self._slots += 1
                        return None
                    if self._idle:  # all slots taken, some by idle environments of another configuration
                        retired.append(self._idle.pop(0))
                        self._slots -= 1
                        continue
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        raise InvocationTimeout(
                            f"{function.name}: all {self.max_environments} execution environments stayed busy "
                            f"for {wait_s:.3f} s")
                    self._changed.wait(remaining)
        finally:
            _retire(retired)

    def take_idle(self, function: Function) -> _Environment | None:
        """An idle environment of this configuration, now busy; None if there is none (never waits)."""
        with self._changed:
            return None if self._closed else self._take_idle(function)

    def _take_idle(self, function: Function) -> _Environment | None:
        for index in range(len(self._idle) - 1, -1, -1):  # the most recently used first
            candidate = self._idle[index]
            if candidate.function is function or candidate.function == function:
                del self._idle[index]
                self._busy.add(candidate)
                return candidate
        return None

    def adopt(self, environment: _Environment) -> bool:
        """Count a newly started environment as busy; False if the pool closed meanwhile."""
        with self._changed:
            if self._closed:
                return False
            self._busy.add(environment)
            return True

    def release(self, environment: _Environment) -> bool:
        """Back to idle after an invocation if its configuration is still current; False when it
        is not, and the caller must retire() it (which waits for the process)."""
        with self._changed:
            if self._closed or self.current is None or environment.function != self.current:
                return False
            self._busy.discard(environment)
            self._idle.append(environment)
            self._changed.notify()
            return True

    def retire(self, environment: _Environment) -> None:
        """Free a busy environment's slot and stop it once its work is done."""
        with self._changed:
            self._busy.discard(environment)
            self._slots -= 1
            self._changed.notify()
        _retire([environment])

    def discard(self, environment: _Environment | None) -> None:
        """Dispose of a busy environment (None: a slot whose environment never started); free its slot."""
        if environment is not None:
            environment.dispose()
        with self._changed:
            self._busy.discard(environment)
            self._slots -= 1
            self._changed.notify()

    def use(self, function: Function | None) -> None:
        """The configuration now current (None: deleted); idle environments of others are retired."""
        with self._changed:
            self.current = function
            stale = [env for env in self._idle if env.function != function]
            self._idle = [env for env in self._idle if env.function == function]
            self._slots -= len(stale)
            self._changed.notify_all()
        _retire(stale)

    def close(self) -> list[_Environment]:
        """Kill the busy environments (their invocations fail; their threads dispose of them) and
        hand back the idle ones, to be retired."""
        with self._changed:
            self._closed = True
            idle, busy = self._idle, list(self._busy)
            self._idle = []
            self._changed.notify_all()
        for environment in busy:
            environment.kill()
        return idle


def _retire(environments: list[_Environment]) -> None:
    deadline = time.monotonic() + RETIRE_GRACE_S
    for environment in environments:
        environment.begin_retirement()
    for environment in environments:
        environment.finish_retirement(deadline)
