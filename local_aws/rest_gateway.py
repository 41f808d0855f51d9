"""REST API (API Gateway v1) data plane: private APIs behind VPC endpoints, Lambda proxy integrations.

Serves every REST API of the embedded AWS (spec H in docs/aws-behaviour.md) the way the HTTP API
gateway (gateway.py) serves HTTP APIs, and with its parts: its route matching (gateway.Router), its
Lambda targets and invoke-permission check, the payload 1.0 event and response mapping
(payload_v1.py, gateway.integration_response_v1, spec G2-G3, H4), SigV4 checking and the one IAM
policy evaluator (authorizer.py), extended there for resource policies.

"Private" (H1-H3): each interface VPC endpoint for execute-api in the embedded AWS gets a listener
of its own; a request through it carries that endpoint's id as `aws:SourceVpce` (and its VPC as
`aws:SourceVpc`) into the resource policy. The ordinary listener is the internet: no endpoint, so
the keys are absent, and a private API's documented policy (Deny unless aws:SourceVpce is one of
its endpoints) refuses there as on AWS, with AWS's body for a resource-policy refusal:
403 {"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: <arn>
with an explicit deny"} (apigateway-resource-policies-create-attach, and AWS's 403 troubleshooting
page for the wording of implicit and explicit denials).

A public (regional or edge) REST API answers on the internet listener only; through an endpoint's
listener it is 403 {"message":"Forbidden"}, as a VPC whose execute-api endpoint has private DNS on
cannot reach public APIs.

Which API a request is for: the Host `{api-id}.execute-api.localhost` or `{api-id}-{vpce-id}.execute-api.localhost`,
or an `x-apigw-api-id` header (the forms H1 lists), or the only REST API there is.

Deployments (H2): a stage serves the snapshot of its deployment: the resources, methods,
integrations and resource policy as the data plane first saw that deployment. A policy or route
change is served only once a new deployment is on the stage. Functions are not part of the snapshot
(a new function version is served at once, as on AWS).

Authorization (apigateway-authorization-flow): NONE methods need the resource policy's Allow for an
anonymous caller (Principal "*"); AWS_IAM methods need a valid SigV4 signature, then an explicit
Deny in the identity or the resource policy refuses, else an Allow in either grants. An unsigned
request to an AWS_IAM method: 403 {"message":"Missing Authentication Token"}.

Fails closed: what cannot be emulated is a ConfigError naming the API and setting (the API then
answers 500 until a reload succeeds): resource policy conditions other than StringEquals/
StringNotEquals/StringLike/StringNotLike (and ...IfExists, ...IgnoreCase) on aws:SourceVpce or
aws:SourceVpc, NotPrincipal; a private API without a policy; methods other than Lambda proxy
(AWS_PROXY) integrations; authorization other than NONE and AWS_IAM; API keys (apiKeyRequired).

Local choices (UNCONFIRMED; see docs/local-choices.md):
- No matching stage, resource or method: 403 {"message":"Missing Authentication Token"} (what REST
  APIs answer for an unknown path); an API no Host, header or uniqueness selects: 403 {"message":"Forbidden"}.
- A signed request the policies refuse: 403 {"Message":"User: <user ARN> is not authorized to perform:
  execute-api:Invoke on resource: <arn>[ with an explicit deny]"}; a bad signature: 403
  {"message":"Forbidden"}.
- Function errors and malformed results: 502 {"message":"Internal server error"}; a missing invoke
  permission or a function the runtime cannot run: 500 {"message":"Internal server error"}; the
  integration timeout: 504 {"message":"Endpoint request timed out"}.
- Stage throttling, method settings, access logs, request validation and usage plans are not
  applied (they refuse more than this data plane, never less, except throttling, which the HTTP
  API gateway emulates and this one leaves to AWS).
- event.path is the path without the stage, requestContext.path with it; requestContext.identity
  carries vpceId and vpcId through an endpoint (H4); resourceId is the resource's id.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import unquote

from local_aws import aws, hosts, ids, payload_v1, payload_v2
from local_aws.authorizer import (
    INVOKE_ACTION,
    Caller,
    HttpRequest,
    authorize_iam,
    caller_lookup,
    evaluate_policies,
    resource_policy_problems,
)
from local_aws.aws import ACCOUNT_ID, REGION
from local_aws.embedded_rest import unescaped_policy
from local_aws.gateway import (
    LOCAL_HOST_SUFFIX,
    ConfigError,
    Integration,
    Route,
    Router,
    Target,
    _Malformed,
    _parse_route_path,
    _event_body,
    too_large,
    _unqualified,
    function_arn_of,
    integration_response_v1,
    invoke_permitted,
    lambda_target,
)
from local_aws.runtime import InvocationTimeout, LambdaRuntimeError, Runtime

log = logging.getLogger(__name__)

INTERNET = "internet"  # the source of requests through the ordinary listener (no VPC endpoint)
DEFAULT_TIMEOUT_MS = 29000


@dataclass(frozen=True)
class MethodSnapshot:
    """One method of a deployment, as deployed."""

    resource_id: str
    path: str                 # the resource path, "/orders/{id}"
    method: str               # GET, ..., ANY
    authorization: str        # NONE | AWS_IAM
    function_arn: str
    timeout_ms: int


@dataclass(frozen=True)
class DeploymentSnapshot:
    methods: tuple[MethodSnapshot, ...]
    policy: dict | None
    problems: tuple[str, ...]  # what cannot be emulated in it


@dataclass
class RestStage:
    name: str
    variables: Mapping[str, str]
    router: Router
    policy: dict | None
    resource_ids: dict[str, str]  # route key -> resource id


@dataclass
class RestApi:
    id: str
    name: str
    private: bool
    execution_arn: str
    stages: dict[str, RestStage]
    region: str = REGION
    failed: str | None = None  # why it answers 500


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _json(status: int, payload: dict, error_type: str | None = None) -> _Answer:
    headers = [("content-type", "application/json")]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return _Answer(status, headers, json.dumps(payload, separators=(",", ":")).encode())


def missing_token() -> _Answer:
    return _json(403, {"message": "Missing Authentication Token"}, "MissingAuthenticationTokenException")


def not_authorized(user: str, resource_arn: str, explicit: bool) -> _Answer:
    text = f"User: {user} is not authorized to perform: execute-api:Invoke on resource: {resource_arn}"
    return _json(403, {"Message": text + (" with an explicit deny" if explicit else "")}, "AccessDeniedException")


def server_error(status: int = 500, message: str = "Internal server error") -> _Answer:
    return _json(status, {"message": message})


def expanded_policy(policy: dict, execution_arn: str) -> dict:
    """The policy with AWS's `execute-api:/...` shorthand written out as the API's ARNs."""
    def expand(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("execute-api:/"):
            return f"{execution_arn}/" + value[len("execute-api:/"):]
        if isinstance(value, list):
            return [expand(v) for v in value]
        return value

    statements = policy.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list):
        return policy
    out = []
    for statement in statements:
        if isinstance(statement, dict):
            statement = {k: expand(v) if k in ("Resource", "NotResource") else v for k, v in statement.items()}
        out.append(statement)
    return {**policy, "Statement": out}


class RestGateway:
    """Every REST API of the embedded AWS; `app(source)` is the WSGI app of one listener."""

    def __init__(self, aws_endpoint: str, runtime: Runtime, *, region: str | None = None, account_id: str = ACCOUNT_ID,
                 clock: Callable[[], float] = time.time) -> None:
        """`region`: serve the REST APIs of that region only; None (the data plane's way): of every region."""
        self.aws_endpoint = aws_endpoint.rstrip("/")
        self.runtime = runtime
        self.region = region
        self.account_id = account_id
        self.clock = clock
        self.apis: dict[str, RestApi] = {}
        self.endpoints: dict[str, str] = {}  # execute-api VPC endpoint id -> its VPC id
        self._snapshots: dict[tuple[str, str], DeploymentSnapshot] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._lookup_caller = caller_lookup(self.aws_endpoint)
        self._callers: dict[str, Caller | None] = {}

    # -- configuration --

    def _client(self, service: str, region: str) -> Any:
        """A control plane client (apigateway, lambda, ec2) of a region, made once."""
        if (service, region) not in self._clients:
            self._clients[(service, region)] = aws.client(service, self.aws_endpoint, region)
        return self._clients[(service, region)]

    def reload(self) -> None:
        """Re-read every REST API and VPC endpoint; raises ConfigError (after the swap) naming what
        cannot be emulated: that API answers 500 until a reload succeeds."""
        with self._lock:
            generation = aws.generation(self.aws_endpoint)
            targets: dict[str, Target] = {}
            apis, problems, endpoints = {}, [], {}
            # Each region's REST APIs, and the execute-api endpoints of those regions (an endpoint
            # reaches the APIs of its own region only).
            for region in [self.region] if self.region else aws.regions(self.aws_endpoint, "apigateway"):
                apigw = self._client("apigateway", region)
                for endpoint in self._client("ec2", region).describe_vpc_endpoints().get("VpcEndpoints", []):
                    if (endpoint.get("ServiceName") == f"com.amazonaws.{region}.execute-api"
                            and endpoint.get("VpcEndpointType", "Interface") == "Interface"
                            and endpoint.get("State", "available").lower() not in ("deleted", "deleting", "failed", "rejected")):
                        endpoints[endpoint["VpcEndpointId"]] = endpoint.get("VpcId", "")
                for item in aws.pages(apigw.get_rest_apis, "items", "position"):
                    api = self._load_api(apigw, region, item, generation, targets)
                    if api.id in apis:  # moto draws ids at random: two regions' APIs would share a Host
                        api.failed = f"REST API {api.name} ({api.id}): another region has a REST API of this id"
                    apis[api.id] = api
                    if api.failed:
                        problems.append(api.failed)
            self.apis, self.endpoints = apis, endpoints
            self._callers = {}
        for problem in problems:
            log.error("rest gateway: %s", problem)
        if problems:
            raise ConfigError("cannot emulate:\n  " + "\n  ".join(problems))

    def _snapshot(self, apigw: Any, item: dict, execution_arn: str) -> DeploymentSnapshot:
        api_id, problems, methods = item["id"], [], []
        private = "PRIVATE" in (item.get("endpointConfiguration") or {}).get("types", [])
        policy = None
        if item.get("policy"):
            try:
                policy = expanded_policy(unescaped_policy(item["policy"]), execution_arn)
            except (json.JSONDecodeError, AttributeError):
                problems.append("its resource policy is not JSON")
            else:
                problems.extend(f"resource policy {p}" for p in resource_policy_problems(policy))
        elif private:
            problems.append("a private API without a resource policy (AWS does not deploy one, spec H2)")
        for resource in aws.pages(apigw.get_resources, "items", "position", restApiId=api_id, limit=500):
            for http_method in sorted(resource.get("resourceMethods") or {}):
                where = f"{http_method} {resource['path']}"
                raw = apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=http_method)
                authorization = raw.get("authorizationType", "NONE")
                if authorization not in ("NONE", "AWS_IAM"):
                    problems.append(f"{where}: authorizationType {authorization} (only NONE and AWS_IAM are emulated)")
                if raw.get("apiKeyRequired"):
                    problems.append(f"{where}: apiKeyRequired (API keys and usage plans are not emulated)")
                integration = raw.get("methodIntegration") or {}
                arn = function_arn_of(integration.get("uri"))
                if integration.get("type") != "AWS_PROXY" or arn is None:
                    problems.append(f"{where}: integration type {integration.get('type')} to {integration.get('uri')!r} "
                                    "(only Lambda proxy integrations, AWS_PROXY, are emulated)")
                    continue
                methods.append(MethodSnapshot(resource["id"], resource["path"], http_method, authorization, arn,
                                              int(integration.get("timeoutInMillis") or DEFAULT_TIMEOUT_MS)))
        return DeploymentSnapshot(tuple(methods), policy, tuple(problems))

    def _load_api(self, apigw: Any, region: str, item: dict, generation: int | None,
                  targets: dict[str, Target]) -> RestApi:
        api_id, name = item["id"], item.get("name", "")
        execution_arn = f"arn:aws:execute-api:{region}:{self.account_id}:{api_id}"  # its own region (E1)
        private = "PRIVATE" in (item.get("endpointConfiguration") or {}).get("types", [])
        api = RestApi(api_id, name, private, execution_arn, {}, region)
        problems = []
        for raw_stage in apigw.get_stages(restApiId=api_id).get("item", []):
            deployment_id = raw_stage.get("deploymentId")
            key = (api_id, deployment_id)
            if key not in self._snapshots:  # first seen: what this deployment serves from now on (H2)
                self._snapshots[key] = self._snapshot(apigw, item, execution_arn)
            snapshot = self._snapshots[key]
            problems.extend(f"stage {raw_stage['stageName']}: {p}" for p in snapshot.problems)
            routes, resource_ids = [], {}
            for method in snapshot.methods:
                specs, problem = _parse_route_path(method.path)
                if problem:
                    problems.append(f"{method.method} {method.path}: {problem}")
                    continue
                if method.function_arn not in targets:
                    lam = self._client("lambda", aws.arn_region(method.function_arn))  # the function's own region
                    targets[method.function_arn] = lambda_target(self.runtime, lam, method.function_arn, generation)
                target = targets[method.function_arn]
                if target.unsupported:
                    problems.append(f"{method.method} {method.path}: {target.unsupported}")
                key_text = f"{method.method} {method.path}"
                rank = tuple({"lit": 0, "param": 1, "greedy": 2}[kind] for kind, _ in specs)
                routes.append(Route(key_text, method.method, method.path, specs, rank, method.authorization, None, (),
                                    Integration(method.resource_id, target, method.timeout_ms / 1000, "1.0")))
                resource_ids[key_text] = method.resource_id
            api.stages[raw_stage["stageName"]] = RestStage(raw_stage["stageName"], raw_stage.get("variables") or {},
                                                           Router(routes), snapshot.policy, resource_ids)
        if problems:
            api.failed = f"REST API {name} ({api_id}): " + "; ".join(problems)
        return api

    # -- what the data plane publishes --

    def describe(self, internet_url: str, endpoint_urls: Mapping[str, str]) -> dict[str, dict]:
        """stack.json's rest_apis: {api id: {name, private, urls: {endpoint id | "internet": url with the stage}}}.
        With one REST API its URLs are the listeners' own; with several, a Host names the API."""
        def base(url: str, api_id: str) -> str:
            if len(self.apis) == 1:
                return url
            scheme, rest = url.split("://", 1)
            return f"{scheme}://{api_id}{LOCAL_HOST_SUFFIX}:{rest.rsplit(':', 1)[1]}"

        described = {}
        for api_id, api in sorted(self.apis.items()):
            stage = next(iter(sorted(api.stages)), None)
            suffix = f"/{stage}" if stage else ""
            urls = {vpce: base(url, api_id) + suffix for vpce, url in sorted(endpoint_urls.items())}
            urls[INTERNET] = base(internet_url, api_id) + suffix
            described[api_id] = {"name": api.name, "private": api.private, "urls": urls}
        return described

    # -- serving --

    def listener(self, source: str) -> Callable[[HttpRequest], tuple[str, list[tuple[str, str]], bytes]]:
        """The request handler of the listener for `source`: a VPC endpoint id, or INTERNET."""
        def listener(request: HttpRequest) -> tuple[str, list[tuple[str, str]], bytes]:
            request_id = _request_id()
            try:
                answer = self._handle(request, source, request_id)
            except Exception:  # noqa: BLE001 - never a traceback page
                log.exception("rest gateway: request %s failed", request_id)
                answer = server_error()
            headers = [*answer.headers, ("x-amzn-RequestId", request_id), ("content-length", str(len(answer.body)))]
            return f"{answer.status} {_reason(answer.status)}", headers, answer.body
        return listener

    def _select(self, headers: Mapping[str, str]) -> RestApi | None:
        hostname = hosts.host_name(headers.get("host", ""))
        if headers.get("x-apigw-api-id"):
            return self.apis.get(headers["x-apigw-api-id"])
        if hostname.endswith(LOCAL_HOST_SUFFIX):
            label = hostname[: -len(LOCAL_HOST_SUFFIX)]
            return self.apis.get(label) or self.apis.get(label.split("-vpce-", 1)[0])
        if len(self.apis) == 1:
            return next(iter(self.apis.values()))
        return None

    def _handle(self, request: HttpRequest, source: str, request_id: str) -> _Answer:
        headers = request.headers
        api = self._select(headers)
        if api is None:
            return _json(403, {"message": "Forbidden"})
        if api.failed:
            log.error("rest gateway: request %s answered 500: %s", request_id, api.failed)
            return server_error()
        if not api.private and source != INTERNET:
            # A VPC endpoint with private DNS takes over execute-api names in its VPC: public (regional,
            # edge) APIs are not reachable through it (apigateway-private-apis).
            return _json(403, {"message": "Forbidden"})
        method, raw_path, raw_query = request.method, request.raw_path, request.raw_query
        first, _, rest = raw_path[1:].partition("/")
        stage = api.stages.get(unquote(first))
        if stage is None:
            return missing_token()
        stage_path = "/" + rest
        segments = [unquote(part) for part in rest.split("/")]
        selected = stage.router.select(method, segments)
        if selected is None:
            return missing_token()
        route, path_params = selected

        if too_large(request):
            return _json(413, {"message": "Request Entity Too Large"})
        body = request.body
        now = self.clock()
        source_ip = request.source_ip
        host = headers.get("host", "")
        request_arn = f"{api.execution_arn}/{stage.name}/{method}{unquote(stage_path)}"
        conditions = {} if source == INTERNET else {"aws:sourcevpce": source, "aws:sourcevpc": self.endpoints.get(source, "")}

        def resource_policy(caller: tuple[str, str] | None):
            if stage.policy is None:  # a public API without a policy: identity policies alone decide
                return None
            return evaluate_policies([stage.policy], action=INVOKE_ACTION, resource=request_arn, context=conditions,
                                     caller=caller, resource_policy=True)

        decision = None
        if route.auth_type == "AWS_IAM":
            if request.header("authorization") is None:
                return missing_token()
            decision = authorize_iam(
                request, host=host, region=api.region, route_arn=request_arn, find_caller=self._find_caller, now=now,
                resource_policy=None if stage.policy is None else (lambda c: resource_policy((c.user_arn, c.account_id))))
            if not decision.allowed:
                log.info("rest gateway: request %s, %s refused: %s", request_id, route.key, decision.reason)
                user, sep, _ = decision.reason.partition(": ")
                if sep and user.startswith("arn:"):
                    return not_authorized(user, request_arn, decision.explicit_deny)
                return _json(403, {"message": "Forbidden"})
        else:
            verdict = resource_policy(None)
            if verdict is not None and not verdict.allowed:
                log.info("rest gateway: request %s, %s refused by the resource policy: %s", request_id, route.key,
                         verdict.reason)
                return not_authorized("anonymous", request_arn, verdict.effect == "Deny")

        path = unquote(raw_path)
        context_v2 = {
            "accountId": self.account_id, "apiId": api.id, "domainName": host,
            "domainPrefix": hosts.host_name(host).split(".", 1)[0] if host else "",
            "http": {"method": method, "path": path, "protocol": request.protocol,
                     "sourceIp": source_ip, "userAgent": headers.get("user-agent", "")},
            "requestId": request_id, "stage": stage.name, "time": payload_v2.format_time(now),
            "timeEpoch": int(now * 1000),
        }
        context = payload_v1.request_context(context_v2, resource_path=route.path)
        context["resourceId"] = stage.resource_ids.get(route.key)
        if source != INTERNET:  # H4: the endpoint and its VPC, for private APIs
            context["identity"] = {**context["identity"], "vpceId": source, "vpcId": self.endpoints.get(source)}
        request_v1 = payload_v1.RequestV1(method, unquote(stage_path), route.path,
                                          {name: request.values(name) for name in headers}, raw_query, path_params, stage.variables, context)
        event = payload_v1.integration_event(request_v1, decision, *_event_body(headers, body))
        return self._invoke(api, stage, route, method, event, request_id)

    def _find_caller(self, access_key_id: str) -> Caller | None:
        if access_key_id not in self._callers:
            self._callers[access_key_id] = self._lookup_caller(access_key_id)
        return self._callers[access_key_id]

    def _invoke(self, api: RestApi, stage: RestStage, route: Route, method: str, event: dict, request_id: str) -> _Answer:
        target = route.integration.target
        if target.function is None:
            log.error("rest gateway: request %s, %s: %s", request_id, route.key, target.missing)
            return server_error()
        # The permission the module grants: <execution arn>/<stage>/<METHOD>/<resource path>.
        source_arn = f"{api.execution_arn}/{stage.name}/{method}{route.path}"
        if not invoke_permitted(target.statements, _unqualified(target.ref), source_arn, self.account_id):
            log.error("rest gateway: request %s, %s: the resource policy of %s does not let apigateway.amazonaws.com "
                      "invoke it for %s", request_id, route.key, target.ref, source_arn)
            return server_error()
        try:
            invocation = self.runtime.invoke(target.function, event, wait_s=route.integration.timeout_s)
        except LambdaRuntimeError as error:
            log.error("rest gateway: request %s, %s: the runtime cannot run %s: %s", request_id, route.key, target.ref, error)
            return server_error()
        except InvocationTimeout:
            return server_error(504, "Endpoint request timed out")
        if invocation.error is not None:
            log.error("rest gateway: request %s, %s: function error %s", request_id, route.key,
                      json.dumps(invocation.error)[:2000])
            return server_error(502)
        try:
            response = integration_response_v1(invocation.payload)
        except _Malformed as malformed:
            log.error("rest gateway: request %s, %s: malformed Lambda proxy response: %s", request_id, route.key, malformed)
            return server_error(502)
        return _Answer(response.status, response.headers, response.body)


def _request_id() -> str:
    raw = ids.random_bytes(16).hex()
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _reason(status: int) -> str:
    from http import HTTPStatus
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
