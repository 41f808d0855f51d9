"""The local Cognito's errors and the responses that carry them: OAuth JSON errors, redirects,
plain text, and the token and revocation endpoints' form bodies."""
from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response


class OAuthError(Exception):
    """An error answered as JSON {"error", "error_description"} (token and revocation endpoints)."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status


class RedirectError(Exception):
    """An authorization-request error sent back to the client's redirect_uri."""

    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str):
        super().__init__(f"{error}: {description}")
        self.redirect_uri, self.state, self.error, self.description = redirect_uri, state, error, description


class ErrorPage(Exception):
    """An authorization-request error that must not redirect (unknown client, unregistered URI)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


class CognitoRequest(Request):
    max_content_length = 1024 * 1024
    max_form_memory_size = 256 * 1024


def oauth_form(request: Request) -> MultiDict:
    """The form body of a token or revocation request, each parameter at most once (RFC 6749 3.2)."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    form = request.form
    repeated = [name for name in form if len(form.getlist(name)) > 1]
    if repeated:
        raise OAuthError("invalid_request", f"parameters given more than once: {', '.join(repeated)}")
    return form


def with_query(uri: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(uri)
    extra = urlencode(params, quote_via=quote)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def redirect(location: str) -> Response:
    return Response(b"", 302, headers={"Location": location})


def redirect_error(error: RedirectError) -> Response:
    params = [("error", error.error), ("error_description", error.description)]
    if error.state is not None:
        params.append(("state", error.state))
    return redirect(with_query(error.redirect_uri, params))


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status, content_type="application/json;charset=UTF-8", headers=headers)


def oauth_error(error: OAuthError) -> Response:
    return json_response({"error": error.error, "error_description": error.description}, error.status)


def text(status: int, message: str) -> Response:
    return Response(message + "\n", status, mimetype="text/plain")
