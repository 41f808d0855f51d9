"""HTTP API data plane: config from the control plane, routing, CORS, throttling, events.

Serves every HTTP API of the embedded AWS, in every region it holds one in, as a WSGI app, the way
API Gateway serves it (spec B and C in docs/aws-behaviour.md). Everything comes from the control
plane: `reload()` reads the APIs, routes, integrations, authorizers and stages with boto3 (each API
in its own region: its execute-api ARN, the SourceArn its functions' permissions see and the region
SigV4 signatures must name are that region's), checks that each can be
emulated, compiles the route matchers and swaps the whole configuration at once. The request path
makes no AWS call (the one exception: the secret of an access key on an AWS_IAM route, cached until
the next reload).

Fail closed: what cannot be emulated is a ConfigError naming the API, the route and the setting.
After a failed reload the API it concerns answers 500 {"message":"Internal Server Error"} (and logs
why) until a reload succeeds; the other APIs serve their new configuration.

Choices where AWS's behaviour is not pinned down (UNCONFIRMED, see the report / spec):
- Route selection: explicit method before ANY; within each, all-literal, then {param}, then greedy;
  between two candidates the leftmost segment where they differ decides: literal over {param} over
  {name+}. `{name}` and `{name+}` match only non-empty values.
- rawPath and requestContext.http.path are the URL-decoded path (third-party captures of live HTTP
  APIs report that HTTP APIs decode rawPath); rawQueryString is the raw query.
- Query values are form-decoded (`+` is a space).
- Preflight: 204; for an origin that is not allowed, 204 with no Access-Control-* header. The
  configured CORS headers are added to every response to an allowed origin, gateway errors included.
- Throttling: each route has its own bucket, with the stage's routeSettings for its route key, else
  the stage's defaultRouteSettings, else the account limits (10000 rps, burst 5000); one account
  bucket is shared by all APIs. Preflights are not throttled. 429 {"message":"Too Many Requests"}.
- Header limit (request line + headers over 10240 bytes): 431 {"message":"Request Header Fields Too
  Large"}; body over 10 MiB: 413 {"message":"Request Entity Too Large"}.
- API ids are unique across regions (moto draws them at random, AWS per region): two APIs of one id
  in two regions would share `<id>.execute-api.localhost`, so the second is refused at load.
- Lambda invoke permission: the SourceArn presented is `<execution arn>/<stage>/<METHOD>/<route
  path>` (the route key's path, `{id}` as written; `<execution arn>/<stage>/$default` for the
  $default route; the request's method for ANY routes), as the lambda_route module's permissions
  assume. IAM policies and Lambda authorizers see the request path instead (`.../GET/pets/42`).
- A Lambda REQUEST authorizer that fails, times out (10 s) or lacks its invoke permission: 500.
  Its event's rawPath is the same decoded path as the integration's.
- A function result of None (JSON null) is "any other valid JSON": 200 `null`. Header values that
  are numbers or booleans are sent as text; objects, arrays and null are a malformed result (500),
  as are a statusCode outside 200-599, a non-string body and invalid base64.
- The backend's event also carries x-forwarded-for/-port/-proto and x-amzn-trace-id, as real events do.
- A reload keeps the state whose settings did not change: a token bucket with the same limits, the
  account bucket, cached Lambda authorizer results (keyed by the function's code and settings too).
  The data plane reloads after every write to the configuration it reads (APIs, functions, pools, IAM).
- WebSocket APIs are not served (nothing answers at their host) and are named at startup, as REST
  APIs are (stack.py's `not_served`): an absent API opens no route.
- Not emulated, and refused at load: see `_Loader`. Custom domains are not served (an API with
  DisableExecuteApiEndpoint is refused); access logging settings are ignored.

Payload format 1.0 (spec G; AWS pages http-api-develop-integrations-lambda, http-api-lambda-authorizer).
The AWS provider's `payload_format_version` defaults to 1.0 (G1), so it is served like 2.0: the request
is parsed once (stage, route, parameters, headers, query, body, authorization), and the event of the
integration's own version is built, 1.0 in local_aws/payload_v1.py. A Lambda authorizer's
AuthorizerPayloadFormatVersion shapes only its own event; the integration's version shapes what the
authorizer's result looks like in the integration's event. Documented, and done so:
- 1.0 event (G2): `version` "1.0", `resource`, `path`, `httpMethod`, `headers`, `multiValueHeaders`,
  `queryStringParameters`, `multiValueQueryStringParameters`, `requestContext` (accountId, apiId,
  authorizer, domainName, domainPrefix, extendedRequestId, httpMethod, identity, path, protocol,
  requestId, requestTime, requestTimeEpoch, resourceId, resourcePath, stage), `pathParameters`,
  `stageVariables`, `body`, `isBase64Encoded`. No rawPath, rawQueryString, routeKey or `cookies`:
  Cookie headers stay in the headers. Header names are lower-cased. Every value of a repeated header
  or query key is in the multi-value field, in order. A field with nothing to carry (query,
  pathParameters, stageVariables, body) is null, as in AWS's 1.0 example. identity has AWS's example's
  keys, null where nothing fills them (accessKey, accountId, caller, cognito*, principalOrgId, user,
  userArn). requestContext.authorizer is {"claims": null, "scopes": null} on a route without an
  authorizer (AWS's example).
- 1.0 response (G3): only `{statusCode, headers, multiValueHeaders, body, isBase64Encoded}` is a
  response. A result without a statusCode (any other JSON, a string, null) is a 500
  {"message":"Internal Server Error"}, as is a malformed field (the same checks as 2.0's, and
  multiValueHeaders must map names to arrays).
- 1.0 Lambda authorizer: event `version` "1.0", `type` "REQUEST", `methodArn` (the request ARN 2.0
  calls routeArn), `identitySource` and `authorizationToken` (the identity values joined with ","),
  then the request fields of the 1.0 integration event and its requestContext (without authorizer).
  The response is an IAM policy (principalId, policyDocument, optional context) evaluated against
  methodArn; simple responses are 2.0 only, so EnableSimpleResponses with 1.0 is refused at load.
Local choices for 1.0 (UNCONFIRMED; AWS's pages do not pin them down):
- Single-value fields of repeated keys: a header keeps its last value, a query key its first. AWS's
  1.0 example shows exactly this (header2 "value2" of ["value1","value2"], parameter1 "value1" of
  ["value1","value2"]), but no text states the rule.
- `path` and requestContext.path are the decoded request path with the stage prefix of a named stage,
  the same value as 2.0's rawPath; `resource` and resourcePath are the route key's path ({id} as
  written), and the request path on the $default route (AWS's example, /my/path for both).
  resourceId is null (AWS's example) and extendedRequestId is the requestId.
- JWT routes (G4): requestContext.authorizer is {"claims": {...}, "scopes": [...] | null} with no `jwt`
  nesting (AWS's 1.0 example has these two keys), the claims rendered as in 2.0 (A6).
- AWS_IAM routes: the caller fills requestContext.identity (accessKey, accountId, caller and user = the
  IAM user id, userArn, principalOrgId null); authorizer stays {"claims": null, "scopes": null}.
- Lambda authorizer routes: a 1.0 integration gets the authorizer's context keys flat in
  requestContext.authorizer, plus principalId when the answer was a policy (REST APIs' shape, which
  1.0 exists to be compatible with); values are passed as returned. A 2.0 integration gets
  {"lambda": context} whatever the authorizer's version.
- 1.0 response headers named in both maps: multiValueHeaders' values, then headers' value unless it
  is one of them (names compared case-insensitively), the rule AWS documents for REST proxy
  integrations (set-up-lambda-proxy-integrations). Keys of another shape (2.0's `cookies`) are
  ignored: in 1.0, cookies are set with multiValueHeaders' set-cookie.
- multiValueHeaders needs each header's values as sent: the data plane's server keeps them
  (serving.HEADER_VALUES_KEY). Under another WSGI server, or for a header the gateway sets
  (x-forwarded-*), a header has one value: the comma-joined one.
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
import http
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, unquote

from botocore.exceptions import ClientError

from local_aws import aws, payload_v1
from local_aws.authorizer import (
    Caller,
    Decision,
    HttpRequest,
    JwksCache,
    NotEmulated,
    authorize_iam,
    authorize_jwt,
    caller_lookup,
    identity_value,
    interpret_lambda_authorizer,
    lambda_authorizer_event,
    lambda_identity_missing,
    query_parameters,
    request_cookies,
)
from local_aws.aws import ACCOUNT_ID, REGION
from local_aws.runtime import Function, FunctionNotFound, InvocationTimeout, LambdaRuntimeError, Runtime, UnsupportedFunction
from local_aws.serving import HEADER_VALUES_KEY

log = logging.getLogger(__name__)

# --- limits and fixed answers (spec C5, B6, C4) -------------------------------------------------

MAX_BODY_BYTES = 10 * 1024 * 1024
_NOT_CACHED = object()
MAX_HEAD_BYTES = 10240
MAX_ROUTES = 300
MAX_AUTHORIZERS = 10
MAX_AUDIENCES = 50
MAX_SCOPES = 10
DEFAULT_TIMEOUT_MS = 30000
ACCOUNT_RATE, ACCOUNT_BURST = 10000.0, 5000
AUTHORIZER_WAIT_S = 10.0
AUTHORIZER_CACHE_ENTRIES = 10000
CALLER_CACHE_ENTRIES = 1024
LOCAL_HOST_SUFFIX = ".execute-api.localhost"

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
TEXT_TYPES = ("application/json", "application/xml", "application/javascript")
# Not forwarded from a function's headers: the server frames the response itself.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-authenticate",
                        "proxy-authorization", "te", "trailer", "content-length", "apigw-requestid"})
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PARAM = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")
_ROUTE_KEY = re.compile(r"^([A-Z]+) (/.*)$")
_COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([a-z0-9-]+_[A-Za-z0-9]+)$")


class ConfigError(Exception):
    """A configuration the local gateway cannot emulate; the message names API, route and setting."""


class _Problems:
    """Collects what cannot be emulated in one API, each line naming the API and what is wrong."""

    def __init__(self, api_id: str, api_name: str):
        self.prefix = f"API {api_name!r} ({api_id})"
        self.lines: list[str] = []

    def add(self, where: str, setting: str, why: str) -> None:
        self.lines.append(f"{self.prefix}: {where}: {setting}: {why}")


# --- configuration model (immutable once loaded) -------------------------------------------------

@dataclass(frozen=True)
class Cors:
    any_origin: bool
    origins: frozenset[str]  # lower-cased
    allow_methods: str | None
    allow_headers: str | None
    expose_headers: str | None
    max_age: int | None
    allow_credentials: bool

    def allowed_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for this request's Origin, None if not allowed."""
        if not origin:
            return None
        if self.any_origin:
            return "*"
        return origin if origin.lower() in self.origins else None

    def response_headers(self, allowed: str) -> list[tuple[str, str]]:
        out = [("access-control-allow-origin", allowed)]
        if self.allow_credentials:
            out.append(("access-control-allow-credentials", "true"))
        if self.expose_headers:
            out.append(("access-control-expose-headers", self.expose_headers))
        return out

    def preflight_headers(self, allowed: str) -> list[tuple[str, str]]:
        out = [("access-control-allow-origin", allowed)]
        if self.allow_methods:
            out.append(("access-control-allow-methods", self.allow_methods))
        if self.allow_headers:
            out.append(("access-control-allow-headers", self.allow_headers))
        if self.max_age is not None:
            out.append(("access-control-max-age", str(self.max_age)))
        if self.allow_credentials:
            out.append(("access-control-allow-credentials", "true"))
        return out


class TokenBucket:
    """Rate (tokens per second) and burst (capacity); starts full."""

    __slots__ = ("rate", "burst", "_tokens", "_stamp", "_lock")

    def __init__(self, rate: float, burst: float, now: float):
        self.rate, self.burst = float(rate), float(burst)
        self._tokens, self._stamp = float(burst), now
        self._lock = threading.Lock()

    def take(self, now: float) -> bool:
        with self._lock:
            elapsed = max(0.0, now - self._stamp)
            self._stamp = now
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


@dataclass(frozen=True)
class Target:
    """A Lambda function that API Gateway invokes (an integration or a REQUEST authorizer)."""

    ref: str                         # the function ARN (qualified if the URI was)
    function: Function | None        # None: the runtime cannot run it (500 at request time, as AWS)
    missing: str | None              # why function is None
    statements: tuple[dict, ...]     # its resource policy
    unsupported: str | None = None   # configured in a way the runtime does not emulate (ConfigError)


@dataclass(frozen=True)
class Integration:
    id: str
    target: Target
    timeout_s: float
    payload_version: str = "2.0"     # "1.0" | "2.0": the event and response mapping (spec B, G)


@dataclass(frozen=True)
class Authorizer:
    id: str
    name: str
    type: str                        # "JWT" | "REQUEST"
    identity_sources: tuple[str, ...]
    issuer: str | None = None
    audience: tuple[str, ...] = ()
    target: Target | None = None
    simple_responses: bool = False
    ttl_s: int = 0
    invoke_allowed: bool = False     # the function's policy lets <execution arn>/authorizers/<id> invoke it
    payload_version: str = "2.0"     # REQUEST authorizers: "1.0" | "2.0"


@dataclass(eq=False)
class Route:
    key: str
    method: str                      # explicit method, "ANY", or "$default"
    path: str                        # the route key's path ("" for $default)
    specs: tuple[tuple[str, str], ...]  # per segment: ("lit", text) | ("param", name) | ("greedy", name)
    rank: tuple[int, ...]
    auth_type: str                   # NONE | JWT | AWS_IAM | CUSTOM
    authorizer: Authorizer | None
    scopes: tuple[str, ...]
    integration: Integration
    # Lambda permission verdicts per (stage, method): computed on first use, kept with the config.
    permitted: dict[tuple[str, str], bool] = field(default_factory=dict)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        specs = self.specs
        greedy = specs and specs[-1][0] == "greedy"
        fixed = len(specs) - 1 if greedy else len(specs)
        if greedy:
            if len(segments) <= fixed:
                return None
        elif len(segments) != fixed:
            return None
        params: dict[str, str] = {}
        for index in range(fixed):
            kind, text = specs[index]
            segment = segments[index]
            if kind == "lit":
                if segment != text:
                    return None
            elif not segment:
                return None
            else:
                params[text] = segment
        if greedy:
            rest = "/".join(segments[fixed:])
            if not rest:
                return None
            params[specs[-1][1]] = rest
        return params


class Router:
    """Compiled route selection (spec C1-C2)."""

    def __init__(self, routes: Iterable[Route]):
        self.literal: dict[tuple[str, tuple[str, ...]], Route] = {}
        self.patterns: dict[str, list[Route]] = {}
        self.greedy: dict[str, list[Route]] = {}
        self.default: Route | None = None
        for route in routes:
            if route.method == "$default":
                self.default = route
            elif all(kind == "lit" for kind, _ in route.specs):
                self.literal[(route.method, tuple(text for _, text in route.specs))] = route
            elif route.specs[-1][0] == "greedy":
                self.greedy.setdefault(route.method, []).append(route)
            else:
                self.patterns.setdefault(route.method, []).append(route)
        for table in (self.patterns, self.greedy):
            for candidates in table.values():
                candidates.sort(key=lambda r: r.rank)

    def select(self, method: str, segments: list[str]) -> tuple[Route, dict[str, str]] | None:
        key = tuple(segments)
        for wanted in (method, "ANY"):
            route = self.literal.get((wanted, key))
            if route is not None:
                return route, {}
            for table in (self.patterns, self.greedy):
                for route in table.get(wanted, ()):
                    params = route.match(segments)
                    if params is not None:
                        return route, params
        if self.default is not None:
            return self.default, {}
        return None


@dataclass(frozen=True)
class Stage:
    name: str
    variables: Mapping[str, str]
    limits: Mapping[str, tuple[float, float]]  # route key -> (rate, burst)


@dataclass
class Api:
    id: str
    name: str
    execution_arn: str
    cors: Cors | None
    stages: dict[str, Stage]
    router: Router
    buckets: dict[tuple[str, str], TokenBucket]  # (stage, route key) -> bucket
    region: str = REGION
    # Lambda authorizer results: (authorizer id, its function and settings, identity values) -> (expires at, result)
    authorizer_cache: OrderedDict = field(default_factory=OrderedDict)
    authorizer_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class FailedApi:
    id: str
    name: str
    reason: str


@dataclass
class Config:
    apis: dict[str, Api | FailedApi]
    loaded: bool = True
    account_bucket: TokenBucket | None = None
    callers: dict[str, Caller | None] = field(default_factory=dict)


# --- ARN conditions of resource policies ---------------------------------------------------------

def _glob(pattern: str, value: str) -> bool:
    # fnmatchcase's [...] classes do not exist in IAM: escape them so only * and ? are wildcards.
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def arn_like(pattern: str, arn: str) -> bool:
    """IAM ArnLike/ArnEquals: each of the six colon-separated parts matched on its own, * and ? wildcards."""
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(_glob(w, a) for w, a in zip(wanted, actual))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _condition_holds(conditions: Any, context: Mapping[str, str]) -> bool | None:
    """True/False, or None when the statement uses an operator or key this emulation does not know."""
    if not conditions:
        return True
    if not isinstance(conditions, dict):
        return None
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            return None
        if_exists = operator.endswith("IfExists")
        base = operator[: -len("IfExists")] if if_exists else operator
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None:
                if if_exists:
                    continue
                return None  # a key API Gateway's request does not carry here: cannot be evaluated
            values = [str(v) for v in _as_list(expected)]
            if base in ("ArnLike", "ArnEquals"):
                ok = any(arn_like(v, actual) for v in values)
            elif base in ("ArnNotLike", "ArnNotEquals"):
                ok = not any(arn_like(v, actual) for v in values)
            elif base == "StringEquals":
                ok = actual in values
            elif base == "StringNotEquals":
                ok = actual not in values
            elif base == "StringLike":
                ok = any(_glob(v, actual) for v in values)
            elif base == "StringNotLike":
                ok = not any(_glob(v, actual) for v in values)
            else:
                return None
            if not ok:
                return False
    return True


def invoke_permitted(statements: Iterable[dict], function_arn: str, source_arn: str, account_id: str,
                     service: str = "apigateway.amazonaws.com") -> bool:
    """Whether a function's resource policy lets `service` (API Gateway unless named) invoke it for source_arn.

    An explicit Deny wins; a statement with a condition this emulation cannot evaluate never allows
    and always denies (fail closed).
    """
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": account_id}
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        principal = statement.get("Principal")
        if principal == "*":
            principal_ok = True
        elif isinstance(principal, dict):
            principal_ok = (service in _as_list(principal.get("Service", []))
                            or "*" in _as_list(principal.get("AWS", [])))
        else:
            principal_ok = False
        actions = _as_list(statement.get("Action", []))
        action_ok = any(isinstance(a, str) and _glob(a.lower(), "lambda:invokefunction") for a in actions)
        resources = _as_list(statement.get("Resource", "*"))
        resource_ok = any(isinstance(r, str) and (arn_like(r, function_arn) or r == "*") for r in resources)
        if not (principal_ok and action_ok and resource_ok):
            continue
        holds = _condition_holds(statement.get("Condition"), context)
        if statement.get("Effect") == "Deny":
            if holds is not False:
                return False
        elif statement.get("Effect") == "Allow" and holds is True:
            allowed = True
    return allowed


# --- loading --------------------------------------------------------------------------------------

_INVOKE_URI = re.compile(r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(arn:[^/]+)/invocations$")
_FUNCTION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$")


def function_arn_of(uri: str | None) -> str | None:
    """The Lambda function ARN an integration or authorizer URI names (invoke ARN or function ARN)."""
    if not uri:
        return None
    match = _INVOKE_URI.match(uri)
    arn = match.group(1) if match else uri
    return arn if _FUNCTION_ARN.match(arn) else None


def _pages(call: Callable[..., dict], **kwargs: Any) -> list[dict]:
    items: list[dict] = []
    token = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        items.extend(page.get("Items", []))
        token = page.get("NextToken")
        if not token:
            return items


def _parse_route_path(path: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """Segments of a route key's path, or an error."""
    if not path.startswith("/"):
        return (), "the path must start with /"
    specs: list[tuple[str, str]] = []
    names: set[str] = set()
    parts = path[1:].split("/")
    for index, part in enumerate(parts):
        if "{" in part or "}" in part:
            match = _PARAM.match(part)
            if not match:
                return (), f"segment {part!r} is not a whole {{name}} or {{name+}} variable"
            name, greedy = match.groups()
            if name in names:
                return (), f"path variable {name!r} appears twice"
            names.add(name)
            if greedy and index != len(parts) - 1:
                return (), f"greedy variable {{{name}+}} must be the last segment"
            specs.append(("greedy" if greedy else "param", name))
        else:
            specs.append(("lit", part))
    return tuple(specs), None


def _limits(settings: Mapping[str, Any] | None, fallback: tuple[float, float]) -> tuple[float, float]:
    settings = settings or {}
    rate = settings.get("ThrottlingRateLimit")
    burst = settings.get("ThrottlingBurstLimit")
    return (float(rate) if rate is not None else fallback[0], float(burst) if burst is not None else fallback[1])


class _Loader:
    """One reload: reads the control plane and builds a Config (or per-API failures)."""

    def __init__(self, gateway: "Gateway"):
        self.gw = gateway
        self.region = gateway.region or REGION  # of the API being loaded; set per region by load()
        self.apigw = gateway._client("apigatewayv2", self.region)
        self.targets: dict[str, Target] = {}
        self.pools_checked: dict[str, str | None] = {}
        status, body = aws.private(gateway.aws_endpoint, "state")
        self.generation = json.loads(body)["generation"] if status == 200 else None

    def target(self, arn: str) -> Target:
        if arn in self.targets:
            return self.targets[arn]
        function, missing, unsupported = None, None, None
        try:
            function = self.gw.runtime.function(arn, generation=self.generation)
        except UnsupportedFunction as error:
            unsupported = str(error)
            missing = f"function {arn} is not emulated: {error}"
        except (FunctionNotFound, LambdaRuntimeError) as error:  # e.g. deleted: AWS answers 500 when invoked
            missing = f"function {arn} cannot be invoked: {error}"
        statements: tuple[dict, ...] = ()
        name, _, qualifier = arn.split(":", 6)[6].partition(":")
        lam = self.gw._client("lambda", aws.arn_region(arn))  # the function's own region
        try:
            kwargs = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
            policy = json.loads(lam.get_policy(**kwargs)["Policy"])
            statements = tuple(_as_list(policy.get("Statement", [])))
        except lam.exceptions.ResourceNotFoundException:
            statements = ()  # no policy (or no function): nothing may invoke it
        target = Target(arn, function, missing, statements, unsupported)
        self.targets[arn] = target
        return target

    def load(self) -> tuple[Config, list[str]]:
        apis: dict[str, Api | FailedApi] = {}
        problems: list[str] = []
        regions = [self.gw.region] if self.gw.region else aws.regions(self.gw.aws_endpoint, "apigatewayv2")
        for region in regions:
            self.region, self.apigw = region, self.gw._client("apigatewayv2", region)
            for item in _pages(self.apigw.get_apis):
                api_id, name = item["ApiId"], item.get("Name", "")
                if item.get("ProtocolType") == "WEBSOCKET":  # not served, and named (stack.json's not_served)
                    log.warning("gateway: WebSocket API %r (%s) in %s is not served: only HTTP APIs are emulated",
                                name, api_id, region)
                    continue
                found = _Problems(api_id, name)
                if api_id in apis:
                    found.add("API", f"ApiId in {region}", "another region has an API of this id, and both would "
                              f"answer at {api_id}{LOCAL_HOST_SUFFIX}")
                    api = None
                else:
                    api = self.load_api(item, found)
                if found.lines:
                    problems.extend(found.lines)
                    apis[api_id] = FailedApi(api_id, name, "; ".join(found.lines))
                else:
                    apis[api_id] = api
        account_bucket = self.gw._config.account_bucket or TokenBucket(ACCOUNT_RATE, ACCOUNT_BURST, self.gw.clock())
        return Config(apis, account_bucket=account_bucket), problems

    def load_api(self, item: dict, problems: _Problems) -> Api | None:
        api_id = item["ApiId"]
        if item.get("ProtocolType") != "HTTP":
            problems.add("API", f"ProtocolType {item.get('ProtocolType')}", "only HTTP APIs are emulated")
            return None
        if item.get("DisableExecuteApiEndpoint"):
            problems.add("API", "DisableExecuteApiEndpoint", "the API is reachable only through custom domains, "
                         "which the local gateway does not emulate")
        cors = self.load_cors(item.get("CorsConfiguration"), problems)
        authorizers = {a["AuthorizerId"]: a for a in self.apigw.get_authorizers(ApiId=api_id).get("Items", [])}
        integrations = {i["IntegrationId"]: i for i in _pages(self.apigw.get_integrations, ApiId=api_id)}
        routes_raw = _pages(self.apigw.get_routes, ApiId=api_id)
        stages_raw = _pages(self.apigw.get_stages, ApiId=api_id)
        execution_arn = f"arn:aws:execute-api:{self.region}:{self.gw.account_id}:{api_id}"  # its own region (E1)
        if len(routes_raw) > MAX_ROUTES:
            problems.add("API", f"{len(routes_raw)} routes", f"more than the {MAX_ROUTES} AWS allows")
        if len(authorizers) > MAX_AUTHORIZERS:
            problems.add("API", f"{len(authorizers)} authorizers", f"more than the {MAX_AUTHORIZERS} AWS allows")

        loaded_authorizers: dict[str, Authorizer] = {}
        loaded_integrations: dict[str, Integration] = {}
        routes: list[Route] = []
        for raw in routes_raw:
            route = self.load_route(raw, authorizers, integrations, loaded_authorizers, loaded_integrations,
                                    execution_arn, problems)
            if route is not None:
                routes.append(route)
        stages = {}
        for raw in stages_raw:
            stage = self.load_stage(raw, problems)
            if stage is not None:
                stages[stage.name] = stage
        if problems.lines:
            return None
        # The data plane reloads after every write to the configuration it reads, so state survives
        # a reload where its settings did not change: a bucket with the same limits,
        # Lambda authorizer results (keyed by everything that could change them).
        previous = self.gw._config.apis.get(api_id)
        previous = previous if isinstance(previous, Api) else None
        now = self.gw.clock()
        buckets = {}
        for stage in stages.values():
            for route in routes:
                rate, burst = stage.limits.get(route.key) or stage.limits["$stage"]
                kept = previous.buckets.get((stage.name, route.key)) if previous else None
                if kept is not None and (kept.rate, kept.burst) == (rate, burst):
                    buckets[(stage.name, route.key)] = kept
                else:
                    buckets[(stage.name, route.key)] = TokenBucket(rate, burst, now)
        api = Api(api_id, item.get("Name", ""), execution_arn, cors, stages, Router(routes), buckets, region=self.region)
        if previous is not None:
            api.authorizer_cache, api.authorizer_lock = previous.authorizer_cache, previous.authorizer_lock
        return api

    @staticmethod
    def load_cors(raw: dict | None, problems: _Problems) -> Cors | None:
        if not raw:
            return None
        origins = [str(o) for o in raw.get("AllowOrigins") or []]
        credentials = bool(raw.get("AllowCredentials"))
        if credentials and "*" in origins:
            problems.add("CORS", "AllowCredentials with AllowOrigins *", "AWS rejects this combination")

        def joined(values: list | None) -> str | None:
            return ",".join(str(v) for v in values) if values else None

        return Cors(
            any_origin="*" in origins,
            origins=frozenset(o.lower() for o in origins if o != "*"),
            allow_methods=joined(raw.get("AllowMethods")),
            allow_headers=joined(raw.get("AllowHeaders")),
            expose_headers=joined(raw.get("ExposeHeaders")),
            max_age=int(raw["MaxAge"]) if raw.get("MaxAge") is not None else None,
            allow_credentials=credentials,
        )

    def load_route(self, raw: dict, authorizers: dict[str, dict], integrations: dict[str, dict],
                   loaded_authorizers: dict[str, Authorizer], loaded_integrations: dict[str, Integration],
                   execution_arn: str, problems: _Problems) -> Route | None:
        key = raw.get("RouteKey", "")
        where = f"route {key!r}"
        before = len(problems.lines)
        if key == "$default":
            method, path, specs = "$default", "", ()
        else:
            match = _ROUTE_KEY.match(key)
            if not match or match.group(1) not in (*METHODS, "ANY"):
                problems.add(where, "RouteKey", "not `METHOD /path`, `ANY /path` or `$default`")
                return None
            method, path = match.groups()
            specs, error = _parse_route_path(path)
            if error:
                problems.add(where, "RouteKey", error)
        if raw.get("ApiKeyRequired"):
            problems.add(where, "ApiKeyRequired", "HTTP APIs have no API keys")
        if raw.get("RequestParameters"):
            problems.add(where, "RequestParameters", "route request parameters are not emulated")
        if raw.get("RequestModels") or raw.get("ModelSelectionExpression"):
            problems.add(where, "RequestModels", "request models are not emulated")
        if raw.get("RouteResponseSelectionExpression"):
            problems.add(where, "RouteResponseSelectionExpression", "route responses are not emulated")

        auth_type = raw.get("AuthorizationType") or "NONE"
        scopes = tuple(raw.get("AuthorizationScopes") or ())
        authorizer = None
        if auth_type not in ("NONE", "JWT", "AWS_IAM", "CUSTOM"):
            problems.add(where, f"AuthorizationType {auth_type}", "unknown authorization type")
        if scopes and auth_type != "JWT":
            problems.add(where, "AuthorizationScopes", f"scopes on a {auth_type} route (only JWT routes have scopes)")
        if len(scopes) > MAX_SCOPES:
            problems.add(where, "AuthorizationScopes", f"{len(scopes)} scopes, more than the {MAX_SCOPES} AWS allows")
        if auth_type in ("JWT", "CUSTOM"):
            authorizer_id = raw.get("AuthorizerId")
            wanted = "JWT" if auth_type == "JWT" else "REQUEST"
            if not authorizer_id or authorizer_id not in authorizers:
                problems.add(where, "AuthorizerId", f"{auth_type} route without an existing authorizer ({authorizer_id!r})")
            elif authorizers[authorizer_id].get("AuthorizerType") != wanted:
                problems.add(where, "AuthorizerId", f"authorizer {authorizer_id} is of type "
                             f"{authorizers[authorizer_id].get('AuthorizerType')}, a {auth_type} route needs {wanted}")
            else:
                if authorizer_id not in loaded_authorizers:
                    loaded = self.load_authorizer(authorizers[authorizer_id], execution_arn, where, problems)
                    if loaded is not None:
                        loaded_authorizers[authorizer_id] = loaded
                authorizer = loaded_authorizers.get(authorizer_id)
        elif raw.get("AuthorizerId") and auth_type in ("NONE", "AWS_IAM"):
            problems.add(where, "AuthorizerId", f"an authorizer on a {auth_type} route is ignored by AWS; remove it")

        target = raw.get("Target") or ""
        integration = None
        if not target.startswith("integrations/") or target[len("integrations/"):] not in integrations:
            problems.add(where, f"Target {target!r}", "the route has no existing integration")
        else:
            integration_id = target[len("integrations/"):]
            if integration_id not in loaded_integrations:
                loaded = self.load_integration(integrations[integration_id], where, problems)
                if loaded is not None:
                    loaded_integrations[integration_id] = loaded
            integration = loaded_integrations.get(integration_id)
        if len(problems.lines) > before or integration is None:
            return None
        rank = tuple({"lit": 0, "param": 1, "greedy": 2}[kind] for kind, _ in specs)
        return Route(key, method, path, specs, rank, auth_type, authorizer, scopes, integration)

    def load_integration(self, raw: dict, where: str, problems: _Problems) -> Integration | None:
        where = f"{where}, integration {raw.get('IntegrationId')}"
        before = len(problems.lines)
        kind = raw.get("IntegrationType")
        if kind != "AWS_PROXY":
            problems.add(where, f"IntegrationType {kind}", "only AWS_PROXY (Lambda proxy) integrations are emulated")
        if raw.get("IntegrationSubtype"):
            problems.add(where, f"IntegrationSubtype {raw['IntegrationSubtype']}", "AWS service integrations are not emulated")
        payload_version = raw.get("PayloadFormatVersion")
        if payload_version not in ("1.0", "2.0"):
            problems.add(where, f"PayloadFormatVersion {payload_version}", "a Lambda integration takes payload format 1.0 or 2.0")
        for setting in ("RequestParameters", "ResponseParameters", "RequestTemplates", "TemplateSelectionExpression"):
            if raw.get(setting):
                problems.add(where, setting, "parameter mapping and templates are not emulated")
        if raw.get("CredentialsArn"):
            problems.add(where, "CredentialsArn", "invoking through an IAM role is not emulated (use a Lambda permission)")
        if raw.get("TlsConfig") or raw.get("ConnectionId") or raw.get("ConnectionType") not in (None, "INTERNET"):
            problems.add(where, "ConnectionType/TlsConfig", "VPC links and TLS settings are not emulated")
        timeout_ms = raw.get("TimeoutInMillis") or DEFAULT_TIMEOUT_MS
        if not 50 <= int(timeout_ms) <= 30000:
            problems.add(where, f"TimeoutInMillis {timeout_ms}", "AWS allows 50-30000 ms")
        arn = function_arn_of(raw.get("IntegrationUri"))
        if kind == "AWS_PROXY" and arn is None:
            problems.add(where, f"IntegrationUri {raw.get('IntegrationUri')!r}", "not a Lambda function ARN or invoke ARN")
        if len(problems.lines) > before:
            return None
        target = self.target(arn)
        if target.unsupported:
            problems.add(where, f"IntegrationUri {arn}", target.unsupported)
            return None
        return Integration(raw["IntegrationId"], target, int(timeout_ms) / 1000.0, payload_version)

    def load_authorizer(self, raw: dict, execution_arn: str, where: str, problems: _Problems) -> Authorizer | None:
        authorizer_id = raw["AuthorizerId"]
        where = f"{where}, authorizer {raw.get('Name')!r} ({authorizer_id})"
        before = len(problems.lines)
        sources = tuple(raw.get("IdentitySource") or ())
        kind = raw.get("AuthorizerType")
        for source in sources:
            try:
                identity_value(HttpRequest("GET", "/", "", {}), source)
            except NotEmulated as error:
                problems.add(where, f"IdentitySource {source!r}", str(error))
        if raw.get("IdentityValidationExpression"):
            problems.add(where, "IdentityValidationExpression", "not used by HTTP APIs")
        if kind == "JWT":
            config = raw.get("JwtConfiguration") or {}
            issuer = config.get("Issuer")
            audience = tuple(config.get("Audience") or ())
            if len(sources) != 1:
                problems.add(where, "IdentitySource", f"a JWT authorizer takes exactly one identity source, not {len(sources)}")
            if not issuer:
                problems.add(where, "JwtConfiguration.Issuer", "missing")
            elif (why := self.issuer_problem(issuer)) is not None:
                problems.add(where, f"JwtConfiguration.Issuer {issuer}", why)
            if len(audience) > MAX_AUDIENCES:
                problems.add(where, "JwtConfiguration.Audience", f"{len(audience)} audiences, more than the {MAX_AUDIENCES} AWS allows")
            if len(problems.lines) > before:
                return None
            return Authorizer(authorizer_id, raw.get("Name", ""), "JWT", sources, issuer=issuer, audience=audience)
        if kind == "REQUEST":
            payload_version = raw.get("AuthorizerPayloadFormatVersion")
            if payload_version not in ("1.0", "2.0"):
                problems.add(where, f"AuthorizerPayloadFormatVersion {payload_version}",
                             "a Lambda authorizer takes payload format 1.0 or 2.0")
            elif payload_version == "1.0" and raw.get("EnableSimpleResponses"):
                problems.add(where, "EnableSimpleResponses with AuthorizerPayloadFormatVersion 1.0",
                             "simple responses exist only in payload format 2.0")
            if raw.get("AuthorizerCredentialsArn"):
                problems.add(where, "AuthorizerCredentialsArn", "invoking through an IAM role is not emulated (use a Lambda permission)")
            ttl = int(raw.get("AuthorizerResultTtlInSeconds") or 0)
            if not 0 <= ttl <= 3600:
                problems.add(where, f"AuthorizerResultTtlInSeconds {ttl}", "AWS allows 0-3600")
            if ttl and not sources:
                problems.add(where, "IdentitySource", "caching (a result TTL) needs identity sources")
            arn = function_arn_of(raw.get("AuthorizerUri"))
            if arn is None:
                problems.add(where, f"AuthorizerUri {raw.get('AuthorizerUri')!r}", "not a Lambda function ARN or invoke ARN")
            if len(problems.lines) > before:
                return None
            target = self.target(arn)
            if target.unsupported:
                problems.add(where, f"AuthorizerUri {arn}", target.unsupported)
                return None
            allowed = invoke_permitted(target.statements, _unqualified(arn), f"{execution_arn}/authorizers/{authorizer_id}",
                                       self.gw.account_id)
            return Authorizer(authorizer_id, raw.get("Name", ""), "REQUEST", sources, target=target,
                              simple_responses=bool(raw.get("EnableSimpleResponses")), ttl_s=ttl, invoke_allowed=allowed,
                              payload_version=payload_version)
        problems.add(where, f"AuthorizerType {kind}", "only JWT and REQUEST (Lambda) authorizers are emulated")
        return None

    def issuer_problem(self, issuer: str) -> str | None:
        """Why a JWT authorizer's issuer cannot be served locally, None if it is a pool of the embedded AWS."""
        match = _COGNITO_ISSUER.match(issuer)
        if not match:
            return ("not a Cognito user pool issuer (https://cognito-idp.<region>.amazonaws.com/<pool id>); the local "
                    "gateway can only verify tokens of the local Cognito")
        region, pool_id = match.groups()
        if issuer not in self.pools_checked:  # a pool of any region, looked up in the issuer's region
            try:
                self.gw._client("cognito-idp", region).describe_user_pool(UserPoolId=pool_id)
                self.pools_checked[issuer] = None
            except ClientError as error:  # ResourceNotFoundException
                self.pools_checked[issuer] = f"no user pool {pool_id} in {region} in the embedded AWS ({type(error).__name__})"
        return self.pools_checked[issuer]

    def load_stage(self, raw: dict, problems: _Problems) -> Stage | None:
        name = raw.get("StageName", "")
        where = f"stage {name!r}"
        before = len(problems.lines)
        if not raw.get("AutoDeploy"):
            problems.add(where, "AutoDeploy false", "the local gateway serves the API as it is now; it cannot "
                         "serve an earlier deployment (set auto_deploy = true)")
        if name != "$default" and not re.match(r"^[A-Za-z0-9_-]+$", name):
            problems.add(where, "StageName", "not a name the local gateway can route on")
        if len(problems.lines) > before:
            return None
        account = (ACCOUNT_RATE, float(ACCOUNT_BURST))
        defaults = _limits(raw.get("DefaultRouteSettings"), account)
        limits = {"$stage": defaults}
        for route_key, settings in (raw.get("RouteSettings") or {}).items():
            limits[route_key] = _limits(settings, defaults)
        return Stage(name, dict(raw.get("StageVariables") or {}), limits)


def _unqualified(arn: str) -> str:
    parts = arn.split(":")
    return ":".join(parts[:7])


# --- requests -------------------------------------------------------------------------------------

@dataclass
class _Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    preflight: bool = False


def _json_response(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> _Response:
    return _Response(status, [("content-type", "application/json"), *(headers or [])],
                     json.dumps({"message": message}, separators=(",", ":")).encode())


def not_found() -> _Response:
    return _json_response(404, "Not Found")


def internal_error() -> _Response:
    return _json_response(500, "Internal Server Error")


def _request_id() -> str:
    return base64.b64encode(os.urandom(11)).decode()


def _format_time(epoch: float) -> str:
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def _wsgi_str_to_bytes(value: str) -> bytes:
    return value.encode("latin-1", "replace")


def _raw_target(environ: Mapping[str, Any]) -> tuple[str, str]:
    """The raw (still percent-encoded) path and query the client sent."""
    uri = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if uri:
        try:  # undo WSGI's latin-1 decoding (PEP 3333), back to the request line's characters
            uri = uri.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        if "://" in uri.split("?", 1)[0]:  # absolute-form target
            after = uri.split("://", 1)[1]
            slash = after.find("/")
            uri = after[slash:] if slash >= 0 else "/"
        path, _, query = uri.partition("?")
        return path or "/", query
    path = quote(_wsgi_str_to_bytes(environ.get("PATH_INFO", "") or "/"), safe="/:@!$&'()*+,;=-._~")
    return path, environ.get("QUERY_STRING", "")


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_TYPES


def _event_body(headers: Mapping[str, str], body: bytes) -> tuple[str | None, bool]:
    """An event's (body, isBase64Encoded) (spec B4; the same for payload 1.0): text types as text,
    anything else base64; no body is None."""
    if not body:
        return None, False
    if _is_text(headers.get("content-type")):
        return body.decode("utf-8", "replace"), False
    return base64.b64encode(body).decode(), True


def _header_value(value: Any) -> str | None:
    """A header value from a function result as a WSGI string, None if malformed."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    elif not isinstance(value, str):
        return None
    if "\r" in value or "\n" in value:
        return None
    return value.encode("utf-8").decode("latin-1")


class _Malformed(Exception):
    pass


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def _status_code(payload: dict) -> int:
    status = payload["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise _Malformed(f"statusCode {status!r} is not an HTTP status code")
    return status


def _response_header(name: Any, value: Any) -> tuple[str, str] | None:
    """One header of a function result; None for one the server frames itself; raises _Malformed."""
    text = _header_value(value)
    if not isinstance(name, str) or not _HEADER_NAME.match(name) or text is None:
        raise _Malformed(f"header {name!r}: {value!r} is not a header")
    return None if name.lower() in HOP_BY_HOP else (name, text)


def _response_body(payload: dict) -> bytes:
    body = payload.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise _Malformed("body is not a string")
    elif payload.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _Malformed("isBase64Encoded but body is not base64") from None
    else:
        data = body.encode("utf-8")
    if "isBase64Encoded" in payload and not isinstance(payload["isBase64Encoded"], bool):
        raise _Malformed("isBase64Encoded is not a boolean")
    return data


def integration_response(payload: Any) -> _Response:
    """Map a function result to the HTTP response (spec B5); raises _Malformed (B6)."""
    if isinstance(payload, dict) and "statusCode" in payload:
        status = _status_code(payload)
        headers_in = payload.get("headers") or {}
        if not isinstance(headers_in, dict):
            raise _Malformed("headers is not an object")
        headers: list[tuple[str, str]] = []
        for name, value in headers_in.items():
            header = _response_header(name, value)
            if header is not None:
                headers.append(header)
        cookies = payload.get("cookies") or []
        if not isinstance(cookies, list):
            raise _Malformed("cookies is not an array")
        for cookie in cookies:
            text = _header_value(cookie) if isinstance(cookie, str) else None
            if text is None:
                raise _Malformed(f"cookie {cookie!r} is not a string")
            headers.append(("set-cookie", text))
        return _Response(status, headers, _response_body(payload))
    if isinstance(payload, str):
        data = payload.encode("utf-8")
    else:
        data = json.dumps(payload, separators=(",", ":")).encode()
    return _Response(200, [("content-type", "application/json")], data)


def integration_response_v1(payload: Any) -> _Response:
    """Map a payload 1.0 function result to the HTTP response (spec G3); raises _Malformed.

    Only `{statusCode, headers, multiValueHeaders, body, isBase64Encoded}` is a response: there is no
    200 for other JSON. A header named in both maps takes multiValueHeaders' values, then headers'
    value unless it is one of them (compared case-insensitively by name)."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        raise _Malformed("a payload 1.0 result needs a statusCode (other JSON is not a response)")
    status = _status_code(payload)
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(single, dict):
        raise _Malformed("headers is not an object")
    if not isinstance(multi, dict):
        raise _Malformed("multiValueHeaders is not an object")
    values: dict[str, list[tuple[str, str]]] = {}
    for name, listed in multi.items():
        if not isinstance(listed, list):
            raise _Malformed(f"multiValueHeaders {name!r} is not an array")
        for value in listed:
            header = _response_header(name, value)
            if header is not None:
                values.setdefault(name.lower(), []).append(header)
    for name, value in single.items():
        header = _response_header(name, value)
        if header is not None and header[1] not in [text for _, text in values.get(name.lower(), ())]:
            values.setdefault(name.lower(), []).append(header)
    headers = [header for listed in values.values() for header in listed]
    return _Response(status, headers, _response_body(payload))


class Gateway:
    """WSGI app serving every HTTP API of the embedded AWS. Call reload() before serving."""

    def __init__(self, aws_endpoint: str, runtime: Runtime, jwks: JwksCache, *, region: str | None = None,
                 account_id: str = ACCOUNT_ID, clock: Callable[[], float] = time.time) -> None:
        """`region`: serve the APIs of that region only; None (the data plane's way): of every region."""
        self.aws_endpoint = aws_endpoint.rstrip("/")
        self.runtime = runtime
        self.jwks = jwks
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self._config = Config({}, loaded=False)
        self._reload_lock = threading.Lock()
        self._lookup_caller = caller_lookup(self.aws_endpoint)
        self._control_plane: dict[tuple[str, str], Any] = {}

    def _client(self, service: str, region: str) -> Any:
        """A control plane client (apigatewayv2, lambda, cognito-idp) of a region, made once (a boto3
        client costs ~10 ms to make)."""
        key = (service, region)
        if key not in self._control_plane:
            self._control_plane[key] = aws.client(service, self.aws_endpoint, region)
        return self._control_plane[key]

    # -- configuration --

    def reload(self) -> None:
        """Re-read every HTTP API and swap the configuration at once; raises ConfigError after the
        swap when some API cannot be emulated (that API then answers 500 until a reload succeeds)."""
        with self._reload_lock:
            config, problems = _Loader(self).load()
            self._config = config
        for problem in problems:
            log.error("gateway: %s", problem)
        if problems:
            raise ConfigError("cannot emulate:\n  " + "\n  ".join(problems))

    def apis(self) -> dict[str, str]:
        """API id -> the Host that reaches it (`<id>.execute-api.localhost`; add the data plane's port)."""
        return {api_id: f"{api_id}{LOCAL_HOST_SUFFIX}" for api_id in self._config.apis}

    # -- WSGI --

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request_id = _request_id()
        config = self._config
        try:
            response = self._handle(environ, config, request_id)
        except Exception:  # noqa: BLE001 - never a traceback page: AWS answers 500
            log.exception("gateway: request %s failed", request_id)
            response = internal_error()
        response.headers.append(("apigw-requestid", request_id))
        body = response.body
        if response.status in (204, 304):  # no body, no Content-Length (RFC 9110)
            body = b""
        else:
            response.headers.append(("content-length", str(len(body))))
        if environ.get("REQUEST_METHOD") == "HEAD":
            body = b""
        start_response(_STATUS_LINES.get(response.status) or f"{response.status} Unknown", response.headers)
        return [body]

    def _handle(self, environ: dict, config: Config, request_id: str) -> _Response:
        if not config.loaded:
            log.error("gateway: request %s before the first reload()", request_id)
            return internal_error()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        raw_path, raw_query = _raw_target(environ)
        headers = self._headers(environ)
        protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")

        # C5: request line + headers, before anything else.
        head = len(method) + len(raw_path) + (len(raw_query) + 1 if raw_query else 0) + len(protocol) + 4
        head += sum(len(name) + len(value) + 4 for name, value in headers.items()) + 2
        if head > MAX_HEAD_BYTES:
            return _json_response(431, "Request Header Fields Too Large")

        host = headers.get("host", "")
        api = self._select_api(config, host)
        if api is None:
            return not_found()
        if isinstance(api, FailedApi):
            log.error("gateway: request %s to API %s answered 500: %s", request_id, api.id, api.reason)
            return internal_error()

        origin = headers.get("origin")
        cors_allowed = api.cors.allowed_origin(origin) if api.cors else None
        response = self._serve(environ, config, api, method, raw_path, raw_query, headers, host, protocol, request_id,
                               cors_allowed)
        if api.cors is not None:
            # C3: the gateway's CORS headers only; the backend's are dropped.
            response.headers = [(n, v) for n, v in response.headers if not n.lower().startswith("access-control-")]
            if cors_allowed is not None:
                if response.preflight:
                    response.headers.extend(api.cors.preflight_headers(cors_allowed))
                else:
                    response.headers.extend(api.cors.response_headers(cors_allowed))
        return response

    @staticmethod
    def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
        headers: dict[str, str] = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers[key[5:].replace("_", "-").lower()] = value
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        for name, value in headers.items():
            try:  # WSGI strings are latin-1 stand-ins for bytes; headers are UTF-8 in practice
                headers[name] = value.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
        return headers

    @staticmethod
    def _select_api(config: Config, host: str) -> Api | FailedApi | None:
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        hostname = hostname.lower()
        if hostname.endswith(LOCAL_HOST_SUFFIX):
            return config.apis.get(hostname[: -len(LOCAL_HOST_SUFFIX)])
        if len(config.apis) == 1:
            return next(iter(config.apis.values()))
        return None

    def _serve(self, environ: dict, config: Config, api: Api, method: str, raw_path: str, raw_query: str,
               headers: dict[str, str], host: str, protocol: str, request_id: str,
               cors_allowed: str | None) -> _Response:
        # Stage, then route (C1-C2), on the decoded segments of the path.
        path = unquote(raw_path)
        stage, stage_path = self._stage(api, raw_path)
        segments = [unquote(part) for part in stage_path[1:].split("/")] if stage is not None else []
        selected = None if stage is None else api.router.select(method, segments)

        # C3: a preflight is answered by the gateway, except where an authorized route takes OPTIONS
        # for that path (an OPTIONS, ANY or $default route): then it meets that route's authorizer
        # and fails, as on AWS, which is why an authorized catch-all breaks browsers' preflights.
        if (api.cors is not None and method == "OPTIONS" and "origin" in headers
                and "access-control-request-method" in headers
                and (selected is None or selected[0].auth_type == "NONE")):
            return _Response(204, [], b"", preflight=True)
        if stage is None:
            return not_found()
        if selected is None:
            return not_found()
        route, path_params = selected

        # C4: throttling, per route then account.
        now = self.clock()
        bucket = api.buckets.get((stage.name, route.key))
        if (bucket is not None and not bucket.take(now)) or (config.account_bucket and not config.account_bucket.take(now)):
            return _json_response(429, "Too Many Requests")

        # C5: the body, read with a bound.
        body = self._read_body(environ)
        if body is None:
            return _json_response(413, "Request Entity Too Large")

        source_ip = environ.get("REMOTE_ADDR", "")
        headers = self._forwarding_headers(headers, environ, source_ip, now)
        request = HttpRequest(method=method, raw_path=raw_path, raw_query=raw_query, headers=headers,
                              body=body, source_ip=source_ip)
        route_key = route.key
        request_arn = f"{api.execution_arn}/{stage.name}/{method}{unquote(stage_path)}"
        context = self._request_context(api, stage, route_key, method, path, protocol, source_ip, headers, host,
                                        request_id, now)
        query = query_parameters(raw_query)
        request_v1 = None  # the same facts for the payload 1.0 events, when the route has one (spec G)
        if route.integration.payload_version == "1.0" or (route.authorizer and route.authorizer.payload_version == "1.0"):
            resource = route.path if route.method != "$default" else path
            request_v1 = payload_v1.RequestV1(method, path, resource, self._header_values(environ, headers), raw_query,
                                              path_params, stage.variables,
                                              payload_v1.request_context(context, resource_path=resource))

        # Authorization: a refusal is answered here, and the integration is never invoked.
        try:
            decision = self._authorize(config, api, stage, route, request, host, request_arn, context, path_params, now,
                                       request_v1)
        except NotEmulated as error:
            log.error("gateway: request %s, route %r: %s", request_id, route.key, error)
            return internal_error()
        if isinstance(decision, _Response):
            return decision
        if decision is not None:
            if not decision.allowed:
                log.info("gateway: request %s, route %r refused (%s): %s", request_id, route.key, route.auth_type,
                         decision.reason)
                return _Response(decision.status, [("content-type", "application/json"),
                                                   *((str(k), str(v)) for k, v in (decision.headers or {}).items())],
                                 json.dumps(decision.body, separators=(",", ":")).encode())
            context["authorizer"] = decision.context

        if request_v1 is not None and route.integration.payload_version == "1.0":
            event = payload_v1.integration_event(request_v1, decision, *_event_body(headers, body))
            return self._invoke(api, stage, route, method, event, request_id)
        event = self._event(route_key, raw_query, path, headers, request_cookies(request), query, path_params, stage,
                            body, context)
        return self._invoke(api, stage, route, method, event, request_id)

    @staticmethod
    def _header_values(environ: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, list[str]]:
        """Each header's values one by one (payload 1.0's multiValueHeaders), from what the server kept
        (serving.HEADER_VALUES_KEY). A header the gateway set or changed (x-forwarded-*), or a server that
        kept nothing, gives the one joined value."""
        received = environ.get(HEADER_VALUES_KEY) or {}
        values: dict[str, list[str]] = {}
        for name, value in headers.items():
            listed = []
            for item in received.get(name, ()):
                try:  # WSGI's latin-1 stand-ins for bytes, back to UTF-8 as in _headers
                    item = item.encode("latin-1").decode("utf-8")
                except (UnicodeEncodeError, UnicodeDecodeError):
                    pass
                listed.append(item)
            values[name] = listed if listed and ",".join(listed) == value else [value]
        return values

    @staticmethod
    def _forwarding_headers(headers: dict[str, str], environ: Mapping[str, Any], source_ip: str,
                            now: float) -> dict[str, str]:
        """The headers API Gateway adds for the backend (seen in captures of real events, not in the spec)."""
        headers = dict(headers)
        forwarded = headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
        headers["x-forwarded-port"] = str(environ.get("SERVER_PORT", ""))
        headers["x-forwarded-proto"] = environ.get("wsgi.url_scheme", "http")
        headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{os.urandom(12).hex()}")
        return headers

    def _authorize(self, config: Config, api: Api, stage: Stage, route: Route, request: HttpRequest, host: str,
                   request_arn: str, context: dict[str, Any], path_params: dict[str, str], now: float,
                   request_v1: payload_v1.RequestV1 | None) -> Decision | _Response | None:
        if route.auth_type == "JWT":
            authorizer = route.authorizer
            return authorize_jwt(request, issuer=authorizer.issuer, audience=list(authorizer.audience),
                                 identity_source=authorizer.identity_sources[0], route_scopes=list(route.scopes),
                                 keys=self.jwks, now=now)
        if route.auth_type == "AWS_IAM":
            return authorize_iam(request, host=host, region=api.region, route_arn=request_arn,
                                 find_caller=lambda key_id: self._find_caller(config, key_id), now=now)
        if route.auth_type == "CUSTOM":
            return self._lambda_authorizer(api, route, stage, request, request_arn, context, path_params, request_v1)
        return None

    @staticmethod
    def _stage(api: Api, raw_path: str) -> tuple[Stage | None, str]:
        if len(api.stages) > 1 or "$default" not in api.stages:
            first = raw_path[1:].split("/", 1)[0]
            stage = api.stages.get(first)
            if stage is not None and first != "$default":
                rest = raw_path[1 + len(first):]
                return stage, rest or "/"
        return api.stages.get("$default"), raw_path

    @staticmethod
    def _read_body(environ: Mapping[str, Any]) -> bytes | None:
        stream = environ.get("wsgi.input")
        length = environ.get("CONTENT_LENGTH")
        if length:
            try:
                size = int(length)
            except ValueError:
                size = 0
            if size > MAX_BODY_BYTES:
                return None
            return stream.read(size) if stream is not None and size > 0 else b""
        if environ.get("wsgi.input_terminated") and stream is not None:
            data = stream.read(MAX_BODY_BYTES + 1)
            return None if len(data) > MAX_BODY_BYTES else data
        return b""

    def _request_context(self, api: Api, stage: Stage, route_key: str, method: str, path: str, protocol: str,
                         source_ip: str, headers: Mapping[str, str], host: str, request_id: str,
                         now: float) -> dict[str, Any]:
        hostname = host.rsplit(":", 1)[0] if host and not host.endswith("]") else host
        return {
            "accountId": self.account_id,
            "apiId": api.id,
            "domainName": host,
            "domainPrefix": (hostname or "").split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": protocol,
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": stage.name,
            "time": _format_time(now),
            "timeEpoch": int(now * 1000),
        }

    @staticmethod
    def _event(route_key: str, raw_query: str, path: str, headers: Mapping[str, str], cookies: list[str],
               query: dict[str, str], path_params: dict[str, str], stage: Stage, body: bytes,
               context: dict[str, Any]) -> dict[str, Any]:
        """The payload 2.0 event (spec B1-B4). Cookie headers go to `cookies` (the same split as the
        Lambda authorizer's event: repeated Cookie headers arrive joined with ",")."""
        event_headers = {name: value for name, value in headers.items() if name != "cookie"}
        event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": raw_query}
        if cookies:
            event["cookies"] = cookies
        event["headers"] = event_headers
        if query:
            event["queryStringParameters"] = query
        event["requestContext"] = context
        if path_params:
            event["pathParameters"] = path_params
        if stage.variables:
            event["stageVariables"] = dict(stage.variables)
        text, is_base64 = _event_body(headers, body)
        if text is not None:
            event["body"] = text
        event["isBase64Encoded"] = is_base64
        return event

    def _permitted(self, api: Api, stage: Stage, route: Route, method: str) -> bool:
        """B6: the integration function's policy allows API Gateway to invoke it for this route."""
        cache_key = (stage.name, method)
        verdict = route.permitted.get(cache_key)
        if verdict is None:
            if route.method == "$default":
                source_arn = f"{api.execution_arn}/{stage.name}/$default"
            else:
                source_arn = f"{api.execution_arn}/{stage.name}/{method}{route.path}"
            target = route.integration.target
            verdict = invoke_permitted(target.statements, _unqualified(target.ref), source_arn, self.account_id)
            route.permitted[cache_key] = verdict
        return verdict

    def _invoke(self, api: Api, stage: Stage, route: Route, method: str, event: dict, request_id: str) -> _Response:
        target = route.integration.target
        if target.function is None:
            log.error("gateway: request %s, route %r: %s", request_id, route.key, target.missing)
            return internal_error()
        if not self._permitted(api, stage, route, method):
            log.error("gateway: request %s, route %r: the resource policy of %s does not let apigateway.amazonaws.com "
                      "invoke it for this route (add a lambda permission)", request_id, route.key, target.ref)
            return internal_error()
        try:
            invocation = self.runtime.invoke(target.function, event, wait_s=route.integration.timeout_s)
        except LambdaRuntimeError as error:
            log.error("gateway: request %s, route %r: the runtime cannot run %s: %s", request_id, route.key, target.ref, error)
            return internal_error()
        except InvocationTimeout:
            log.error("gateway: request %s, route %r: integration timed out after %.3f s", request_id, route.key,
                      route.integration.timeout_s)
            return _json_response(503, "Service Unavailable")
        if invocation.error is not None:
            log.error("gateway: request %s, route %r: function error %s", request_id, route.key,
                      json.dumps(invocation.error)[:2000])
            return internal_error()
        try:
            if route.integration.payload_version == "1.0":
                return integration_response_v1(invocation.payload)
            return integration_response(invocation.payload)
        except _Malformed as malformed:
            log.error("gateway: request %s, route %r: malformed Lambda proxy response: %s", request_id, route.key,
                      malformed)
            return internal_error()

    # -- authorizers --

    def _find_caller(self, config: Config, access_key_id: str) -> Caller | None:
        """The caller of an access key; cached until the next reload (IAM writes trigger one)."""
        cached = config.callers.get(access_key_id, _NOT_CACHED)  # one read: another thread may clear()
        if cached is not _NOT_CACHED:
            return cached
        caller = self._lookup_caller(access_key_id)
        if len(config.callers) >= CALLER_CACHE_ENTRIES:
            config.callers.clear()
        config.callers[access_key_id] = caller
        return caller

    def _lambda_authorizer(self, api: Api, route: Route, stage: Stage, request: HttpRequest, request_arn: str,
                           context: dict[str, Any], path_params: dict[str, str],
                           request_v1: payload_v1.RequestV1 | None) -> Decision | _Response:
        authorizer = route.authorizer
        if authorizer.payload_version == "1.0":
            event = payload_v1.authorizer_event(request_v1, request, method_arn=request_arn,
                                                identity_sources=authorizer.identity_sources)
        else:
            event = lambda_authorizer_event(request, route_arn=request_arn, route_key=route.key,
                                            identity_sources=list(authorizer.identity_sources),
                                            request_context=dict(context), path_parameters=dict(path_params),
                                            stage_variables=dict(stage.variables))
        if event is None:  # an identity source is missing: 401 without invoking
            return lambda_identity_missing(authorizer.identity_sources)
        if authorizer.payload_version == "2.0":
            event["rawPath"] = context["http"]["path"]  # the same (decoded) rawPath as the integration's event
        identity = event.get("identitySource") or ()
        identity = (identity,) if isinstance(identity, str) else tuple(str(v) for v in identity)
        target = authorizer.target
        if target.function is None or not authorizer.invoke_allowed:
            log.error("gateway: authorizer %s (%s): %s", authorizer.name, authorizer.id,
                      target.missing or f"the resource policy of {target.ref} does not let apigateway.amazonaws.com "
                      f"invoke it for {api.execution_arn}/authorizers/{authorizer.id}")
            return internal_error()
        # Everything that could change the result is in the key, so the cache can outlive reloads.
        function = target.function
        cache_key = (authorizer.id, function.arn, function.code_sha256, function.handler,
                     tuple(sorted(function.environment.items())), authorizer.simple_responses, authorizer.ttl_s,
                     authorizer.identity_sources, authorizer.payload_version, identity)
        result, found = None, False
        if authorizer.ttl_s:
            with api.authorizer_lock:
                cached = api.authorizer_cache.get(cache_key)
                if cached is not None and cached[0] > self.clock():
                    result, found = cached[1], True
        if not found:
            try:
                invocation = self.runtime.invoke(target.function, event, wait_s=AUTHORIZER_WAIT_S)
            except LambdaRuntimeError as error:
                log.error("gateway: authorizer %s (%s): the runtime cannot run %s: %s", authorizer.name, authorizer.id,
                          target.ref, error)
                return internal_error()
            except InvocationTimeout:
                log.error("gateway: authorizer %s (%s) timed out", authorizer.name, authorizer.id)
                return internal_error()
            if invocation.error is not None:
                log.error("gateway: authorizer %s (%s) failed: %s", authorizer.name, authorizer.id,
                          json.dumps(invocation.error)[:2000])
                return internal_error()
            result = invocation.payload
        decision = interpret_lambda_authorizer(result, simple_responses=authorizer.simple_responses, route_arn=request_arn)
        if authorizer.ttl_s and not found and decision.status != 500:  # a malformed answer is not kept
            with api.authorizer_lock:
                api.authorizer_cache[cache_key] = (self.clock() + authorizer.ttl_s, result)
                while len(api.authorizer_cache) > AUTHORIZER_CACHE_ENTRIES:
                    api.authorizer_cache.popitem(last=False)
        return decision
