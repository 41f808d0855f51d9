"""Serving WSGI apps on loopback, for the embedded AWS and the data plane.

The socket is bound here, not by werkzeug: werkzeug prints and calls sys.exit when a port is
taken, and a caller could not say which flag to change.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from typing import Callable

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


class QuietRequestHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive, as clients of AWS endpoints expect; errors logged, requests not."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class WsgiServer:
    """A threaded WSGI server on host:port (0: a free port), serving from a background thread."""

    def __init__(self, app: Callable, host: str, port: int, *, handler: type[WSGIRequestHandler] = QuietRequestHandler):
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        host = address[0]  # numeric, so werkzeug picks the same address family ("localhost" may be ::1)
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
        self._server = ThreadedWSGIServer(host, port, app, handler=handler, fd=listener.fileno())
        listener.close()  # the server holds its own duplicate of the socket
        self.host, self.port = host, self._server.server_address[1]
        bracketed = f"[{host}]" if ":" in host else host
        self.url = f"http://{bracketed}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"wsgi-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> "WsgiServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
