"""Local Cognito: a user pool's OAuth 2.0 / OpenID Connect endpoints and its issuer's keys (spec D).

`LocalCognito` is a WSGI app. It reads the pools, app clients, resource servers and domains of
the embedded AWS (boto3, `reload()`), in every region that holds a pool (the embedded AWS's
private /_local/regions says which), checks passwords with the embedded AWS's private
`/_local/cognito/<pool>/authenticate` endpoint, reads users live (admin_get_user), and signs
tokens with RS256 keys of its own: one key pair for access tokens and another for ID tokens per
pool (D1), kept in `key_dir/<pool id>.json` (private JWKs, mode 0600) so that they survive
restarts and so tests and tools can mint tokens of any shape (`sign()`).

What it serves, on one server:

  Issuer, whatever the Host:  /<pool id>/.well-known/openid-configuration and .../jwks.json.
      The issuer is AWS's string, https://cognito-idp.<pool's region>.amazonaws.com/<pool id>; the
      gateway resolves it in-process with `jwks_for_issuer()`, and `jwks_uri` is AWS's URL too.
      The domain endpoints in the discovery document point at the local domain the request came
      in on: the request's own scheme and Host if that Host reaches the pool's domain (below),
      else http://<the domain's host>:<port of the request>; a pool without a domain has none.
      `response_types_supported` lists only "code": the implicit grant is not emulated.
  A pool's domain: /oauth2/authorize, /login, /oauth2/token, /oauth2/userInfo, /oauth2/revoke,
      /logout. The Host picks the pool: <domain prefix>.auth.localhost[:port], or
      <domain prefix>.auth.<region>.localhost[:port] (always unambiguous: AWS's prefixes are
      unique per region only, so a prefix used in two regions answers only with its region).
      Several pools and domains, of one region or several, are served at once. Any other Host
      (127.0.0.1, localhost) reaches the pool's domain only when exactly one pool has a domain;
      otherwise, and for a *.localhost naming no domain, 404. Custom domains: not emulated.

Choices where AWS is silent or where the safe behaviour differs (UNCONFIRMED unless a source
is named):

  * Sign-in is the classic hosted-UI flow: /oauth2/authorize -> 302 /login?<same query> -> a
    plain HTML form (username, password, the OAuth parameters as hidden fields and a CSRF token
    that is an HMAC of the XSRF-TOKEN cookie) -> POST /login. There is no single-sign-on session:
    every authorization request shows the form, and /logout only checks and redirects.
  * /oauth2/authorize errors redirect with error=invalid_request for a missing or unknown
    response_type (AWS's docs list invalid_request for bad parameters, never RFC 6749's
    unsupported_response_type); response_type=token is unauthorized_client unless the client
    allows the implicit grant, and then invalid_request "not emulated". A public client (no
    secret) must send an S256 code_challenge (invalid_request otherwise): stricter than AWS, which
    lets a public client skip PKCE. Scopes not enabled on the client are ignored; email, phone
    and profile without openid is invalid_scope (AWS: "can only be requested if openid is also
    requested"). identity_provider other than COGNITO, or a client without the COGNITO provider:
    invalid_request, federation is not emulated.
  * /oauth2/token answers invalid_client with 400 (spec D3 and AWS's token endpoint page; RFC 6749
    would use 401). A code is consumed by its first presentation, right or wrong; presenting it
    again is invalid_grant and also revokes the refresh token (and its access tokens) that the
    first exchange issued (RFC 6749 4.1.2's SHOULD). A missing code_verifier for a code that had a
    challenge is invalid_request, a wrong one invalid_grant (RFC 7636 4.6); a code_verifier for a
    code without a challenge is invalid_request.
  * Refresh tokens are opaque random strings (AWS's are encrypted JWTs; clients must treat both
    as opaque) held in memory: a restart of this process forgets them (invalid_grant). A refresh
    gives a new access token and, with openid, an ID token (without nonce), never a new refresh
    token; the user is read again, so a disabled or deleted user gets invalid_grant.
  * /oauth2/revoke follows AWS's revocation page: 401 invalid_client for bad client credentials,
    400 invalid_request without a token or with revocation disabled on the client, 400
    unsupported_token_type for an access or ID token, 200 for an unknown token. A refresh token
    of another client is refused (400 unauthorized_client) rather than silently kept.
    Revocation is seen by /oauth2/userInfo only. API Gateway's JWT authorizer does not check
    revocation on AWS either, so the gateway should not: a revoked access token keeps passing the
    gateway until it expires, as on AWS. `is_revoked()` is there for callers who want to know.
  * /oauth2/userInfo: no Bearer token is 400 invalid_request; a bad, expired, revoked token, one
    without openid, or a disabled or deleted user is 401 with WWW-Authenticate
    error="invalid_token" (AWS's documented header form, no scheme). The answer has sub and
    username always and, from the access token's scopes: only openid -> every attribute the
    client may read; profile -> the OIDC profile attributes and custom ones; email -> email,
    email_verified; phone -> phone_number, phone_number_verified; values are strings as stored.
    "May read": the client's ReadAttributes (none set: every attribute), never a developer-only
    attribute (dev:custom:*); a token whose client was since deleted gets sub and username only.
  * Tokens (D6): the user access token has exactly the spec's claims; the ID token has the spec's
    claims plus the user's other attributes the client may read (AWS's ID token page: OIDC standard
    claims and custom attributes, custom:* as their stored strings) with *_verified as booleans.
    Groups, their order and roles (rule D8), and the pre token generation trigger that may reshape
    both tokens before they are signed (rule D9): local_aws/cognito_triggers.py. Token
    lifetimes (D7) come from the client: a validity without units is in AWS's default units
    (hours for access and ID tokens, days for refresh tokens); no validity means 60 minutes and
    30 days.
  * Codes live 5 minutes (D2) by the injected clock, which also times tokens and checks them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import jwt
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from local_aws import aws, cognito_triggers as triggers

log = logging.getLogger(__name__)

CODE_LIFETIME_S = 300  # D2: "the code is single use and lives 5 minutes"
STANDARD_SCOPES = frozenset({"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"})
NEED_OPENID = frozenset({"email", "phone", "profile"})
PROFILE_ATTRIBUTES = frozenset({
    "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
    "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at",
})
BOOLEAN_ATTRIBUTES = frozenset({"email_verified", "phone_number_verified"})
# The authorization request's parameters that /login carries through its form.
OAUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "state", "scope", "nonce",
                "code_challenge", "code_challenge_method", "identity_provider", "idp_identifier")
CSRF_COOKIE = "XSRF-TOKEN"
CSRF_FIELD = "_csrf"

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# token kind -> (validity field, TokenValidityUnits key, default seconds, unit of a value given without units)
_VALIDITY = {
    "access": ("AccessTokenValidity", "AccessToken", 3600, "hours"),
    "id": ("IdTokenValidity", "IdToken", 3600, "hours"),
    "refresh": ("RefreshTokenValidity", "RefreshToken", 30 * 86400, "days"),
}
_DOMAIN_HOST = re.compile(r"^(?P<prefix>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.auth"
                          r"(?:\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d))?\.localhost$")
_POOL_ID = r"[a-z]{2}(?:-[a-z]+)+-\d_[0-9A-Za-z]+"
_ISSUER_PATH = re.compile(rf"^/(?P<pool>{_POOL_ID})/\.well-known/(?P<doc>openid-configuration|jwks\.json)$")
_ISSUER = re.compile(rf"^https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool>{_POOL_ID})$")
_PKCE_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 4.1
_PKCE_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256, no padding


# --- what the control plane says -------------------------------------------------------------

def _lifetime(description: Mapping[str, Any], kind: str) -> int:
    field, unit_key, default, default_unit = _VALIDITY[kind]
    value = description.get(field)
    if not value:
        return default
    unit = (description.get("TokenValidityUnits") or {}).get(unit_key) or default_unit
    return int(value) * _UNIT_SECONDS[unit]


@dataclass(frozen=True)
class Client:
    """An app client, as DescribeUserPoolClient tells it."""

    id: str
    name: str
    secret: str | None
    oauth_enabled: bool
    flows: frozenset[str]
    scopes: tuple[str, ...]
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]
    identity_providers: frozenset[str]
    read_attributes: frozenset[str]  # empty: every attribute
    revocation_enabled: bool
    access_ttl: int
    id_ttl: int
    refresh_ttl: int

    @classmethod
    def from_description(cls, d: Mapping[str, Any]) -> "Client":
        return cls(
            id=d["ClientId"], name=d.get("ClientName", ""), secret=d.get("ClientSecret") or None,
            oauth_enabled=bool(d.get("AllowedOAuthFlowsUserPoolClient")),
            flows=frozenset(d.get("AllowedOAuthFlows") or ()), scopes=tuple(d.get("AllowedOAuthScopes") or ()),
            callback_urls=tuple(d.get("CallbackURLs") or ()), logout_urls=tuple(d.get("LogoutURLs") or ()),
            identity_providers=frozenset(d.get("SupportedIdentityProviders") or ()),
            read_attributes=frozenset(d.get("ReadAttributes") or ()),
            revocation_enabled=d.get("EnableTokenRevocation", True) is not False,
            access_ttl=_lifetime(d, "access"), id_ttl=_lifetime(d, "id"), refresh_ttl=_lifetime(d, "refresh"),
        )

    @property
    def public(self) -> bool:
        return self.secret is None

    def may_read(self, attribute: str) -> bool:
        return not self.read_attributes or attribute in self.read_attributes


@dataclass(frozen=True)
class Pool:
    id: str
    issuer: str
    domain: str | None
    clients: Mapping[str, Client]
    custom_scopes: frozenset[str]
    region: str = aws.REGION
    arn: str = ""
    pre_token: triggers.PreTokenTrigger | None = None  # the pre token generation trigger (rule D9)

    def known_scope(self, scope: str) -> bool:
        return scope in STANDARD_SCOPES or scope in self.custom_scopes


@dataclass(frozen=True)
class User:
    username: str
    sub: str
    attributes: Mapping[str, str]
    groups: triggers.GroupClaims  # in precedence order, with their roles (rule D8)


def domain_hosts(domains: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(region, domain prefix) -> the local host name of that domain: `<prefix>.auth.localhost`,
    or `<prefix>.auth.<region>.localhost` when the prefix is used in more than one region."""
    domains = list(domains)
    regions_of: dict[str, set[str]] = {}
    for region, prefix in domains:
        regions_of.setdefault(prefix, set()).add(region)
    return {(region, prefix): f"{prefix}.auth.localhost" if len(regions_of[prefix]) == 1
            else f"{prefix}.auth.{region}.localhost" for region, prefix in domains}


# --- keys ------------------------------------------------------------------------------------

def _thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a stable kid derived from the key itself."""
    canonical = json.dumps({k: public_jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> "SigningKey":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(_thumbprint(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)), key)

    @classmethod
    def from_private_jwk(cls, jwk_dict: Mapping[str, Any]) -> "SigningKey":
        key = RSAAlgorithm.from_jwk(dict(jwk_dict))
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ValueError("not an RSA private key of at least 2048 bits")
        return cls(str(jwk_dict["kid"]), key)

    def private_jwk(self) -> dict[str, Any]:
        return {**RSAAlgorithm.to_jwk(self.private_key, as_dict=True), "kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_jwk(self) -> dict[str, Any]:
        jwk_dict = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {"alg": "RS256", "e": jwk_dict["e"], "kid": self.kid, "kty": "RSA", "n": jwk_dict["n"], "use": "sig"}

    def sign(self, claims: Mapping[str, Any]) -> str:
        # Cognito's tokens carry kid and alg only (no typ).
        return jwt.encode(dict(claims), self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": None})


@dataclass(frozen=True)
class PoolKeys:
    access: SigningKey
    id: SigningKey

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.access.public_jwk(), self.id.public_jwk()]}


def load_or_create_keys(key_dir: Path, pool_id: str) -> PoolKeys:
    """The pool's keys from key_dir/<pool id>.json, created (mode 0600) if absent."""
    path = key_dir / f"{pool_id}.json"
    if not path.exists():
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fresh = {"pool_id": pool_id, "access": SigningKey.generate().private_jwk(), "id": SigningKey.generate().private_jwk()}
        fd, temporary = tempfile.mkstemp(dir=key_dir, prefix=f".{pool_id}.", suffix=".tmp")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(fresh, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)  # atomic, and never replaces keys another process wrote first
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    elif path.stat().st_mode & 0o077:
        log.warning("%s holds private keys but other users may read it (chmod 600 it)", path)
    stored = json.loads(path.read_text())
    try:
        keys = PoolKeys(SigningKey.from_private_jwk(stored["access"]), SigningKey.from_private_jwk(stored["id"]))
    except (KeyError, TypeError, ValueError, jwt.PyJWTError) as error:
        raise ValueError(f"{path}: not the keys of a local user pool ({error}); delete it to get new keys") from None
    if keys.access.kid == keys.id.kid:
        raise ValueError(f"{path}: access and ID keys must have different kids")
    return keys


# --- grants ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuthorizationCode:
    pool_id: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    username: str
    auth_time: int
    expires_at: float


@dataclass
class RefreshGrant:
    pool_id: str
    client_id: str
    username: str
    scopes: tuple[str, ...]
    auth_time: int
    origin_jti: str
    expires_at: float
    revoked: bool = False


@dataclass
class _SpentCode:
    expires_at: float
    origin_jti: str | None = None


# --- errors ----------------------------------------------------------------------------------

class OAuthError(Exception):
    """An error answered as JSON {"error", "error_description"} (token and revocation endpoints)."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status = error, description, status


class _ErrorPage(Exception):
    """An authorization-request error that must not redirect (unknown client, unregistered URI)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


class _RedirectError(Exception):
    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str):
        super().__init__(f"{error}: {description}")
        self.redirect_uri, self.state, self.error, self.description = redirect_uri, state, error, description


class _InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class _AuthorizationRequest:
    client: Client
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    nonce: str | None
    code_challenge: str | None
    params: tuple[tuple[str, str], ...]  # the OAuth parameters as given, carried through /login


class _Request(Request):
    max_content_length = 1024 * 1024
    max_form_memory_size = 256 * 1024


# --- the app ---------------------------------------------------------------------------------

class LocalCognito:
    """The Cognito domain(s) and issuers of the embedded AWS's user pools, as one WSGI app."""

    def __init__(self, aws_endpoint: str, key_dir: Path, *, region: str | None = None,
                 clock: Callable[[], float] = time.time, runtime: Any = None) -> None:
        """`region`: serve the pools of that region only; None (the data plane's way): of every region.
        `runtime`: the data plane's Lambda runtime, which runs the pools' pre token generation
        triggers; without one, a pool with such a trigger issues no token (fail closed)."""
        self.aws_endpoint = aws_endpoint
        self.runtime = runtime
        self.key_dir = Path(key_dir)
        self.region = region
        self._clock = clock
        self._idps: dict[str, Any] = {}
        self._csrf_key = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._pools: dict[str, Pool] = {}
        self._hosts: dict[str, str] = {}
        self._keys: dict[str, PoolKeys] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._spent_codes: dict[str, _SpentCode] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._by_origin: dict[str, RefreshGrant] = {}
        self._revoked_origins: set[str] = set()
        self.reload()

    # --- control plane ---

    def reload(self) -> None:
        """Re-read pools, domains, clients and resource servers (users are always read live).

        A pool's keys stay the same across reloads (and restarts: they live in key_dir).
        """
        pools: dict[str, Pool] = {}
        for region in [self.region] if self.region else aws.regions(self.aws_endpoint, "cognito-idp"):
            for page in self._idp(region).get_paginator("list_user_pools").paginate(MaxResults=60):
                for summary in page["UserPools"]:
                    try:
                        pools[summary["Id"]] = self._read_pool(summary["Id"], region)
                    except ClientError as error:
                        if error.response["Error"]["Code"] != "ResourceNotFoundException":
                            raise  # deleted while we listed: skip it; anything else is loud
        hosts = domain_hosts((pool.region, pool.domain) for pool in pools.values() if pool.domain)
        keys = {pool_id: self._keys.get(pool_id) or load_or_create_keys(self.key_dir, pool_id) for pool_id in pools}
        with self._lock:
            self._keys.update(keys)  # keys first: a reader that finds a pool always finds its keys
            self._pools = pools
            self._hosts = {pool_id: hosts[(pool.region, pool.domain)] for pool_id, pool in pools.items() if pool.domain}

    def _idp(self, region: str) -> Any:
        """The cognito-idp client of a region, made once (a boto3 client costs ~10 ms to make)."""
        if region not in self._idps:
            self._idps[region] = aws.client("cognito-idp", self.aws_endpoint, region)
        return self._idps[region]

    def _read_pool(self, pool_id: str, region: str) -> Pool:
        idp = self._idp(region)
        described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        clients = {}
        for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id):
            for summary in page["UserPoolClients"]:
                d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=summary["ClientId"])["UserPoolClient"]
                clients[d["ClientId"]] = Client.from_description(d)
        custom = set()
        for page in idp.get_paginator("list_resource_servers").paginate(UserPoolId=pool_id, MaxResults=50):
            for server in page["ResourceServers"]:
                custom.update(f"{server['Identifier']}/{scope['ScopeName']}" for scope in server.get("Scopes") or ())
        return Pool(id=pool_id, issuer=aws.issuer(region, pool_id), domain=described.get("Domain") or None,
                    clients=clients, custom_scopes=frozenset(custom), region=region, arn=described.get("Arn", ""),
                    pre_token=triggers.pre_token_trigger(described.get("LambdaConfig")))

    @staticmethod
    def issuer(pool_id: str) -> str:
        return aws.issuer(aws.pool_region(pool_id), pool_id)

    def domains(self) -> dict[str, str]:
        """Pool id -> the host name of its domain (add the port this app is served on)."""
        return dict(self._hosts)

    def jwks_for_issuer(self, issuer: str) -> dict:
        """The public JWKS of the local pool that is this issuer (of any region); KeyError if there is none."""
        match = _ISSUER.match(issuer)
        pool = self._pools.get(match["pool"]) if match else None
        if pool is None or pool.issuer != issuer:
            raise KeyError(issuer)
        return self._keys[pool.id].jwks()

    def keys(self, pool_id: str) -> PoolKeys:
        """A local pool's signing keys; KeyError if there is no such pool."""
        if pool_id not in self._pools:
            raise KeyError(pool_id)
        return self._keys[pool_id]

    def sign(self, pool_id: str, claims: Mapping[str, Any], *, key: str = "access") -> str:
        """Sign any claims with the pool's access or ID token key, for tests and tools."""
        keys = self.keys(pool_id)
        return {"access": keys.access, "id": keys.id}[key].sign(claims)

    def is_revoked(self, origin_jti: str) -> bool:
        """Whether tokens of this origin_jti were revoked (/oauth2/revoke). The gateway should not
        ask: API Gateway's JWT authorizer does not check revocation on AWS."""
        with self._lock:
            return origin_jti in self._revoked_origins

    # --- WSGI ---

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = _Request(environ)
        try:
            response = self._dispatch(request)
        except HTTPException as refusal:  # werkzeug's own 4xx, e.g. a form over its size limit: 413
            response = refusal.get_response(environ)
        except Exception:  # a bug here must not take the server down, and must not pass silently
            log.exception("local Cognito failed on %s %s", request.method, request.path)
            response = Response("Internal error in the local Cognito: see its log.\n", 500, mimetype="text/plain")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        issuer_doc = _ISSUER_PATH.match(request.path)
        if issuer_doc:
            return self._issuer_document(request, issuer_doc["pool"], issuer_doc["doc"])
        pool = self._pool_for_host(request)
        if pool is None:
            known = ", ".join(sorted(self._hosts.values())) or "none"
            return _text(404, f"No local user pool domain answers to Host {request.host!r}. Domains: {known}.")
        routes: dict[str, tuple[tuple[str, ...], Callable[[Pool, Request], Response]]] = {
            "/oauth2/authorize": (("GET",), self._authorize),
            "/login": (("GET", "POST"), self._login),
            "/oauth2/token": (("POST",), self._token),
            "/oauth2/userInfo": (("GET", "POST"), self._userinfo),
            "/oauth2/revoke": (("POST",), self._revoke),
            "/logout": (("GET",), self._logout),
        }
        if request.path not in routes:
            return _text(404, f"Not found: {request.path}")
        methods, handler = routes[request.path]
        if request.method not in methods:
            return Response(f"{request.method} is not allowed here.\n", 405, mimetype="text/plain",
                            headers={"Allow": ", ".join(methods)})
        return handler(pool, request)

    def _pool_for_host(self, request: Request) -> Pool | None:
        named = _DOMAIN_HOST.match(_host_name(request.host))
        pools = self._pools.values()
        if named:
            found = [p for p in pools if p.domain == named["prefix"] and named["region"] in (None, p.region)]
            return found[0] if len(found) == 1 else None  # a prefix of two regions needs its region
        with_domain = [p for p in pools if p.domain]
        return with_domain[0] if len(with_domain) == 1 else None

    # --- D1: discovery and keys ---

    def _issuer_document(self, request: Request, pool_id: str, document: str) -> Response:
        pool = self._pools.get(pool_id)
        if pool is None:
            return _json({"message": f"User pool {pool_id} does not exist."}, 404)
        if document == "jwks.json":
            return _json(self._keys[pool_id].jwks())
        config: dict[str, Any] = {"issuer": pool.issuer}
        base = self._domain_base(request, pool)
        if base:
            config.update(
                authorization_endpoint=f"{base}/oauth2/authorize", token_endpoint=f"{base}/oauth2/token",
                userinfo_endpoint=f"{base}/oauth2/userInfo", revocation_endpoint=f"{base}/oauth2/revoke",
            )
        config.update(
            jwks_uri=f"{pool.issuer}/.well-known/jwks.json",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            scopes_supported=["openid", "email", "phone", "profile"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        )
        return _json(config)

    def _domain_base(self, request: Request, pool: Pool) -> str | None:
        if not pool.domain:
            return None
        if self._pool_for_host(request) is pool:
            return f"{request.scheme}://{request.host}"
        try:
            port = urlsplit(f"//{request.host}").port or request.environ.get("SERVER_PORT")
        except ValueError:  # a Host with a malformed port
            port = request.environ.get("SERVER_PORT")
        host = self._hosts.get(pool.id) or f"{pool.domain}.auth.{pool.region}.localhost"
        return f"{request.scheme}://{host}" + (f":{port}" if port else "")

    # --- D2: authorization and sign-in ---

    def _authorize(self, pool: Pool, request: Request) -> Response:
        try:
            self._check_authorization_request(pool, request.args)
        except _ErrorPage as error:
            return _error_page(error.message, error.status)
        except _RedirectError as error:
            return _redirect_error(error)
        query = request.query_string.decode("latin-1")
        return _redirect(f"/login?{query}")

    def _check_authorization_request(self, pool: Pool, params: MultiDict) -> _AuthorizationRequest:
        client_ids = params.getlist("client_id")
        client = pool.clients.get(client_ids[0]) if len(client_ids) == 1 else None
        if client is None:
            raise _ErrorPage("Invalid request: unknown or missing client_id.")
        redirect_uris = params.getlist("redirect_uri")
        if len(redirect_uris) != 1 or redirect_uris[0] not in client.callback_urls:
            raise _ErrorPage("Invalid request: redirect_uri is missing or is not a callback URL of this app client "
                             "(it must match one exactly).")
        redirect_uri = redirect_uris[0]
        repeated = [name for name in OAUTH_PARAMS if len(params.getlist(name)) > 1]
        state = params.get("state") if "state" not in repeated else None

        def fail(error: str, description: str) -> _RedirectError:
            return _RedirectError(redirect_uri, state, error, description)

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

        method, challenge = params.get("code_challenge_method"), params.get("code_challenge")
        if method is not None and method != "S256":
            raise fail("invalid_request", "code_challenge_method must be S256")
        if (method is None) != (challenge is None):
            raise fail("invalid_request", "code_challenge and code_challenge_method go together")
        if challenge is not None and not _PKCE_S256_CHALLENGE.match(challenge):
            raise fail("invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier")
        if client.public and challenge is None:
            raise fail("invalid_request", "an app client without a secret must use PKCE (code_challenge, S256)")
        given = tuple((name, params[name]) for name in OAUTH_PARAMS if name in params)
        return _AuthorizationRequest(client, redirect_uri, state, scopes, params.get("nonce"), challenge, given)

    def _login(self, pool: Pool, request: Request) -> Response:
        if request.method == "GET":
            params = request.args
        else:
            cookie = request.cookies.get(CSRF_COOKIE, "")
            token = request.form.get(CSRF_FIELD, "")
            if not (cookie and token and hmac.compare_digest(token.encode(), self._csrf_token(cookie).encode())):
                return _error_page("The sign-in form is missing its CSRF token or it does not match your browser's "
                                   "cookie. Start signing in again from the app.", 400)
            params = MultiDict([(k, v) for k, v in request.form.items(multi=True) if k in OAUTH_PARAMS])
        try:
            authorization = self._check_authorization_request(pool, params)
        except _ErrorPage as error:
            return _error_page(error.message, error.status)
        except _RedirectError as error:
            return _redirect_error(error)
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
        code = str(uuid.uuid4())
        now = self._clock()
        with self._lock:
            self._forget_expired(now)
            self._codes[code] = AuthorizationCode(
                pool_id=pool.id, client_id=authorization.client.id, redirect_uri=authorization.redirect_uri,
                scopes=authorization.scopes, nonce=authorization.nonce, code_challenge=authorization.code_challenge,
                username=user["username"], auth_time=int(now), expires_at=now + CODE_LIFETIME_S,
            )
        params_out = [("code", code)] + ([("state", authorization.state)] if authorization.state is not None else [])
        return _redirect(_with_query(authorization.redirect_uri, params_out))

    def _csrf_token(self, cookie: str) -> str:
        return hmac.new(self._csrf_key, cookie.encode(), hashlib.sha256).hexdigest()

    def _login_form(self, request: Request, pool: Pool, authorization: _AuthorizationRequest,
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

    # --- D3: tokens ---

    def _token(self, pool: Pool, request: Request) -> Response:
        try:
            form = _form(request)
            client = self._authenticate_client(pool, request, form, invalid_client_status=400)
            grant_type = form.get("grant_type")
            if not grant_type:
                raise OAuthError("invalid_request", "grant_type is required")
            if grant_type == "authorization_code":
                return _json(self._exchange_code(pool, client, form))
            if grant_type == "refresh_token":
                return _json(self._refresh_tokens(pool, client, form))
            if grant_type == "client_credentials":
                return _json(self._client_credentials(pool, client, form))
            raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
        except OAuthError as error:
            return _oauth_error(error)
        except triggers.TriggerFailed as error:  # local choice: AWS's wording, as invalid_request
            return _oauth_error(OAuthError("invalid_request", str(error)))

    def _authenticate_client(self, pool: Pool, request: Request, form: MultiDict, *,
                             invalid_client_status: int) -> Client:
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

    def _exchange_code(self, pool: Pool, client: Client, form: MultiDict) -> dict[str, Any]:
        if not client.oauth_enabled or "code" not in client.flows:
            raise OAuthError("unauthorized_client", "the app client does not allow the authorization code grant")
        code, redirect_uri = form.get("code"), form.get("redirect_uri")
        if not code:
            raise OAuthError("invalid_request", "code is required")
        if not redirect_uri:
            raise OAuthError("invalid_request", "redirect_uri is required")
        now = self._clock()
        with self._lock:
            granted = self._codes.pop(code, None)
            if granted is None:
                spent = self._spent_codes.get(code)
                if spent is not None and spent.origin_jti:
                    self._revoke_origin(spent.origin_jti)
                raise OAuthError("invalid_grant", "the code was already used, or never issued")
            spent = self._spent_codes[code] = _SpentCode(granted.expires_at)
        if granted.pool_id != pool.id or granted.client_id != client.id:
            raise OAuthError("invalid_grant", "the code was issued to another app client")
        if now >= granted.expires_at:
            raise OAuthError("invalid_grant", "the code has expired")
        if redirect_uri != granted.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request's")
        verifier = form.get("code_verifier")
        if granted.code_challenge is not None:
            if not verifier:
                raise OAuthError("invalid_request", "code_verifier is required: the code was requested with PKCE")
            if not _PKCE_VERIFIER.match(verifier) or not hmac.compare_digest(_s256(verifier), granted.code_challenge):
                raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        elif verifier is not None:
            raise OAuthError("invalid_request", "code_verifier given, but the code was requested without PKCE")
        user = self._user(pool, granted.username)
        if user is None:
            raise OAuthError("invalid_grant", "the user no longer exists or is disabled")

        origin_jti = str(uuid.uuid4())
        refresh_token = secrets.token_urlsafe(96)
        grant = RefreshGrant(pool.id, client.id, user.username, granted.scopes, granted.auth_time, origin_jti,
                             now + client.refresh_ttl)
        # Tokens first: a pre token generation trigger that fails leaves no refresh token behind.
        tokens = self._user_tokens(pool, client, user, grant, now, nonce=granted.nonce,
                                   source="TokenGeneration_HostedAuth")
        with self._lock:
            self._forget_expired(now)
            self._refresh[refresh_token] = grant
            self._by_origin[origin_jti] = grant
            spent.origin_jti = origin_jti
        return {**tokens, "refresh_token": refresh_token}

    def _refresh_tokens(self, pool: Pool, client: Client, form: MultiDict) -> dict[str, Any]:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is required")
        now = self._clock()
        with self._lock:
            grant = self._refresh.get(token)
        if grant is None or grant.pool_id != pool.id or grant.client_id != client.id:
            raise OAuthError("invalid_grant", "unknown refresh token, or issued to another app client")
        if grant.revoked:
            raise OAuthError("invalid_grant", "Refresh Token has been revoked")
        if now >= grant.expires_at:
            raise OAuthError("invalid_grant", "Refresh Token has expired")
        user = self._user(pool, grant.username)
        if user is None:
            raise OAuthError("invalid_grant", "the user no longer exists or is disabled")
        return self._user_tokens(pool, client, user, grant, now, nonce=None, source="TokenGeneration_RefreshTokens")

    def _client_credentials(self, pool: Pool, client: Client, form: MultiDict) -> dict[str, Any]:
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
        now = int(self._clock())
        claims = {
            "sub": client.id, "token_use": "access", "scope": " ".join(scopes), "auth_time": now,
            "iss": pool.issuer, "exp": now + client.access_ttl, "iat": now, "version": 2,
            "jti": str(uuid.uuid4()), "client_id": client.id,
        }
        if pool.pre_token is not None and pool.pre_token.version == "V3_0":  # only V3_0 shapes machine tokens
            event = triggers.machine_event(pool.pre_token, region=pool.region, pool_id=pool.id, client_id=client.id,
                                           scopes=scopes)
            response = triggers.run(self._invoker(pool), pool.pre_token, event)
            triggers.apply(pool.pre_token, response, triggers.Tokens(claims, None, client.id), machine=True)
        return {"access_token": self._keys[pool.id].access.sign(claims), "expires_in": client.access_ttl,
                "token_type": "Bearer"}

    def _invoker(self, pool: Pool) -> triggers.Invoke:
        return triggers.runtime_invoker(self.runtime, self.aws_endpoint, pool.arn)

    def _user_tokens(self, pool: Pool, client: Client, user: User, grant: RefreshGrant, now_f: float, *,
                     nonce: str | None, source: str) -> dict[str, Any]:
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

    def _user(self, pool: Pool, username: str) -> User | None:
        """The user as the control plane has it now; None if deleted or disabled."""
        if not username:
            return None
        try:
            found = self._idp(pool.region).admin_get_user(UserPoolId=pool.id, Username=username)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("UserNotFoundException", "ResourceNotFoundException"):
                return None
            raise
        if not found.get("Enabled", True):
            return None
        attributes = {a["Name"]: a["Value"] for a in found.get("UserAttributes", [])}
        groups = triggers.group_claims(
            triggers.Group(group["GroupName"], group.get("Precedence"), group.get("RoleArn") or None)
            for page in self._idp(pool.region).get_paginator("admin_list_groups_for_user").paginate(
                UserPoolId=pool.id, Username=found["Username"])
            for group in page["Groups"]
        )
        return User(found["Username"], attributes.get("sub", found["Username"]), attributes, groups)

    # --- D4: userInfo ---

    def _userinfo(self, pool: Pool, request: Request) -> Response:
        bearer = request.authorization
        if bearer is None or bearer.type != "bearer" or not bearer.token:
            return _json({"error": "invalid_request"}, 400, headers={
                "WWW-Authenticate": 'error="invalid_request", error_description="Bad OAuth2 request at UserInfo Endpoint"'})
        try:
            claims = self._verify_access_token(pool, bearer.token)
            if "openid" not in str(claims.get("scope", "")).split(" "):
                raise _InvalidToken("the access token has no openid scope")
            user = self._user(pool, str(claims.get("username", "")))
            if user is None or user.sub != claims.get("sub"):
                raise _InvalidToken("the user no longer exists or is disabled")
        except _InvalidToken as error:
            description = str(error).replace('"', "'")
            return _json({"error": "invalid_token", "error_description": str(error)}, 401, headers={
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
        return _json({"sub": user.sub, **info, "username": user.username})

    def _verify_access_token(self, pool: Pool, token: str) -> dict[str, Any]:
        key = self._keys[pool.id].access
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256" or header.get("kid") != key.kid:
                raise _InvalidToken("the token is not an access token of this user pool")
            # Times are checked below against the injected clock, the rest by PyJWT.
            claims = jwt.decode(token, key.private_key.public_key(), algorithms=["RS256"], issuer=pool.issuer,
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "verify_aud": False, "require": ["exp", "iat", "iss", "sub"]})
        except jwt.PyJWTError as error:
            raise _InvalidToken(f"invalid access token: {error}") from None
        if claims.get("token_use") != "access":
            raise _InvalidToken("not an access token")
        if not isinstance(claims["exp"], int) or self._clock() > claims["exp"]:
            raise _InvalidToken("Access token is expired")
        if self.is_revoked(str(claims.get("origin_jti", ""))):
            raise _InvalidToken("Access token has been revoked")
        return claims

    # --- D5: revocation ---

    def _revoke(self, pool: Pool, request: Request) -> Response:
        try:
            form = _form(request)
            client = self._authenticate_client(pool, request, form, invalid_client_status=401)
            token = form.get("token")
            if not token:
                raise OAuthError("invalid_request", "token is required")
            if not client.revocation_enabled:
                raise OAuthError("invalid_request", "token revocation is not enabled for this app client")
            with self._lock:
                grant = self._refresh.get(token)
                if grant is None:
                    if self._is_our_jwt(token):
                        raise OAuthError("unsupported_token_type", "only refresh tokens can be revoked")
                    return Response(b"", 200)  # AWS: 200 for an invalid token too
                if grant.pool_id != pool.id or grant.client_id != client.id:
                    raise OAuthError("unauthorized_client", "the token was not issued to this app client")
                self._revoke_origin(grant.origin_jti)
            return Response(b"", 200)
        except OAuthError as error:
            return _oauth_error(error)

    def _revoke_origin(self, origin_jti: str) -> None:
        """Revoke a refresh token and every token issued from it. Hold self._lock."""
        self._revoked_origins.add(origin_jti)
        grant = self._by_origin.get(origin_jti)
        if grant is not None:
            grant.revoked = True

    def _is_our_jwt(self, token: str) -> bool:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return False
        return any(kid in (keys.access.kid, keys.id.kid) for keys in self._keys.values())

    def _forget_expired(self, now: float) -> None:
        """Drop expired codes and refresh grants. Hold self._lock."""
        for code in [c for c, g in self._codes.items() if now >= g.expires_at]:
            del self._codes[code]
        for code in [c for c, s in self._spent_codes.items() if now >= s.expires_at]:
            del self._spent_codes[code]
        for token in [t for t, g in self._refresh.items() if now >= g.expires_at]:
            self._by_origin.pop(self._refresh.pop(token).origin_jti, None)

    # --- /logout ---

    def _logout(self, pool: Pool, request: Request) -> Response:
        params = request.args
        client = pool.clients.get(params.get("client_id", ""))
        if client is None:
            return _error_page("Invalid request: unknown or missing client_id.")
        logout_uri = params.get("logout_uri")
        if logout_uri is not None:
            if logout_uri not in client.logout_urls:
                return _error_page("Invalid request: logout_uri is not a sign-out URL of this app client "
                                   "(it must match one exactly).")
            return _redirect(logout_uri)
        if "redirect_uri" in params or "response_type" in params:
            # Sign out, then sign in again: the authorization request checks the rest.
            return _redirect(f"/oauth2/authorize?{request.query_string.decode('latin-1')}")
        return _error_page("Invalid request: logout_uri is required.")


# --- helpers ---------------------------------------------------------------------------------

def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def readable(client: Client, attribute: str) -> bool:
    """Whether an attribute reaches the client's ID tokens and userInfo: its read attributes allow
    it, and it is not developer-only (`dev:custom:*`, which only administrators see)."""
    return not attribute.startswith("dev:") and client.may_read(attribute)


def _claim_value(name: str, value: str) -> Any:
    if name in BOOLEAN_ATTRIBUTES:
        return value.lower() == "true"
    if name == "updated_at" and value.isdigit():
        return int(value)
    return value


def _form(request: Request) -> MultiDict:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded")
    form = request.form
    repeated = [name for name in form if len(form.getlist(name)) > 1]
    if repeated:
        raise OAuthError("invalid_request", f"parameters given more than once: {', '.join(repeated)}")
    return form


def _with_query(uri: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(uri)
    extra = urlencode(params, quote_via=quote)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _redirect(location: str) -> Response:
    return Response(b"", 302, headers={"Location": location})


def _redirect_error(error: _RedirectError) -> Response:
    params = [("error", error.error), ("error_description", error.description)]
    if error.state is not None:
        params.append(("state", error.state))
    return _redirect(_with_query(error.redirect_uri, params))


def _json(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status, content_type="application/json;charset=UTF-8", headers=headers)


def _oauth_error(error: OAuthError) -> Response:
    return _json({"error": error.error, "error_description": error.description}, error.status)


def _text(status: int, message: str) -> Response:
    return Response(message + "\n", status, mimetype="text/plain")


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


def _error_page(message: str, status: int = 400) -> Response:
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
