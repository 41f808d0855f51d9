"""Authorizers of the local HTTP API: JWT (spec A), IAM (spec E) and Lambda REQUEST authorizers.

Functions over an `HttpRequest` (the only I/O: `caller_lookup` asks the embedded AWS for an access
key, and parsed and verified tokens are cached process-wide). The gateway resolves the route,
calls one of these, and turns the `Decision` into either a refusal (status, body, headers) or
`requestContext.authorizer` of the integration event (`Decision.context`). Every refusal carries a
`reason` for the logs; clients only ever see AWS's bodies.

Fail closed: whatever is not emulated refuses (or raises `NotEmulated`, which the gateway must turn
into a loud 500) — it never allows.

Choices where AWS is UNCONFIRMED (spec A1/A2/A6, E, Lambda authorizers). None of them is claimed to
be AWS's behaviour; each is the side that refuses what AWS might refuse:

* Token prefix (A1): the identity source value is the token, or ``"Bearer "`` (capital B, one
  space) followed by the token. Anything else — ``bearer x``, ``Bearer  x``, ``Bearer`` alone — is
  taken as the token itself and therefore fails "decodes as a JWT" (401).
* Algorithms (A2.3): RS256, RS384 and RS512 only. PS256/384/512 are RSA-based too, but whether AWS
  accepts them is not confirmed, so they are refused (401) like HS*, ES*, EdDSA and ``none``. When the
  JWK names an ``alg``, the token's ``alg`` must equal it; JWKs with ``use`` other than ``sig``, with a
  ``kty`` other than RSA, or with a ``kid`` that appears twice in the set are ignored.
* ``exp`` is required (a token without one is refused); ``exp``/``nbf``/``iat`` must be JSON numbers
  (not strings, not booleans). ``aud`` present with any value (even null or []) means "has aud":
  ``client_id`` is then never consulted.
* Scopes (A2.7): ``scope`` (a space separated string) is used when present; otherwise ``scp`` (a list
  of strings, or a space separated string). They are never merged. A route scope failure is a bare
  403 with no ``www-authenticate`` header.
* 401 ``error_description`` texts: only the audience one is AWS's documented wording; the others are
  ours, chosen to say what failed (see `_Why`).
* Claims (A6): array elements are rendered with the same rules as top-level values (nested arrays
  bracketed, objects as JSON, null as ``null``); objects are compact JSON in their original key order;
  floats render as Python's JSON does (``1.5``, ``1e+20``).
* JWKS cache (A5): a key set is kept for ``ttl_s`` (7200 s, AWS's documented "up to ~2 h"). A token
  whose ``kid`` is not in the cached set triggers one refetch; after that, further refetches of that
  issuer's keys for unknown kids (or after a failed fetch) wait ``min_refetch_interval_s`` (5 s), so a
  flood of tokens with made-up kids cannot turn into a flood of JWKS fetches. A JWKS over 150000
  bytes, unreachable, or for an unknown issuer is "unavailable": 401, never allow.
* IAM (E): only header-signed SigV4 (``Authorization: AWS4-HMAC-SHA256 ...`` with ``X-Amz-Date``)
  of long-term IAM user keys is emulated. Presigned query strings, the ``Date`` header instead of
  ``X-Amz-Date``, session tokens (temporary credentials), SigV4A and ``UNSIGNED-PAYLOAD`` are refused
  (403), as are callers from another account than the API's. ``host`` and ``x-amz-date`` must be signed.
* IAM policies: identity policies of the caller only. NOT evaluated: ``Condition`` blocks, policy
  variables (``${...}``), permission boundaries, SCPs/RCPs, session policies (HTTP APIs have no
  resource policies). A statement that cannot be evaluated never allows and, if it is a Deny, denies.
  The same evaluator reads REST APIs' resource policies (H2) and Lambda function policies (B6:
  principal the calling service; ArnLike/ArnEquals and String* on aws:SourceArn/aws:SourceAccount).
  Resource wildcards follow IAM's documented rule (``*``/``?`` within a colon-separated ARN segment, a
  ``*`` ending a segment may run across colons, none in the service segment); where that rule and a
  plain whole-string glob disagree, an Allow needs both to match and a Deny needs either.
* Lambda authorizers: ``identitySource``, ``cookies``, ``queryStringParameters``,
  ``pathParameters`` and ``stageVariables`` are omitted when empty (as B2 observes for integration
  events). An identity source that is missing or empty means 401 without invoking. ``$context.*``
  identity sources are not emulated (`NotEmulated`). An allowed response's ``requestContext.authorizer``
  is ``{"lambda": context}`` with ``context`` null when the function returned none (null is the
  value that code must also survive on AWS); the principalId of a policy response is not passed on to
  a payload 2.0 integration (`Decision.principal` keeps it for payload 1.0, see gateway.py).
"""
from __future__ import annotations

import functools
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import parse_qsl

import jwt
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from local_aws import loop_bridge, payload_v2
from local_aws.http_request import HttpRequest, query_parameters  # noqa: F401 - importable from here

SUPPORTED_JWT_ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})
MAX_JWKS_BYTES = 150_000  # A5: a larger key set is treated as unavailable
SIGV4_MAX_SKEW_S = 15 * 60  # E: a request dated further than this from now is refused
INVOKE_ACTION = "execute-api:Invoke"

UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}
INTERNAL_SERVER_ERROR = {"message": "Internal Server Error"}


class NotEmulated(Exception):
    """A configuration this local stack cannot emulate. The gateway must answer 500 and log it loudly."""


class JwksUnavailable(Exception):
    """An issuer's key set cannot be had (unknown issuer, unreachable, too large, malformed)."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int  # 200 when allowed; 401/403 (500 for a broken Lambda authorizer) when refused
    body: dict  # {} when allowed, else e.g. {"message": "Unauthorized"}
    headers: dict[str, str]  # response headers on refusal, e.g. {"www-authenticate": ...}
    context: dict | None  # requestContext.authorizer when allowed
    reason: str  # why (for logs)
    principal: str | None = None  # a Lambda authorizer's principalId (policy responses; payload 1.0 passes it on)
    explicit_deny: bool = False  # refused by an explicit Deny (REST APIs word their 403 after it)


def _allow(context: dict, reason: str) -> Decision:
    return Decision(True, 200, {}, {}, context, reason)


def _forbidden(reason: str, *, explicit: bool = False) -> Decision:
    return Decision(False, 403, dict(FORBIDDEN), {}, None, reason, explicit_deny=explicit)


def _server_error(reason: str) -> Decision:
    return Decision(False, 500, dict(INTERNAL_SERVER_ERROR), {}, None, reason)


def _unauthorized(description: str, reason: str) -> Decision:
    # `description` is always one of our fixed texts: nothing from the request reaches a header.
    challenge = f'Bearer scope="" error="invalid_token" error_description="{description}"'
    return Decision(False, 401, dict(UNAUTHORIZED), {"www-authenticate": challenge}, None, reason)


# --------------------------------------------------------------------------------------------------
# Identity sources (A1, Lambda authorizers)

_IDENTITY_SOURCE = re.compile(r"^\$(request\.header|request\.querystring|stageVariables|context)\.(.+)$")


def identity_value(request: HttpRequest, source: str, *, stage_variables: Mapping[str, str] | None = None) -> str | None:
    """The value of one identity source expression, or None when the request lacks it (or it is empty)."""
    match = _IDENTITY_SOURCE.match(source.strip()) if isinstance(source, str) else None
    if match is None:
        raise NotEmulated(f"identity source {source!r} is not of a form this local stack understands")
    kind, name = match.groups()
    if kind == "request.header":
        value = request.header(name)
    elif kind == "request.querystring":
        value = request.query.get(name)
    elif kind == "stageVariables":
        value = (stage_variables or {}).get(name)
    else:
        raise NotEmulated(f"identity source {source!r}: $context variables are not emulated")
    return value or None


# --------------------------------------------------------------------------------------------------
# JWKS cache (A5)

@dataclass
class _IssuerKeys:
    keys: dict[str, tuple[RSAPublicKey, str | None]] | None = None  # kid -> (key, the JWK's alg)
    fetched_at: float = 0.0
    refetch_after: float = 0.0  # no refetch for an unknown kid (or after a failure) before this
    successes: int = 0
    problem: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def parse_jwks(document: Mapping | bytes | str) -> dict[str, tuple[RSAPublicKey, str | None]]:
    """The usable RSA signing keys of a JWKS, by kid. Raises JwksUnavailable when it is not a key set."""
    if isinstance(document, (bytes, str)):
        raw = document.encode() if isinstance(document, str) else document
        if len(raw) > MAX_JWKS_BYTES:
            raise JwksUnavailable(f"the JWKS is {len(raw)} bytes, over the {MAX_JWKS_BYTES}-byte limit")
        try:
            document = json.loads(raw)
        except ValueError as error:
            raise JwksUnavailable(f"the JWKS is not JSON: {error}") from None
    else:
        size = len(json.dumps(document, separators=(",", ":")).encode())
        if size > MAX_JWKS_BYTES:
            raise JwksUnavailable(f"the JWKS is {size} bytes, over the {MAX_JWKS_BYTES}-byte limit")
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksUnavailable("the JWKS has no 'keys' list")
    keys: dict[str, tuple[RSAPublicKey, str | None]] = {}
    seen: set[str] = set()
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        kid = jwk["kid"]
        if kid in seen:  # two keys under one kid: ambiguous, so neither is used
            keys.pop(kid, None)
            continue
        seen.add(kid)
        alg = jwk.get("alg")
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        if alg is not None and alg not in SUPPORTED_JWT_ALGORITHMS:
            continue
        try:
            key = RSAAlgorithm.from_jwk(jwk)
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            continue
        if isinstance(key, RSAPrivateKey):
            key = key.public_key()
        keys[kid] = (key, alg)
    return keys


class JwksCache:
    """Signing keys per issuer: fetched once, kept `ttl_s`, refetched on an unknown kid (A5).

    `fetch(issuer)` returns the issuer's JWKS (a dict, or the raw bytes/str of the document, whose
    size is then checked as received) and raises `JwksUnavailable` — or `KeyError`, as
    `LocalCognito.jwks_for_issuer` does for an issuer that is not a local pool — when it cannot.
    """

    def __init__(self, fetch: Callable[[str], Any], *, ttl_s: float = 7200.0, min_refetch_interval_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._min_refetch_interval_s = min_refetch_interval_s
        self._clock = clock
        self._issuers: dict[str, _IssuerKeys] = {}
        self._lock = threading.Lock()

    def clear(self, issuer: str | None = None) -> None:
        """Forget one issuer's keys, or all (e.g. when the control plane changed)."""
        with self._lock:
            if issuer is None:
                self._issuers.clear()
            else:
                self._issuers.pop(issuer, None)

    def key(self, issuer: str, kid: str):
        """The public key (usable by PyJWT) of `kid` in `issuer`'s key set, or None."""
        found, _ = self.lookup(issuer, kid)
        return found[0] if found else None

    def lookup(self, issuer: str, kid: str) -> tuple[tuple[RSAPublicKey, str | None] | None, str]:
        """((key, the JWK's alg) | None, why not)."""
        with self._lock:
            entry = self._issuers.setdefault(issuer, _IssuerKeys())
        with entry.lock:
            now = self._clock()
            if entry.keys is not None and now - entry.fetched_at >= self._ttl_s:
                entry.keys = None  # expired: a stale key set is not used, whatever happens next
                entry.refetch_after = now
            if entry.keys is None or kid not in entry.keys:
                if now >= entry.refetch_after:
                    self._refresh(issuer, entry, now)
            if entry.keys is None:
                return None, f"the issuer's JWKS is unavailable: {entry.problem}"
            if kid not in entry.keys:
                return None, f"kid {kid!r} is not in the issuer's JWKS"
            return entry.keys[kid], ""

    def _refresh(self, issuer: str, entry: _IssuerKeys, now: float) -> None:
        first = entry.successes == 0
        try:
            entry.keys = parse_jwks(self._fetch(issuer))
            entry.fetched_at = now
            entry.successes += 1
            entry.problem = ""
            # After the first successful fetch, one refetch for an unknown kid may happen at once.
            entry.refetch_after = now if first else now + self._min_refetch_interval_s
        except (JwksUnavailable, KeyError) as error:
            entry.problem = f"{type(error).__name__}: {error}"
            entry.refetch_after = now + self._min_refetch_interval_s
            # A failed refetch keeps a still-valid key set; a failed first fetch leaves none.


# --------------------------------------------------------------------------------------------------
# JWT authorizer (A1-A7)

class _Why:
    """401 error_description texts. Only AUDIENCE is AWS's documented wording (A4); the rest are ours."""

    MISSING = "the authorization token is missing"
    NOT_A_JWT = "the token is not a valid JWT"
    ALGORITHM = "the token is not signed with a supported algorithm"
    NO_KEY = "the token is not signed by a key of the issuer"
    SIGNATURE = "the token signature is invalid"
    ISSUER = "the token does not have a valid issuer"
    AUDIENCE = "the token does not have a valid audience"
    NO_EXPIRY = "the token does not have a valid expiry time"
    EXPIRED = "the token has expired"
    NOT_YET_VALID = "the token is not valid yet"
    ISSUED_IN_FUTURE = "the token was issued in the future"


_VERIFY_SIGNATURE_ONLY = {
    "verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
    "verify_aud": False, "verify_iss": False, "verify_sub": False, "verify_jti": False, "require": [],
}


def _numeric_date(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: `scope` (space separated) if present, else `scp` (list or space separated)."""
    if "scope" in claims:
        scope = claims["scope"]
        return scope.split() if isinstance(scope, str) else []
    scp = claims.get("scp")
    if isinstance(scp, str):
        return scp.split()
    if isinstance(scp, list) and all(isinstance(s, str) for s in scp):
        return list(scp)
    return []


def _claim_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def stringify_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as the function sees them (A6): every value a string, null claims omitted."""
    return {name: _claim_text(value) for name, value in claims.items() if value is not None}


# Clients send the same token until it expires. Whether a token string parses, and whether its
# signature verifies under a given key, never changes: both are computed once per token (and key).
# Every other check (issuer, audience, times, scopes) runs on every request.
_TOKEN_CACHE_SIZE = 4096
_verified: dict[str, tuple[Any, str, dict]] = {}  # token -> (public key object, alg, claims)


@functools.lru_cache(maxsize=_TOKEN_CACHE_SIZE)
def _parse(token: str) -> tuple[dict | None, str]:
    """(header, "") for a well-formed JWT, else (None, why)."""
    try:
        header = jwt.get_unverified_header(token)
        jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        return None, f"not a JWT: {error}"
    return header, ""


_claims_text: dict[str, dict[str, str]] = {}  # token -> stringify_claims of its verified claims


def _claims_as_text(token: str, claims: dict) -> dict[str, str]:
    """stringify_claims, once per token (its claims never change). Shared between requests: nobody
    changes an event's claims after they are built (the event is serialised for the handler)."""
    text = _claims_text.get(token)
    if text is None:
        if len(_claims_text) >= _TOKEN_CACHE_SIZE:
            _claims_text.clear()
        text = _claims_text[token] = stringify_claims(claims)
    return text


def _verified_claims(token: str, public_key: Any, alg: str) -> dict:
    """The claims of a token whose signature `public_key` verifies; raises jwt.PyJWTError if not.
    A rotated key is a new key object, so a cached answer for the old one is never reused."""
    hit = _verified.get(token)
    if hit is not None and hit[0] is public_key and hit[1] == alg:
        return hit[2]
    claims = jwt.decode(token, key=public_key, algorithms=[alg], options=_VERIFY_SIGNATURE_ONLY)
    if len(_verified) >= _TOKEN_CACHE_SIZE:
        _verified.clear()
    _verified[token] = (public_key, alg, claims)
    return claims


def verified_claims(token: str, public_key: Any, alg: str) -> dict:
    """The JWT signature check for the local stack's other verifiers (the local Cognito's userInfo):
    one check, one cache. Only the signature is verified; the caller checks every claim."""
    return _verified_claims(token, public_key, alg)


def authorize_jwt(request: HttpRequest, *, issuer: str, audience: Sequence[str], identity_source: str,
                  route_scopes: Sequence[str], keys: JwksCache, now: float | None = None,
                  clock_skew_s: float = 0) -> Decision:
    """Spec A2, in order; the first failure decides."""
    now = time.time() if now is None else now

    # 1. present (A1)
    value = identity_value(request, identity_source)
    if value is None:
        return _unauthorized(_Why.MISSING, f"no token in {identity_source}")
    token = value[len("Bearer "):] if value.startswith("Bearer ") else value
    if not token:
        return _unauthorized(_Why.MISSING, f"empty token in {identity_source}")

    # 2. decodes as a JWT: header and payload are JSON objects (PyJWT is strict about base64url)
    header, problem = _parse(token)
    if header is None:
        return _unauthorized(_Why.NOT_A_JWT, problem)

    # 3. RS-family algorithm, and a signature by the key whose kid is in the issuer's JWKS
    alg = header.get("alg")
    if alg not in SUPPORTED_JWT_ALGORITHMS:
        return _unauthorized(_Why.ALGORITHM, f"alg {alg!r} is not one of {sorted(SUPPORTED_JWT_ALGORITHMS)}")
    kid = header.get("kid")
    if not isinstance(kid, str):
        return _unauthorized(_Why.NO_KEY, "the token header has no kid")
    found, problem = keys.lookup(issuer, kid)
    if found is None:
        return _unauthorized(_Why.NO_KEY, problem)
    public_key, jwk_alg = found
    if jwk_alg is not None and jwk_alg != alg:
        return _unauthorized(_Why.ALGORITHM, f"alg {alg} differs from the alg {jwk_alg} of JWK {kid!r}")
    try:
        claims = _verified_claims(token, public_key, alg)
    except jwt.PyJWTError as error:
        return _unauthorized(_Why.SIGNATURE, f"signature check failed: {type(error).__name__}: {error}")

    # 4. issuer, exactly
    if claims.get("iss") != issuer:
        return _unauthorized(_Why.ISSUER, f"iss {claims.get('iss')!r} is not {issuer!r}")

    # 5. audience: aud when the token has one, client_id only when it has none
    if "aud" in claims:
        aud = claims["aud"]
        token_audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(a, str) and a in audience for a in token_audiences):
            return _unauthorized(_Why.AUDIENCE, f"aud {aud!r} is not in {list(audience)}")
    else:
        client_id = claims.get("client_id")
        if not isinstance(client_id, str) or client_id not in audience:
            return _unauthorized(_Why.AUDIENCE, f"no aud, and client_id {client_id!r} is not in {list(audience)}")

    # 6. times
    exp = _numeric_date(claims.get("exp"))
    if exp is None:
        return _unauthorized(_Why.NO_EXPIRY, f"exp {claims.get('exp')!r} is missing or not a number")
    if now >= exp + clock_skew_s:
        return _unauthorized(_Why.EXPIRED, f"expired at {exp}, now {now}")
    for name, why in (("nbf", _Why.NOT_YET_VALID), ("iat", _Why.ISSUED_IN_FUTURE)):
        if name in claims:
            moment = _numeric_date(claims[name])
            if moment is None:
                return _unauthorized(why, f"{name} {claims[name]!r} is not a number")
            if moment > now + clock_skew_s:
                return _unauthorized(why, f"{name} {moment} is after now {now}")

    # 7. route scopes, any-match (A2.7); A7: scopes null on a route without scopes
    scopes = token_scopes(claims)
    if route_scopes:
        if not set(route_scopes) & set(scopes):
            return _forbidden(f"token scopes {scopes} include none of the route's {list(route_scopes)}")
        context_scopes: list[str] | None = scopes
    else:
        context_scopes = None
    return _allow({"jwt": {"claims": _claims_as_text(token, claims), "scopes": context_scopes}},
                  f"JWT of {claims.get('sub')!r} accepted")


# --------------------------------------------------------------------------------------------------
# IAM policy evaluation (E1; also Lambda authorizer policy responses)

@dataclass(frozen=True)
class PolicyResult:
    effect: str  # "Allow" | "Deny" (explicit) | "ImplicitDeny"
    reason: str

    @property
    def allowed(self) -> bool:
        return self.effect == "Allow"


_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource"}


@functools.lru_cache(maxsize=1024)
def _glob(pattern: str, *, segmented: bool, ignore_case: bool = False) -> re.Pattern:
    """`*` and `?` wildcards; `segmented` applies IAM's ARN rule (see the module docstring)."""
    parts = []
    for i, char in enumerate(pattern):
        if char == "*":
            ends_segment = i + 1 == len(pattern) or pattern[i + 1] == ":"
            parts.append(".*" if not segmented or ends_segment else "[^:]*")
        elif char == "?":
            parts.append("[^:]" if segmented else ".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _resource_matches(pattern: str, resource: str, *, segmented: bool) -> bool:
    if pattern == "*":
        return True
    if segmented:
        segments = pattern.split(":", 5)
        if len(segments) > 2 and ("*" in segments[2] or "?" in segments[2]):
            return False  # IAM allows no wildcard in the service segment
    return _glob(pattern, segmented=segmented).fullmatch(resource) is not None


def _values(statement: Mapping, key: str) -> list[str] | None:
    value = statement.get(key)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def _statement_applies(statement: Mapping, action: str, resource: str, *, lenient: bool) -> bool:
    """Whether the statement covers (action, resource). `lenient` reads wildcards the way that matches more."""
    if "Action" in statement:
        applies = any(_glob(p, segmented=False, ignore_case=True).fullmatch(action) for p in _values(statement, "Action"))
    else:
        applies = not any(_glob(p, segmented=False, ignore_case=True).fullmatch(action)
                          for p in _values(statement, "NotAction"))
    if not applies:
        return False
    if "Resource" in statement:
        return any(_resource_matches(p, resource, segmented=not lenient) for p in _values(statement, "Resource"))
    # NotResource: the statement applies when no pattern matches; the lenient reading matches less here
    return not any(_resource_matches(p, resource, segmented=lenient) for p in _values(statement, "NotResource"))


# Resource policies of REST APIs (spec H2): the condition keys the local data plane knows for every
# request (the VPC endpoint it came through and that endpoint's VPC; absent on the internet listener),
# and the operators evaluated on them. Anything else in a Condition is unevaluable (fail closed).
RESOURCE_POLICY_KEYS = frozenset({"aws:sourcevpce", "aws:sourcevpc"})
# Lambda function policies as API Gateway and Cognito meet them (spec B6): the service's request
# carries the source ARN (the route or user pool) and its account.
LAMBDA_POLICY_KEYS = frozenset({"aws:sourcearn", "aws:sourceaccount"})
_CONDITION_OPERATORS = frozenset({"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
                                  "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"})
# Arn* operators only on keys whose value is an ARN (elsewhere: unevaluable, fail closed).
_ARN_OPERATORS = frozenset({"ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"})
_ARN_KEYS = frozenset({"aws:sourcearn"})


def arn_like(pattern: str, arn: str) -> bool:
    """IAM ArnLike/ArnEquals: each of the six colon-separated parts matched on its own, * and ?
    wildcards (the last part may hold colons); a pattern of just "*" matches any ARN."""
    if pattern == "*":
        return True
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(_glob(w, segmented=False).fullmatch(a) is not None
                                                   for w, a in zip(wanted, actual))


def _condition_problem(condition: Any, known_keys: frozenset[str]) -> str:
    """Why this Condition block cannot be evaluated with these keys, or ""."""
    if not known_keys:
        return "a Condition (conditions are not evaluated locally)"
    if not isinstance(condition, Mapping):
        return "a malformed Condition"
    for operator, tests in condition.items():
        base = operator.removesuffix("IfExists")
        if base not in _CONDITION_OPERATORS | _ARN_OPERATORS:
            return f"the condition operator {operator}"
        if not isinstance(tests, Mapping):
            return f"a malformed {operator}"
        for key, expected in tests.items():
            if key.lower() not in known_keys:
                return f"the condition key {key}"
            if base in _ARN_OPERATORS and key.lower() not in _ARN_KEYS:
                return f"the condition operator {operator} on {key}"
            values = expected if isinstance(expected, list) else [expected]
            if not all(isinstance(v, str) for v in values):
                return f"a malformed value of {key}"
    return ""


def _condition_holds(condition: Mapping, context: Mapping[str, str]) -> bool:
    """IAM's rules: every operator and key must hold; a key absent from the request makes a positive
    operator false and a negated one (String*Not*) true; ...IfExists holds on an absent key."""
    for operator, tests in condition.items():
        base = operator.removesuffix("IfExists")
        negated = "Not" in base
        ignore_case = base.endswith("IgnoreCase")
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None:
                if operator.endswith("IfExists") or negated:
                    continue
                return False
            values = expected if isinstance(expected, list) else [expected]
            if base in _ARN_OPERATORS:
                matched = any(arn_like(v, actual) for v in values)
            elif base.startswith(("StringLike", "StringNotLike")):
                matched = any(_glob(v, segmented=False).fullmatch(actual) for v in values)
            elif ignore_case:
                matched = actual.lower() in [v.lower() for v in values]
            else:
                matched = actual in values
            if matched == negated:
                return False
    return True


def _principal_problem(statement: Mapping) -> str:
    if "NotPrincipal" in statement:
        return "NotPrincipal"
    principal = statement.get("Principal")
    if principal == "*":
        return ""
    if isinstance(principal, Mapping) and principal and set(principal) <= {"AWS", "Service", "Federated", "CanonicalUser"}:
        return "" if all(_values(principal, k) is not None for k in principal) else "a malformed Principal"
    return "a resource policy statement without a readable Principal"


def _principal_matches(statement: Mapping, caller: tuple[str, str] | None, service: str | None = None) -> bool:
    """Whether the statement's Principal names the caller: (user ARN, account id), or None for an
    unsigned (anonymous) request, which only "*" names; or, with `service`, that AWS service."""
    principal = statement.get("Principal")
    if principal == "*":
        return True
    named = _values(principal, "AWS") or []
    if "*" in named:
        return True
    if service is not None:
        return service in (_values(principal, "Service") or [])
    if caller is None:
        return False
    arn, account = caller
    return arn in named or account in named or f"arn:aws:iam::{account}:root" in named


def _unevaluable(statement: Any, known_keys: frozenset[str] = frozenset(), resource_policy: bool = False) -> str:
    """Why this statement cannot be evaluated here, or "" if it can."""
    if not isinstance(statement, Mapping):
        return "a statement that is not an object"
    if statement.get("Effect") not in ("Allow", "Deny"):
        return f"Effect {statement.get('Effect')!r}"
    if "Condition" in statement:
        problem = _condition_problem(statement["Condition"], known_keys)
        if problem:
            return problem
    if resource_policy:
        problem = _principal_problem(statement)
        if problem:
            return problem
    # A Condition was checked above; a Principal belongs in resource policies only.
    extra = set(statement) - _STATEMENT_KEYS - {"Condition"} - ({"Principal"} if resource_policy else set())
    if extra:
        return f"unsupported elements {sorted(extra)}"
    if ("Action" in statement) == ("NotAction" in statement) or ("Resource" in statement) == ("NotResource" in statement):
        return "not exactly one of Action/NotAction and one of Resource/NotResource"
    for key in ("Action", "NotAction", "Resource", "NotResource"):
        if key in statement:
            values = _values(statement, key)
            if values is None:
                return f"a malformed {key}"
            if any("${" in v for v in values):
                return f"a policy variable in {key} (not evaluated locally)"
    return ""


def _statements(document: Any) -> list[Any] | None:
    if not isinstance(document, Mapping):
        return None
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        return [statements]
    if isinstance(statements, list):
        return statements
    return None


def evaluate_policies(policies: Sequence[Any], *, action: str, resource: str,
                      context: Mapping[str, str] | None = None, caller: tuple[str, str] | None = None,
                      resource_policy: bool = False, service: str | None = None,
                      condition_keys: frozenset[str] = RESOURCE_POLICY_KEYS) -> PolicyResult:
    """IAM's policy logic: an explicit Deny wins, then an Allow, else an implicit deny.

    Identity policies by default. With `resource_policy`, statements apply only to the principals
    they name (`caller`: (user ARN, account id), None for an anonymous request; or `service`, the
    AWS service calling, as for a Lambda function policy), and conditions on `condition_keys`
    (a REST API's RESOURCE_POLICY_KEYS unless told, LAMBDA_POLICY_KEYS for a function policy) are
    evaluated against `context` (lower-cased keys; absent keys left out).
    A statement that cannot be evaluated (see `_unevaluable`) never allows; an unevaluable Deny — or
    any unevaluable statement whose effect cannot be told — denies.
    """
    known_keys = condition_keys if context is not None else frozenset()
    context = context or {}
    allowed_by = ""
    for number, document in enumerate(policies):
        statements = _statements(document)
        if statements is None:
            return PolicyResult("Deny", f"policy {number} has no readable Statement: refused")
        for statement in statements:
            problem = _unevaluable(statement, known_keys, resource_policy)
            effect = statement.get("Effect") if isinstance(statement, Mapping) else None
            if problem:
                if effect == "Allow":
                    continue  # an Allow that cannot be evaluated does not allow
                return PolicyResult("Deny", f"policy {number}: a statement with {problem} refuses")
            if resource_policy and not _principal_matches(statement, caller, service):
                continue
            if "Condition" in statement and not _condition_holds(statement["Condition"], context):
                continue
            if effect == "Deny" and _statement_applies(statement, action, resource, lenient=True):
                return PolicyResult("Deny", f"explicit Deny in policy {number} ({statement.get('Sid', 'no Sid')})")
            if effect == "Allow" and not allowed_by and _statement_applies(statement, action, resource, lenient=False):
                allowed_by = f"Allow in policy {number} ({statement.get('Sid', 'no Sid')})"
    if allowed_by:
        return PolicyResult("Allow", allowed_by)
    return PolicyResult("ImplicitDeny", f"no statement allows {action} on {resource}")


def invoke_permitted(statements: Iterable[Any], function_arn: str, source_arn: str, account_id: str,
                     service: str = "apigateway.amazonaws.com") -> bool:
    """Whether a Lambda function's resource policy lets `service` (API Gateway unless named) invoke
    it for source_arn (spec B6): the one evaluator above, with the service as principal and
    aws:SourceArn / aws:SourceAccount as condition keys."""
    policy = {"Statement": list(statements)}
    return evaluate_policies([policy], action="lambda:InvokeFunction", resource=function_arn,
                             context={"aws:sourcearn": source_arn, "aws:sourceaccount": account_id},
                             resource_policy=True, service=service, condition_keys=LAMBDA_POLICY_KEYS).allowed


def resource_policy_problems(document: Any) -> list[str]:
    """What in a REST API's resource policy cannot be evaluated locally (empty: all of it can)."""
    statements = _statements(document)
    if statements is None:
        return ["no readable Statement"]
    problems = []
    for number, statement in enumerate(statements):
        problem = _unevaluable(statement, RESOURCE_POLICY_KEYS, resource_policy=True)
        if problem:
            sid = statement.get("Sid") if isinstance(statement, Mapping) else None
            problems.append(f"statement {sid or number}: {problem}")
    return problems


# --------------------------------------------------------------------------------------------------
# IAM authorization: SigV4 (E1, E2)

@dataclass(frozen=True)
class Caller:
    access_key_id: str
    secret_access_key: str
    user_arn: str
    user_id: str
    user_name: str
    account_id: str
    policies: list[dict]

    @classmethod
    def from_private_endpoint(cls, access_key_id: str, answer: Mapping[str, Any]) -> "Caller":
        """From the embedded AWS's GET /_local/iam/access-keys/<id> answer."""
        return cls(access_key_id, answer["secret_access_key"], answer["user_arn"], answer["user_id"],
                   answer["user_name"], answer["account_id"], list(answer["policies"]))


def caller_lookup(endpoint_url: str) -> Callable[[str], Caller | None]:
    """`find_caller` backed by the embedded AWS's private GET /_local/iam/access-keys/<id> endpoint."""
    from local_aws import aws

    def find_caller(access_key_id: str) -> Caller | None:
        if not re.fullmatch(r"[A-Z0-9]{16,128}", access_key_id):
            return None  # never put arbitrary request text into the private endpoint's path
        # a call to another process: on the data plane's loop, made from a worker thread
        status, body = loop_bridge.off_loop(aws.private, endpoint_url, f"iam/access-keys/{access_key_id}")
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError(f"the embedded AWS answered {status} for access key {access_key_id}: {body[:200]!r}")
        return Caller.from_private_endpoint(access_key_id, json.loads(body))

    return find_caller


_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256 +(.*)$", re.DOTALL)
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class _SignatureCheck(SigV4Auth):
    """botocore's SigV4 over exactly the headers the client says it signed, at the client's timestamp."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: Mapping[str, str]):
        super().__init__(credentials, service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name, value in self._signed.items():
            headers[name] = value
        return headers

    def expected_signature(self, request: AWSRequest, timestamp: str) -> str:
        request.context["timestamp"] = timestamp
        return self.signature(self.string_to_sign(request, self.canonical_request(request)), request)


def _parse_authorization(value: str) -> dict[str, str] | None:
    match = _AUTHORIZATION.match(value.strip())
    if not match:
        return None
    fields: dict[str, str] = {}
    for part in match.group(1).split(","):
        name, sep, content = part.strip().partition("=")
        if not sep or name in fields:
            return None
        fields[name] = content
    return fields if set(fields) == {"Credential", "SignedHeaders", "Signature"} else None


def authorize_iam(request: HttpRequest, *, host: str, region: str, route_arn: str,
                  find_caller: Callable[[str], Caller | None], now: float | None = None,
                  resource_policy: Callable[[Caller], PolicyResult] | None = None) -> Decision:
    """SigV4 (service execute-api) by a known caller, then `execute-api:Invoke` on the route ARN.

    `host` is the Host the request was received at (the gateway's HTTP_HOST): the signed `host`
    header must equal it. `find_caller(access_key_id)` gives the key's secret and identity
    policies, or None for an unknown or inactive key (see `caller_lookup`). `resource_policy(caller)`:
    a REST API's resource policy evaluated for the caller (None: HTTP APIs, which have none).
    """
    now = time.time() if now is None else now
    authorization = request.header("authorization")
    query_keys = {k.lower() for k, _ in parse_qsl(request.raw_query, keep_blank_values=True)}
    if authorization is None:
        if "x-amz-signature" in query_keys or "x-amz-credential" in query_keys:
            return _forbidden("presigned (query string) SigV4 is not emulated")
        return _forbidden("the request is not signed")
    fields = _parse_authorization(authorization)
    if fields is None:
        return _forbidden("the Authorization header is not an AWS4-HMAC-SHA256 signature")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return _forbidden(f"malformed credential scope {fields['Credential']!r}")
    access_key_id, date, scope_region, service, _ = scope
    if service != "execute-api":
        return _forbidden(f"signed for service {service!r}, not execute-api")
    if scope_region != region:
        return _forbidden(f"signed for region {scope_region!r}, not {region!r}")
    signature = fields["Signature"]
    if not _SIGNATURE.match(signature):
        return _forbidden("the signature is not 64 lower-case hex digits")
    signed_names = fields["SignedHeaders"].split(";")
    if not all(signed_names) or signed_names != sorted(set(signed_names)) or any(n != n.lower() for n in signed_names):
        return _forbidden("SignedHeaders is not a sorted list of lower-case names")
    if "host" not in signed_names or "x-amz-date" not in signed_names:
        return _forbidden("host and x-amz-date must be signed")
    if request.header("x-amz-security-token") is not None:
        return _forbidden("temporary credentials (x-amz-security-token) are not emulated")
    content_hash = request.header("x-amz-content-sha256")
    if content_hash is not None and content_hash.lower().startswith(("unsigned-payload", "streaming-")):
        return _forbidden(f"x-amz-content-sha256 {content_hash!r} is not emulated")

    timestamp = request.header("x-amz-date") or ""
    try:
        signed_at = datetime.strptime(timestamp, _AMZ_DATE).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return _forbidden(f"x-amz-date {timestamp!r} is not of the form YYYYMMDDTHHMMSSZ")
    if timestamp[:8] != date:
        return _forbidden(f"credential date {date} differs from x-amz-date {timestamp}")
    if abs(now - signed_at) > SIGV4_MAX_SKEW_S:
        return _forbidden(f"the signature is dated {timestamp}, more than 15 minutes from now")

    signed: dict[str, str] = {}
    for name in signed_names:
        value = request.header(name)
        if name == "host":
            if value is not None and value != host:
                return _forbidden(f"signed for host {value!r}, received at {host!r}")
            value = host
        if value is None:
            return _forbidden(f"signed header {name!r} is not in the request")
        signed[name] = value

    caller = find_caller(access_key_id)
    if caller is None:
        return _forbidden(f"unknown access key {access_key_id}")
    query = f"?{request.raw_query}" if request.raw_query else ""
    # The body is hashed from what arrived; a client-sent x-amz-content-sha256 is only compared through
    # the signature (it is never trusted as the body's hash).
    aws_request = AWSRequest(method=request.method.upper(), url=f"https://{host}{request.raw_path}{query}",
                             data=request.body or b"")
    check = _SignatureCheck(Credentials(caller.access_key_id, caller.secret_access_key), "execute-api", region, signed)
    if content_hash is not None and content_hash != check.payload(aws_request):
        return _forbidden("x-amz-content-sha256 does not match the body")
    expected = check.expected_signature(aws_request, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return _forbidden(f"signature mismatch for access key {access_key_id}")

    arn_account = route_arn.split(":")[4] if route_arn.count(":") >= 5 else ""
    if caller.account_id != arn_account:
        return _forbidden(f"caller account {caller.account_id} is not the API's account {arn_account} "
                          "(cross-account access is not emulated)")
    result = evaluate_policies(caller.policies, action=INVOKE_ACTION, resource=route_arn)
    if resource_policy is not None:
        # REST APIs, same account (apigateway-authorization-flow): an explicit Deny in either policy
        # refuses, else an Allow in either grants.
        granted = resource_policy(caller)
        if "Deny" in (result.effect, granted.effect):
            denied = result if result.effect == "Deny" else granted
            return _forbidden(f"{caller.user_arn}: {denied.reason}", explicit=True)
        result = result if result.allowed else granted
    if not result.allowed:
        return _forbidden(f"{caller.user_arn}: {result.reason}", explicit=result.effect == "Deny")
    return _allow({"iam": {
        "accessKey": caller.access_key_id,
        "accountId": caller.account_id,
        "callerId": caller.user_id,
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": caller.user_arn,
        "userId": caller.user_id,
    }}, f"{caller.user_arn}: {result.reason}")


# --------------------------------------------------------------------------------------------------
# Lambda REQUEST authorizers (payload 2.0)

def request_cookies(request: HttpRequest) -> list[str]:
    """All Cookie headers' cookies, in order (B2): HttpRequest.cookies."""
    return request.cookies


def lambda_authorizer_event(request: HttpRequest, *, route_arn: str, route_key: str, identity_sources: Sequence[str],
                            request_context: dict, path_parameters: dict, stage_variables: dict,
                            raw_path: str | None = None) -> dict | None:
    """The payload 2.0 REQUEST authorizer event (payload_v2.py builds it, as it builds the
    integration's); None when an identity source is missing (401, no invoke). `raw_path`: the
    event's rawPath, the request's raw path when None."""
    identity = []
    for source in identity_sources:
        value = identity_value(request, source, stage_variables=stage_variables)
        if value is None:
            return None
        identity.append(value)
    fields = payload_v2.request_fields(
        route_key=route_key, raw_path=request.raw_path if raw_path is None else raw_path, raw_query=request.raw_query,
        headers=request.headers, cookies=request.cookies, query=request.query,
        request_context=request_context, path_parameters=path_parameters, stage_variables=stage_variables)
    return payload_v2.authorizer_event(fields, route_arn=route_arn, identity=identity)


def lambda_identity_missing(identity_sources: Sequence[str]) -> Decision:
    """The refusal when `lambda_authorizer_event` returned None."""
    return Decision(False, 401, dict(UNAUTHORIZED), {}, None,
                    f"an identity source of {list(identity_sources)} is missing or empty")


def interpret_lambda_authorizer(result: Any, *, simple_responses: bool, route_arn: str) -> Decision:
    """A Lambda authorizer's (JSON-decoded) result: simple or IAM policy response; malformed → 500."""
    if not isinstance(result, Mapping):
        return _server_error(f"the authorizer returned {type(result).__name__}, not an object")
    context = result.get("context")
    if context is not None and not isinstance(context, Mapping):
        return _server_error("the authorizer's context is not an object")
    context = dict(context) if context is not None else None
    if simple_responses:
        authorized = result.get("isAuthorized")
        if not isinstance(authorized, bool):
            return _server_error(f"isAuthorized is {authorized!r}, not a boolean")
        if not authorized:
            return _forbidden("the Lambda authorizer answered isAuthorized: false")
        return _allow({"lambda": context}, "the Lambda authorizer answered isAuthorized: true")
    principal = result.get("principalId")
    if not isinstance(principal, str) or _statements(result.get("policyDocument")) is None:
        return _server_error("an IAM policy response needs a string principalId and a policyDocument with Statement")
    verdict = evaluate_policies([result["policyDocument"]], action=INVOKE_ACTION, resource=route_arn)
    if not verdict.allowed:
        return _forbidden(f"Lambda authorizer policy for {principal!r}: {verdict.reason}")
    return Decision(True, 200, {}, {}, {"lambda": context}, f"Lambda authorizer policy for {principal!r}: {verdict.reason}",
                    principal)
