"""Serving WSGI apps on loopback, for the embedded AWS and the data plane.

waitress, not werkzeug's development server: that one closes every connection after one
response and starts a thread per connection, which clients of AWS endpoints (boto3, browsers,
curl, Terraform) never see from AWS and which cost most of a request's time. waitress keeps
connections alive (HTTP/1.1) and serves from a fixed pool of threads.

The socket is bound here, so that a taken port is an error the caller can name a flag for.
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


class PortInUseError(OSError):
    """The requested port is taken."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _CommaJoinedHeaders(HTTPRequestParser):
    """A header sent several times reaches the app joined with "," as API Gateway joins it
    (spec B2), not with waitress's ", " (a value's own ", " stays as sent)."""

    _FRAMING = {"CONTENT_LENGTH", "TRANSFER_ENCODING"}  # waitress has already judged these

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        values: dict[str, list[str]] = {}
        for line in get_header_lines(header_plus[header_plus.find(b"\r\n") + 2:]):
            field = HEADER_FIELD_RE.match(line)
            if field and b"_" not in field.group("name"):
                key = field.group("name").upper().replace(b"-", b"_").decode("latin-1")
                values.setdefault(key, []).append(field.group("value").strip(b" \t").decode("latin-1"))
        for key, repeated in values.items():
            if len(repeated) > 1 and key in self.headers and key not in self._FRAMING:
                self.headers[key] = ",".join(repeated)


class _Channel(HTTPChannel):
    parser_class = _CommaJoinedHeaders


class WsgiServer:
    """A threaded WSGI server on host:port (0: a free port), serving from a background thread."""

    def __init__(self, app: Callable, host: str, port: int, *, threads: int = 16):
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        host = address[0]  # numeric: the URL names the address actually bound ("localhost" may be ::1)
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(address)
            listener.listen(128)
        except OSError as error:
            listener.close()
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(error.errno, f"{host}:{port} is already in use") from None
            raise
        self.host, self.port = host, listener.getsockname()[1]
        # ident="": no Server header (API Gateway and Cognito send none that names a server)
        self._sockets: dict = {}  # waitress's socket map: the listener and every open connection
        self._server = create_server(app, map=self._sockets, sockets=[listener], threads=threads, ident="",
                                     expose_tracebacks=False)
        self._server.channel_class = _Channel
        bracketed = f"[{host}]" if ":" in host else host
        self.url = f"http://{bracketed}:{self.port}"
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

    def __enter__(self) -> "WsgiServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
