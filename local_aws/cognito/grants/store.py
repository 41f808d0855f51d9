"""The grant store: authorization codes, spent codes, refresh grants and revoked origins, in memory.

Choices where AWS is silent (UNCONFIRMED unless a source is named):

  * Codes live 5 minutes (D2) by the injected clock. A code is consumed by its first presentation,
    right or wrong; presenting it again also revokes the refresh token (and its access tokens)
    that the first exchange issued (RFC 6749 4.1.2's SHOULD).
  * Refresh tokens are opaque random strings (AWS's are encrypted JWTs; clients must treat both
    as opaque) held in memory: a restart of this process forgets them (invalid_grant).
  * A revocation is kept by origin_jti, which every token issued from one refresh token carries.
"""
from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass

CODE_LIFETIME_S = 300  # D2: "the code is single use and lives 5 minutes"


@dataclass(frozen=True)
class AuthorizationCode:
    pool_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    username: str
    auth_time: int
    expires_at: float


@dataclass
class RefreshGrant:
    pool_id: str
    client_id: str
    username: str
    scopes: tuple[str, ...]
    auth_time: int
    origin_jti: str
    expires_at: float
    revoked: bool = False


@dataclass
class _SpentCode:
    expires_at: float
    origin_jti: str | None = None  # what its exchange issued, revoked if the code comes back


class GrantStore:
    """What the token endpoint remembers between requests; safe to use from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._spent_codes: dict[str, _SpentCode] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._by_origin: dict[str, RefreshGrant] = {}
        self._revoked_origins: set[str] = set()

    def issue_code(self, granted: AuthorizationCode, now: float) -> str:
        """A new code for this authorization."""
        code = str(uuid.uuid4())
        with self._lock:
            self._forget_expired(now)
            self._codes[code] = granted
        return code

    def take_code(self, code: str) -> AuthorizationCode | None:
        """The authorization of a code never presented before, which is spent from now on; None
        for any other code (and a spent one revokes what its exchange issued)."""
        with self._lock:
            granted = self._codes.pop(code, None)
            if granted is None:
                spent = self._spent_codes.get(code)
                if spent is not None and spent.origin_jti:
                    self._revoke_origin(spent.origin_jti)
                return None
            self._spent_codes[code] = _SpentCode(granted.expires_at)
            return granted

    def issue_refresh_token(self, grant: RefreshGrant, now: float, *, code: str) -> str:
        """A new refresh token for `grant`, which the exchange of `code` issued."""
        token = secrets.token_urlsafe(96)
        with self._lock:
            self._forget_expired(now)
            self._refresh[token] = grant
            self._by_origin[grant.origin_jti] = grant
            spent = self._spent_codes.get(code)
            if spent is not None:
                spent.origin_jti = grant.origin_jti
        return token

    def refresh_grant(self, token: str) -> RefreshGrant | None:
        with self._lock:
            return self._refresh.get(token)

    def revoke(self, origin_jti: str) -> None:
        """Revoke a refresh token and every token issued from it."""
        with self._lock:
            self._revoke_origin(origin_jti)

    def is_revoked(self, origin_jti: str) -> bool:
        with self._lock:
            return origin_jti in self._revoked_origins

    def _revoke_origin(self, origin_jti: str) -> None:
        """Hold self._lock."""
        self._revoked_origins.add(origin_jti)
        grant = self._by_origin.get(origin_jti)
        if grant is not None:
            grant.revoked = True

    def _forget_expired(self, now: float) -> None:
        """Drop expired codes and refresh grants. Hold self._lock."""
        for code in [c for c, g in self._codes.items() if now >= g.expires_at]:
            del self._codes[code]
        for code in [c for c, s in self._spent_codes.items() if now >= s.expires_at]:
            del self._spent_codes[code]
        for token in [t for t, g in self._refresh.items() if now >= g.expires_at]:
            self._by_origin.pop(self._refresh.pop(token).origin_jti, None)
