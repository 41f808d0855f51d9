"""The tokens a grant issues (spec D6): their claims, shaped by the pool's pre token generation
trigger (rule D9) when it has one, then signed with the pool's keys.

Choices where AWS is silent (UNCONFIRMED unless a source is named):

  * The user access token has exactly the spec's claims; the ID token has the spec's claims plus
    the user's other attributes the client may read (AWS's ID token page: OIDC standard claims and
    custom attributes, custom:* as their stored strings) with *_verified as booleans. Groups, their
    order and roles (rule D8), and the trigger that may reshape both tokens before they are signed
    (rule D9): local_aws/cognito_triggers.py.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable

from local_aws import cognito_triggers as triggers
from local_aws.cognito.grants.store import RefreshGrant
from local_aws.cognito.keys import KeyRing
from local_aws.cognito.pool import Client, Pool, User, readable

BOOLEAN_ATTRIBUTES = frozenset({"email_verified", "phone_number_verified"})


def _claim_value(name: str, value: str) -> Any:
    if name in BOOLEAN_ATTRIBUTES:
        return value.lower() == "true"
    if name == "updated_at" and value.isdigit():
        return int(value)
    return value


class TokenIssuer:
    """Mints the tokens of a pool's grants."""

    def __init__(self, keys: KeyRing, invoker: Callable[[Pool], triggers.Invoke]) -> None:
        """`invoker`: how to run a pool's trigger (the data plane's Lambda runtime)."""
        self._keys = keys
        self._invoker = invoker

    def user_tokens(self, pool: Pool, client: Client, user: User, grant: RefreshGrant, now_f: float, *,
                    nonce: str | None, source: str) -> dict[str, Any]:
        """The access token and, with openid, the ID token of a user's grant (not its refresh token)."""
        now = int(now_f)
        keys = self._keys[pool.id]
        access = {
            "sub": user.sub, **triggers.access_group_claims(user.groups), "iss": pool.issuer, "client_id": client.id, "origin_jti": grant.origin_jti,
            "token_use": "access", "scope": " ".join(grant.scopes), "auth_time": grant.auth_time,
            "exp": now + client.access_ttl, "iat": now, "jti": str(uuid.uuid4()), "username": user.username,
        }
        identity: dict[str, Any] | None = None
        if "openid" in grant.scopes:
            attributes = {name: _claim_value(name, value) for name, value in user.attributes.items()
                          if name != "sub" and readable(client, name)}
            identity = {
                **attributes, "sub": user.sub, **triggers.id_group_claims(user.groups), "aud": client.id,
                "token_use": "id", "auth_time": grant.auth_time, "iss": pool.issuer, "cognito:username": user.username,
                "exp": now + client.id_ttl, "iat": now, "jti": str(uuid.uuid4()), "origin_jti": grant.origin_jti,
            }
            if nonce is not None:
                identity["nonce"] = nonce
        if pool.pre_token is not None:  # rule D9: the trigger shapes the claims before they are signed
            event = triggers.user_event(pool.pre_token, source=source, region=pool.region, pool_id=pool.id,
                                        client_id=client.id, username=user.username, attributes=user.attributes,
                                        groups=user.groups, scopes=grant.scopes)
            response = triggers.run(self._invoker(pool), pool.pre_token, event)
            triggers.apply(pool.pre_token, response, triggers.Tokens(access, identity, client.id))
        out: dict[str, Any] = {"access_token": keys.access.sign(access)}
        if identity is not None:
            out["id_token"] = keys.id.sign(identity)
        return {**out, "token_type": "Bearer", "expires_in": client.access_ttl}

    def machine_token(self, pool: Pool, client: Client, scopes: tuple[str, ...], now_f: float) -> dict[str, Any]:
        """The access token of a client_credentials grant."""
        now = int(now_f)
        claims = {
            "sub": client.id, "token_use": "access", "scope": " ".join(scopes), "auth_time": now,
            "iss": pool.issuer, "exp": now + client.access_ttl, "iat": now, "version": 2,
            "jti": str(uuid.uuid4()), "client_id": client.id,
        }
        if pool.pre_token is not None and pool.pre_token.version == "V3_0":  # only V3_0 shapes machine tokens
            event = triggers.machine_event(pool.pre_token, region=pool.region, pool_id=pool.id, client_id=client.id,
                                           scopes=scopes)
            response = triggers.run(self._invoker(pool), pool.pre_token, event)
            triggers.apply(pool.pre_token, response, triggers.Tokens(claims, None, client.id))
        return {"access_token": self._keys[pool.id].access.sign(claims), "expires_in": client.access_ttl,
                "token_type": "Bearer"}
