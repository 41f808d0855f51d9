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


class WsgiServer:
    """A threaded WSGI server on host:port (0: a free port), serving from a background thread."""

    def __init__(self, app: Callable, host: str, port: int, *, threads: int = 16):
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
        self.host, self.port = host, listener.getsockname()[1]
        # ident="": no Server header (API Gateway and Cognito send none that names a server)
        self._sockets: dict = {}  # waitress's socket map: the listener and every open connection
        self._server = create_server(app, map=self._sockets, sockets=[listener], threads=threads, ident="",
                                     expose_tracebacks=False)
        bracketed = f"[{host}]" if ":" in host else host
        self.url = f"http://{bracketed}:{self.port}"
        self._thread = threading.Thread(target=self._server.run, name=f"wsgi-{self.port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        # run() loops while its map holds sockets. Close them all (the listener, kept-alive
        # connections, the trigger itself) from inside that loop, where they are polled.
        if self._thread.is_alive():
            self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._sockets))
            self._thread.join(timeout=5)
        self._server.task_dispatcher.shutdown()

    def __enter__(self) -> "WsgiServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
