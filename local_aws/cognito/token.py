"""The token endpoint, /oauth2/token (spec D3): client authentication, then the grant its
grant_type names.

Choices where AWS is silent or where the safe behaviour differs (UNCONFIRMED unless a source is named):

  * invalid_client is answered with 400 (spec D3 and AWS's token endpoint page; RFC 6749 would
    use 401).
  * A pre token generation trigger that fails is a 400 invalid_request with AWS's API wording
    (rule D9, local_aws/cognito_triggers.py).
"""
from __future__ import annotations

from werkzeug.wrappers import Request, Response

from local_aws import cognito_triggers as triggers
from local_aws.cognito.clientauth import authenticate_client
from local_aws.cognito.grants import GrantContext
from local_aws.cognito.grants.authorization_code import AuthorizationCodeGrant
from local_aws.cognito.grants.client_credentials import ClientCredentialsGrant
from local_aws.cognito.grants.refresh_token import RefreshTokenGrant
from local_aws.cognito.pool import Pool
from local_aws.cognito.responses import OAuthError, json_response, oauth_error, oauth_form


class TokenEndpoint:
    def __init__(self, context: GrantContext) -> None:
        self.authorization_code = AuthorizationCodeGrant(context)
        self._grants = {grant.GRANT_TYPE: grant for grant in (
            self.authorization_code, RefreshTokenGrant(context), ClientCredentialsGrant(context))}

    def __call__(self, pool: Pool, request: Request) -> Response:
        try:
            form = oauth_form(request)
            client = authenticate_client(pool, request, form, invalid_client_status=400)
            grant_type = form.get("grant_type")
            if not grant_type:
                raise OAuthError("invalid_request", "grant_type is required")
            grant = self._grants.get(grant_type)
            if grant is None:
                raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
            return json_response(grant.tokens(pool, client, form))
        except OAuthError as error:
            return oauth_error(error)
        except triggers.TriggerFailed as error:  # local choice: AWS's wording, as invalid_request
            return oauth_error(OAuthError("invalid_request", str(error)))
