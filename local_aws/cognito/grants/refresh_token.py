"""The refresh token grant (RFC 6749 section 6).

Choice where AWS is silent (UNCONFIRMED): a refresh gives a new access token and, with openid, an
ID token (without nonce), never a new refresh token; the user is read again, so a disabled or
deleted user gets invalid_grant. Refresh tokens are opaque and held in memory (`store.py`).
"""
from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from local_aws.cognito.grants import GrantContext
from local_aws.cognito.pool import Client, Pool
from local_aws.cognito.responses import OAuthError


class RefreshTokenGrant:
    GRANT_TYPE = "refresh_token"

    def __init__(self, context: GrantContext) -> None:
        self.context = context

    def tokens(self, pool: Pool, client: Client, form: MultiDict) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is required")
        now = self.context.clock()
        grant = self.context.store.refresh_grant(token)
        if grant is None or grant.pool_id != pool.id or grant.client_id != client.id:
            raise OAuthError("invalid_grant", "unknown refresh token, or issued to another app client")
        if grant.revoked:
            raise OAuthError("invalid_grant", "Refresh Token has been revoked")
        if now >= grant.expires_at:
            raise OAuthError("invalid_grant", "Refresh Token has expired")
        user = self.context.control.user(pool, grant.username)
        if user is None:
            raise OAuthError("invalid_grant", "the user no longer exists or is disabled")
        return self.context.issuer.user_tokens(pool, client, user, grant, now, nonce=None,
                                               source="TokenGeneration_RefreshTokens")
