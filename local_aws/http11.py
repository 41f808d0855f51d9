"""The data plane's HTTP/1.1 server: one thread per keep-alive connection, requests parsed by
llhttp (httptools), apps called on the connection's own thread. An app is either a request handler
(the gateways: it takes the one parse as an http_request.HttpRequest and returns status, headers and
body) or a WSGI app (Cognito: it gets an environ built from the same parse).

Why not waitress (what the data plane used before): waitress parses a request in Python, hands it
from its asyncore loop to a worker thread and back, and its header dict joins repeated headers with
", " (API Gateway joins with ","), so a second parse of the header block was needed. Here the one
parse gives everything: every header value as sent, in order (`HEADER_VALUES_KEY`, payload 1.0's
multiValueHeaders), and the joined value the app sees. Per request: one parse, no thread hand-off,
one sendall of the whole response.

What a client meets (each one as waitress did it, or named where it differs):
- Keep-alive (HTTP/1.1 by default, HTTP/1.0 with `Connection: keep-alive`), pipelining answered
  in order. A connection idle for IDLE_TIMEOUT_S is closed; past MAX_CONNECTIONS open at once, new
  ones wait to be accepted.
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

import io
import logging
import socket
import sys
import threading
import time
from email.utils import formatdate
from typing import Callable
from urllib.parse import unquote_to_bytes

import httptools

from local_aws.http_request import HttpRequest, text

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 10 * 1024 * 1024 + 1024 * 1024  # API Gateway's 10 MiB, and room to see it exceeded
IDLE_TIMEOUT_S = 120.0
MAX_CONNECTIONS = 256  # open at once, each with its thread (waitress stopped accepting at 100)
RECV_BYTES = 1 << 16

# The WSGI environ key holding each header's values one by one, {lower-cased name: [value, ...]} in
# the order received (latin-1 strings, as WSGI's): payload 1.0's multiValueHeaders needs them.
HEADER_VALUES_KEY = "local_aws.header_values"

_FRAMING = frozenset({"content-length", "transfer-encoding"})
_NO_BODY_STATUS = (204, 304)


class _Refused(Exception):
    """A request the server answers itself (status, message), closing the connection."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
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


class _Connection:
    """llhttp callbacks and the loop of one connection."""

    def __init__(self, server: "Http11Server", sock: socket.socket, peer: tuple):
        self.server = server
        self.sock = sock
        self.peer = peer
        self.parser = httptools.HttpRequestParser(self)
        self.current: _Message | None = None
        self.ready: list[_Message] = []
        self.head_bytes = 0
        self.busy = False

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
            elif lowered == b"expect" and value.strip().lower() == b"100-continue" and message.version == "1.1":
                self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
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

    # -- the loop --

    def run(self) -> None:
        sock = self.sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(IDLE_TIMEOUT_S)
            while not self.server.stopping:
                try:
                    data = sock.recv(RECV_BYTES)
                except (socket.timeout, OSError):
                    return
                if not data:
                    return
                if not self._feed(data):
                    return
                while self.ready:
                    message = self.ready.pop(0)
                    if not self._answer(message) or not message.keep_alive:
                        return
        finally:
            self.server.forget(self)
            try:
                sock.close()
            except OSError:
                pass

    def _feed(self, data: bytes) -> bool:
        """Parse what arrived; False when the connection is to close (after answering what is due)."""
        if self.current is None or not self.current.head_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # no upgrade is offered: the request is answered as a plain one, then the connection closes
        except httptools.HttpParserCallbackError as error:
            if not isinstance(error.__context__, _Oversized) and not isinstance(error.__cause__, _Oversized):
                raise
            message = self.current
            message.keep_alive = False
            self.ready.append(message)
            self.current = None
        except httptools.HttpParserError as error:
            if not self._oversized_in_flight():
                self._refuse("400 Bad Request", f"bad request: {error}")
                return False
        else:
            if self.current is not None and not self.current.head_done and self.head_bytes > MAX_HEAD_BYTES:
                self._refuse("431 Request Header Fields Too Large", "Request Header Fields Too Large")
                return False
            return True
        for message in self.ready:  # answer what is complete, then close
            if not self._answer(message):
                break
        self.ready.clear()
        return False

    def _oversized_in_flight(self) -> bool:
        message = self.current
        if message is not None and message.oversized:
            message.keep_alive = False
            self.ready.append(message)
            self.current = None
            return True
        return False

    def _refuse(self, status: str, message: str) -> None:
        body = ('{"message":"%s"}' % message.replace('"', "'")[:200]).encode()
        self._send(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], [body],
                   close=True, head=False)

    def _answer(self, message: _Message) -> bool:
        """Run the app on one request and send its response; False if the connection must close."""
        self.busy = True
        try:
            server = self.server
            if server.wsgi:
                status, headers, chunks = server.call_app(self._environ(message))
            else:
                status, headers, chunks = server.call_handler(self._request(message))
            close = not message.keep_alive or message.oversized or self.server.stopping
            return self._send(status, headers, chunks, close=close, head=message.method == "HEAD") and not close
        finally:
            self.busy = False

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

    def _send(self, status: str, headers: list[tuple[str, str]], chunks, *, close: bool, head: bool) -> bool:
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
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True


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
    """Serves an app on a listening socket, from a background accept thread: a WSGI app, or (wsgi
    False) a request handler, `handler(HttpRequest) -> (status line, headers, body bytes)`."""

    def __init__(self, app: Callable, listener: socket.socket, name: str, *, wsgi: bool = True):
        self.app = app
        self.wsgi = wsgi
        self.listener = listener
        self.host, self.port = listener.getsockname()[:2]
        self.stopping = False
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._date = (0, "")
        listener.settimeout(0.25)  # the accept loop looks at `stopping` this often
        self._thread = threading.Thread(target=self._accept, name=name, daemon=True)
        self._thread.start()

    def date(self) -> str:
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True))
        return self._date[1]

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

    def _accept(self) -> None:
        while not self.stopping:
            if len(self._connections) >= MAX_CONNECTIONS:  # the rest wait in the listen backlog
                time.sleep(0.01)
                continue
            try:
                sock, peer = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self.stopping:
                    return
                time.sleep(0.01)  # e.g. EMFILE: try again rather than stop serving
                continue
            sock.settimeout(None)
            connection = _Connection(self, sock, peer)
            with self._lock:
                if self.stopping:
                    sock.close()
                    return
                self._connections.add(connection)
            threading.Thread(target=connection.run, name=f"{self._thread.name}-conn", daemon=True).start()

    def forget(self, connection: _Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, let requests in flight finish (up to timeout_s), close every connection."""
        if self.stopping:
            return
        self.stopping = True
        self._thread.join(timeout_s)
        try:
            self.listener.close()
        except OSError:
            pass
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                connections = list(self._connections)
            idle = [c for c in connections if not c.busy]
            for connection in idle:  # waiting for a next request: wake its recv
                try:
                    connection.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            if not connections or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        for connection in connections:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
