"""Client authentication at the token and revocation endpoints (RFC 6749 2.3.1): client_secret_basic
or client_secret_post for a client with a secret, the client_id alone for a public client."""
from __future__ import annotations

import hmac

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request

from local_aws.cognito.pool import Client, Pool
from local_aws.cognito.responses import OAuthError


def authenticate_client(pool: Pool, request: Request, form: MultiDict, *, invalid_client_status: int) -> Client:
    """The app client the request authenticates as; OAuthError (invalid_client with the endpoint's
    status, or invalid_request) if it does not."""
    def invalid(description: str) -> OAuthError:
        return OAuthError("invalid_client", description, invalid_client_status)

    form_id, form_secret = form.get("client_id"), form.get("client_secret")
    if "Authorization" in request.headers:
        basic = request.authorization
        if basic is None or basic.type != "basic" or basic.username is None:
            raise invalid("the Authorization header must be Basic base64(client_id:client_secret)")
        if form_secret is not None:
            raise OAuthError("invalid_request", "client credentials given both in the header and in the body")
        if form_id is not None and form_id != basic.username:
            raise invalid("client_id in the body differs from the one in the Authorization header")
        client_id, secret = basic.username, basic.password or None
    else:
        client_id, secret = form_id, form_secret or None
    client = pool.clients.get(client_id or "")
    if client is None:
        raise invalid("unknown or missing client_id")
    if client.public:
        if secret is not None:
            raise invalid("this app client has no secret")
    elif secret is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
        raise invalid("wrong or missing client secret")
    return client
