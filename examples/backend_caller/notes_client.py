"""A backend's client of the notes API: client-credentials tokens from Cognito, cached and renewed,
and calls that carry them (the guide's pattern B: a service or BFF calls with its own identity).

Standard library only, so it can be copied into any Python service:

    tokens = TokenSource("https://<domain>.auth.<region>.amazoncognito.com", CLIENT_ID, CLIENT_SECRET,
                         scopes=["notes-api/read", "notes-api/write"])
    notes = NotesClient("https://<api-id>.execute-api.<region>.amazonaws.com", tokens)
    notes.create({"title": "From the backend"})

Why it is built like this:
- one token for many calls: the token endpoint is rate limited and each request costs a round trip,
  so the token is kept until shortly before it expires (`renew_before_s`, a minute by default);
- one retry on 401: a token can be refused before its expiry (keys rotated, clock skew); the client
  then gets a new token and tries once more, and reports the second 401 rather than loop;
- a lock: concurrent threads share one token and fetch a new one once, not once each.
"""
from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


@dataclass
class TokenSource:
    domain_url: str
    client_id: str
    client_secret: str
    scopes: list[str] = field(default_factory=list)
    renew_before_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    fetches: int = 0  # how many tokens were fetched: what the cache saves is visible
    _token: str | None = field(default=None, repr=False)
    _expires_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def token(self) -> str:
        with self._lock:
            if self._token is None or self.clock() >= self._expires_at - self.renew_before_s:
                self._fetch()
            return self._token

    def invalidate(self, token: str) -> None:
        """Drop `token` (refused by the API); a token another thread already renewed is kept."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials"} | ({"scope": " ".join(self.scopes)} if self.scopes else {})
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        request = urllib.request.Request(
            f"{self.domain_url}/oauth2/token", data=urllib.parse.urlencode(form).encode(),
            headers={"content-type": "application/x-www-form-urlencoded", "authorization": f"Basic {basic}"})
        started = self.clock()
        status, answer = _send(request)
        if status != 200:
            raise ApiError(status, answer)
        self.fetches += 1
        self._token, self._expires_at = answer["access_token"], started + float(answer["expires_in"])


@dataclass
class NotesClient:
    api_url: str
    tokens: TokenSource

    def create(self, note: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        headers = {"idempotency-key": idempotency_key} if idempotency_key else {}
        return self.request("POST", "/notes", note, headers)["note"]

    def list(self, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        return self.request("GET", f"/notes?{urllib.parse.urlencode(query)}")

    def get(self, note_id: str) -> dict[str, Any]:
        return self.request("GET", f"/notes/{urllib.parse.quote(note_id)}")["note"]

    def delete(self, note_id: str) -> None:
        self.request("DELETE", f"/notes/{urllib.parse.quote(note_id)}")

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        for attempt in (1, 2):
            token = self.tokens.token()
            request = urllib.request.Request(
                f"{self.api_url}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
                headers={"authorization": f"Bearer {token}", "content-type": "application/json", **(headers or {})})
            status, answer = _send(request)
            if status == 401 and attempt == 1:
                self.tokens.invalidate(token)
                continue
            if status >= 400:
                raise ApiError(status, answer)
            return answer


def _send(request: urllib.request.Request) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw else None
