"""Serving WSGI apps on loopback, for the data plane and the embedded AWS.

The data plane (HttpServer for the gateways, WsgiServer for Cognito) runs on http11.py's server, not
werkzeug's development server: that one closes every connection after one response, which clients of
API Gateway and Cognito never see from AWS and which cost most of a request's time. http11.py keeps
connections alive (HTTP/1.1), parses each request once (llhttp), repeated headers joined as API
Gateway joins them, and serves every connection of a server from one event-loop thread: the
gateways on it (waiting for their functions through loop_bridge.py), Cognito on worker threads.

The embedded AWS (MotoServer) runs where moto itself runs, on werkzeug's threaded server: under
waitress (once the data plane's server too), one CreateFunction response of a loaded test run never
reached Terraform (moto had made the function; cause not found), while werkzeug showed nothing of the kind in many runs, and the
embedded AWS gains little from keep-alive (Terraform's own waits dominate an apply).

Sockets are bound here, so that a taken port is an error the caller can name a flag for.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
import threading
from typing import Callable

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from local_aws import http11


class PortInUseError(OSError):
    """The requested port is taken."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


HEADER_VALUES_KEY = http11.HEADER_VALUES_KEY  # each header's values as sent (payload 1.0's multiValueHeaders)


def listen(host: str, port: int) -> socket.socket:
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


class HttpServer(_Served):
    """The data plane's server (http11.py) on host:port (0: a free port), from a background thread,
    for a request handler: `handler(HttpRequest) -> (status line, headers, body bytes)` (the gateways),
    run on the server's event-loop thread."""

    _wsgi = False

    def __init__(self, app: Callable, host: str, port: int):
        listener = listen(host, port)
        self._address(listener)
        self._server = http11.Http11Server(app, listener, f"http-{self.port}", wsgi=self._wsgi)

    def stop(self) -> None:
        self._server.stop()


class WsgiServer(HttpServer):
    """The same server for a WSGI app (Cognito, tests' apps), run on the server's worker threads."""

    _wsgi = True


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # errors are still logged (an unimplemented operation shows as a traceback)


class MotoServer(_Served):
    """The embedded AWS's server: werkzeug's threaded server, moto's own, from a background thread."""

    def __init__(self, app: Callable, host: str, port: int, listener: socket.socket | None = None):
        """On host:port, or on `listener`, a listening socket bound already (host and port unused)."""
        listener = listen(host, port) if listener is None else listener
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
