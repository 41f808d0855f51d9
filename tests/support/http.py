"""HTTP on loopback for the tests: one request per connection (http.client), no redirect followed.

`call` sends exactly the request line and headers it is given (repeats kept, any Host, a raw target
such as `//a/../b` or `*`); `request` sends a URL the way a plain client does (Host from the URL).
Both connect to 127.0.0.1: names under .localhost are loopback, as browsers and curl take them.
"""
from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlencode, urlsplit

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage  # case-insensitive; `all` gives a repeated header's values
    body: bytes
    url: str  # what was asked for

    def __iter__(self) -> Iterator[Any]:
        """`status, headers, body = request(...)`."""
        return iter((self.status, self.headers, self.body))

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def location(self) -> str | None:
        return self.headers.get("Location")

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def all(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []

    def names(self) -> set[str]:
        return {name.lower() for name in self.headers.keys()}


def call(port: int, method: str, target: str, *, host: str, headers: Headers = (), body: bytes | None = None,
         timeout: float = 60) -> Reply:
    """One request to 127.0.0.1:port with exactly these headers (and Content-Length when there is a body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host)
        for name, value in headers.items() if isinstance(headers, Mapping) else headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read(), f"http://{host}{target}")
    finally:
        connection.close()


def request(method: str, url: str, *, headers: Headers | None = None, body: bytes | str | None = None,
            form: dict | None = None, json_body: Any = None, timeout: float = 60) -> Reply:
    """`method url` as a plain client sends it: the URL's Host, Content-Length (0 for a POST, PUT or
    PATCH without a body); form is sent urlencoded, json_body as JSON."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in ("127.0.0.1", "localhost") and not host.endswith(".localhost"):
        raise ValueError(f"{url}: not on loopback")
    headers = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    if form is not None:
        body = urlencode(form)
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    if json_body is not None:
        body = json.dumps(json_body)
        headers.append(("Content-Type", "application/json"))
    if isinstance(body, str):
        body = body.encode()
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = b""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    reply = call(parts.port or 80, method, target, host=parts.netloc, headers=headers, body=body, timeout=timeout)
    reply.url = url
    return reply
