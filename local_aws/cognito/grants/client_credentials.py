"""The client credentials grant (RFC 6749 4.4): a machine token with resource-server scopes only."""
from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from local_aws.cognito.grants import GrantContext
from local_aws.cognito.pool import Client, Pool
from local_aws.cognito.responses import OAuthError


class ClientCredentialsGrant:
    GRANT_TYPE = "client_credentials"

    def __init__(self, context: GrantContext) -> None:
        self.context = context

    def tokens(self, pool: Pool, client: Client, form: MultiDict) -> dict[str, Any]:
        if not client.oauth_enabled or "client_credentials" not in client.flows:
            raise OAuthError("unauthorized_client", "the app client does not allow the client_credentials grant")
        if client.public:
            raise OAuthError("invalid_client", "the client_credentials grant needs an app client with a secret")
        allowed = tuple(s for s in client.scopes if s in pool.custom_scopes)
        requested = form.get("scope")
        if requested is not None and requested.strip(" "):
            scopes = tuple(dict.fromkeys(s for s in requested.split(" ") if s))
            refused = [s for s in scopes if s not in allowed]
            if refused:
                raise OAuthError("invalid_scope", f"not a resource-server scope of this app client: {' '.join(refused)}")
        else:
            scopes = allowed
        if not scopes:
            raise OAuthError("invalid_scope", "the app client has no resource-server scopes")
        return self.context.issuer.machine_token(pool, client, scopes, self.context.clock())
