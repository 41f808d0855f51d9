"""The hosted UI's pages: /oauth2/authorize, /login (the sign-in form and its CSRF check) and /logout.

Choices where AWS is silent (UNCONFIRMED unless a source is named):

  * Sign-in is the classic hosted-UI flow: /oauth2/authorize -> 302 /login?<same query> -> a
    plain HTML form (username, password, the OAuth parameters as hidden fields and a CSRF token
    that is an HMAC of the XSRF-TOKEN cookie) -> POST /login. There is no single-sign-on session:
    every authorization request shows the form, and /logout only checks and redirects.
  * What the authorization request accepts: local_aws/cognito/grants/authorization_code.py and
    local_aws/cognito/grants/pkce.py.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from local_aws import aws
from local_aws.cognito.grants.authorization_code import (
    OAUTH_PARAMS, AuthorizationCodeGrant, AuthorizationRequest, check_authorization_request)
from local_aws.cognito.pool import Pool
from local_aws.cognito.responses import ErrorPage, RedirectError, redirect, redirect_error

CSRF_COOKIE = "XSRF-TOKEN"
CSRF_FIELD = "_csrf"


class SignInPages:
    def __init__(self, aws_endpoint: str, code_grant: AuthorizationCodeGrant) -> None:
        self.aws_endpoint = aws_endpoint
        self._code_grant = code_grant
        self._csrf_key = secrets.token_bytes(32)

    def authorize(self, pool: Pool, request: Request) -> Response:
        try:
            check_authorization_request(pool, request.args)
        except ErrorPage as error:
            return error_page(error.message, error.status)
        except RedirectError as error:
            return redirect_error(error)
        query = request.query_string.decode("latin-1")
        return redirect(f"/login?{query}")

    def login(self, pool: Pool, request: Request) -> Response:
        if request.method == "GET":
            params = request.args
        else:
            cookie = request.cookies.get(CSRF_COOKIE, "")
            token = request.form.get(CSRF_FIELD, "")
            if not (cookie and token and hmac.compare_digest(token.encode(), self._csrf_token(cookie).encode())):
                return error_page("The sign-in form is missing its CSRF token or it does not match your browser's "
                                  "cookie. Start signing in again from the app.", 400)
            params = MultiDict([(k, v) for k, v in request.form.items(multi=True) if k in OAUTH_PARAMS])
        try:
            authorization = check_authorization_request(pool, params)
        except ErrorPage as error:
            return error_page(error.message, error.status)
        except RedirectError as error:
            return redirect_error(error)
        if request.method == "GET":
            return self._login_form(request, pool, authorization)

        username, password = request.form.get("username", ""), request.form.get("password", "")
        if not username or not password:
            return self._login_form(request, pool, authorization, "Enter your username and password.", username)
        status, body = aws.private(self.aws_endpoint, f"cognito/{pool.id}/authenticate",
                                   {"username": username, "password": password})
        if status == 401:
            return self._login_form(request, pool, authorization, "Incorrect username or password.", username)
        if status != 200:
            raise RuntimeError(f"the embedded AWS answered {status} to a password check: {body[:200]!r}")
        user = json.loads(body)
        return redirect(self._code_grant.authorized(pool, authorization, user["username"]))

    def logout(self, pool: Pool, request: Request) -> Response:
        params = request.args
        client = pool.clients.get(params.get("client_id", ""))
        if client is None:
            return error_page("Invalid request: unknown or missing client_id.")
        logout_uri = params.get("logout_uri")
        if logout_uri is not None:
            if logout_uri not in client.logout_urls:
                return error_page("Invalid request: logout_uri is not a sign-out URL of this app client "
                                  "(it must match one exactly).")
            return redirect(logout_uri)
        if "redirect_uri" in params or "response_type" in params:
            # Sign out, then sign in again: the authorization request checks the rest.
            return redirect(f"/oauth2/authorize?{request.query_string.decode('latin-1')}")
        return error_page("Invalid request: logout_uri is required.")

    def _csrf_token(self, cookie: str) -> str:
        return hmac.new(self._csrf_key, cookie.encode(), hashlib.sha256).hexdigest()

    def _login_form(self, request: Request, pool: Pool, authorization: AuthorizationRequest,
                    error: str | None = None, username: str = "") -> Response:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        new_cookie = not re.fullmatch(r"[A-Za-z0-9_-]{43,}", cookie)
        if new_cookie:
            cookie = secrets.token_urlsafe(32)
        hidden = "\n".join(f'    <input type="hidden" name="{_e(k)}" value="{_e(v)}">'
                           for k, v in [(CSRF_FIELD, self._csrf_token(cookie)), *authorization.params])
        message = f'  <p class="error" role="alert">{_e(error)}</p>\n' if error else ""
        page = _LOGIN_PAGE.format(client=_e(authorization.client.name or authorization.client.id), pool=_e(pool.id),
                                  error=message, hidden=hidden, username=_e(username))
        response = _html(page, 200)
        if new_cookie:
            response.set_cookie(CSRF_COOKIE, cookie, path="/", httponly=True, samesite="Lax")
        return response


def _e(value: str) -> str:
    return html.escape(value, quote=True)


_HTML_HEADERS = {
    # No form-action: browsers apply it to the redirect that follows the form, to the app's callback.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _html(page: str, status: int) -> Response:
    return Response(page, status, content_type="text/html; charset=utf-8", headers=_HTML_HEADERS)


def error_page(message: str, status: int = 400) -> Response:
    return _html(_ERROR_PAGE.format(message=_e(message)), status)


_STYLE = ("body{font-family:system-ui,sans-serif;max-width:24rem;margin:3rem auto;padding:0 1rem}"
          "label{display:block;margin:.8rem 0}input{display:block;width:100%;padding:.4rem;box-sizing:border-box}"
          "button{margin-top:1rem;padding:.5rem 1rem}.error{color:#a00}.note{color:#666;font-size:.85rem}"
          ).replace("{", "{{").replace("}", "}}")  # the pages below are str.format templates

_LOGIN_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in</title><style>""" + _STYLE + """</style></head>
<body>
<main>
  <h1>Sign in</h1>
  <p class="note">Local Cognito: app client {client}, user pool {pool}</p>
{error}  <form method="post" action="/login">
{hidden}
    <label>Username or email <input name="username" autocomplete="username" value="{username}" required autofocus></label>
    <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button>
  </form>
</main>
</body>
</html>
"""

_ERROR_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Error</title><style>""" + _STYLE + """</style></head>
<body>
<main>
  <h1>An error was encountered with the requested page.</h1>
  <p class="error">{message}</p>
</main>
</body>
</html>
"""
