"""`local-aws audit`: prove that every route of every API in the running local stack refuses what
its authorization must refuse, and that no function ran for it.

For each route (read from the embedded AWS's control plane, in every region stack.json names):

* JWT routes get tokens that differ from a valid one by exactly one defect, minted with the pool's
  own local signing keys (the data plane keeps them in `<state dir>/data-plane/cognito-keys/`): no
  token, garbage, a bad signature, `alg: none`, HS256 signed with the public key, an unknown `kid`,
  the wrong issuer, the wrong audience, the wrong client id, expired, `nbf` in the future — all
  `401` (spec A4) — and, on a route with scopes, an ID token and a token without the route's scope
  — `403` (spec A2.7, A3). A 401 must also name the check the attack aims at (the local
  authorizer's `error_description`), or the attack proved nothing.
* AWS_IAM routes: unsigned, a bad signature (of a caller who would be allowed), an unknown access
  key, a caller with no policy, a caller whose policy denies the API — all `403` (spec E2). The
  callers are temporary IAM users made in the embedded AWS for the audit and deleted after it.
* CUSTOM (Lambda REQUEST authorizer) routes: the identity sources left out — `401`, without
  invoking the authorizer — and, when the user names one with `--custom-value 'ROUTE=VALUE'`, a
  value the authorizer refuses — `403`. (AWS's CreateAuthorizer reference: identity sources
  missing, null or empty give 401 Unauthorized without calling the Lambda function; its
  knowledge-center pages on Lambda authorizer errors: a denial is 403 Forbidden.)

Whether a function ran: START lines in the function's log group in the embedded AWS, read once
after all attacks (the runtime ships logs asynchronously: the audit waits until two reads agree,
at least LOG_SETTLE_S after the last attack and at most LOG_WAIT_MAX_S). Each START is charged to
the attack sent last before it, so other traffic during an audit makes it fail, never pass.

Findings beside the attacks (from the configuration):
* `jwt-route-without-scopes`: a JWT route with no scopes lets any token of an audience client in,
  a Cognito ID token too (spec A3);
* `undeclared-public-route`: a NONE route that is not declared public, with `--public 'GET /hello'`
  or a line in the root's `.local-aws-public` file (PUBLIC_ROUTES_FILE);
* `wide-invoke-permission`: a Lambda permission that lets API Gateway invoke the function for
  requests none of its routes serves (`/*/*`, a `*` source ARN, no source ARN at all);
* `preflight-needs-credentials`: on an API with CORS, a `$default` or `ANY` route with an
  authorizer also takes the browsers' preflight `OPTIONS` requests, which carry no credentials,
  so they meet the authorizer and fail on AWS (spec C3; the local gateway answers every preflight
  itself, as AWS does only when no authorized route takes the OPTIONS request);
* `unobservable-function`: a function without a log group, so the audit cannot tell whether it ran.

Local choices (UNCONFIRMED where AWS does not say): one stage per API is attacked (`$default` when
there is one, else the first by name), as authorization does not depend on the stage; `{param}`
takes the value `local-aws-audit`, `{name+}` `local-aws-audit/probe`; an `ANY` route is attacked
with the first method the gateway routes to it; a permission's stage wildcard (`/*/GET/x`) is not
a finding. The preflight finding also covers IAM and Lambda authorizers (a preflight carries no
credentials of any kind).

Exit status: 0 only when every attack was refused with AWS's status, for the intended reason, no
function ran and there are no findings; 1 otherwise (or when the stack does not answer).
"""
from __future__ import annotations

import http.client
import json
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jwt
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import HMACAlgorithm
from jwt.utils import base64url_encode

from local_aws import aws
from local_aws.authorizer import _Why
from local_aws.cognito import PoolKeys, load_or_create_keys
from local_aws.gateway import METHODS, Route, Router, _parse_route_path, function_arn_of, invoke_permitted

PUBLIC_ROUTES_FILE = ".local-aws-public"
PARAM_VALUE = "local-aws-audit"
GREEDY_VALUE = "local-aws-audit/probe"
PROBE_PATHS = ("/local-aws-audit/probe", "/local-aws-audit-probe")
ATTACK_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")  # never HEAD (no body) or OPTIONS (preflight)
TEMP_USER_PREFIX = "local-aws-audit-"
LOG_SETTLE_S = 1.5
LOG_WAIT_MAX_S = 10.0
THROTTLED_RETRIES = 20
_ROUTE_KEY = re.compile(r"^(\$default|(ANY|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /\S*)$")
_SELECTOR = re.compile(r"^(?:(?P<api>[^/\s]+)/)?(?P<key>\$default|[A-Z]+ /\S*)$")
_ISSUER = re.compile(r"^https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([a-z0-9-]+_[A-Za-z0-9]+)$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


class AuditError(RuntimeError):
    """The audit cannot run (the stack does not answer, a flag names nothing): the message says why."""


# --------------------------------------------------------------------------------------------------
# Route selectors (--public, --custom-value, the public routes file)

@dataclass(frozen=True)
class Selector:
    api: str | None  # API name or id; None: any API
    route_key: str

    def __str__(self) -> str:
        return f"{self.api}/{self.route_key}" if self.api else self.route_key

    def matches(self, api_id: str, api_name: str, route_key: str) -> bool:
        return route_key == self.route_key and self.api in (None, api_id, api_name)


def parse_selector(text: str) -> Selector:
    """`GET /hello`, `ANY /items/{id}`, `$default`, optionally `API/` first (the API's name or id)."""
    match = _SELECTOR.match(text.strip())
    if not match or not _ROUTE_KEY.match(match["key"]):
        raise ValueError(f"expected a route key ('GET /hello', 'ANY /{{proxy+}}', '$default'), optionally "
                         f"prefixed by an API name or id and '/', got {text!r}")
    return Selector(match["api"], match["key"])


def parse_custom_value(text: str) -> tuple[Selector, str]:
    """`ROUTE=VALUE`: the value the audit puts in every identity source of ROUTE's authorizer."""
    route, equals, value = text.partition("=")
    if not equals or not value:
        raise ValueError(f"expected ROUTE=VALUE, e.g. 'GET /admin=not-a-valid-key', got {text!r}")
    return parse_selector(route), value


def read_public_file(path: Path) -> list[Selector]:
    """One route selector a line; blank lines and `#` comments ignored."""
    selectors = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            try:
                selectors.append(parse_selector(line))
            except ValueError as error:
                raise AuditError(f"{path}:{number}: {error}") from None
    return selectors


# --------------------------------------------------------------------------------------------------
# Attacks

@dataclass(frozen=True)
class Attack:
    name: str             # stable id, for --json
    label: str            # what it is, for people
    expected: int         # AWS's status
    reason: str | None = None  # the local authorizer's error_description it must be refused with (401s)
    token: str | None = None   # JWT attacks: the token (None: nothing sent)
    headers: tuple[tuple[str, str], ...] = ()  # IAM/CUSTOM attacks: headers to add
    query: tuple[tuple[str, str], ...] = ()    # CUSTOM attacks: query parameters to add
    may_run: str | None = None  # a function allowed to run once (the Lambda authorizer, on a refused value)


@dataclass(frozen=True)
class JwtSetup:
    """What a JWT route accepts: its authorizer's issuer and audience, the route's scopes, the pool's keys."""

    issuer: str
    audience: tuple[str, ...]
    scopes: tuple[str, ...]
    keys: PoolKeys

    @property
    def client_id(self) -> str:
        return self.audience[0] if self.audience else "local-aws-audit-client"


def access_claims(setup: JwtSetup, now: int, **changes: Any) -> dict[str, Any]:
    """A client-credentials access token the route accepts (spec D6), with `changes` (None removes)."""
    claims = {"sub": setup.client_id, "client_id": setup.client_id, "token_use": "access",
              "scope": " ".join(setup.scopes) or "local-aws-audit/any", "auth_time": now, "iss": setup.issuer,
              "exp": now + 600, "iat": now, "jti": str(uuid.uuid4()), "version": 2}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def valid_token(setup: JwtSetup, now: int | None = None) -> str:
    """The token every JWT attack starts from: accepted by the route (never sent by the audit)."""
    return setup.keys.access.sign(access_claims(setup, int(time.time()) if now is None else now))


def _unsigned_parts(header: dict, claims: dict) -> bytes:
    return base64url_encode(json.dumps(header).encode()) + b"." + base64url_encode(json.dumps(claims).encode())


def jwt_attacks(setup: JwtSetup, now: int | None = None) -> list[Attack]:
    """The tokens a JWT route must refuse, each one defect away from `valid_token`."""
    now = int(time.time()) if now is None else now
    access = setup.keys.access
    claims = access_claims(setup, now)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alg_none = jwt.encode(claims, None, algorithm="none", headers={"kid": access.kid})
    # Key confusion: HMAC with the issuer's public key as the secret. PyJWT refuses a PEM key as an
    # HMAC secret when signing through jwt.encode, so its HMAC algorithm signs the bytes directly.
    public_pem = access.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = _unsigned_parts({"alg": "HS256", "kid": access.kid, "typ": "JWT"}, claims)
    hs256 = (signing_input + b"." + base64url_encode(HMACAlgorithm(HMACAlgorithm.SHA256).sign(signing_input, public_pem))).decode()
    id_claims = {"sub": str(uuid.uuid4()), "aud": setup.client_id, "email_verified": True, "token_use": "id",
                 "auth_time": now, "iss": setup.issuer, "cognito:username": "local-aws-audit", "exp": now + 600,
                 "iat": now, "jti": str(uuid.uuid4()), "email": "audit@example.com"}
    attacks = [
        Attack("no-token", "no token", 401, _Why.MISSING),
        Attack("garbage", "garbage instead of a JWT", 401, _Why.NOT_A_JWT, token="not-a-jwt"),
        Attack("bad-signature", "signed by another key (the pool's kid)", 401, _Why.SIGNATURE,
               token=jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": access.kid})),
        Attack("alg-none", "alg: none, no signature", 401, _Why.ALGORITHM, token=alg_none),
        Attack("hs256-public-key", "HS256 signed with the public key", 401, _Why.ALGORITHM, token=hs256),
        Attack("unknown-kid", "a kid not in the issuer's JWKS", 401, _Why.NO_KEY,
               token=jwt.encode(claims, access.private_key, algorithm="RS256", headers={"kid": "local-aws-audit-unknown-kid"})),
        Attack("wrong-issuer", "another issuer", 401, _Why.ISSUER,
               token=access.sign(access_claims(setup, now, iss=setup.issuer + "-not-this-pool"))),
        Attack("wrong-audience", "aud of another client", 401, _Why.AUDIENCE,
               token=access.sign(access_claims(setup, now, aud="local-aws-audit-other-client"))),
        Attack("wrong-client-id", "client_id of another client (no aud)", 401, _Why.AUDIENCE,
               token=access.sign(access_claims(setup, now, client_id="local-aws-audit-other-client"))),
        Attack("expired", "expired a minute ago", 401, _Why.EXPIRED,
               token=access.sign(access_claims(setup, now, iat=now - 660, auth_time=now - 660, exp=now - 60))),
        Attack("nbf-future", "nbf five minutes ahead", 401, _Why.NOT_YET_VALID,
               token=access.sign(access_claims(setup, now, nbf=now + 300))),
    ]
    if setup.scopes:  # a route without scopes takes both: that is a finding, not an attack
        attacks += [
            Attack("id-token", "an ID token (no scope)", 403, token=setup.keys.id.sign(id_claims)),
            Attack("missing-scope", "an access token without the route's scope", 403,
                   token=access.sign(access_claims(setup, now, scope="local-aws-audit/not-a-scope-of-this-route"))),
        ]
    if not setup.audience:  # nothing passes the audience check: every attack is a 401 at best
        attacks = [Attack(a.name, a.label, 401, None, a.token) for a in attacks]
    return attacks


@dataclass(frozen=True)
class AccessKey:
    id: str
    secret: str


def sigv4_headers(key: AccessKey, method: str, host: str, target: str, body: bytes, region: str) -> dict[str, str]:
    """botocore's SigV4 (service execute-api) of a request to `host` (the Host header sent)."""
    request = AWSRequest(method=method, url=f"http://{host}{target}", data=body, headers={"host": host})
    SigV4Auth(Credentials(key.id, key.secret), "execute-api", region).add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def iam_attacks(*, method: str, host: str, target: str, body: bytes, region: str, allowed: AccessKey,
                unpermitted: AccessKey, denied: AccessKey) -> list[Attack]:
    """The requests an AWS_IAM route must refuse (spec E2). `allowed` would be let in: it signs only
    the bad signature, so that attack fails on the signature alone."""
    def signed(key: AccessKey) -> tuple[tuple[str, str], ...]:
        return tuple(sigv4_headers(key, method, host, target, body, region).items())

    good = dict(signed(allowed))
    last = good["authorization"][-1]
    bad = {**good, "authorization": good["authorization"][:-1] + ("0" if last != "0" else "1")}
    stranger = AccessKey("AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
                         secrets.token_urlsafe(30))
    return [
        Attack("unsigned", "not signed", 403),
        Attack("bad-signature", "an allowed caller's signature, one digit off", 403, headers=tuple(bad.items())),
        Attack("unknown-key", "signed with an access key IAM does not know", 403, headers=signed(stranger)),
        Attack("no-permission", "a caller with no policy", 403, headers=signed(unpermitted)),
        Attack("denied", "a caller whose policy denies this API", 403, headers=signed(denied)),
    ]


def identity_placement(source: str) -> tuple[str, str] | None:
    """("header", name) or ("query", name) for an identity source the audit can send; None otherwise."""
    match = re.match(r"^\$request\.(header|querystring)\.(.+)$", source.strip())
    if not match:
        return None
    return ("header" if match[1] == "header" else "query"), match[2]


def custom_attacks(identity_sources: Sequence[str], authorizer_function: str | None,
                   refused_value: str | None) -> tuple[list[Attack], list[str]]:
    """The requests a CUSTOM route must refuse, and notes on what could not be attacked."""
    notes: list[str] = []
    placed = [identity_placement(s) for s in identity_sources]
    attacks = []
    if not identity_sources:
        notes.append("the authorizer has no identity source: every request reaches the authorizer function")
    elif all(p is None for p in placed):
        notes.append(f"identity sources {list(identity_sources)} cannot be left out by a client")
    else:
        attacks.append(Attack("missing-identity", "no identity source sent", 401))
    if refused_value is not None:
        unplaced = [s for s, p in zip(identity_sources, placed) if p is None]
        if unplaced or not identity_sources:
            notes.append(f"--custom-value: cannot send a value in {unplaced or 'no identity source'}")
        else:
            headers = tuple((name, refused_value) for kind, name in placed if kind == "header")
            query = tuple((name, refused_value) for kind, name in placed if kind == "query")
            attacks.append(Attack("refused-value", f"identity {refused_value!r}", 403, headers=headers, query=query,
                                  may_run=authorizer_function))
    return attacks, notes


# --------------------------------------------------------------------------------------------------
# What the stack serves

@dataclass
class AttackResult:
    name: str
    label: str
    expected: int
    status: int | None = None
    reason: str | None = None        # the answer's error_description, if any
    expected_reason: str | None = None
    ran: bool | None = None          # a function ran for it (None: cannot tell)
    ran_functions: list[str] = field(default_factory=list)
    ok: bool = False
    sent_at: float = 0.0
    may_run: str | None = None       # a function that may run once for it (the Lambda authorizer)

    def judge(self) -> bool:
        """Refused with AWS's status, for the reason aimed at, and no function ran."""
        self.ok = (self.status == self.expected and self.ran is False
                   and (self.expected_reason is None or self.reason == self.expected_reason))
        return self.ok


@dataclass
class RouteReport:
    api_id: str
    api_name: str
    region: str
    stage: str
    route_key: str
    auth: str
    scopes: list[str]
    function: str | None
    public: bool = False
    probe: str | None = None  # "GET /path" the attacks were sent to
    attacks: list[AttackResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Finding:
    kind: str
    api_id: str
    api_name: str
    route_key: str | None
    message: str


@dataclass
class ApiView:
    """An HTTP API as the audit needs it, read from the control plane."""

    id: str
    name: str
    region: str
    cors: bool
    stages: list[str]
    routes: list[dict]
    authorizers: dict[str, dict]
    integrations: dict[str, dict]
    base_url: str | None  # scheme://host:port the local gateway serves it on

    @property
    def execution_arn(self) -> str:
        return f"arn:aws:execute-api:{self.region}:{aws.ACCOUNT_ID}:{self.id}"

    @property
    def stage(self) -> str | None:
        return "$default" if "$default" in self.stages else (sorted(self.stages)[0] if self.stages else None)

    @property
    def stage_prefix(self) -> str:
        return "" if self.stage == "$default" else f"/{self.stage}"

    def function_of(self, route: dict) -> str | None:
        target = route.get("Target") or ""
        integration = self.integrations.get(target[len("integrations/"):]) if target.startswith("integrations/") else None
        return function_arn_of(integration.get("IntegrationUri")) if integration else None

    def router(self) -> Router:
        return Router(_route_stub(r) for r in self.routes if _route_stub(r) is not None)


def _route_stub(raw: dict) -> Route | None:
    """A gateway Route with just what route selection reads, so selection is the gateway's own."""
    key = raw.get("RouteKey", "")
    if key == "$default":
        return Route(key, "$default", "", (), (), raw.get("AuthorizationType") or "NONE", None, (), None)
    method, _, path = key.partition(" ")
    specs, error = _parse_route_path(path)
    if error or method not in (*METHODS, "ANY"):
        return None
    rank = tuple({"lit": 0, "param": 1, "greedy": 2}[kind] for kind, _ in specs)
    return Route(key, method, path, specs, rank, raw.get("AuthorizationType") or "NONE", None, (), None)


def stack_regions(description: Mapping[str, Any]) -> list[str]:
    """Every region stack.json mentions (its shape grows: read it defensively); us-east-1 by default."""
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, dict):
            value = value.get("region") or value.get("name")
        if isinstance(value, str) and _REGION.match(value) and value not in found:
            found.append(value)

    add(description.get("region"))
    regions = description.get("regions")
    if isinstance(regions, dict):
        for name, value in regions.items():
            add(name)
            add(value)
    elif isinstance(regions, list):
        for value in regions:
            add(value)
    apis = description.get("apis")
    for value in (apis.values() if isinstance(apis, dict) else apis if isinstance(apis, list) else []):
        add(value.get("region") if isinstance(value, dict) else None)
    for pool in description.get("user_pools") or []:
        if isinstance(pool, dict):
            add(pool.get("region"))
    return found or [aws.REGION]


def _api_urls(description: Mapping[str, Any]) -> dict[str, str]:
    apis = description.get("apis")
    urls: dict[str, str] = {}
    if isinstance(apis, dict):
        for api_id, value in apis.items():
            if isinstance(value, dict) and isinstance(value.get("url"), str):
                urls[api_id] = value["url"]
    elif isinstance(apis, list):
        for value in apis:
            if isinstance(value, dict) and isinstance(value.get("id"), str) and isinstance(value.get("url"), str):
                urls[value["id"]] = value["url"]
    return urls


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def read_apis(description: Mapping[str, Any]) -> list[ApiView]:
    """Every HTTP API in the regions of the stack, with its routes, authorizers, integrations, stages."""
    endpoint = description["aws_endpoint_url"]
    urls = _api_urls(description)
    only_url = description.get("api_url") if isinstance(description.get("api_url"), str) else None
    views = []
    regions = stack_regions(description)
    try:  # the embedded AWS's own list, when it keeps one: stack.json may predate a re-apply
        regions += [r for r in aws.regions(endpoint, "apigatewayv2") if r not in regions]
    except (AttributeError, RuntimeError, OSError, ValueError, KeyError):
        pass
    for region in regions:
        apigw = aws.client("apigatewayv2", endpoint, region)
        for item in aws.pages(apigw.get_apis):
            if item.get("ProtocolType") != "HTTP":
                continue
            api_id = item["ApiId"]
            authorizers = {a["AuthorizerId"]: a for a in aws.pages(apigw.get_authorizers, ApiId=api_id)}
            integrations = {i["IntegrationId"]: i for i in aws.pages(apigw.get_integrations, ApiId=api_id)}
            base = urls.get(api_id)
            views.append(ApiView(
                id=api_id, name=item.get("Name", ""), region=region, cors=bool(item.get("CorsConfiguration")),
                stages=[s["StageName"] for s in aws.pages(apigw.get_stages, ApiId=api_id)],
                routes=sorted(aws.pages(apigw.get_routes, ApiId=api_id), key=lambda r: r.get("RouteKey", "")),
                authorizers=authorizers, integrations=integrations,
                base_url=_origin(base) if base else None))
    if len(views) == 1 and views[0].base_url is None and only_url:
        views[0].base_url = _origin(only_url)
    ports = {urllib.parse.urlsplit(v.base_url).port for v in views if v.base_url}
    if only_url:
        ports.add(urllib.parse.urlsplit(only_url).port)
    for view in views:  # an API stack.json does not list yet: the gateway serves every API by host name
        if view.base_url is None and len(ports) == 1:
            view.base_url = f"http://{view.id}.execute-api.localhost:{next(iter(ports))}"
    return views


# --------------------------------------------------------------------------------------------------
# Findings from the configuration

def probe_for(api: ApiView, raw: dict, router: Router) -> tuple[str, str] | None:
    """(method, stage-relative path) of a request the gateway routes to this route; None if none is."""
    key = raw.get("RouteKey", "")
    stub = _route_stub(raw)
    if stub is None:
        return None
    if stub.method == "$default":
        candidates = [(m, p) for p in PROBE_PATHS for m in ATTACK_METHODS]
    else:
        parts = []
        for kind, text in stub.specs:
            parts.append(text if kind == "lit" else PARAM_VALUE if kind == "param" else GREEDY_VALUE)
        path = "/" + "/".join(parts)
        methods = ATTACK_METHODS if stub.method == "ANY" else (stub.method,)
        candidates = [(m, path) for m in methods]
    for method, path in candidates:
        selected = router.select(method, [urllib.parse.unquote(s) for s in path[1:].split("/")])
        if selected is not None and selected[0].key == key:
            return method, path
    return None


def scope_findings(api: ApiView) -> list[Finding]:
    return [Finding("jwt-route-without-scopes", api.id, api.name, r["RouteKey"],
                    f"{r['RouteKey']}: a JWT route without authorization scopes takes any valid token of the "
                    "authorizer's audience, a Cognito ID token too (spec A3); give the route the scopes it needs")
            for r in api.routes if r.get("AuthorizationType") == "JWT" and not r.get("AuthorizationScopes")]


def public_findings(api: ApiView, public: Sequence[Selector], declared_in: str) -> list[Finding]:
    return [Finding("undeclared-public-route", api.id, api.name, r["RouteKey"],
                    f"{r['RouteKey']}: no authorization (NONE) and not declared public ({declared_in}); "
                    f"protect it, or declare it with --public '{r['RouteKey']}' or a line in {PUBLIC_ROUTES_FILE}")
            for r in api.routes if (r.get("AuthorizationType") or "NONE") == "NONE"
            and not any(s.matches(api.id, api.name, r["RouteKey"]) for s in public)]


def preflight_findings(api: ApiView) -> list[Finding]:
    if not api.cors:
        return []
    router, found = api.router(), []
    for raw in api.routes:
        key, auth = raw.get("RouteKey", ""), raw.get("AuthorizationType") or "NONE"
        if auth == "NONE" or not (key == "$default" or key.startswith("ANY ")):
            continue
        stub = _route_stub(raw)
        paths = PROBE_PATHS if key == "$default" else [probe_path(stub)]
        takes_preflight = any((sel := router.select("OPTIONS", [urllib.parse.unquote(s) for s in p[1:].split("/")]))
                              is not None and sel[0].key == key for p in paths)
        if takes_preflight:
            found.append(Finding("preflight-needs-credentials", api.id, api.name, key,
                                 f"{key}: the API has CORS and this {auth} route also takes preflight OPTIONS requests, "
                                 "which carry no credentials: on AWS they meet the authorizer and fail, so browsers "
                                 "block the call (spec C3; locally the gateway answers every preflight); add an "
                                 "OPTIONS route without authorization, or use explicit methods"))
    return found


def probe_path(stub: Route) -> str:
    return "/" + "/".join(text if kind == "lit" else PARAM_VALUE if kind == "param" else GREEDY_VALUE
                          for kind, text in stub.specs)


def _source_arns(statement: Mapping[str, Any]) -> list[str]:
    found = []
    for operator, tests in (statement.get("Condition") or {}).items():
        if isinstance(tests, dict):
            for key, value in tests.items():
                if key.lower() == "aws:sourcearn":
                    found += value if isinstance(value, list) else [value]
    return found


def permission_findings(apis: Sequence[ApiView], policies: Mapping[str, list[dict]]) -> list[Finding]:
    """Lambda permissions that let API Gateway invoke a function for requests none of its routes serves."""
    by_function: dict[str, list[tuple[ApiView, dict]]] = {}
    for api in apis:
        for raw in api.routes:
            arn = api.function_of(raw)
            if arn:
                by_function.setdefault(_unqualified(arn), []).append((api, raw))
    found = []
    for function, routes in by_function.items():
        statements = policies.get(function) or []
        legit: set[str] = set()
        probes: list[tuple[ApiView, str]] = []
        for api, raw in routes:
            key = raw["RouteKey"]
            for stage in api.stages:
                base = f"{api.execution_arn}/{stage}"
                if key == "$default":
                    legit.add(f"{base}/$default")
                else:
                    method, _, path = key.partition(" ")
                    legit.update(f"{base}/{m}{path}" for m in (METHODS if method == "ANY" else (method,)))
        for api in {id(a): a for a, _ in routes}.values():
            own_paths = {r["RouteKey"].partition(" ")[2] for a, r in routes if a is api and r["RouteKey"] != "$default"}
            for stage in api.stages:
                base = f"{api.execution_arn}/{stage}"
                candidates = [f"{base}/$default"] + [f"{base}/{m}{p}" for m in METHODS for p in (*own_paths, PROBE_PATHS[0])]
                probes += [(api, c) for c in candidates if c not in legit]
            other = f"arn:aws:execute-api:{api.region}:{aws.ACCOUNT_ID}:localawsaudit/{api.stage or '$default'}/GET{PROBE_PATHS[0]}"
            probes.append((api, other))
        wide = [(api, probe) for api, probe in probes if invoke_permitted(statements, function, probe, aws.ACCOUNT_ID)]
        if not wide:  # (a bare `*` source ARN matches every probe: ArnLike "*" matches any ARN)
            continue
        api, example = wide[0]
        culprits = [s for s in statements if any(invoke_permitted([s], function, p, aws.ACCOUNT_ID) for _, p in wide)]
        described = "; ".join(f"{s.get('Sid', 'no Sid')} (SourceArn {', '.join(_source_arns(s)) or 'none: any API of any account'})"
                              for s in culprits)
        route_keys = sorted({r["RouteKey"] for _, r in routes})
        found.append(Finding("wide-invoke-permission", api.id, api.name, None,
                             f"function {function.rsplit(':', 1)[1]}: permission {described} lets API Gateway invoke it "
                             f"for requests none of its routes ({', '.join(route_keys)}) serves, e.g. {example}; "
                             "scope each permission to its route (<execution arn>/*/<METHOD>/<path>)"))
    return found


def _unqualified(arn: str) -> str:
    return ":".join(arn.split(":")[:7])


# --------------------------------------------------------------------------------------------------
# Sending

@dataclass(frozen=True)
class Target:
    connect_host: str
    port: int
    host: str  # the Host header
    prefix: str  # the stage prefix of the path


def target_of(api: ApiView) -> Target:
    parts = urllib.parse.urlsplit(api.base_url)
    hostname = parts.hostname or "127.0.0.1"
    connect = "127.0.0.1" if hostname == "localhost" or hostname.endswith(".localhost") else hostname
    return Target(connect, parts.port or 80, parts.netloc, api.stage_prefix)


def send(target: Target, method: str, path: str, query: Sequence[tuple[str, str]], headers: Mapping[str, str],
         body: bytes) -> tuple[int, dict[str, str]]:
    url = target.prefix + path + (f"?{urllib.parse.urlencode(list(query))}" if query else "")
    for _ in range(THROTTLED_RETRIES):
        connection = http.client.HTTPConnection(target.connect_host, target.port, timeout=30)
        try:
            connection.request(method, url, body=body or None, headers={"host": target.host, **headers})
            response = connection.getresponse()
            response.read()
            status, answer = response.status, {k.lower(): v for k, v in response.getheaders()}
        except OSError as error:
            raise AuditError(f"the local API at http://{target.host} does not answer ({error}); is make local running?") from None
        finally:
            connection.close()
        if status != 429:  # throttled: the attack was not judged yet
            return status, answer
        time.sleep(0.25)
    return status, answer


def _description(headers: Mapping[str, str]) -> str | None:
    match = re.search(r'error_description="([^"]*)"', headers.get("www-authenticate", ""))
    return match[1] if match else None


# --------------------------------------------------------------------------------------------------
# The audit

@dataclass
class Options:
    public: list[Selector] = field(default_factory=list)
    public_file: Path | None = None
    custom_values: list[tuple[Selector, str]] = field(default_factory=list)


@dataclass
class Report:
    routes: list[RouteReport]
    findings: list[Finding]
    errors: list[str]
    notes: list[str]

    @property
    def failed_attacks(self) -> list[tuple[RouteReport, AttackResult]]:
        return [(r, a) for r in self.routes for a in r.attacks if not a.ok]

    @property
    def ok(self) -> bool:
        return not self.failed_attacks and not self.findings and not self.errors

    def as_json(self) -> dict:
        return {"ok": self.ok, "routes": [asdict(r) for r in self.routes], "findings": [asdict(f) for f in self.findings],
                "errors": self.errors, "notes": self.notes}


class _TemporaryCallers:
    """Three IAM users in the embedded AWS, for the IAM attacks: allowed, unpermitted, denied."""

    def __init__(self, endpoint: str, region: str):
        self.iam = aws.client("iam", endpoint, region)
        self.users: list[str] = []

    def make(self, policy: dict | None) -> AccessKey:
        name = f"{TEMP_USER_PREFIX}{secrets.token_hex(4)}"
        self.iam.create_user(UserName=name)
        self.users.append(name)
        if policy is not None:
            self.iam.put_user_policy(UserName=name, PolicyName="audit", PolicyDocument=json.dumps(policy))
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return AccessKey(key["AccessKeyId"], key["SecretAccessKey"])

    def remove(self) -> None:
        for name in self.users:
            try:
                for key in self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                    self.iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
                for policy in self.iam.list_user_policies(UserName=name)["PolicyNames"]:
                    self.iam.delete_user_policy(UserName=name, PolicyName=policy)
                self.iam.delete_user(UserName=name)
            except (ClientError, BotoCoreError):
                pass  # best effort: the embedded AWS is gone with the stack anyway
        self.users.clear()


class Auditor:
    def __init__(self, description: Mapping[str, Any], state_dir: Path, options: Options):
        self.d = description
        self.endpoint = description["aws_endpoint_url"]
        self.state_dir = state_dir
        self.options = options
        self.keys: dict[str, PoolKeys | str] = {}  # pool id -> keys, or why there are none
        self.sent: list[tuple[float, AttackResult]] = []

    # -- keys --
    def pool_keys(self, pool_id: str) -> PoolKeys | str:
        if pool_id in self.keys:
            return self.keys[pool_id]
        # Where dataplane.py keeps them; then one or two levels down, should that move (never the
        # whole tree: the applied root's providers are under the state dir too).
        candidates = [self.state_dir / "data-plane" / "cognito-keys" / f"{pool_id}.json",
                      *sorted(self.state_dir.glob(f"*/cognito-keys/{pool_id}.json")),
                      *sorted(self.state_dir.glob(f"*/*/cognito-keys/{pool_id}.json"))]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            found: PoolKeys | str = f"no signing keys of pool {pool_id} under {self.state_dir} (cognito-keys/{pool_id}.json)"
        else:
            try:
                found = load_or_create_keys(path.parent, pool_id)
                found = self._check_served(pool_id, found, path) or found
            except ValueError as error:
                found = str(error)
        self.keys[pool_id] = found
        return found

    def _check_served(self, pool_id: str, keys: PoolKeys, path: Path) -> str | None:
        """Why the keys on disk are not those the running Cognito serves, None if they are (or it cannot say)."""
        uri = next((p.get("jwks_uri") for p in self.d.get("user_pools") or [] if isinstance(p, dict) and p.get("id") == pool_id),
                   None) or (f"{self.d['auth_url']}/{pool_id}/.well-known/jwks.json" if self.d.get("auth_url") else None)
        if not uri:
            return None
        try:
            with urllib.request.urlopen(uri, timeout=10) as response:
                served = json.loads(response.read())
        except (OSError, ValueError, urllib.error.HTTPError):
            return None
        wanted = keys.access.public_jwk()
        if not any(k.get("kid") == wanted["kid"] and k.get("n") == wanted["n"] for k in served.get("keys", [])):
            return f"the keys in {path} are not those the running stack serves at {uri}"
        return None

    # -- the run --
    def run(self) -> Report:
        errors: list[str] = []
        notes: list[str] = []
        try:
            apis = read_apis(self.d)
        except (ClientError, BotoCoreError) as error:
            raise AuditError(f"the embedded AWS at {self.endpoint} does not answer ({error}); is make local running?") from None
        if not apis:
            raise AuditError(f"no HTTP API in the running stack (regions {', '.join(stack_regions(self.d))}): nothing to audit")
        public = list(self.options.public)
        declared_in = "--public" if public else "nothing declared"
        if self.options.public_file is not None and self.options.public_file.is_file():
            from_file = read_public_file(self.options.public_file)
            public += from_file
            declared_in = f"--public, {self.options.public_file}" if self.options.public else str(self.options.public_file)
            for selector in from_file:
                if not any(selector.matches(a.id, a.name, r["RouteKey"]) for a in apis for r in a.routes):
                    notes.append(f"{self.options.public_file}: {selector} names no route")
        self._check_flags(apis)

        findings: list[Finding] = []
        policies = self._policies(apis)
        for api in apis:
            findings += scope_findings(api) + public_findings(api, public, declared_in) + preflight_findings(api)
        findings += permission_findings(apis, policies)

        reports: list[RouteReport] = []
        callers: _TemporaryCallers | None = None
        try:
            for api in apis:
                if api.stage is None:
                    notes.append(f"API {api.name} ({api.id}) has no stage: nothing serves it")
                    continue
                if api.base_url is None:
                    errors.append(f"API {api.name} ({api.id}): stack.json gives no URL for it")
                    continue
                router = api.router()
                for raw in api.routes:
                    report = self._route_report(api, raw)
                    reports.append(report)
                    if report.auth == "NONE":
                        report.public = any(s.matches(api.id, api.name, report.route_key) for s in public)
                        continue
                    probe = probe_for(api, raw, router)
                    if probe is None:
                        report.notes.append("no request reaches this route (other routes take them all): not attacked")
                        continue
                    report.probe = f"{probe[0]} {api.stage_prefix}{probe[1]}"
                    if report.auth == "AWS_IAM" and callers is None:
                        callers = _TemporaryCallers(self.endpoint, api.region)
                        keys = (callers.make(_allow_all()), callers.make(None), callers.make(_deny(api)))
                    attacks = self._attacks(api, raw, report, probe, keys if report.auth == "AWS_IAM" else None)
                    self._send_all(api, report, probe, attacks)
            self._who_ran(reports, findings)
        finally:
            if callers is not None:
                callers.remove()
        for report in reports:
            for attack in report.attacks:
                attack.judge()
        return Report(reports, findings, errors, notes)

    def _check_flags(self, apis: Sequence[ApiView]) -> None:
        for selector in self.options.public:
            if not any(selector.matches(a.id, a.name, r["RouteKey"]) for a in apis for r in a.routes):
                raise FlagError("--public", f"{selector}: no such route in the running stack")
        for selector, _ in self.options.custom_values:
            routes = [r for a in apis for r in a.routes if selector.matches(a.id, a.name, r["RouteKey"])]
            if not routes:
                raise FlagError("--custom-value", f"{selector}: no such route in the running stack")
            if any(r.get("AuthorizationType") != "CUSTOM" for r in routes):
                raise FlagError("--custom-value", f"{selector}: not a route with a Lambda (CUSTOM) authorizer")

    def _route_report(self, api: ApiView, raw: dict) -> RouteReport:
        function = api.function_of(raw)
        return RouteReport(api.id, api.name, api.region, api.stage or "", raw["RouteKey"],
                           raw.get("AuthorizationType") or "NONE", list(raw.get("AuthorizationScopes") or []),
                           function.split(":")[6] if function else None)

    def _attacks(self, api: ApiView, raw: dict, report: RouteReport, probe: tuple[str, str],
                 iam_keys: tuple[AccessKey, AccessKey, AccessKey] | None) -> list[Attack]:
        authorizer = api.authorizers.get(raw.get("AuthorizerId") or "", {})
        if report.auth == "JWT":
            issuer = (authorizer.get("JwtConfiguration") or {}).get("Issuer") or ""
            match = _ISSUER.match(issuer)
            keys = self.pool_keys(match[2]) if match else f"issuer {issuer!r} is not a Cognito user pool's"
            if isinstance(keys, str):
                report.notes.append(f"cannot mint tokens: {keys}")
                report.attacks.append(AttackResult("tokens", "forged tokens", 401))  # never ok: the audit is incomplete
                return []
            setup = JwtSetup(issuer, tuple((authorizer.get("JwtConfiguration") or {}).get("Audience") or ()),
                             tuple(raw.get("AuthorizationScopes") or ()), keys)
            placement = identity_placement((authorizer.get("IdentitySource") or ["$request.header.Authorization"])[0])
            if placement is None:
                report.notes.append(f"cannot send a token in {authorizer.get('IdentitySource')}")
                report.attacks.append(AttackResult("tokens", "forged tokens", 401))
                return []
            if not setup.audience:
                report.notes.append("the authorizer has no audience: every token is refused")
            kind, name = placement
            return [Attack(a.name, a.label, a.expected, a.reason,
                           headers=((name, f"Bearer {a.token}"),) if a.token is not None and kind == "header" else (),
                           query=((name, a.token),) if a.token is not None and kind == "query" else ())
                    for a in jwt_attacks(setup)]
        if report.auth == "AWS_IAM":
            method, path = probe
            allowed, unpermitted, denied = iam_keys
            return iam_attacks(method=method, host=target_of(api).host, target=api.stage_prefix + path,
                               body=_body(method), region=api.region, allowed=allowed, unpermitted=unpermitted,
                               denied=denied)
        if report.auth == "CUSTOM":
            value = next((v for s, v in self.options.custom_values if s.matches(api.id, api.name, report.route_key)), None)
            function = function_arn_of(authorizer.get("AuthorizerUri"))
            attacks, notes = custom_attacks(authorizer.get("IdentitySource") or [],
                                            function.split(":")[6] if function else None, value)
            report.notes += notes
            if not attacks:
                report.attacks.append(AttackResult("missing-identity", "no identity source sent", 401))
            return attacks
        report.notes.append(f"authorization type {report.auth} is not one the audit knows")
        report.attacks.append(AttackResult("unknown", report.auth, 401))
        return []

    def _send_all(self, api: ApiView, report: RouteReport, probe: tuple[str, str], attacks: Iterable[Attack]) -> None:
        target = target_of(api)
        method, path = probe
        for attack in attacks:
            headers = dict(attack.headers)
            body = _body(method)
            if body:
                headers.setdefault("content-type", "application/json")
            result = AttackResult(attack.name, attack.label, attack.expected, expected_reason=attack.reason,
                                  may_run=attack.may_run)
            result.sent_at = time.time()
            self.sent.append((result.sent_at, result))
            result.status, answer = send(target, method, path, attack.query, headers, body)
            result.reason = _description(answer)
            report.attacks.append(result)

    # -- did a function run? --
    def _policies(self, apis: Sequence[ApiView]) -> dict[str, list[dict]]:
        policies: dict[str, list[dict]] = {}
        for api in apis:
            lam = aws.client("lambda", self.endpoint, api.region)
            for raw in api.routes:
                arn = api.function_of(raw)
                if not arn or _unqualified(arn) in policies:
                    continue
                name, _, qualifier = arn.split(":", 6)[6].partition(":")
                try:
                    policy = json.loads(lam.get_policy(FunctionName=name, **({"Qualifier": qualifier} if qualifier else {}))["Policy"])
                    statements = policy.get("Statement", [])
                    policies[_unqualified(arn)] = statements if isinstance(statements, list) else [statements]
                except ClientError:
                    policies[_unqualified(arn)] = []
        return policies

    def _who_ran(self, reports: Sequence[RouteReport], findings: list[Finding]) -> None:
        """Charge every START line since the first attack to the attack sent last before it."""
        functions: dict[tuple[str, str], RouteReport] = {}
        for report in reports:
            if report.attacks and report.function:
                functions.setdefault((report.region, report.function), report)
            for attack in report.attacks:
                if attack.may_run:
                    functions.setdefault((report.region, attack.may_run), report)
        if not self.sent:
            return
        groups: dict[tuple[str, str], str | None] = {}
        for (region, name), report in functions.items():
            groups[(region, name)] = self._log_group(region, name)
            if groups[(region, name)] is None:
                findings.append(Finding("unobservable-function", report.api_id, report.api_name, None,
                                        f"function {name} has no log group in the embedded AWS: the audit cannot tell "
                                        "whether it ran (give it an aws_cloudwatch_log_group /aws/lambda/<name>)"))
        started = min(at for at, _ in self.sent)
        last = max(at for at, _ in self.sent)
        deadline = last + LOG_WAIT_MAX_S
        time.sleep(max(0.0, last + LOG_SETTLE_S - time.time()))
        starts = self._starts(groups, started)
        while time.time() < deadline:
            time.sleep(0.5)
            again = self._starts(groups, started)
            if again == starts:
                break
            starts = again
        order = sorted(self.sent, key=lambda pair: pair[0])
        charged: dict[int, list[str]] = {}
        for key, stamps in starts.items():
            for stamp in stamps:  # milliseconds, stamped by the data plane once the request arrived
                earlier = [result for at, result in order if int(at * 1000) <= stamp]
                culprit = earlier[-1] if earlier else order[0][1]
                charged.setdefault(id(culprit), []).append(key[1])
        for report in reports:
            for attack in report.attacks:
                if attack.status is None:
                    continue  # never sent
                ran = list(charged.get(id(attack), []))
                allowed = attack.may_run
                if allowed in ran:
                    ran.remove(allowed)  # the Lambda authorizer itself, refusing the value
                unknown = any(groups.get((report.region, f)) is None for f in [report.function, allowed] if f)
                attack.ran_functions = ran
                attack.ran = True if ran else (None if unknown else False)

    def _log_group(self, region: str, function: str) -> str | None:
        try:
            config = aws.client("lambda", self.endpoint, region).get_function_configuration(FunctionName=function)
            name = (config.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{function}"
            found = aws.client("logs", self.endpoint, region).describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        except ClientError:
            return None
        return name if any(g["logGroupName"] == name for g in found) else None

    def _starts(self, groups: Mapping[tuple[str, str], str | None], started: float) -> dict[tuple[str, str], list[int]]:
        stamps: dict[tuple[str, str], list[int]] = {}
        for (region, name), group in groups.items():
            if group is None:
                continue
            logs = aws.client("logs", self.endpoint, region)
            found, token = [], None
            while True:
                page = logs.filter_log_events(logGroupName=group, startTime=int(started * 1000),
                                              filterPattern="START", **({"nextToken": token} if token else {}))
                found += [e["timestamp"] for e in page.get("events", []) if e["message"].startswith("START RequestId")]
                token = page.get("nextToken")
                if not token:
                    break
            stamps[(region, name)] = sorted(found)
        return stamps


class FlagError(AuditError):
    def __init__(self, flag: str, message: str):
        super().__init__(f"{flag} {message}")
        self.flag = flag


def _allow_all() -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}


def _deny(api: ApiView) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": f"{api.execution_arn}/*"},
    ]}


def _body(method: str) -> bytes:
    return b"{}" if method in ("POST", "PUT", "PATCH") else b""


# --------------------------------------------------------------------------------------------------
# Output

def render(report: Report) -> str:
    lines: list[str] = []
    by_api: dict[str, list[RouteReport]] = {}
    for route in report.routes:
        by_api.setdefault(route.api_id, []).append(route)
    for api_id, routes in by_api.items():
        first = routes[0]
        lines.append(f"API {first.api_name} ({api_id}, {first.region}, stage {first.stage})")
        width = max(len(r.route_key) for r in routes)
        lines.append(f"  {'ROUTE'.ljust(width)}  {'AUTH':<7} {'ATTACK':<44} {'STATUS':>6} {'AWS':>4}  {'RAN':<4} VERDICT")
        for route in routes:
            head = f"  {route.route_key.ljust(width)}  {route.auth:<7} "
            if route.auth == "NONE":
                lines.append(head + ("public (declared)" if route.public else "public, NOT declared"))
                continue
            if not route.attacks:
                lines.append(head + "not attacked")
            for index, attack in enumerate(route.attacks):
                prefix = head if index == 0 else " " * len(head)
                ran = {True: "yes", False: "no", None: "?"}[attack.ran]
                verdict = "ok" if attack.ok else "FAIL" + _why_failed(attack)
                lines.append(f"{prefix}{attack.label[:44]:<44} {attack.status if attack.status is not None else '-':>6} "
                             f"{attack.expected:>4}  {ran:<4} {verdict}")
            for note in route.notes:
                lines.append(" " * len(head) + f"note: {note}")
        lines.append("")
    if report.findings:
        lines.append(f"Findings ({len(report.findings)}):")
        lines += [f"  [{f.kind}] {f.api_name}: {f.message}" for f in report.findings]
        lines.append("")
    for note in report.notes:
        lines.append(f"note: {note}")
    for error in report.errors:
        lines.append(f"error: {error}")
    attacks = sum(len(r.attacks) for r in report.routes)
    if report.ok:
        lines.append(f"PASS: {attacks} attacks on {len(report.routes)} routes refused as AWS refuses them, "
                     "no function ran, no findings.")
    else:
        lines.append(f"FAIL: {len(report.failed_attacks)} of {attacks} attacks not refused as AWS refuses them "
                     f"(or a function ran), {len(report.findings)} findings, {len(report.errors)} errors.")
    return "\n".join(lines)


def _why_failed(attack: AttackResult) -> str:
    if attack.status is None:
        return " (not sent)"
    if attack.status != attack.expected:
        return f" (answered {attack.status})"
    if attack.ran:
        return f" (ran {', '.join(attack.ran_functions)})"
    if attack.ran is None:
        return " (cannot tell whether the function ran)"
    return f" (refused for another reason: {attack.reason})"


def audit(description: Mapping[str, Any], state_dir: Path, options: Options) -> Report:
    return Auditor(description, state_dir, options).run()
