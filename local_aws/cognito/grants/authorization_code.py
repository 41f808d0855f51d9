"""The authorization code grant (RFC 6749 4.1): the authorization request, the code issued after
sign-in, and its exchange at the token endpoint, with PKCE (`pkce.py`) as a check.

Choices where AWS is silent or where the safe behaviour differs (UNCONFIRMED unless a source is named):

  * /oauth2/authorize errors redirect with error=invalid_request for a missing or unknown
    response_type (AWS's docs list invalid_request for bad parameters, never RFC 6749's
    unsupported_response_type); response_type=token is unauthorized_client unless the client
    allows the implicit grant, and then invalid_request "not emulated". Scopes not enabled on the
    client are ignored; email, phone and profile without openid is invalid_scope (AWS: "can only
    be requested if openid is also requested"). identity_provider other than COGNITO, or a client
    without the COGNITO provider: invalid_request, federation is not emulated.
  * A code is consumed by its first presentation, right or wrong (`store.py`).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from local_aws.cognito.grants import GrantContext, pkce
from local_aws.cognito.grants.store import CODE_LIFETIME_S, AuthorizationCode, RefreshGrant
from local_aws.cognito.pool import NEED_OPENID, Client, Pool
from local_aws.cognito.responses import ErrorPage, OAuthError, RedirectError, with_query

# The authorization request's parameters that /login carries through its form.
OAUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "state", "scope", "nonce",
                "code_challenge", "code_challenge_method", "identity_provider", "idp_identifier")


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    params: tuple[tuple[str, str], ...]  # the OAuth parameters as given, carried through /login


def check_authorization_request(pool: Pool, params: MultiDict) -> AuthorizationRequest:
    """RFC 6749 4.1.1. ErrorPage for what must not redirect, RedirectError for the rest."""
    client_ids = params.getlist("client_id")
    client = pool.clients.get(client_ids[0]) if len(client_ids) == 1 else None
    if client is None:
        raise ErrorPage("Invalid request: unknown or missing client_id.")
    redirect_uris = params.getlist("redirect_uri")
    if len(redirect_uris) != 1 or redirect_uris[0] not in client.callback_urls:
        raise ErrorPage("Invalid request: redirect_uri is missing or is not a callback URL of this app client "
                        "(it must match one exactly).")
    redirect_uri = redirect_uris[0]
    repeated = [name for name in OAUTH_PARAMS if len(params.getlist(name)) > 1]
    state = params.get("state") if "state" not in repeated else None

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(redirect_uri, state, error, description)

    if repeated:
        raise fail("invalid_request", f"parameters given more than once: {', '.join(repeated)}")
    response_type = params.get("response_type")
    if not response_type:
        raise fail("invalid_request", "response_type is required")
    if response_type == "token":
        if client.oauth_enabled and "implicit" in client.flows:
            raise fail("invalid_request", "the implicit grant (response_type=token) is not emulated locally")
        raise fail("unauthorized_client", "the app client does not allow the implicit grant")
    if response_type != "code":
        raise fail("invalid_request", "response_type must be code")
    if not client.oauth_enabled or "code" not in client.flows:
        raise fail("unauthorized_client", "the app client does not allow the authorization code grant")
    provider = params.get("identity_provider")
    if params.get("idp_identifier") or (provider and provider != "COGNITO"):
        raise fail("invalid_request", "only the COGNITO identity provider is emulated locally (no federation)")
    if "COGNITO" not in client.identity_providers:
        raise fail("invalid_request", "the app client does not allow COGNITO sign-in, and federation is not emulated")

    requested = params.get("scope")
    if requested is not None and requested.strip(" "):
        wanted = dict.fromkeys(s for s in requested.split(" ") if s)
        scopes = tuple(s for s in wanted if s in client.scopes and pool.known_scope(s))
    else:
        scopes = tuple(s for s in client.scopes if pool.known_scope(s))
    if not scopes:
        raise fail("invalid_scope", "none of the requested scopes is enabled on the app client")
    if NEED_OPENID.intersection(scopes) and "openid" not in scopes:
        raise fail("invalid_scope", "the email, phone and profile scopes need the openid scope")

    try:
        challenge = pkce.requested_challenge(client, params.get("code_challenge"), params.get("code_challenge_method"))
    except OAuthError as error:
        raise fail(error.error, error.description) from None
    given = tuple((name, params[name]) for name in OAUTH_PARAMS if name in params)
    return AuthorizationRequest(client, redirect_uri, state, scopes, params.get("nonce"), challenge, given)


class AuthorizationCodeGrant:
    GRANT_TYPE = "authorization_code"

    def __init__(self, context: GrantContext) -> None:
        self.context = context

    def authorized(self, pool: Pool, authorization: AuthorizationRequest, username: str) -> str:
        """Where the user who signed in goes: the redirect_uri with a new code (RFC 6749 4.1.2)."""
        now = self.context.clock()
        code = self.context.store.issue_code(AuthorizationCode(
            pool_id=pool.id, client_id=authorization.client.id, redirect_uri=authorization.redirect_uri,
            scopes=authorization.scopes, nonce=authorization.nonce, code_challenge=authorization.code_challenge,
            username=username, auth_time=int(now), expires_at=now + CODE_LIFETIME_S,
        ), now)
        params = [("code", code)] + ([("state", authorization.state)] if authorization.state is not None else [])
        return with_query(authorization.redirect_uri, params)

    def tokens(self, pool: Pool, client: Client, form: MultiDict) -> dict[str, Any]:
        """The token request (RFC 6749 4.1.3): the code's tokens and a refresh token."""
        if not client.oauth_enabled or "code" not in client.flows:
            raise OAuthError("unauthorized_client", "the app client does not allow the authorization code grant")
        code, redirect_uri = form.get("code"), form.get("redirect_uri")
        if not code:
            raise OAuthError("invalid_request", "code is required")
        if not redirect_uri:
            raise OAuthError("invalid_request", "redirect_uri is required")
        now = self.context.clock()
        granted = self.context.store.take_code(code)
        if granted is None:
            raise OAuthError("invalid_grant", "the code was already used, or never issued")
        if granted.pool_id != pool.id or granted.client_id != client.id:
            raise OAuthError("invalid_grant", "the code was issued to another app client")
        if now >= granted.expires_at:
            raise OAuthError("invalid_grant", "the code has expired")
        if redirect_uri != granted.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
        pkce.check_verifier(granted.code_challenge, form.get("code_verifier"))
        user = self.context.control.user(pool, granted.username)
        if user is None:
            raise OAuthError("invalid_grant", "the user no longer exists or is disabled")

        grant = RefreshGrant(pool.id, client.id, user.username, granted.scopes, granted.auth_time, str(uuid.uuid4()),
                             now + client.refresh_ttl)
        # Tokens first: a pre token generation trigger that fails leaves no refresh token behind.
        tokens = self.context.issuer.user_tokens(pool, client, user, grant, now, nonce=granted.nonce,
                                                 source="TokenGeneration_HostedAuth")
        return {**tokens, "refresh_token": self.context.store.issue_refresh_token(grant, now, code=code)}
