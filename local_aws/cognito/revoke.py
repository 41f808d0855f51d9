"""The revocation endpoint, /oauth2/revoke (spec D5; RFC 7009).

Choices where AWS is silent or where the safe behaviour differs (UNCONFIRMED unless a source is named):

  * AWS's revocation page is followed: 401 invalid_client for bad client credentials, 400
    invalid_request without a token or with revocation disabled on the client, 400
    unsupported_token_type for an access or ID token, 200 for an unknown token. A refresh token
    of another client is refused (400 unauthorized_client) rather than silently kept.
  * Revocation is seen by /oauth2/userInfo only. API Gateway's JWT authorizer does not check
    revocation on AWS either, so the gateway should not: a revoked access token keeps passing the
    gateway until it expires, as on AWS. `LocalCognito.is_revoked()` is there for callers who
    want to know.
"""
from __future__ import annotations

from werkzeug.wrappers import Request, Response

from local_aws.cognito.clientauth import authenticate_client
from local_aws.cognito.grants.store import GrantStore
from local_aws.cognito.pool import Pool
from local_aws.cognito.responses import OAuthError, oauth_error, oauth_form
from local_aws.cognito.verifier import TokenVerifier


class RevocationEndpoint:
    def __init__(self, store: GrantStore, verifier: TokenVerifier) -> None:
        self._store = store
        self._verifier = verifier

    def __call__(self, pool: Pool, request: Request) -> Response:
        try:
            form = oauth_form(request)
            client = authenticate_client(pool, request, form, invalid_client_status=401)
            token = form.get("token")
            if not token:
                raise OAuthError("invalid_request", "token is required")
            if not client.revocation_enabled:
                raise OAuthError("invalid_request", "token revocation is not enabled for this app client")
            grant = self._store.refresh_grant(token)
            if grant is None:
                if self._verifier.is_ours(token):
                    raise OAuthError("unsupported_token_type", "only refresh tokens can be revoked")
                return Response(b"", 200)  # AWS: 200 for an invalid token too
            if grant.pool_id != pool.id or grant.client_id != client.id:
                raise OAuthError("unauthorized_client", "the token was not issued to this app client")
            self._store.revoke(grant.origin_jti)
            return Response(b"", 200)
        except OAuthError as error:
            return oauth_error(error)
