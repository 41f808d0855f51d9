"""The data plane's HTTP/1.1 server: every connection served by one event-loop thread (asyncio, on
uvloop where it is installed), requests parsed by llhttp (httptools). An app is either a request
handler (the gateways: it takes the one parse as an http_request.HttpRequest and returns status,
headers and body) or a WSGI app (Cognito: it gets an environ built from the same parse).

Why one loop thread: with a thread per connection, eight keep-alive clients cost about six context
switches per request and the threads' turns at the interpreter lock (strace: ~40 futex calls per
request), more than the gateway's own work. Here a request handler runs on the loop thread, in a
greenlet of its own (loop_bridge.py): while it waits for its Lambda's answer, the loop serves the
other connections, and no lock changes hands. A WSGI app runs on a worker thread instead (Cognito
calls the embedded AWS, which would hold the loop), its answer written by the loop.

Why not waitress (what the data plane used before): waitress parses a request in Python, hands it
from its asyncore loop to a worker thread and back, and its header dict joins repeated headers with
", " (API Gateway joins with ","), so a second parse of the header block was needed. Here the one
parse gives everything: every header value as sent, in order (`HEADER_VALUES_KEY`, payload 1.0's
multiValueHeaders), and the joined value the app sees.

What a client meets (each one as waitress did it, or named where it differs):
- Keep-alive (HTTP/1.1 by default, HTTP/1.0 with `Connection: keep-alive`), pipelining answered
  in order (reading pauses while answers are due). A connection idle for IDLE_TIMEOUT_S is closed.
  Connections cost no thread: the listen backlog and the process's file limit bound them.
- A request llhttp refuses (bad syntax, Content-Length with Transfer-Encoding, two differing
  Content-Lengths, bad chunking): 400, and the connection is closed.
- A request head over MAX_HEAD_BYTES: 431 and close (the gateway's own, lower limit of API Gateway
  answers before this one).
- A body over MAX_BODY_BYTES (declared, or de-chunked as it arrives) is not read: the app sees the
  declared CONTENT_LENGTH (or the first MAX_BODY_BYTES + 1 bytes of a chunked body) and a
  wsgi.input that raises on read beyond what was kept, so it can refuse with 413 as the gateway
  and Cognito do; the connection is closed after the answer.
- `Expect: 100-continue` is answered with 100 Continue before the body is read.
- Header names with `_` are dropped (a WSGI environ cannot tell them from `-`: the same anti-
  spoofing rule as waitress's). Repeated headers reach the app joined with "," (spec B2), except
  Content-Length/Transfer-Encoding, which llhttp has judged.
- Responses carry Date, never Server; Content-Length is set when the app gives none (no body and
  no Content-Length for 1xx, 204 and 304; no body for HEAD). A response header with CR or LF is a
  500: nothing from an app can split a response.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import io
import logging
import socket
import sys
import threading
import time
from email.utils import formatdate
from typing import Callable
from urllib.parse import unquote_to_bytes

import greenlet
import httptools

from local_aws import loop_bridge
from local_aws.http_request import HttpRequest, text

try:  # libuv's loop: a third less of the loop's own time per request than asyncio's own
    import uvloop
except ImportError:  # not built for this platform: asyncio's loop serves the same
    uvloop = None

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 10 * 1024 * 1024 + 1024 * 1024  # API Gateway's 10 MiB, and room to see it exceeded
IDLE_TIMEOUT_S = 120.0
SWEEP_S = 1.0  # how often idle connections are looked for

# The WSGI environ key holding each header's values one by one, {lower-cased name: [value, ...]} in
# the order received (latin-1 strings, as WSGI's): payload 1.0's multiValueHeaders needs them.
HEADER_VALUES_KEY = "local_aws.header_values"

_FRAMING = frozenset({"content-length", "transfer-encoding"})
_NO_BODY_STATUS = (204, 304)


class _Refused:
    """An answer the server gives itself (status, message), in its turn, closing the connection."""

    def __init__(self, status: str, message: str):
        self.status, self.message = status, message


class _Oversized(Exception):
    """The body is over MAX_BODY_BYTES: stop reading, answer what has arrived."""


class _UnreadBody(io.RawIOBase):
    """wsgi.input of a body the server did not read (over MAX_BODY_BYTES): what was kept, then an error."""

    def __init__(self, kept: bytes):
        super().__init__()
        self._kept = io.BytesIO(kept)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._kept.read(size)
        if not data and size != 0:
            raise OSError(f"the request body is over the server's {MAX_BODY_BYTES}-byte limit and was not read")
        return data

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


class _Message:
    """One request as llhttp reports it."""

    __slots__ = ("url", "names", "values", "head_done", "body", "body_size", "oversized", "complete",
                 "method", "version", "keep_alive")

    def __init__(self):
        self.url = b""
        self.names: list[bytes] = []
        self.values: list[bytes] = []
        self.head_done = False
        self.body: list[bytes] = []
        self.body_size = 0
        self.oversized = False
        self.complete = False
        self.keep_alive = False


class _Connection(asyncio.Protocol):
    """One connection: llhttp's callbacks, then its requests answered one at a time, in order.
    Everything here runs on the loop thread."""

    def __init__(self, server: "Http11Server"):
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer: tuple = ("", 0)
        self.current: _Message | None = None
        self.ready: collections.deque[_Message | _Refused] = collections.deque()
        self.head_bytes = 0
        self.busy = False         # an answer is being made
        self.closing = False      # answer what is ready, then close
        self.reading_paused = False
        self.writing_paused = False
        self.active = time.monotonic()

    # -- the transport's callbacks --

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.peer = transport.get_extra_info("peername") or ("", 0)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.closing = True
        self.ready.clear()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.active = time.monotonic()
        if self.closing:
            return
        self._feed(data)
        if self.closing or (self.busy and self.ready):
            self._pause_reading()  # pipelined or refused: nothing more is read until these are answered
        self._next()

    def eof_received(self) -> bool:
        self.closing = True  # the client sent all it will: answer it, then close
        self._next()
        return True

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._next()

    # -- llhttp callbacks --

    def on_message_begin(self) -> None:
        self.current = _Message()

    def on_url(self, url: bytes) -> None:
        self.current.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        message = self.current
        message.names.append(name)
        message.values.append(value)

    def on_headers_complete(self) -> None:
        message = self.current
        message.head_done = True
        message.method = self.parser.get_method().decode("latin-1")
        message.version = self.parser.get_http_version()
        declared = None
        for name, value in zip(message.names, message.values):
            lowered = name.lower()
            if lowered == b"content-length":
                declared = int(value)
            elif (lowered == b"expect" and value.strip().lower() == b"100-continue" and message.version == "1.1"
                  and not self.busy and not self.ready):  # else it would come before an answer due first
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if declared is not None and declared > MAX_BODY_BYTES:
            message.oversized = True
            raise _Oversized()

    def on_body(self, body: bytes) -> None:
        message = self.current
        message.body.append(body)
        message.body_size += len(body)
        if message.body_size > MAX_BODY_BYTES:
            message.oversized = True
            raise _Oversized()

    def on_message_complete(self) -> None:
        message = self.current
        message.complete = True
        message.keep_alive = self.parser.should_keep_alive()
        self.ready.append(message)
        self.current = None
        self.head_bytes = 0

    # -- requests in, answers out --

    def _feed(self, data: bytes) -> None:
        """Parse what arrived; a refusal or an oversized body ends the connection after its answer."""
        if self.current is None or not self.current.head_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.closing = True  # no upgrade is offered: the request is answered as a plain one, then closed
        except httptools.HttpParserCallbackError as error:
            if not isinstance(error.__context__, _Oversized) and not isinstance(error.__cause__, _Oversized):
                raise
            self._answer_oversized()
        except httptools.HttpParserError as error:
            if self.current is not None and self.current.oversized:
                self._answer_oversized()
            else:
                self._refuse("400 Bad Request", f"bad request: {error}")
        else:
            if self.current is not None and not self.current.head_done and self.head_bytes > MAX_HEAD_BYTES:
                self._refuse("431 Request Header Fields Too Large", "Request Header Fields Too Large")

    def _answer_oversized(self) -> None:
        message = self.current
        message.keep_alive = False
        self.ready.append(message)
        self.current = None
        self.closing = True

    def _refuse(self, status: str, message: str) -> None:
        self.ready.append(_Refused(status, message))
        self.current = None
        self.closing = True

    def _pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def _next(self) -> None:
        """Start answering the next request, if none is being answered and the client reads."""
        if self.busy or self.writing_paused or self.transport is None:
            return
        if not self.ready:
            if self.closing:
                self.transport.close()
            elif self.reading_paused:
                self.reading_paused = False
                self.transport.resume_reading()
            return
        item = self.ready.popleft()
        if isinstance(item, _Refused):
            body = ('{"message":"%s"}' % item.message.replace('"', "'")[:200]).encode()
            self.ready.clear()
            self._send(item.status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                       [body], close=True, head=False)
            self.transport.close()
            return
        self.busy = True
        self.server.answer(self, item)

    def answered(self, message: _Message, answer: tuple[str, list[tuple[str, str]], list[bytes]]) -> None:
        """Send the answer to `message` (on the loop thread), then go on with the next request."""
        self.busy = False
        self.active = time.monotonic()
        if self.transport is None:
            return  # the client went away meanwhile
        status, headers, chunks = answer
        close = not message.keep_alive or message.oversized or self.server.stopping
        self._send(status, headers, chunks, close=close, head=message.method == "HEAD")
        if close:
            self.closing = True
            self.ready.clear()
        self.server.loop.call_soon(self._next)  # not from here: this may be a request's greenlet

    def close_if_idle(self, idle_since: float) -> None:
        if self.transport is not None and not self.busy and not self.ready and self.active < idle_since:
            self.closing = True
            self.transport.close()

    @staticmethod
    def _target(url: bytes) -> tuple[bytes, bytes]:
        """The path and query of a request target (origin or absolute form), fragment dropped."""
        target = url
        if url[:1] != b"/" and b"://" in url.split(b"?", 1)[0]:  # absolute-form
            after = url.split(b"://", 1)[1]
            slash = after.find(b"/")
            target = after[slash:] if slash >= 0 else b"/"
        path, _, query = target.partition(b"?")
        return path.split(b"#", 1)[0], query.split(b"#", 1)[0]

    @staticmethod
    def _header_lists(message: _Message, decode: Callable[[bytes], str]) -> dict[str, list[str]]:
        """{lower-cased name: [value, ...]} in the order received; names with "_" dropped."""
        values: dict[str, list[str]] = {}
        for raw_name, raw_value in zip(message.names, message.values):
            if b"_" in raw_name:
                continue
            name = raw_name.decode("latin-1").lower()
            value = decode(raw_value.strip(b" \t"))
            if name in values:
                values[name].append(value)
            else:
                values[name] = [value]
        return values

    @staticmethod
    def _joined(name: str, listed: list[str]) -> str:
        return listed[0] if len(listed) == 1 else (listed[-1] if name in _FRAMING else ",".join(listed))

    def _request(self, message: _Message) -> HttpRequest:
        path, query = self._target(message.url)
        values = self._header_lists(message, text)
        headers = {name: self._joined(name, listed) for name, listed in values.items()}
        body = b"".join(message.body) if len(message.body) != 1 else message.body[0]
        return HttpRequest(message.method, text(path) or "/", text(query), headers, body, self.peer[0], self.peer[1],
                           self.server.port, f"HTTP/{message.version}", "http", values, not message.oversized,
                           message.url)

    def _environ(self, message: _Message) -> dict:
        url = message.url
        path, query = self._target(url)
        server = self.server
        environ = {
            "REQUEST_METHOD": message.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query.decode("latin-1"),
            "REQUEST_URI": url.decode("latin-1"),
            "SERVER_NAME": server.host,
            "SERVER_PORT": str(server.port),
            "SERVER_PROTOCOL": f"HTTP/{message.version}",
            "REMOTE_ADDR": self.peer[0],
            "REMOTE_PORT": str(self.peer[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        values = self._header_lists(message, _latin1)
        for name, listed in values.items():
            value = self._joined(name, listed)
            if name == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name == "content-length":
                environ["CONTENT_LENGTH"] = value
            else:
                environ["HTTP_" + name.upper().replace("-", "_")] = value
        environ[HEADER_VALUES_KEY] = values
        body = b"".join(message.body) if len(message.body) != 1 else message.body[0]
        if message.oversized:
            environ["wsgi.input"] = _UnreadBody(body)
            if "CONTENT_LENGTH" not in environ:
                environ["wsgi.input_terminated"] = True
        else:
            environ["wsgi.input"] = io.BytesIO(body)
            if "CONTENT_LENGTH" not in environ and body:  # de-chunked: the length that arrived, as waitress
                environ["CONTENT_LENGTH"] = str(len(body))
        return environ

    def _send(self, status: str, headers: list[tuple[str, str]], chunks, *, close: bool, head: bool) -> None:
        code = int(status[:3])
        lines = [f"HTTP/1.1 {status}\r\n"]
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                has_length = True
            elif lowered in ("connection", "date", "server", "transfer-encoding"):
                continue  # the server frames the response
            lines.append(f"{name}: {value}\r\n")
        body = b"".join(chunks)
        if code < 200 or code in _NO_BODY_STATUS:
            body = b""
        elif not has_length:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append(f"Date: {self.server.date()}\r\n")
        if close:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1")
        if not head:
            data += body
        self.transport.write(data)



def _latin1(raw: bytes) -> str:
    return raw.decode("latin-1")


def _check_headers(headers: list) -> None:
    """Nothing from an app can split a response: a header with CR or LF (or not text) is an error."""
    for name, value in headers:
        if not isinstance(name, str) or not isinstance(value, str) or ":" in name or "\r" in name or "\n" in name \
                or "\r" in value or "\n" in value:
            raise ValueError(f"response header {name!r}: {value!r} is not a header")


INTERNAL_ERROR = ("500 Internal Server Error", (("Content-Type", "application/json"),), (b'{"message":"Internal Server Error"}',))


class Http11Server:
    """Serves an app on a listening socket, from a background thread running the event loop: a WSGI
    app (on worker threads), or (wsgi False) a request handler on the loop thread,
    `handler(HttpRequest) -> (status line, headers, body bytes)`, written to block where it waits
    only through loop_bridge."""

    def __init__(self, app: Callable, listener: socket.socket, name: str, *, wsgi: bool = True):
        self.app = app
        self.wsgi = wsgi
        self.host, self.port = listener.getsockname()[:2]
        self.stopping = False
        self.connections: set[_Connection] = set()
        self._date = (0, "")
        self.workers = concurrent.futures.ThreadPoolExecutor(loop_bridge.WORKERS, thread_name_prefix=f"{name}-worker")
        self.loop = uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()
        self._listening: asyncio.AbstractServer | None = None
        started = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(listener, started, failure), name=name, daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            raise failure[0]

    def _run(self, listener: socket.socket, started: threading.Event, failure: list) -> None:
        loop = self.loop
        asyncio.set_event_loop(loop)
        self._runner = loop_bridge.Runner(loop, greenlet.getcurrent(), self.workers)
        try:
            self._listening = loop.run_until_complete(loop.create_server(lambda: _Connection(self), sock=listener))
        except BaseException as error:  # noqa: BLE001 - raised again by __init__
            failure.append(error)
            started.set()
            return
        loop.call_later(SWEEP_S, self._sweep)
        started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def date(self) -> str:
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True))
        return self._date[1]

    def answer(self, connection: _Connection, message: _Message) -> None:
        """Make the answer to one request (on the loop thread); connection.answered() sends it."""
        if self.wsgi:
            future = self.loop.run_in_executor(self.workers, self.call_app, connection._environ(message))
            future.add_done_callback(lambda done: connection.answered(message, done.result()))
            return
        self._runner.run(self._handle, connection, message)

    def _handle(self, connection: _Connection, message: _Message) -> None:
        connection.answered(message, self.call_handler(connection._request(message)))

    def call_app(self, environ: dict) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """The app's (status, headers, body chunks); a 500 when it raises before answering."""
        answer: list = []
        written: list[bytes] = []

        def start_response(status: str, headers: list, exc_info=None):
            if exc_info and answer:
                raise exc_info[1].with_traceback(exc_info[2])
            _check_headers(headers)
            answer[:] = [status, list(headers)]
            return written.append

        try:
            result = self.app(environ, start_response)
            try:
                chunks = written + [chunk for chunk in result]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            if not answer:
                raise RuntimeError("the app returned without calling start_response")
            return answer[0], answer[1], chunks
        except Exception:  # noqa: BLE001 - an answer, never a dropped connection
            log.exception("http server: the app failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return INTERNAL_ERROR

    def call_handler(self, request: HttpRequest) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """The request handler's (status, headers, body chunks); a 500 when it raises."""
        try:
            status, headers, body = self.app(request)
            _check_headers(headers)
            return status, headers, [body]
        except Exception:  # noqa: BLE001 - an answer, never a dropped connection
            log.exception("http server: the app failed on %s %s", request.method, request.raw_path)
            return INTERNAL_ERROR

    def _sweep(self) -> None:
        idle_since = time.monotonic() - IDLE_TIMEOUT_S
        for connection in list(self.connections):
            connection.close_if_idle(idle_since)
        if not self.stopping:
            self.loop.call_later(SWEEP_S, self._sweep)

    async def _stop(self, timeout_s: float) -> None:
        self._listening.close()  # stops accepting; the listening socket is closed
        deadline = time.monotonic() + timeout_s
        while True:
            for connection in list(self.connections):  # waiting for a next request: closed now
                connection.close_if_idle(float("inf"))
            if not self.connections or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.01)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        self._runner.close()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, let requests in flight finish (up to timeout_s), close every connection."""
        if self.stopping:
            return
        self.stopping = True
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._stop(timeout_s), self.loop).result(timeout_s + 5)
            except (concurrent.futures.TimeoutError, RuntimeError):
                pass  # the loop is gone or stuck: the thread is a daemon
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout_s)
        self.workers.shutdown(wait=False)
