"""The local Cognito endpoints (spec D) against a real embedded AWS, over real HTTP on loopback.

A pool shaped like modules/cognito (email as username, resource server notes-api with read and
write, a domain, clients web / spa / machine as the root declares them) is created with boto3 in
the in-process embedded AWS; `LocalCognito` is served on a free port by the data plane's server
(local_aws.serving); requests go through tests/support/http.py, and a small browser (cookies,
redirects within the auth domain, the real login form parsed with html.parser) signs users in.
Keys are real RS256 keys, and tokens are checked with PyJWT against the published JWKS.

Each test names the rule it checks. "local choice" marks behaviour the spec leaves open
(UNCONFIRMED) and local_aws/cognito/ documents: those tests pin what this emulator does, not
what AWS does.

The pool lives in its own region, so pools that other tests create in the same process (moto's
state is process-wide) do not change which pool answers a Host.
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import stat
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
from local_aws.serving import WsgiServer

from local_aws import aws
from local_aws.cognito import LocalCognito
from tests.support.http import Reply, request
from tests.support.keys import rsa_key

pytestmark = pytest.mark.xdist_group("cognito-endpoints")

REGION = "ap-northeast-3"  # a region no other test uses: see the module docstring
DOMAIN = "notes-local"
CALLBACK = "http://localhost:3000/callback"
LOGOUT = "http://localhost:3000/logout"
USER_SCOPES = ["openid", "profile", "email", "notes-api/read", "notes-api/write"]
ADA, ADA_PASSWORD = "ada@example.com", "C0rrect-horse-battery!"
GRACE, GRACE_PASSWORD = "grace@example.com", "C0bol-rules-1959!"

USER_ACCESS_CLAIMS = {"sub", "iss", "client_id", "origin_jti", "token_use", "scope", "auth_time", "exp", "iat",
                      "jti", "username"}
MACHINE_ACCESS_CLAIMS = {"sub", "client_id", "scope", "token_use", "auth_time", "iss", "exp", "iat", "jti", "version"}
ID_CLAIMS = {"sub", "aud", "email_verified", "token_use", "auth_time", "iss", "cognito:username", "exp", "iat", "jti",
             "origin_jti", "email"}


# --- fixtures ----------------------------------------------------------------------------------

class Clock:
    """Real time plus an offset the tests move (codes and tokens are timed by LocalCognito's clock)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass(frozen=True)
class AppClient:
    id: str
    secret: str | None


@dataclass(frozen=True)
class Setup:
    aws_url: str
    pool_id: str
    issuer: str
    web: AppClient
    spa: AppClient
    machine: AppClient
    ada_username: str
    grace_username: str

    def idp(self):
        return aws.client("cognito-idp", self.aws_url, REGION)


@pytest.fixture(scope="module")
def setup(aws_url: str) -> Setup:
    idp = aws.client("cognito-idp", aws_url, REGION)
    pool_id = idp.create_user_pool(
        PoolName="notes-api", UsernameAttributes=["email"], AutoVerifiedAttributes=["email"],
        UsernameConfiguration={"CaseSensitive": False},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
    )["UserPool"]["Id"]
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=DOMAIN)
    idp.create_resource_server(UserPoolId=pool_id, Identifier="notes-api", Name="Notes API", Scopes=[
        {"ScopeName": "read", "ScopeDescription": "Read"}, {"ScopeName": "write", "ScopeDescription": "Write"}])
    common = dict(
        UserPoolId=pool_id, AllowedOAuthFlowsUserPoolClient=True, SupportedIdentityProviders=["COGNITO"],
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"], PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=True,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "minutes"},
    )
    browser_app = dict(AllowedOAuthFlows=["code"], AllowedOAuthScopes=USER_SCOPES, CallbackURLs=[CALLBACK],
                       LogoutURLs=[LOGOUT])

    def client(**settings) -> AppClient:
        created = idp.create_user_pool_client(**common, **settings)["UserPoolClient"]
        return AppClient(created["ClientId"], created.get("ClientSecret"))

    # web has lifetimes of its own (D7); spa and machine have the module's defaults.
    web = client(ClientName="web", GenerateSecret=True, **browser_app,
                 AccessTokenValidity=30, IdTokenValidity=20, RefreshTokenValidity=120)
    spa = client(ClientName="spa", GenerateSecret=False, **browser_app,
                 AccessTokenValidity=60, IdTokenValidity=60, RefreshTokenValidity=43200)
    machine = client(ClientName="machine", GenerateSecret=True, AllowedOAuthFlows=["client_credentials"],
                     AllowedOAuthScopes=["notes-api/read", "notes-api/write"],
                     AccessTokenValidity=15, IdTokenValidity=60, RefreshTokenValidity=43200)

    def user(email: str, password: str, **attributes: str) -> str:
        idp.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS", UserAttributes=[
            {"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"},
            *({"Name": k, "Value": v} for k, v in attributes.items())])
        idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
        return idp.admin_get_user(UserPoolId=pool_id, Username=email)["Username"]

    ada = user(ADA, ADA_PASSWORD)  # only email and email_verified: the spec's exact ID token
    grace = user(GRACE, GRACE_PASSWORD, name="Grace Hopper", phone_number="+15555550100",
                 phone_number_verified="false")
    idp.create_group(UserPoolId=pool_id, GroupName="editors")
    idp.admin_add_user_to_group(UserPoolId=pool_id, Username=GRACE, GroupName="editors")
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    return Setup(aws_url, pool_id, issuer, web, spa, machine, ada, grace)


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cognito") / "keys"


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture
def later(clock: Clock):
    """Move the clock forward for one test, and back afterwards."""
    def advance(seconds: float) -> None:
        clock.offset += seconds

    yield advance
    clock.offset = 0.0


@pytest.fixture(scope="module")
def cognito(setup: Setup, key_dir: Path, clock: Clock) -> LocalCognito:
    return LocalCognito(setup.aws_url, key_dir, region=REGION, clock=clock)


@pytest.fixture(scope="module")
def port(cognito: LocalCognito):
    with WsgiServer(cognito, "127.0.0.1", 0) as server:  # the server the data plane uses
        yield server.port


@pytest.fixture(scope="module")
def base(port: int) -> str:
    return f"http://{DOMAIN}.auth.localhost:{port}"


# --- a browser on loopback --------------------------------------------------------------------

class Browser:
    """Keeps cookies per host and follows redirects within the auth domain, as a browser would."""

    def __init__(self) -> None:
        self.cookies: dict[str, dict[str, str]] = {}

    def request(self, method: str, url: str, form: dict | None = None) -> Reply:
        host = urlsplit(url).hostname
        jar = self.cookies.setdefault(host, {})
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())} if jar else {}
        reply = request(method, url, form=form, headers=headers)
        for header in reply.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                jar[name] = morsel.value
        return reply

    def open(self, url: str, method: str = "GET", form: dict | None = None) -> Reply:
        """Request, then follow redirects that stay on the same host; return the last reply."""
        reply = self.request(method, url, form)
        while reply.status in (301, 302, 303) and reply.location:
            target = urljoin(reply.url, reply.location)
            if urlsplit(target).netloc != urlsplit(reply.url).netloc:
                break  # off to the app (the callback): the test looks at it
            reply = self.request("GET", target)
        return reply


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(a.get("action") or "", (a.get("method") or "get").lower()))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].fields[a["name"]] = a.get("value") or ""


def the_form(reply: Reply) -> Form:
    parser = _FormParser()
    parser.feed(reply.text)
    assert len(parser.forms) == 1, reply.text
    return parser.forms[0]


def query(url: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), url
    return {k: v[0] for k, v in parsed.items()}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def basic(client: AppClient) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client.id}:{client.secret}".encode()).decode()}


# --- flows -----------------------------------------------------------------------------------

def authorize_url(base: str, client: AppClient, **params: str) -> str:
    return f"{base}/oauth2/authorize?" + urlencode(
        {"response_type": "code", "client_id": client.id, "redirect_uri": CALLBACK, **params})


def sign_in(url: str, username: str = ADA, password: str = ADA_PASSWORD) -> Reply:
    """Open the authorization URL in a new browser, fill the login form, return the redirect to the app."""
    browser = Browser()
    page = browser.open(url)
    assert page.status == 200 and urlsplit(page.url).path == "/login", (page.status, page.text)
    form = the_form(page)
    assert form.method == "post"
    reply = browser.open(urljoin(page.url, form.action), "POST", {**form.fields, "username": username,
                                                                  "password": password})
    assert reply.status == 302 and reply.location.startswith(CALLBACK + "?"), (reply.status, reply.text)
    return reply


def web_code(base: str, setup: Setup, username: str = ADA, password: str = ADA_PASSWORD,
             **params: str) -> str:
    params.setdefault("scope", "openid email profile notes-api/read")
    return query(sign_in(authorize_url(base, setup.web, **params), username, password).location)["code"]


def token(base: str, form: dict, headers: dict | None = None) -> Reply:
    return request("POST", f"{base}/oauth2/token", form=form, headers=headers)


def web_tokens(base: str, setup: Setup, username: str = ADA, password: str = ADA_PASSWORD,
               **params: str) -> dict:
    code = web_code(base, setup, username, password, **params)
    reply = token(base, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
                  basic(setup.web))
    assert reply.status == 200, reply.text
    return reply.json()


def machine_token(base: str, setup: Setup, **form: str) -> Reply:
    return token(base, {"grant_type": "client_credentials", **form}, basic(setup.machine))


def verify(cognito: LocalCognito, setup: Setup, encoded: str, **options) -> dict:
    """Check a token as a relying party would: the published JWKS, RS256, the issuer."""
    keys = jwt.PyJWKSet.from_dict(cognito.jwks_for_issuer(setup.issuer))
    kid = jwt.get_unverified_header(encoded)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(encoded, key.key, algorithms=["RS256"], issuer=setup.issuer,
                      options={"verify_aud": False}, **options)


def userinfo(base: str, access_token: str) -> Reply:
    return request("GET", f"{base}/oauth2/userInfo", headers={"Authorization": f"Bearer {access_token}"})


def assert_redirect_error(reply: Reply, error: str, state: str | None = None) -> None:
    assert reply.status == 302, (reply.status, reply.text)
    assert reply.location.startswith(CALLBACK + "?")
    got = query(reply.location)
    assert got["error"] == error, got
    assert got.get("state") == state


def assert_error_page(reply: Reply) -> None:
    assert reply.status == 400 and reply.location is None
    assert reply.headers["Content-Type"].startswith("text/html")


def assert_token_error(reply: Reply, error: str, status: int = 400) -> None:
    assert (reply.status, reply.json()["error"]) == (status, error), reply.text
    assert reply.headers["Cache-Control"] == "no-store"


# --- D1: discovery and keys ------------------------------------------------------------------

def test_D1_discovery_lives_on_the_issuer_and_names_the_local_domain(port, base, setup) -> None:
    reply = request("GET", f"{base}/{setup.pool_id}/.well-known/openid-configuration")
    assert reply.status == 200
    config = reply.json()
    assert config == {
        "issuer": setup.issuer,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "userinfo_endpoint": f"{base}/oauth2/userInfo",
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "jwks_uri": f"{setup.issuer}/.well-known/jwks.json",
        "response_types_supported": ["code"],  # local choice: the implicit grant is not emulated
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }
    # Whatever the Host, the issuer's documents answer; the endpoints name the domain it reached.
    other = request("GET", f"http://127.0.0.1:{port}/{setup.pool_id}/.well-known/openid-configuration").json()
    assert other["issuer"] == setup.issuer and other["token_endpoint"] == f"http://127.0.0.1:{port}/oauth2/token"
    missing = request("GET", f"{base}/{REGION}_nosuchpool/.well-known/openid-configuration")
    assert missing.status == 404


def test_D1_jwks_has_two_rs256_keys_with_distinct_kids(port, base, setup, cognito) -> None:
    reply = request("GET", f"http://localhost:{port}/{setup.pool_id}/.well-known/jwks.json")
    assert reply.status == 200
    jwks = reply.json()
    assert jwks == cognito.jwks_for_issuer(setup.issuer)
    assert len(jwks["keys"]) == 2
    for key in jwks["keys"]:
        assert set(key) == {"alg", "e", "kid", "kty", "n", "use"}  # public members only
        assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
        assert jwt.PyJWK.from_dict(key).key.key_size == 2048
    assert len({key["kid"] for key in jwks["keys"]}) == 2
    with pytest.raises(KeyError):
        cognito.jwks_for_issuer(f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_nosuchpool")
    with pytest.raises(KeyError):
        cognito.jwks_for_issuer(setup.issuer.replace(REGION, "us-east-1"))  # right pool id, wrong region


def test_D1_access_and_id_tokens_verify_with_the_published_keys_under_different_kids(port, base, setup,
                                                                                      cognito) -> None:
    tokens = web_tokens(base, setup)
    access_kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    id_kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    assert access_kid != id_kid
    assert jwt.get_unverified_header(tokens["access_token"]) == {"alg": "RS256", "kid": access_kid}
    assert verify(cognito, setup, tokens["access_token"])["token_use"] == "access"
    assert verify(cognito, setup, tokens["id_token"], audience=setup.web.id)["token_use"] == "id"
    # The ID key does not verify an access token: the kid names the only key that does.
    id_key = next(k for k in jwt.PyJWKSet.from_dict(cognito.jwks_for_issuer(setup.issuer)).keys if k.key_id == id_kid)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tokens["access_token"], id_key.key, algorithms=["RS256"], options={"verify_aud": False})


def test_D1_keys_are_persisted_private_0600_and_reused_by_a_new_instance(setup, cognito, key_dir, clock) -> None:
    path = key_dir / f"{setup.pool_id}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert {"d", "p", "q"} <= set(stored["access"]) and {"d", "p", "q"} <= set(stored["id"])
    again = LocalCognito(setup.aws_url, key_dir, region=REGION, clock=clock)
    assert again.jwks_for_issuer(setup.issuer) == cognito.jwks_for_issuer(setup.issuer)
    # Tokens of any shape, minted by the new instance, verify against the first one's keys.
    minted = again.sign(setup.pool_id, {"iss": setup.issuer, "sub": "x", "exp": int(time.time()) + 60,
                                        "iat": int(time.time()), "token_use": "access", "scope": "notes-api/read"})
    assert verify(cognito, setup, minted)["sub"] == "x"


# --- D2 + D3: the authorization code grant through the login form ----------------------------

def test_D2_D3_web_code_flow_through_the_login_form_with_basic_secret(port, base, setup, cognito) -> None:
    browser = Browser()
    state = 'st "<&>" é/?#x'  # kept exactly
    first = browser.request("GET", authorize_url(base, setup.web, state=state, scope="openid email notes-api/read"))
    assert first.status == 302 and first.location == "/login?" + urlsplit(first.url).query  # the same parameters
    page = browser.open(first.url)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    form = the_form(page)
    assert form.action == "/login" and form.method == "post"
    assert form.fields["state"] == state and form.fields["client_id"] == setup.web.id
    assert form.fields["_csrf"] and "password" in form.fields and "username" in form.fields
    callback = browser.open(urljoin(page.url, form.action), "POST",
                            {**form.fields, "username": ADA, "password": ADA_PASSWORD})
    assert callback.status == 302
    got = query(callback.location)
    assert set(got) == {"code", "state"} and got["state"] == state
    assert callback.location.startswith(CALLBACK + "?code=")

    reply = token(base, {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": CALLBACK},
                  basic(setup.web))
    assert reply.status == 200, reply.text
    assert reply.headers["Cache-Control"] == "no-store"
    tokens = reply.json()
    assert set(tokens) == {"access_token", "id_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "Bearer"
    access = verify(cognito, setup, tokens["access_token"])
    assert access["scope"] == "openid email notes-api/read" and access["client_id"] == setup.web.id


def test_D3_web_may_authenticate_with_client_secret_in_the_form(port, base, setup) -> None:
    code = web_code(base, setup)
    reply = token(base, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                         "client_id": setup.web.id, "client_secret": setup.web.secret})
    assert reply.status == 200 and "access_token" in reply.json()


def test_D2_D3_spa_code_flow_with_pkce_s256_and_no_secret(port, base, setup, cognito) -> None:
    verifier, challenge = pkce()
    # phone and aws.cognito.signin.user.admin are not enabled on spa: ignored (D2).
    url = authorize_url(base, setup.spa, state="s1", nonce="n-123", code_challenge=challenge,
                        code_challenge_method="S256", scope="openid phone aws.cognito.signin.user.admin notes-api/write")
    got = query(sign_in(url).location)
    assert got["state"] == "s1"
    reply = token(base, {"grant_type": "authorization_code", "client_id": setup.spa.id, "code": got["code"],
                         "redirect_uri": CALLBACK, "code_verifier": verifier})
    assert reply.status == 200, reply.text
    tokens = reply.json()
    access = verify(cognito, setup, tokens["access_token"])
    identity = verify(cognito, setup, tokens["id_token"], audience=setup.spa.id)
    assert access["client_id"] == setup.spa.id and access["scope"] == "openid notes-api/write"
    assert identity["aud"] == setup.spa.id and identity["nonce"] == "n-123"
    assert "refresh_token" in tokens


def test_D3_id_token_only_with_openid(port, base, setup) -> None:
    tokens = web_tokens(base, setup, scope="notes-api/read")
    assert "id_token" not in tokens and {"access_token", "refresh_token"} <= set(tokens)
    refreshed = token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                      basic(setup.web)).json()
    assert "id_token" not in refreshed


def test_D2_no_scope_means_all_of_the_clients_scopes(port, base, setup, cognito) -> None:
    code = query(sign_in(authorize_url(base, setup.web)).location)["code"]
    tokens = token(base, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
                   basic(setup.web)).json()
    assert verify(cognito, setup, tokens["access_token"])["scope"].split() == USER_SCOPES


def test_D2_wrong_password_shows_the_form_again_then_the_right_one_signs_in(port, base, setup) -> None:
    browser = Browser()
    page = browser.open(authorize_url(base, setup.web, state="again"))
    form = the_form(page)
    wrong = browser.open(urljoin(page.url, form.action), "POST", {**form.fields, "username": ADA, "password": "nope"})
    assert wrong.status == 200 and wrong.location is None
    assert "Incorrect username or password." in wrong.text
    retry = the_form(wrong)
    assert retry.fields["username"] == ADA and retry.fields["state"] == "again"
    unknown = browser.open(urljoin(page.url, form.action), "POST",
                           {**retry.fields, "username": "<b>nobody</b>@example.com", "password": "nope"})
    assert unknown.status == 200 and "Incorrect username or password." in unknown.text
    assert "<b>nobody" not in unknown.text and "&lt;b&gt;nobody" in unknown.text
    right = browser.open(urljoin(page.url, form.action), "POST", {**retry.fields, "password": ADA_PASSWORD})
    assert right.status == 302 and query(right.location)["state"] == "again"


def test_D2_login_without_csrf_token_or_cookie_is_refused(port, base, setup) -> None:
    browser = Browser()
    page = browser.open(authorize_url(base, setup.web))
    form = the_form(page)
    fields = {**form.fields, "username": ADA, "password": ADA_PASSWORD}
    no_token = browser.open(urljoin(page.url, "/login"), "POST", {k: v for k, v in fields.items() if k != "_csrf"})
    assert no_token.status == 400 and no_token.location is None
    forged = browser.open(urljoin(page.url, "/login"), "POST", {**fields, "_csrf": "0" * 64})
    assert forged.status == 400
    no_cookie = Browser().open(urljoin(page.url, "/login"), "POST", fields)  # another browser: no cookie
    assert no_cookie.status == 400 and no_cookie.location is None
    non_ascii = browser.open(urljoin(page.url, "/login"), "POST", {**fields, "_csrf": "é" * 64})
    assert non_ascii.status == 400  # refused like any forgery, not a 500
    assert browser.open(urljoin(page.url, "/login"), "POST", fields).status == 302  # the real one still works


def test_D3_an_oversized_token_request_is_a_4xx_not_a_500(port, base, setup) -> None:
    reply = request("POST", f"{base}/oauth2/token", form={"grant_type": "client_credentials", "scope": "x" * (2 << 20)})
    assert reply.status == 413


def test_D2_html_is_escaped_and_pages_are_locked_down(port, base, setup) -> None:
    evil = '"><script>alert(1)</script>'
    page = Browser().open(authorize_url(base, setup.web, state=evil, nonce=evil))
    assert page.status == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert the_form(page).fields["state"] == evil
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    error = request("GET", f"{base}/oauth2/authorize?client_id={evil}&redirect_uri={CALLBACK}")
    assert "<script>" not in error.text


# --- D2: authorization request errors --------------------------------------------------------

def test_D2_unknown_client_is_an_error_page_not_a_redirect(port, base, setup) -> None:
    assert_error_page(request("GET", authorize_url(base, AppClient("nosuchclient", None), state="x")))
    assert_error_page(request("GET", f"{base}/oauth2/authorize?response_type=code&redirect_uri={CALLBACK}"))


def test_D2_unregistered_redirect_uri_is_an_error_page_not_a_redirect(port, base, setup) -> None:
    for uri in ("http://localhost:3000/evil", CALLBACK + "/", "http://localhost:3001/callback"):
        assert_error_page(request("GET", authorize_url(base, setup.web, redirect_uri=uri, state="x")))
    # The machine client has no callback URL at all.
    assert_error_page(request("GET", authorize_url(base, setup.machine)))


def test_D2_bad_response_type_redirects_invalid_request_or_unauthorized_client(port, base, setup) -> None:
    url = f"{base}/oauth2/authorize?" + urlencode({"client_id": setup.web.id, "redirect_uri": CALLBACK, "state": "r"})
    assert_redirect_error(request("GET", url), "invalid_request", "r")  # missing
    assert_redirect_error(request("GET", url + "&response_type=id_token"), "invalid_request", "r")
    # web does not allow the implicit grant.
    assert_redirect_error(request("GET", url + "&response_type=token"), "unauthorized_client", "r")


def test_D2_pkce_only_s256_and_a_public_client_must_use_it(port, base, setup) -> None:
    _, challenge = pkce()
    plain = authorize_url(base, setup.web, state="p", code_challenge=challenge, code_challenge_method="plain")
    assert_redirect_error(request("GET", plain), "invalid_request", "p")
    no_method = authorize_url(base, setup.web, state="p", code_challenge=challenge)
    assert_redirect_error(request("GET", no_method), "invalid_request", "p")
    # local choice: a client without a secret must send a challenge.
    assert_redirect_error(request("GET", authorize_url(base, setup.spa, state="p")), "invalid_request", "p")


def test_D2_scopes_none_enabled_or_without_openid_is_invalid_scope(port, base, setup) -> None:
    for scope in ("phone", "aws.cognito.signin.user.admin unknown/scope", "email notes-api/read"):
        assert_redirect_error(request("GET", authorize_url(base, setup.web, scope=scope, state="q")),
                              "invalid_scope", "q")


def test_D2_federation_is_not_emulated(port, base, setup) -> None:
    url = authorize_url(base, setup.web, identity_provider="Google", state="f")
    assert_redirect_error(request("GET", url), "invalid_request", "f")
    assert request("GET", authorize_url(base, setup.web, identity_provider="COGNITO")).status == 302


def test_D2_login_checks_the_request_again(port, base, setup) -> None:
    # /login is reachable directly: the same checks apply, and for a POST too.
    assert_error_page(request("GET", f"{base}/login?" + urlencode(
        {"response_type": "code", "client_id": setup.web.id, "redirect_uri": "https://evil.example/"})))
    browser = Browser()
    page = browser.open(authorize_url(base, setup.web))
    fields = {**the_form(page).fields, "username": ADA, "password": ADA_PASSWORD,
              "redirect_uri": "https://evil.example/"}
    assert_error_page(browser.open(urljoin(page.url, "/login"), "POST", fields))


# --- D3: token endpoint errors ---------------------------------------------------------------

def test_D3_wrong_or_missing_secret_and_unknown_client_are_invalid_client(port, base, setup) -> None:
    code = web_code(base, setup)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    wrong = AppClient(setup.web.id, "not-the-secret")
    assert_token_error(token(base, form, basic(wrong)), "invalid_client")
    assert_token_error(token(base, {**form, "client_id": setup.web.id}), "invalid_client")
    assert_token_error(token(base, form, basic(AppClient("nosuchclient", "x"))), "invalid_client")
    assert_token_error(token(base, {"grant_type": "client_credentials"}, basic(AppClient(setup.machine.id,
                                                                                        setup.web.secret))),
                       "invalid_client")
    # A public client has no secret to send.
    assert_token_error(token(base, {**form, "client_id": setup.spa.id, "client_secret": "x"}), "invalid_client")


def test_D3_redirect_uri_must_be_identical(port, base, setup) -> None:
    code = web_code(base, setup)
    reply = token(base, {"grant_type": "authorization_code", "code": code,
                         "redirect_uri": CALLBACK + "?x=1"}, basic(setup.web))
    assert_token_error(reply, "invalid_grant")
    missing = token(base, {"grant_type": "authorization_code", "code": code}, basic(setup.web))
    assert_token_error(missing, "invalid_request")


def test_D2_D3_code_is_single_use(port, base, setup, cognito) -> None:
    code = web_code(base, setup)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    first = token(base, form, basic(setup.web))
    assert first.status == 200
    assert_token_error(token(base, form, basic(setup.web)), "invalid_grant")
    # local choice (RFC 6749 4.1.2): replaying a code revokes what its first use issued.
    tokens = first.json()
    refresh = token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                    basic(setup.web))
    assert_token_error(refresh, "invalid_grant")
    assert userinfo(base, tokens["access_token"]).status == 401
    assert_token_error(token(base, {**form, "code": "never-issued"}, basic(setup.web)), "invalid_grant")


def test_D2_code_lives_five_minutes_by_the_injected_clock(port, base, setup, later) -> None:
    fresh, stale = web_code(base, setup), web_code(base, setup)
    later(299)
    ok = token(base, {"grant_type": "authorization_code", "code": fresh, "redirect_uri": CALLBACK},
               basic(setup.web))
    assert ok.status == 200
    later(2)
    expired = token(base, {"grant_type": "authorization_code", "code": stale, "redirect_uri": CALLBACK},
                    basic(setup.web))
    assert_token_error(expired, "invalid_grant")


def test_D3_code_belongs_to_the_client_it_was_issued_to(port, base, setup) -> None:
    code = web_code(base, setup)
    reply = token(base, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
                         "client_id": setup.spa.id, "code_verifier": pkce()[0]})
    assert_token_error(reply, "invalid_grant")


def _spa_code(base: str, setup: Setup) -> tuple[str, str]:
    verifier, challenge = pkce()
    url = authorize_url(base, setup.spa, code_challenge=challenge, code_challenge_method="S256")
    return query(sign_in(url).location)["code"], verifier


def test_D3_pkce_verifier_must_match(port, base, setup) -> None:
    code, _ = _spa_code(base, setup)
    form = {"grant_type": "authorization_code", "client_id": setup.spa.id, "code": code, "redirect_uri": CALLBACK}
    assert_token_error(token(base, {**form, "code_verifier": pkce()[0]}), "invalid_grant")


def test_D3_pkce_verifier_is_required_when_a_challenge_was_given(port, base, setup) -> None:
    code, verifier = _spa_code(base, setup)
    form = {"grant_type": "authorization_code", "client_id": setup.spa.id, "code": code, "redirect_uri": CALLBACK}
    assert_token_error(token(base, form), "invalid_request")
    # The code was consumed by that attempt (single use, D2).
    assert_token_error(token(base, {**form, "code_verifier": verifier}), "invalid_grant")


def test_D3_grant_not_enabled_for_the_client_is_unauthorized_client(port, base, setup) -> None:
    code = web_code(base, setup)
    as_machine = token(base, {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
                       basic(setup.machine))
    assert_token_error(as_machine, "unauthorized_client")
    assert_token_error(token(base, {"grant_type": "client_credentials", "client_id": setup.spa.id}),
                       "unauthorized_client")
    assert_token_error(token(base, {"grant_type": "client_credentials"}, basic(setup.web)),
                       "unauthorized_client")


def test_D3_unsupported_or_missing_grant_type_and_malformed_bodies(port, base, setup) -> None:
    assert_token_error(token(base, {"grant_type": "password", "username": ADA, "password": ADA_PASSWORD},
                             basic(setup.web)), "unsupported_grant_type")
    assert_token_error(token(base, {}, basic(setup.web)), "invalid_request")
    as_json = request("POST", f"{base}/oauth2/token", body=b'{"grant_type":"client_credentials"}',
                headers={"Content-Type": "application/json", **basic(setup.machine)})
    assert_token_error(as_json, "invalid_request")
    twice = request("POST", f"{base}/oauth2/token", body=b"grant_type=client_credentials&scope=a&scope=b",
              headers={"Content-Type": "application/x-www-form-urlencoded", **basic(setup.machine)})
    assert_token_error(twice, "invalid_request")
    assert request("GET", f"{base}/oauth2/token").status == 405


# --- D3: client credentials ------------------------------------------------------------------

def test_D3_client_credentials_default_to_all_custom_scopes(port, base, setup, cognito) -> None:
    reply = machine_token(base, setup)
    assert reply.status == 200, reply.text
    body = reply.json()
    assert set(body) == {"access_token", "token_type", "expires_in"} and body["token_type"] == "Bearer"
    assert verify(cognito, setup, body["access_token"])["scope"] == "notes-api/read notes-api/write"


def test_D3_client_credentials_subset_when_asked(port, base, setup, cognito) -> None:
    reply = machine_token(base, setup, scope="notes-api/write")
    assert verify(cognito, setup, reply.json()["access_token"])["scope"] == "notes-api/write"
    form_auth = token(base, {"grant_type": "client_credentials", "scope": "notes-api/read",
                             "client_id": setup.machine.id, "client_secret": setup.machine.secret})
    assert verify(cognito, setup, form_auth.json()["access_token"])["scope"] == "notes-api/read"


def test_D3_client_credentials_refuse_openid_and_unknown_scopes(port, base, setup) -> None:
    for scope in ("openid", "notes-api/read openid", "notes-api/delete", "other-api/read"):
        assert_token_error(machine_token(base, setup, scope=scope), "invalid_scope")


# --- D3: refresh -----------------------------------------------------------------------------

def test_D3_refresh_gives_new_access_and_id_tokens_but_no_refresh_token(port, base, setup, cognito, later) -> None:
    tokens = web_tokens(base, setup, nonce="n-1")
    first_access = verify(cognito, setup, tokens["access_token"])
    first_id = verify(cognito, setup, tokens["id_token"], audience=setup.web.id)
    later(60)
    reply = token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                  basic(setup.web))
    assert reply.status == 200, reply.text
    refreshed = reply.json()
    assert set(refreshed) == {"access_token", "id_token", "token_type", "expires_in"}
    access = jwt.decode(refreshed["access_token"], options={"verify_signature": False})
    identity = jwt.decode(refreshed["id_token"], options={"verify_signature": False})
    assert access["jti"] != first_access["jti"] and access["iat"] >= first_access["iat"] + 60
    assert access["origin_jti"] == first_access["origin_jti"] == identity["origin_jti"]
    assert access["auth_time"] == first_access["auth_time"] == identity["auth_time"]  # the original sign-in
    assert access["scope"] == first_access["scope"]
    assert "nonce" in first_id and "nonce" not in identity  # local choice: no nonce on refresh
    # A refresh token works for the client it was issued to only.
    other = token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                         "client_id": setup.spa.id})
    assert_token_error(other, "invalid_grant")
    assert_token_error(token(base, {"grant_type": "refresh_token"}, basic(setup.web)), "invalid_request")


def test_D3_refresh_fails_for_a_disabled_user(port, base, setup) -> None:
    idp = setup.idp()
    idp.admin_create_user(UserPoolId=setup.pool_id, Username="temp@example.com", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "temp@example.com"}])
    idp.admin_set_user_password(UserPoolId=setup.pool_id, Username="temp@example.com", Password="Temp-0rary-pass!",
                                Permanent=True)
    tokens = web_tokens(base, setup, "temp@example.com", "Temp-0rary-pass!")
    idp.admin_disable_user(UserPoolId=setup.pool_id, Username="temp@example.com")
    try:
        reply = token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                      basic(setup.web))
        assert_token_error(reply, "invalid_grant")
        assert userinfo(base, tokens["access_token"]).status == 401
    finally:
        idp.admin_delete_user(UserPoolId=setup.pool_id, Username="temp@example.com")


# --- D4: userInfo ----------------------------------------------------------------------------

def test_D4_userinfo_filters_attributes_by_scope(port, base, setup) -> None:
    ada = web_tokens(base, setup, scope="openid email profile")
    reply = userinfo(base, ada["access_token"])
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    assert reply.json() == {"sub": setup.ada_username, "email": ADA, "email_verified": "true",
                            "username": setup.ada_username}

    def grace(scope: str) -> dict:
        tokens = web_tokens(base, setup, GRACE, GRACE_PASSWORD, scope=scope)
        return userinfo(base, tokens["access_token"]).json()

    base_claims = {"sub": setup.grace_username, "username": setup.grace_username}
    assert grace("openid profile") == {**base_claims, "name": "Grace Hopper"}
    assert grace("openid email") == {**base_claims, "email": GRACE, "email_verified": "true"}
    assert grace("openid notes-api/read") == {**base_claims, "email": GRACE, "email_verified": "true",
                                              "name": "Grace Hopper", "phone_number": "+15555550100",
                                              "phone_number_verified": "false"}  # openid alone: everything


def test_D4_userinfo_reads_the_user_live(port, base, setup) -> None:
    tokens = web_tokens(base, setup, GRACE, GRACE_PASSWORD, scope="openid profile")
    idp = setup.idp()
    idp.admin_update_user_attributes(UserPoolId=setup.pool_id, Username=GRACE,
                                     UserAttributes=[{"Name": "name", "Value": "Rear Admiral Hopper"}])
    try:
        assert userinfo(base, tokens["access_token"]).json()["name"] == "Rear Admiral Hopper"
    finally:
        idp.admin_update_user_attributes(UserPoolId=setup.pool_id, Username=GRACE,
                                         UserAttributes=[{"Name": "name", "Value": "Grace Hopper"}])


def test_D4_userinfo_refuses_bad_tokens_with_401_invalid_token(port, base, setup, cognito, later) -> None:
    tokens = web_tokens(base, setup)
    now = int(time.time())
    forged_claims = {**jwt.decode(tokens["access_token"], options={"verify_signature": False}), "exp": now + 600}
    other_key = jwt.encode(forged_claims, _other_private_key(), algorithm="RS256",
                           headers={"kid": jwt.get_unverified_header(tokens["access_token"])["kid"]})
    bad = {
        "garbage": "not-a-jwt",
        "id token": tokens["id_token"],
        "signed by another key": other_key,
        "no openid": web_tokens(base, setup, scope="notes-api/read")["access_token"],
        "machine token": machine_token(base, setup).json()["access_token"],
        "HS256": jwt.encode(forged_claims, "s" * 32, algorithm="HS256"),
        # Well signed (sign() mints any shape) but naming no user.
        "no username": cognito.sign(setup.pool_id, {k: v for k, v in forged_claims.items() if k != "username"}),
    }
    for name, bad_token in bad.items():
        reply = userinfo(base, bad_token)
        assert reply.status == 401, name
        assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"], name
    missing = request("GET", f"{base}/oauth2/userInfo")
    assert missing.status == 400 and 'error="invalid_request"' in missing.headers["WWW-Authenticate"]
    assert userinfo(base, tokens["access_token"]).status == 200
    later(30 * 60 + 1)  # web's access tokens live 30 minutes
    expired = userinfo(base, tokens["access_token"])
    assert expired.status == 401 and 'error="invalid_token"' in expired.headers["WWW-Authenticate"]



def test_D4_userinfo_checks_the_registered_claims_of_a_well_signed_token(port, base, setup, cognito) -> None:
    # local choice: userInfo's own claim checks after the shared signature check (verifier.py).
    tokens = web_tokens(base, setup)
    claims = {**jwt.decode(tokens["access_token"], options={"verify_signature": False}),
              "exp": int(time.time()) + 600}
    assert userinfo(base, cognito.sign(setup.pool_id, claims)).status == 200  # re-signed as it was: good
    bad = {
        **{f"no {name}": {k: v for k, v in claims.items() if k != name} for name in ("exp", "iat", "iss", "sub")},
        "null iat": {**claims, "iat": None},
        "other issuer": {**claims, "iss": claims["iss"] + "x"},
        "sub not a string": {**claims, "sub": 7},
        "jti not a string": {**claims, "jti": 7},
        "exp not an integer": {**claims, "exp": float(claims["exp"])},
        "an ID token's use": {**claims, "token_use": "id"},
    }
    for name, forged in bad.items():
        reply = userinfo(base, cognito.sign(setup.pool_id, forged))
        assert reply.status == 401, name
        assert 'error="invalid_token"' in reply.headers["WWW-Authenticate"], name
    signed_by_id_key = userinfo(base, cognito.sign(setup.pool_id, claims, key="id"))
    assert signed_by_id_key.status == 401
    assert signed_by_id_key.json()["error_description"] == "the token is not an access token of this user pool"


_OTHER_KEY = None


def _other_private_key():
    global _OTHER_KEY
    if _OTHER_KEY is None:
        _OTHER_KEY = rsa_key()
    return _OTHER_KEY


# --- D5: revocation --------------------------------------------------------------------------

def test_D5_revoke_ends_the_refresh_token_and_its_access_tokens(port, base, setup, cognito) -> None:
    tokens = web_tokens(base, setup)
    refreshed = token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                      basic(setup.web)).json()
    assert userinfo(base, refreshed["access_token"]).status == 200
    reply = request("POST", f"{base}/oauth2/revoke", form={"token": tokens["refresh_token"]},
              headers=basic(setup.web))
    assert (reply.status, reply.body) == (200, b"")
    again = token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                  basic(setup.web))
    assert_token_error(again, "invalid_grant")
    for access_token in (tokens["access_token"], refreshed["access_token"]):
        assert userinfo(base, access_token).status == 401
    origin = jwt.decode(tokens["access_token"], options={"verify_signature": False})["origin_jti"]
    assert cognito.is_revoked(origin)
    # Already revoked, or never issued: still 200.
    for revoked in (tokens["refresh_token"], "never-issued"):
        assert request("POST", f"{base}/oauth2/revoke", form={"token": revoked}, headers=basic(setup.web)).status == 200


def test_D5_public_client_revokes_with_its_client_id(port, base, setup) -> None:
    code, verifier = _spa_code(base, setup)
    tokens = token(base, {"grant_type": "authorization_code", "client_id": setup.spa.id, "code": code,
                          "redirect_uri": CALLBACK, "code_verifier": verifier}).json()
    reply = request("POST", f"{base}/oauth2/revoke", form={"token": tokens["refresh_token"],
                                                           "client_id": setup.spa.id})
    assert reply.status == 200
    assert_token_error(token(base, {"grant_type": "refresh_token", "client_id": setup.spa.id,
                                    "refresh_token": tokens["refresh_token"]}), "invalid_grant")


def test_D5_revoke_errors(port, base, setup) -> None:
    tokens = web_tokens(base, setup)
    revoke = f"{base}/oauth2/revoke"
    wrong_secret = request("POST", revoke, form={"token": tokens["refresh_token"]},
                     headers=basic(AppClient(setup.web.id, "wrong")))
    assert_token_error(wrong_secret, "invalid_client", 401)  # AWS's revocation page: 401
    no_auth = request("POST", revoke, form={"token": tokens["refresh_token"], "client_id": setup.web.id})
    assert_token_error(no_auth, "invalid_client", 401)
    assert_token_error(request("POST", revoke, form={}, headers=basic(setup.web)), "invalid_request")
    access = request("POST", revoke, form={"token": tokens["access_token"]}, headers=basic(setup.web))
    assert_token_error(access, "unsupported_token_type")
    # local choice: another client's refresh token is refused loudly, and stays valid.
    other = request("POST", revoke, form={"token": tokens["refresh_token"], "client_id": setup.spa.id})
    assert_token_error(other, "unauthorized_client")
    still = token(base, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                  basic(setup.web))
    assert still.status == 200


# --- logout ----------------------------------------------------------------------------------

def test_D1_logout_redirects_only_to_a_registered_logout_uri(port, base, setup) -> None:
    ok = request("GET", f"{base}/logout?" + urlencode({"client_id": setup.web.id, "logout_uri": LOGOUT}))
    assert ok.status == 302 and ok.location == LOGOUT
    assert_error_page(request("GET", f"{base}/logout?" + urlencode({"client_id": setup.web.id,
                                                                    "logout_uri": "https://evil.example/"})))
    assert_error_page(request("GET", f"{base}/logout?" + urlencode({"client_id": "nosuch", "logout_uri": LOGOUT})))
    assert_error_page(request("GET", f"{base}/logout?" + urlencode({"client_id": setup.web.id})))
    # Sign out and sign in again: on to the authorization request, with the same parameters.
    again = urlencode({"client_id": setup.web.id, "response_type": "code", "redirect_uri": CALLBACK, "state": "z"})
    relogin = request("GET", f"{base}/logout?{again}")
    assert relogin.status == 302 and relogin.location == f"/oauth2/authorize?{again}"


# --- D6: claims, D7: lifetimes ---------------------------------------------------------------

def test_D6_user_access_and_id_token_claims_exactly(port, base, setup, cognito) -> None:
    before = int(time.time())
    tokens = web_tokens(base, setup, nonce="nonce-ada")
    access = verify(cognito, setup, tokens["access_token"])
    identity = verify(cognito, setup, tokens["id_token"], audience=setup.web.id)
    assert set(access) == USER_ACCESS_CLAIMS and "aud" not in access
    assert access["sub"] == setup.ada_username and access["username"] == setup.ada_username
    assert access["token_use"] == "access" and access["client_id"] == setup.web.id
    assert access["iss"] == setup.issuer and access["scope"] == "openid email profile notes-api/read"
    assert before <= access["auth_time"] <= access["iat"] <= int(time.time())
    assert set(identity) == ID_CLAIMS | {"nonce"}
    assert identity["sub"] == access["sub"] and identity["aud"] == setup.web.id
    assert identity["cognito:username"] == setup.ada_username and identity["email"] == ADA
    assert identity["email_verified"] is True and identity["token_use"] == "id"
    assert identity["nonce"] == "nonce-ada" and identity["iss"] == setup.issuer
    assert identity["origin_jti"] == access["origin_jti"] and identity["jti"] != access["jti"]
    assert identity["auth_time"] == access["auth_time"]
    without_nonce = verify(cognito, setup, web_tokens(base, setup)["id_token"], audience=setup.web.id)
    assert set(without_nonce) == ID_CLAIMS


def test_D6_groups_and_attributes_of_the_user(port, base, setup, cognito) -> None:
    tokens = web_tokens(base, setup, GRACE, GRACE_PASSWORD)
    access = verify(cognito, setup, tokens["access_token"])
    identity = verify(cognito, setup, tokens["id_token"], audience=setup.web.id)
    assert set(access) == USER_ACCESS_CLAIMS | {"cognito:groups"} and access["cognito:groups"] == ["editors"]
    # The ID token also carries the user's other attributes (AWS's ID token page) and groups.
    assert set(identity) == ID_CLAIMS | {"cognito:groups", "name", "phone_number", "phone_number_verified"}
    assert identity["phone_number_verified"] is False and identity["name"] == "Grace Hopper"


def test_D6_machine_access_token_claims_exactly(port, base, setup, cognito) -> None:
    access = verify(cognito, setup, machine_token(base, setup).json()["access_token"])
    assert set(access) == MACHINE_ACCESS_CLAIMS
    assert access["sub"] == access["client_id"] == setup.machine.id
    assert access["token_use"] == "access" and access["version"] == 2 and access["iss"] == setup.issuer
    assert access["auth_time"] == access["iat"]


def test_D7_lifetimes_come_from_the_client(port, base, setup, cognito) -> None:
    web = token(base, {"grant_type": "authorization_code", "code": web_code(base, setup),
                 "redirect_uri": CALLBACK}, basic(setup.web)).json()
    access, identity = (jwt.decode(web[k], options={"verify_signature": False}) for k in ("access_token", "id_token"))
    assert web["expires_in"] == 30 * 60 and access["exp"] - access["iat"] == 30 * 60
    assert identity["exp"] - identity["iat"] == 20 * 60
    code, verifier = _spa_code(base, setup)
    spa = token(base, {"grant_type": "authorization_code", "client_id": setup.spa.id, "code": code,
                       "redirect_uri": CALLBACK, "code_verifier": verifier}).json()
    spa_access = jwt.decode(spa["access_token"], options={"verify_signature": False})
    assert spa["expires_in"] == 3600 and spa_access["exp"] - spa_access["iat"] == 3600
    machine = machine_token(base, setup).json()
    machine_access = jwt.decode(machine["access_token"], options={"verify_signature": False})
    assert machine["expires_in"] == 15 * 60 and machine_access["exp"] - machine_access["iat"] == 15 * 60


def test_D7_refresh_token_lifetime_from_the_client(port, base, setup, later) -> None:
    first, second = web_tokens(base, setup), web_tokens(base, setup)
    later(119 * 60)  # web's refresh tokens live 120 minutes
    assert token(base, {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                 basic(setup.web)).status == 200
    later(2 * 60)
    assert_token_error(token(base, {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]},
                             basic(setup.web)), "invalid_grant")


# --- reload and domain selection -------------------------------------------------------------

def test_reload_sees_new_clients_keeps_keys_and_applies_validity_units(port, base, setup, cognito) -> None:
    idp = setup.idp()
    jwks = cognito.jwks_for_issuer(setup.issuer)

    def machine_client(name: str, **validity) -> AppClient:
        created = idp.create_user_pool_client(
            UserPoolId=setup.pool_id, ClientName=name, GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["notes-api/read"], **validity,
        )["UserPoolClient"]
        return AppClient(created["ClientId"], created["ClientSecret"])

    hours = machine_client("hours", AccessTokenValidity=2, TokenValidityUnits={"AccessToken": "hours"})
    unitless = machine_client("unitless", AccessTokenValidity=3)  # AWS's default unit: hours
    defaults = machine_client("defaults")
    form = {"grant_type": "client_credentials"}
    assert_token_error(token(base, form, basic(hours)), "invalid_client")  # not read yet
    cognito.reload()
    assert cognito.jwks_for_issuer(setup.issuer) == jwks
    assert token(base, form, basic(hours)).json()["expires_in"] == 2 * 3600
    assert token(base, form, basic(unitless)).json()["expires_in"] == 3 * 3600
    assert token(base, form, basic(defaults)).json()["expires_in"] == 3600
    for client in (hours, unitless, defaults):
        idp.delete_user_pool_client(UserPoolId=setup.pool_id, ClientId=client.id)
    cognito.reload()
    assert_token_error(token(base, form, basic(hours)), "invalid_client")


def test_domain_is_chosen_by_host_and_any_host_reaches_a_sole_domain(port, base, setup, cognito) -> None:
    machine_form = {"grant_type": "client_credentials"}
    loopback = f"http://127.0.0.1:{port}"
    assert token(loopback, machine_form, basic(setup.machine)).status == 200  # the only domain
    assert request("GET", f"http://typo.auth.localhost:{port}/oauth2/token").status == 404
    idp = setup.idp()
    second = idp.create_user_pool(PoolName="second")["UserPool"]["Id"]
    idp.create_user_pool_domain(UserPoolId=second, Domain="second-local")
    try:
        cognito.reload()
        # Two domains: only their own hosts reach them.
        assert token(base, machine_form, basic(setup.machine)).status == 200
        assert request("POST", f"{loopback}/oauth2/token", form=machine_form,
                 headers=basic(setup.machine)).status == 404
        on_second = token(f"http://second-local.auth.localhost:{port}", machine_form, basic(setup.machine))
        assert_token_error(on_second, "invalid_client")  # reached the second pool, which has no such client
        assert len(cognito.jwks_for_issuer(f"https://cognito-idp.{REGION}.amazonaws.com/{second}")["keys"]) == 2
    finally:
        idp.delete_user_pool_domain(UserPoolId=second, Domain="second-local")
        idp.delete_user_pool(UserPoolId=second)
        cognito.reload()
    assert token(loopback, machine_form, basic(setup.machine)).status == 200
