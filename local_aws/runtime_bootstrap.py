"""One Lambda execution environment: the process that imports a Python handler and runs it.

Started by local_aws/runtime.py as
`python -I -S runtime_bootstrap.py REQUEST_FD RESPONSE_FD LIFELINE_FD RECORD_FD PATH...` with the Lambda
environment variables already set (_HANDLER, LAMBDA_TASK_ROOT, AWS_LAMBDA_*, ...), the function's
code directory as its working directory, and stdout and stderr both writing to the log pipe that the
parent ships to CloudWatch Logs. Standard library only: a handler's imports must find only what they
would find on Lambda. `-I` keeps this file's folder (so the local_aws package) and the user's
PYTHON* variables out of sys.path, `-S` every site-packages folder and .pth file (the venv's, the
interpreter's, the user's); the PATH arguments (the function's package, its layers' folders, the
AWS SDK, in that order) then go before the standard library, where Lambda's PYTHONPATH puts them.

Protocol, on file descriptors of its own so nothing a handler prints can corrupt it: frames of a
4-byte big-endian length and a JSON document.
  parent -> child  {"id", "event", "arn", "timeout_ms"}: one invocation
  child -> parent  {"type": "init", "ms"[, "error"]}   once, after importing the handler module
                   {"type": "result", "ms", "max_memory_mb", "payload" | "error"}   per invocation
End of the request pipe means "shut down"; end of the lifeline pipe means the parent is gone, and
the environment then kills its whole process group, so nothing outlives the data plane.

What the handler sees follows the AWS Python runtime (awslambdaric): the error documents and their
types (Runtime.ImportModuleError, Runtime.HandlerNotFound, Runtime.MarshalError, ...), the context
object, the logging handler on the root logger and its line format, unbuffered stdout/stderr.
Records the runtime itself writes (INIT_START, logging records, error reports)
may span several lines but must stay one CloudWatch event: they go on a channel of their own,
RECORD_FD, as frames (a 4-byte big-endian length, then UTF-8 text), as AWS's runtime interface
client sends them on its telemetry fd. Nothing a handler prints can fake one or cut one in two.
What the handler writes to fd 1 and 2 (print, os.write, its subprocesses) stays on the log pipe,
split into lines by the parent. To keep the two in the order written, a record waits (up to
RECORD_WAIT_S) until the parent has read everything already in the log pipe (FIONREAD), and the
parent handles the records it has before the log bytes it reads after them. A message on the
response channel likewise waits until the parent has read both pipes, so that the platform lines
the parent writes on receiving it (START before an invocation, END and REPORT after it, as
Lambda's platform writes them) follow everything the invocation wrote: one write per invocation
here, and no wake-up of the parent's log reader for a handler that prints nothing.
"""
from __future__ import annotations

import decimal
import fcntl
import importlib
import io
import json
import logging
import math
import os
import platform
import resource
import signal
import sys
import termios
import threading
import time
import traceback

LOG_FD = 1
RECORD_WAIT_S = 0.5
_record_fd = -1  # set by main()
_record_lock = threading.Lock()
_THIS_FILE = os.path.abspath(__file__)
_request_id = ""  # the invocation running now, for the logging filter


# --- output ------------------------------------------------------------------------------------

def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _unread(fd: int) -> int:
    try:
        return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)
    except OSError:
        return 0  # not a pipe (or no FIONREAD here): nothing to wait for


def _drained(*fds: int) -> None:
    """Wait (up to RECORD_WAIT_S) until the parent has read what is in these pipes, so what is
    written next lands after it."""
    deadline = None
    while any(_unread(fd) for fd in fds):
        now = time.monotonic()
        deadline = deadline or now + RECORD_WAIT_S
        if now >= deadline:
            return
        time.sleep(0.0002)


def write_records(*texts: str) -> None:
    """CloudWatch events written by the runtime (not the handler), one each, whatever their newlines."""
    frames = []
    for text in texts:
        body = (text[:-1] if text.endswith("\n") else text).encode("utf-8", "backslashreplace")
        frames.append(len(body).to_bytes(4, "big") + body)
    with _record_lock:
        _drained(LOG_FD)
        _write_all(_record_fd, b"".join(frames))


def write_record(text: str) -> None:
    write_records(text)


class _RawLogStream(io.RawIOBase):
    """sys.stdout.buffer: bytes written by the handler, straight to the log pipe."""

    def __init__(self, fd: int):
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data) -> int:
        data = bytes(data)
        _write_all(self._fd, data)
        return len(data)


class _LogStream(io.TextIOBase):
    """sys.stdout / sys.stderr: unbuffered, as the AWS runtime makes them, so a line is in the log
    even if the process dies right after printing it."""

    encoding = "utf-8"
    errors = "backslashreplace"

    def __init__(self, fd: int, name: str):
        super().__init__()
        self._fd = fd
        self._name = name
        self.buffer = _RawLogStream(fd)

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        _write_all(self._fd, text.encode("utf-8", "backslashreplace"))
        return len(text)

    def flush(self) -> None:
        pass


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _request_id
        return True


class _LambdaLoggerHandler(logging.Handler):
    """The handler the AWS runtime puts on the root logger: one event per record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            write_record(self.format(record))
        except Exception:
            self.handleError(record)


def _setup_logging() -> None:
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = _LambdaLoggerHandler()
    handler.setFormatter(formatter)
    handler.addFilter(_RequestIdFilter())
    # The root level stays WARNING, as on Lambda (logging.info needs setLevel), and basicConfig
    # is a no-op because the root logger already has a handler: the same surprises as on AWS.
    logging.getLogger().addHandler(handler)


# --- errors, as the AWS runtime reports them ---------------------------------------------------

class Fault(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None):
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace


def make_error(error_type: str, message: str, trace: list[str] | None, request_id: str) -> dict:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace or []}


def exception_error(error: BaseException, request_id: str) -> dict:
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != _THIS_FILE]
    return make_error(type(error).__name__, str(error), traceback.format_list(frames), request_id)


def log_error(error: dict) -> None:
    description = "[ERROR] " + error["errorType"]
    if error.get("errorMessage"):
        description += ": " + error["errorMessage"]
    lines = [description, "Traceback (most recent call last):"]
    for entry in error.get("stackTrace") or []:
        lines.extend(entry.splitlines() or [""])
    write_record("\n".join(lines))


# --- the handler -------------------------------------------------------------------------------

def load_handler(spec: str):
    """The handler function, or a function raising the Fault Lambda reports on each invocation."""
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as error:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': {error}") from None
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise Fault("Runtime.BuiltInModuleConflict",
                        f"Cannot use built-in module {module_name} as a handler module")
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from None
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}", trace) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        fault = Fault("Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'")

        def handler_not_found(event, context):
            raise fault

        return handler_not_found


class CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class LambdaContext:
    """The context object of the AWS Python runtime (memory_limit_in_mb is a string there too)."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_epoch_ms: int):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = None
        self.identity = CognitoIdentity()
        self.tenant_id = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_epoch_ms - int(time.time() * 1000))

    def log(self, message: str) -> None:
        sys.stdout.write(message)

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},function_name={self.function_name},"
                f"function_version={self.function_version},invoked_function_arn={self.invoked_function_arn}])")


def _marshal_default(value):
    # The AWS runtime's encoder writes Decimals (DynamoDB numbers) as JSON numbers.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_status_fd = -1  # /proc/self/status, kept open: read again from its start for each REPORT


def _max_memory_used_mb() -> int:
    """Peak resident memory of this process since exec (ru_maxrss would count the parent's, from
    before the exec)."""
    global _status_fd
    try:
        try:
            status = os.pread(_status_fd, 1 << 16, 0)
        except OSError:  # not open yet (or the handler closed it)
            _status_fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
            status = os.pread(_status_fd, 1 << 16, 0)
        start = status.index(b"VmHWM:")
        return math.ceil(int(status[start + 6:status.index(b"kB", start)]) / 1024)
    except (OSError, ValueError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return math.ceil(peak / (1024 * 1024 if sys.platform == "darwin" else 1024))


# --- the loop ----------------------------------------------------------------------------------

class _Frames:
    def __init__(self, fd: int):
        self._fd = fd
        self._buffer = bytearray()

    def read(self) -> bytes | None:
        """The next frame, or None when the parent closed the pipe."""
        if not self._fill(4):
            return None
        size = int.from_bytes(self._buffer[:4], "big")
        if not self._fill(4 + size):
            return None
        frame = bytes(self._buffer[4:4 + size])
        del self._buffer[:4 + size]
        return frame

    def _fill(self, size: int) -> bool:
        while len(self._buffer) < size:
            chunk = os.read(self._fd, max(1 << 16, size - len(self._buffer)))
            if not chunk:
                return False
            self._buffer += chunk
        return True


def _send(fd: int, body: bytes) -> None:
    """A message to the parent, once it has read the logs and records written before it."""
    with _record_lock:
        _drained(LOG_FD, _record_fd)
    _write_all(fd, len(body).to_bytes(4, "big") + body)


def _watch_lifeline(fd: int) -> None:
    """Blocks until the parent is gone (its end of the pipe closes), then takes the group down."""
    try:
        while os.read(fd, 1):
            pass
    except OSError:
        pass
    if os.getpgrp() == os.getpid():  # the parent starts each environment in a session of its own
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(1)


def _add_site_builtins() -> None:
    """exit(), quit(), help(), copyright() and friends, which `site` adds on Lambda and `-S` left out
    (without adding any folder to sys.path)."""
    import site

    for setup in ("setquit", "setcopyright", "sethelper"):
        getattr(site, setup, lambda: None)()


def main(argv: list[str]) -> int:
    global _request_id, _record_fd
    request_fd, response_fd, lifeline_fd, _record_fd = (int(arg) for arg in argv[1:5])
    for fd in (request_fd, response_fd, lifeline_fd, _record_fd):
        os.set_inheritable(fd, False)  # a handler's subprocesses must not hold the protocol open
    threading.Thread(target=_watch_lifeline, args=(lifeline_fd,), name="lifeline", daemon=True).start()
    sys.stdout = _LogStream(1, "<stdout>")
    sys.stderr = _LogStream(2, "<stderr>")
    _setup_logging()

    runtime_name = os.environ.get("AWS_EXECUTION_ENV", "").removeprefix("AWS_Lambda_")
    # The function's runtime is python3.x on AWS; here the local interpreter runs it: say which.
    write_record(f"INIT_START Runtime Version: {runtime_name} run by the local interpreter "
                 f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})")
    local_runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime_name != local_runtime:
        write_record(f"LOCAL NOTE: the function declares {runtime_name} but runs on Python {platform.python_version()} "
                     f"here: the standard library, the language and C extensions ({sys.implementation.cache_tag}) "
                     f"differ from {runtime_name} on AWS")
    _add_site_builtins()
    sys.path[:0] = argv[5:]

    started = time.perf_counter()
    try:
        handler = load_handler(os.environ["_HANDLER"])
        init_error = None
    except Fault as fault:
        init_error = make_error(fault.error_type, fault.message, fault.trace, "")
    except Exception as error:  # the module raised while being imported
        init_error = exception_error(error, "")
    init_ms = (time.perf_counter() - started) * 1000
    if init_error is not None:
        log_error(init_error)
        _send(response_fd, json.dumps({"type": "init", "ms": init_ms, "error": init_error}).encode())
        return 1
    _send(response_fd, json.dumps({"type": "init", "ms": init_ms}).encode())

    frames = _Frames(request_fd)
    while (frame := frames.read()) is not None:
        request = json.loads(frame)
        request_id = _request_id = request["id"]
        context = LambdaContext(request_id, request["arn"], int(time.time() * 1000) + int(request["timeout_ms"]))
        started = time.perf_counter()
        error = None
        try:
            result = handler(request["event"], context)
        except Fault as fault:
            error = make_error(fault.error_type, fault.message, fault.trace, request_id)
        except Exception as exception:
            error = exception_error(exception, request_id)
        duration_ms = (time.perf_counter() - started) * 1000
        outcome = {"type": "result", "ms": duration_ms, "max_memory_mb": _max_memory_used_mb()}
        body = None
        if error is None:
            try:
                body = json.dumps({**outcome, "payload": result}, default=_marshal_default)
            except (TypeError, ValueError, RecursionError) as marshal:
                error = make_error("Runtime.MarshalError", f"Unable to marshal response: {marshal}", None, request_id)
        if error is not None:
            log_error(error)
            body = json.dumps({**outcome, "error": error})
        _request_id = ""
        _send(response_fd, body.encode())  # the parent then writes END and REPORT
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
