"""One HTTP request, parsed once: what the data plane's server (http11.py) read, in the form the
gateways, the authorizers and the events use, so none of them parses the request again.

Text fields hold what the client sent, decoded as UTF-8 (a value that is not UTF-8 stays as its
latin-1 characters, byte for byte, as WSGI strings do). Header names are lower-cased; a repeated
header is joined with "," (spec B2; Content-Length and Transfer-Encoding, which the server judged,
keep their last value) and `header_values` keeps each value as sent (payload 1.0's multiValueHeaders).
Names with "_" are dropped by the server: behind a WSGI app they could not be told from "-".
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote


def text(raw: bytes) -> str:
    """Bytes of the request as text: UTF-8, else latin-1 (every byte kept)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def query_parameters(raw_query: str) -> dict[str, str]:
    """URL-decoded query parameters, repeated keys joined with "," (B2, B3)."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


@dataclass(frozen=True)
class HttpRequest:
    """What the gateways hand to authorizers and events."""

    method: str  # "GET"
    raw_path: str  # "/profile", as received (percent-encoded, stage prefix included on a named stage)
    raw_query: str  # "a=1&b=2", raw
    headers: dict[str, str]  # lower-cased names; repeated headers joined with "," (B2)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    source_port: int = 0
    server_port: int = 0
    protocol: str = "HTTP/1.1"
    scheme: str = "http"
    # Each header's values as sent; empty when the server kept none (then a header has its joined value).
    header_values: dict[str, list[str]] = field(default_factory=dict)
    # False when the server stopped reading a body over its limit: `body` is then its beginning.
    body_complete: bool = True
    raw_target: bytes = b""  # the request target as sent (origin form, or the absolute form)

    def with_headers(self, headers: dict[str, str]) -> "HttpRequest":
        """The same request with other headers (the gateway's forwarding headers added): a copy of
        the fields as they are, without dataclasses.replace's re-run of __init__ on the request path."""
        copy = object.__new__(HttpRequest)
        copy.__dict__.update(self.__dict__, headers=headers)
        copy.__dict__.pop("cookies", None)  # read from the headers: read again
        return copy

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        if value is not None:
            return value
        name = name.lower()
        for key, value in self.headers.items():  # a caller that built the headers with mixed case
            if key.lower() == name:
                return value
        return None

    @functools.cached_property
    def query(self) -> dict[str, str]:
        """URL-decoded query parameters, repeated keys joined with "," (B2, B3)."""
        return query_parameters(self.raw_query)

    @functools.cached_property
    def cookies(self) -> list[str]:
        """All Cookie headers' cookies, in order (B2). Repeated Cookie headers arrive joined with ","
        (B2), and a cookie-octet never contains "," or ";" (RFC 6265), so both separate cookies."""
        header = self.header("cookie") or ""
        return [cookie.strip() for cookie in re.split(r"[;,]", header) if cookie.strip()]

    @property
    def path(self) -> str:
        """The decoded path."""
        return unquote(self.raw_path)

    def values(self, name: str) -> list[str]:
        """Each value of header `name` as sent; the joined value when the server kept none, or when
        the gateway set the header itself (x-forwarded-*)."""
        joined = self.headers.get(name)
        listed = self.header_values.get(name)
        if listed and ",".join(listed) == joined:
            return listed
        return [] if joined is None else [joined]
