"""Loading the HTTP APIs of the embedded AWS into the gateway's configuration (gateway_model.py):
one `_Loader` per reload reads the APIs, routes, integrations, authorizers and stages with boto3,
each API in its own region, and names every setting it cannot emulate (`_Problems`: the API then
fails closed). What is refused and why is listed in gateway.py's docstring."""
from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, Mapping

from botocore.exceptions import ClientError

from local_aws import aws
from local_aws.authorizer import HttpRequest, NotEmulated, identity_value
from local_aws.aws import REGION
from local_aws.gateway_model import (
    _COGNITO_ISSUER,
    _PARAM,
    _ROUTE_KEY,
    ACCOUNT_BURST,
    ACCOUNT_RATE,
    DEFAULT_TIMEOUT_MS,
    LOCAL_HOST_SUFFIX,
    MAX_AUDIENCES,
    MAX_AUTHORIZERS,
    MAX_ROUTES,
    MAX_SCOPES,
    METHODS,
    Api,
    Authorizer,
    Config,
    Cors,
    FailedApi,
    Integration,
    Route,
    Router,
    Stage,
    Target,
    TokenBucket,
    _Problems,
)
from local_aws.lambda_permissions import _as_list, _unqualified, function_arn_of, invoke_permitted
from local_aws.runtime import FunctionNotFound, LambdaRuntimeError, Runtime, UnsupportedFunction

if TYPE_CHECKING:
    from local_aws.gateway import Gateway

log = logging.getLogger("local_aws.gateway")  # its refusals are the gateway's


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


def lambda_target(runtime: Runtime, lam: Any, arn: str, generation: int | None) -> Target:
    """The function an integration or authorizer names, with its resource policy (also REST APIs')."""
    function, missing, unsupported = None, None, None
    try:
        function = runtime.function(arn, generation=generation)
    except UnsupportedFunction as error:
        unsupported = str(error)
        missing = f"function {arn} is not emulated: {error}"
    except (FunctionNotFound, LambdaRuntimeError) as error:  # e.g. deleted: AWS answers 500 when invoked
        missing = f"function {arn} cannot be invoked: {error}"
    statements: tuple[dict, ...] = ()
    name, _, qualifier = arn.split(":", 6)[6].partition(":")
    try:
        kwargs = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        policy = json.loads(lam.get_policy(**kwargs)["Policy"])
        statements = tuple(_as_list(policy.get("Statement", [])))
    except lam.exceptions.ResourceNotFoundException:
        statements = ()  # no policy (or no function): nothing may invoke it
    return Target(arn, function, missing, statements, unsupported)


class _Loader:
    """One reload: reads the control plane and builds a Config (or per-API failures)."""

    def __init__(self, gateway: "Gateway"):
        self.gw = gateway
        self.region = gateway.region or REGION  # of the API being loaded; set per region by load()
        self.apigw = gateway._client("apigatewayv2", self.region)
        self.targets: dict[str, Target] = {}
        self.pools_checked: dict[str, str | None] = {}
        self.generation = aws.generation(gateway.aws_endpoint)

    def target(self, arn: str) -> Target:
        if arn not in self.targets:  # the function's policy is read in its own region
            self.targets[arn] = lambda_target(self.gw.runtime, self.gw._client("lambda", aws.arn_region(arn)), arn,
                                              self.generation)
        return self.targets[arn]

    def load(self) -> tuple[Config, list[str]]:
        apis: dict[str, Api | FailedApi] = {}
        problems: list[str] = []
        regions = [self.gw.region] if self.gw.region else aws.regions(self.gw.aws_endpoint, "apigatewayv2")
        for region in regions:
            self.region, self.apigw = region, self.gw._client("apigatewayv2", region)
            for item in aws.pages(self.apigw.get_apis):
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
        cors = load_cors(item.get("CorsConfiguration"), problems)
        authorizers = {a["AuthorizerId"]: a for a in self.apigw.get_authorizers(ApiId=api_id).get("Items", [])}
        integrations = {i["IntegrationId"]: i for i in aws.pages(self.apigw.get_integrations, ApiId=api_id)}
        routes_raw = aws.pages(self.apigw.get_routes, ApiId=api_id)
        stages_raw = aws.pages(self.apigw.get_stages, ApiId=api_id)
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
            stage = load_stage(raw, problems)
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


def load_stage(raw: dict, problems: _Problems) -> Stage | None:
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
