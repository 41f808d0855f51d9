"""Getting tokens from a Cognito domain as an app does, for the `token` command and the tests:
client credentials, or the authorization code flow with PKCE through the sign-in form.
Standard library only (and local_aws/hosts.py, which is); nothing here knows how the local
Cognito works inside.

Host names under .localhost (the local Cognito's domains: `<prefix>.auth.localhost`) are
connected to on loopback, as browsers and curl do (RFC 6761 6.3), whatever the machine's
resolver says of them; the Host header keeps the name, which is what picks the domain.
"""
from __future__ import annotations

import base64
import hashlib
import http.client
import http.cookiejar
import json
import secrets
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser

from local_aws.hosts import under_localhost


class TokenError(RuntimeError):
    """The domain refused: the message carries its error."""


@dataclass(frozen=True)
class AppClient:
    id: str
    secret: str | None = None
    callback_urls: tuple[str, ...] = ()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # we follow redirects ourselves, to see the code
        return None


def _loopback_create_connection(address, *args, **kwargs):
    return socket.create_connection(("127.0.0.1", address[1]), *args, **kwargs)


class _LocalhostConnection(http.client.HTTPConnection):
    """An HTTP connection that reaches *.localhost on loopback (RFC 6761 6.3)."""

    def __init__(self, host: str, *args, **kwargs):
        super().__init__(host, *args, **kwargs)
        if under_localhost(self.host):
            self._create_connection = _loopback_create_connection


class _LocalhostHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_LocalhostConnection, req)


class _Browser:
    """Cookies kept, redirects surfaced: enough of a browser for a sign-in form."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect, _LocalhostHandler)

    def request(self, url: str, data: dict | None = None, headers: dict | None = None) -> tuple[int, dict, str]:
        body = None if data is None else urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(url, data=body, headers=headers or {})
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()


class _FormParser(HTMLParser):
    """The first form of a page: its action and its inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self._in_form = attributes.get("action") or "", True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _token_request(auth_url: str, client: AppClient, fields: dict[str, str]) -> dict:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if client.secret:
        basic = base64.b64encode(f"{client.id}:{client.secret}".encode()).decode()
        headers["authorization"] = f"Basic {basic}"
    else:
        fields = {**fields, "client_id": client.id}
    status, _, body = _Browser().request(f"{auth_url}/oauth2/token", fields, headers)
    answer = json.loads(body) if body.startswith("{") else {"error": body[:200]}
    if status != 200:
        description = f": {answer['error_description']}" if answer.get("error_description") else ""
        raise TokenError(f"token endpoint refused ({status}): {answer.get('error')}{description}")
    return answer


def client_credentials(auth_url: str, client: AppClient, scopes: list[str] | None = None) -> dict:
    fields = {"grant_type": "client_credentials"}
    if scopes:
        fields["scope"] = " ".join(scopes)
    return _token_request(auth_url, client, fields)


def refresh(auth_url: str, client: AppClient, refresh_token: str) -> dict:
    return _token_request(auth_url, client, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def authorization_code(auth_url: str, client: AppClient, username: str, password: str,
                       scopes: list[str] | None = None, redirect_uri: str | None = None) -> dict:
    """Sign in through the domain's form and exchange the code (with PKCE, S256) for tokens."""
    redirect_uri = redirect_uri or (client.callback_urls[0] if client.callback_urls else None)
    if not redirect_uri:
        raise TokenError("the client has no callback URL to receive the code")
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    query = {"response_type": "code", "client_id": client.id, "redirect_uri": redirect_uri, "state": state,
             "code_challenge": challenge, "code_challenge_method": "S256"}
    if scopes:
        query["scope"] = " ".join(scopes)

    browser = _Browser()
    url = f"{auth_url}/oauth2/authorize?{urllib.parse.urlencode(query)}"
    status, headers, page = browser.request(url)
    for _ in range(5):  # authorize redirects to the sign-in page on the same domain
        if status not in (301, 302, 303) or headers.get("Location", "").startswith(redirect_uri):
            break
        url = urllib.parse.urljoin(url, headers["Location"])
        status, headers, page = browser.request(url)
    if status != 200:
        raise TokenError(f"authorize refused ({status}): {headers.get('Location') or page[:200]}")

    form = _FormParser()
    form.feed(page)
    if form.action is None or "password" not in form.fields:
        raise TokenError("no sign-in form on the authorize page")
    status, headers, page = browser.request(urllib.parse.urljoin(url, form.action), {**form.fields, "username": username, "password": password})
    location = headers.get("Location", "")
    if status not in (302, 303) or not location.startswith(redirect_uri):
        raise TokenError("sign-in failed: wrong username or password, or the user may not sign in")
    answer = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    if "error" in answer or answer.get("state") != state or "code" not in answer:
        raise TokenError(f"authorize answered {answer.get('error', 'without a code or with another state')}")
    return _token_request(auth_url, client, {"grant_type": "authorization_code", "code": answer["code"],
                                             "redirect_uri": redirect_uri, "code_verifier": verifier})
