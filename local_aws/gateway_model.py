"""The local HTTP API gateway's configuration model: what gateway_loader.py builds from the control
plane and gateway.py serves, immutable once loaded (token buckets and caches aside), and AWS's
limits on it (spec C)."""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from local_aws.authorizer import Caller
from local_aws.aws import REGION
from local_aws.runtime import Function

MAX_ROUTES = 300
MAX_AUTHORIZERS = 10
MAX_AUDIENCES = 50
MAX_SCOPES = 10
DEFAULT_TIMEOUT_MS = 30000
ACCOUNT_RATE, ACCOUNT_BURST = 10000.0, 5000
LOCAL_HOST_SUFFIX = ".execute-api.localhost"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
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
