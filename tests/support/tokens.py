"""Access tokens shaped as a Cognito user pool issues them (spec D6), signed with a test's own key."""
from __future__ import annotations

import time
from typing import Any

import jwt


def token(private_key, kid: str, **claims: Any) -> str:
    """An RS256 user access token under kid; claims add or override (None drops a claim)."""
    now = int(time.time())
    payload = {"sub": "user-1", "token_use": "access", "auth_time": now, "iat": now, "exp": now + 600,
               "jti": "j-1", "username": "alice", **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, private_key, algorithm="RS256",
                      headers={"kid": kid})
