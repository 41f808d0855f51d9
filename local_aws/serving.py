"""Serving WSGI apps on loopback, for the data plane and the embedded AWS.

The data plane (WsgiServer) runs on waitress, not werkzeug's development server: that one closes
every connection after one response and starts a thread per connection, which clients of API
Gateway and Cognito never see from AWS and which cost most of a request's time. waitress keeps
connections alive (HTTP/1.1) and serves from a fixed pool of threads.

The embedded AWS (MotoServer) runs where moto itself runs, on werkzeug's threaded server: under
waitress, one CreateFunction response of a loaded test run never reached Terraform (moto had made
the function; cause not found), while werkzeug showed nothing of the kind in many runs, and the
embedded AWS gains little from keep-alive (Terraform's own waits dominate an apply).

Sockets are bound here, so that a taken port is an error the caller can name a flag for.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from typing import Callable

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, get_header_lines
from waitress.rfc7230 import HEADER_FIELD_RE
from waitress.server import create_server
from waitress.task import WSGITask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler


class PortInUseError(OSError):
    """The requested port is taken."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# The WSGI environ key holding each header's values one by one, {lower-cased name: [value, ...]} in
# the order received (latin-1 strings, as WSGI's): payload 1.0's multiValueHeaders needs them.
HEADER_VALUES_KEY = "local_aws.header_values"


class _CommaJoinedHeaders(HTTPRequestParser):
    """A header sent several times reaches the app joined with "," as API Gateway joins it
    (spec B2), not with waitress's ", " (a value's own ", " stays as sent). The values one by
    one are kept too (`header_values`)."""

    _FRAMING = {"CONTENT_LENGTH", "TRANSFER_ENCODING"}  # waitress has already judged these

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        values: dict[str, list[str]] = {}
        self.header_values: dict[str, list[str]] = {}
        for line in get_header_lines(header_plus[header_plus.find(b"\r\n") + 2:]):
            field = HEADER_FIELD_RE.match(line)
            if field and b"_" not in field.group("name"):
                key = field.group("name").upper().replace(b"-", b"_").decode("latin-1")
                value = field.group("value").strip(b" \t").decode("latin-1")
                values.setdefault(key, []).append(value)
                self.header_values.setdefault(field.group("name").lower().decode("latin-1"), []).append(value)
        for key, repeated in values.items():
            if len(repeated) > 1 and key in self.headers and key not in self._FRAMING:
                self.headers[key] = ",".join(repeated)


class _Task(WSGITask):
    def get_environment(self) -> dict:
        environ = super().get_environment()
        environ.setdefault(HEADER_VALUES_KEY, getattr(self.request, "header_values", {}))
        return environ


class _Channel(HTTPChannel):
    parser_class = _CommaJoinedHeaders
    task_class = _Task


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0: a free port); PortInUseError when it is taken."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(128)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUseError(error.errno, f"{address[0]}:{port} is already in use") from None
        raise
    return listener


class _Served:
    """Where a server listens, and `with` support; subclasses start it and define stop()."""

    def _address(self, listener: socket.socket) -> None:
        # Numeric: the URL names the address actually bound ("localhost" may be ::1).
        self.host, self.port = listener.getsockname()[:2]
        bracketed = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{bracketed}:{self.port}"

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WsgiServer(_Served):
    """The data plane's server: waitress on host:port (0: a free port), from a background thread."""

    def __init__(self, app: Callable, host: str, port: int, *, threads: int = 16):
        listener = _listen(host, port)
        self._address(listener)
        # ident="": no Server header (API Gateway and Cognito send none that names a server)
        self._sockets: dict = {}  # waitress's socket map: the listener and every open connection
        self._server = create_server(app, map=self._sockets, sockets=[listener], threads=threads, ident="",
                                     expose_tracebacks=False)
        self._server.channel_class = _Channel
        self._thread = threading.Thread(target=self._server.run, name=f"wsgi-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        # First let requests in flight finish (their threads still signal the loop when done),
        # then close every socket (listener, kept-alive connections, the loop's trigger) from
        # inside the loop, where they are polled; run() returns once none is left.
        self._server.task_dispatcher.shutdown(timeout=5)
        self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._sockets))
        self._thread.join(timeout=5)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # errors are still logged (an unimplemented operation shows as a traceback)


class MotoServer(_Served):
    """The embedded AWS's server: werkzeug's threaded server, moto's own, from a background thread."""

    def __init__(self, app: Callable, host: str, port: int):
        listener = _listen(host, port)
        self._address(listener)
        self._server = ThreadedWSGIServer(self.host, self.port, app, handler=_QuietHandler, fd=listener.fileno())
        listener.close()  # the server holds its own duplicate of the socket
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"moto-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
