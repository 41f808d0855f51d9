"""Host names of the local stack's requests: the one parse of a Host header, and what *.localhost means.

Every local server picks what answers by the Host a client sent (a Cognito domain at
`<prefix>.auth.localhost`, an API at `<id>.execute-api.localhost`); all of them read the header here.
Names under .localhost are loopback (RFC 6761 6.3), as browsers and curl treat them.
Standard library only: the client side (`tokens.py`) uses it too.
"""
from __future__ import annotations

from urllib.parse import urlsplit

LOCALHOST_SUFFIX = ".localhost"


def host_name(host: str) -> str:
    """The name in a Host header value: lower-cased, without port or trailing dot; an IPv6 literal
    without its brackets (`Ada.Auth.localhost.:4601` -> `ada.auth.localhost`, `[::1]:80` -> `::1`)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def host_port(host: str) -> int | None:
    """The port in a Host header value; None when it names none, or a malformed one."""
    try:
        return urlsplit(f"//{host}").port
    except ValueError:
        return None


def under_localhost(name: str) -> bool:
    """Whether a host name is under .localhost, which always means loopback (RFC 6761 6.3)."""
    return name.lower().rstrip(".").endswith(LOCALHOST_SUFFIX)
