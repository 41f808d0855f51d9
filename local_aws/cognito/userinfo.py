"""The userInfo endpoint, /oauth2/userInfo (spec D4; OpenID Connect Core 5.3).

Choices where AWS is silent (UNCONFIRMED unless a source is named):

  * No Bearer token is 400 invalid_request; a bad, expired, revoked token, one without openid, or
    a disabled or deleted user is 401 with WWW-Authenticate error="invalid_token" (AWS's
    documented header form, no scheme).
  * The answer has sub and username always and, from the access token's scopes: only openid ->
    every attribute the client may read; profile -> the OIDC profile attributes and custom ones;
    email -> email, email_verified; phone -> phone_number, phone_number_verified; values are
    strings as stored. "May read": `pool.readable` (never a developer-only dev:custom:*
    attribute); a token whose client was since deleted gets sub and username only.
"""
from __future__ import annotations

from werkzeug.wrappers import Request, Response

from local_aws.cognito.pool import NEED_OPENID, ControlPlane, Pool, readable
from local_aws.cognito.responses import json_response
from local_aws.cognito.verifier import InvalidToken, TokenVerifier

PROFILE_ATTRIBUTES = frozenset({
    "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
    "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at",
})


class UserInfoEndpoint:
    def __init__(self, verifier: TokenVerifier, control: ControlPlane) -> None:
        self._verifier = verifier
        self._control = control

    def __call__(self, pool: Pool, request: Request) -> Response:
        bearer = request.authorization
        if bearer is None or bearer.type != "bearer" or not bearer.token:
            return json_response({"error": "invalid_request"}, 400, headers={
                "WWW-Authenticate": 'error="invalid_request", error_description="Bad OAuth2 request at UserInfo Endpoint"'})
        try:
            claims = self._verifier.access_claims(pool, bearer.token)
            if "openid" not in str(claims.get("scope", "")).split(" "):
                raise InvalidToken("the access token has no openid scope")
            user = self._control.user(pool, str(claims.get("username", "")))
            if user is None or user.sub != claims.get("sub"):
                raise InvalidToken("the user no longer exists or is disabled")
        except InvalidToken as error:
            description = str(error).replace('"', "'")
            return json_response({"error": "invalid_token", "error_description": str(error)}, 401, headers={
                "WWW-Authenticate": f'error="invalid_token", error_description="{description}"'})
        scopes = set(str(claims["scope"]).split(" "))
        client = pool.clients.get(str(claims.get("client_id")))

        def wanted(name: str) -> bool:
            if client is None or not readable(client, name):
                return False
            if not scopes & NEED_OPENID:
                return True  # openid alone: everything the client may read
            return (("profile" in scopes and (name in PROFILE_ATTRIBUTES or name.startswith("custom:")))
                    or ("email" in scopes and name in ("email", "email_verified"))
                    or ("phone" in scopes and name in ("phone_number", "phone_number_verified")))

        info = {name: value for name, value in user.attributes.items() if name != "sub" and wanted(name)}
        return json_response({"sub": user.sub, **info, "username": user.username})
