"""The one verifier of the local Cognito's own tokens, for /oauth2/userInfo and /oauth2/revoke.

The signature is checked by the JWT authorizer's verifier (`authorizer.verified_claims`: the same
PyJWT call and cache the gateway uses). The rest of the JWT authorizer (spec A2) does not fit
userInfo, so its claim checks are Cognito's own: no audience (any app client of the pool may ask),
only this pool's access key (never its ID key), `token_use` "access", an integer `exp` (A2 takes
any number) that the injected clock has not passed, and revocation (which the gateway does not
check, as on AWS). The claims are the verifier cache's: read them, never change them.
"""
from __future__ import annotations

from typing import Any, Callable

import jwt

from local_aws import authorizer
from local_aws.cognito.grants.store import GrantStore
from local_aws.cognito.keys import KeyRing
from local_aws.cognito.pool import Pool

_REQUIRED = ("exp", "iat", "iss", "sub")


class InvalidToken(Exception):
    """Not a valid, live access token of the pool: the message says why."""


class TokenVerifier:
    def __init__(self, keys: KeyRing, store: GrantStore, clock: Callable[[], float]) -> None:
        self._keys = keys
        self._store = store
        self._clock = clock

    def access_claims(self, pool: Pool, token: str) -> dict[str, Any]:
        """The claims of a valid, unexpired, unrevoked access token of the pool; InvalidToken if not."""
        key = self._keys[pool.id].access
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256" or header.get("kid") != key.kid:
                raise InvalidToken("the token is not an access token of this user pool")
            claims = authorizer.verified_claims(token, key.public_key, "RS256")
        except jwt.PyJWTError as error:
            raise InvalidToken(f"invalid access token: {error}") from None
        problem = _claims_problem(claims, pool.issuer)
        if problem:
            raise InvalidToken(f"invalid access token: {problem}")
        if claims.get("token_use") != "access":
            raise InvalidToken("not an access token")
        if not isinstance(claims["exp"], int) or self._clock() > claims["exp"]:
            raise InvalidToken("Access token is expired")
        if self._store.is_revoked(str(claims.get("origin_jti", ""))):
            raise InvalidToken("Access token has been revoked")
        return claims

    def is_ours(self, token: str) -> bool:
        """Whether a token names a signing key of one of the pools (an access or ID token)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return self._keys.signs_with(kid)


def _claims_problem(claims: dict[str, Any], issuer: str) -> str:
    """What is wrong with a verified token's registered claims (PyJWT's checks and wording, as
    jwt.decode with issuer= and these claims required would say), or ""."""
    for name in _REQUIRED:
        if claims.get(name) is None:
            return f'Token is missing the "{name}" claim'
    if not isinstance(claims["iss"], str):
        return "Payload Issuer (iss) must be a string"
    if claims["iss"] != issuer:
        return "Invalid issuer"
    if not isinstance(claims["sub"], str):
        return "Subject must be a string"
    if "jti" in claims and not isinstance(claims["jti"], str):
        return "JWT ID must be a string"
    return ""
