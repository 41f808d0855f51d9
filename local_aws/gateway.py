"""HTTP API data plane: config from the control plane, routing, CORS, throttling, events.

This module serves requests (`Gateway`); its parts are the configuration model (gateway_model.py),
its loading (gateway_loader.py), route authorization (gateway_auth.py), the events (payload_v2.py,
payload_v1.py), Lambda resource policies (lambda_permissions.py) and the mapping of results to
responses (gateway_responses.py).

Serves every HTTP API of the embedded AWS, in every region it holds one in, as a request handler of
the data plane's server (one parse of the request, an http_request.HttpRequest), the way
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
- Not emulated, and refused at load: see `_Loader` (gateway_loader.py). Custom domains are not served (an API with
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
  (HttpRequest.header_values). For a header the gateway sets (x-forwarded-*), a header has one
  value: the comma-joined one.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any, Callable, Mapping
from urllib.parse import unquote

from local_aws import aws, hosts, ids, payload_v1, payload_v2
from local_aws.authorizer import HttpRequest, JwksCache, NotEmulated, caller_lookup
from local_aws.aws import ACCOUNT_ID
from local_aws.gateway_auth import RouteAuthorization
# The parts of the gateway, importable from here as before (rest_gateway.py and the audit use them).
from local_aws.gateway_loader import _Loader, _parse_route_path, lambda_target  # noqa: F401
from local_aws.gateway_model import (  # noqa: F401
    LOCAL_HOST_SUFFIX,
    METHODS,
    Api,
    Authorizer,
    Config,
    ConfigError,
    Cors,
    FailedApi,
    Integration,
    Route,
    Router,
    Stage,
    Target,
    TokenBucket,
)
from local_aws.gateway_responses import (  # noqa: F401
    HOP_BY_HOP,
    STATUS_LINES,
    _json_response,
    _Malformed,
    _Response,
    integration_response,
    integration_response_v1,
    internal_error,
    not_found,
)
from local_aws.lambda_permissions import _as_list, _unqualified, arn_like, function_arn_of, invoke_permitted  # noqa: F401
from local_aws.runtime import InvocationTimeout, LambdaRuntimeError, Runtime

log = logging.getLogger(__name__)

# --- limits of a request (spec C5) ---------------------------------------------------------------

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_HEAD_BYTES = 10240


# --- requests -------------------------------------------------------------------------------------

def _request_id() -> str:
    return base64.b64encode(ids.random_bytes(11)).decode()


def too_large(request: HttpRequest) -> bool:
    """C5: a body over MAX_BODY_BYTES, declared or received (or not read to its end by the server)."""
    declared = request.headers.get("content-length")
    return (not request.body_complete or len(request.body) > MAX_BODY_BYTES
            or (declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES))


def _event_body(headers: Mapping[str, str], body: bytes) -> tuple[str | None, bool]:
    """An event's (body, isBase64Encoded) for the request's headers (payload_v2.event_body)."""
    return payload_v2.event_body(headers.get("content-type"), body)


class Gateway:
    """The request handler serving every HTTP API of the embedded AWS. Call reload() before serving."""

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
        self._authorization = RouteAuthorization(runtime, jwks, caller_lookup(self.aws_endpoint), clock)
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

    # -- serving --

    def __call__(self, request: HttpRequest) -> tuple[str, list[tuple[str, str]], bytes]:
        """The data plane server's request handler: (status line, headers, body)."""
        request_id = _request_id()
        config = self._config
        try:
            response = self._handle(request, config, request_id)
        except Exception:  # noqa: BLE001 - never a traceback page: AWS answers 500
            log.exception("gateway: request %s failed", request_id)
            response = internal_error()
        response.headers.append(("apigw-requestid", request_id))
        body = response.body
        if response.status in (204, 304):  # no body, no Content-Length (RFC 9110)
            body = b""
        else:
            response.headers.append(("content-length", str(len(body))))
        return STATUS_LINES.get(response.status) or f"{response.status} Unknown", response.headers, body

    def _handle(self, request: HttpRequest, config: Config, request_id: str) -> _Response:
        if not config.loaded:
            log.error("gateway: request %s before the first reload()", request_id)
            return internal_error()
        headers = request.headers
        # C5: request line + headers, before anything else.
        head = len(request.method) + len(request.raw_path) + len(request.protocol) + 4
        head += (len(request.raw_query) + 1 if request.raw_query else 0) + 2
        head += sum(len(name) + len(value) + 4 for name, value in headers.items())
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
        response = self._serve(request, config, api, host, request_id, cors_allowed)
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
    def _select_api(config: Config, host: str) -> Api | FailedApi | None:
        hostname = hosts.host_name(host)
        if hostname.endswith(LOCAL_HOST_SUFFIX):
            return config.apis.get(hostname[: -len(LOCAL_HOST_SUFFIX)])
        if len(config.apis) == 1:
            return next(iter(config.apis.values()))
        return None

    def _serve(self, request: HttpRequest, config: Config, api: Api, host: str, request_id: str,
               cors_allowed: str | None) -> _Response:
        method, raw_path, headers = request.method, request.raw_path, request.headers
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

        # C5: the body, bounded.
        body = request.body
        if too_large(request):
            return _json_response(413, "Request Entity Too Large")

        source_ip = request.source_ip
        headers = payload_v2.forwarding_headers(headers, source_ip=source_ip, port=str(request.server_port),
                                                scheme=request.scheme, now=now)
        request = request.with_headers(headers)  # what authorizers and the function see
        protocol, raw_query = request.protocol, request.raw_query
        route_key = route.key
        request_arn = f"{api.execution_arn}/{stage.name}/{method}{unquote(stage_path)}"
        context = payload_v2.request_context(account_id=self.account_id, api_id=api.id, host=host, method=method, path=path,
                                             protocol=protocol, source_ip=source_ip,
                                             user_agent=headers.get("user-agent", ""), request_id=request_id,
                                             route_key=route_key, stage=stage.name, now=now)
        query = request.query
        request_v1 = None  # the same facts for the payload 1.0 events, when the route has one (spec G)
        if route.integration.payload_version == "1.0" or (route.authorizer and route.authorizer.payload_version == "1.0"):
            resource = route.path if route.method != "$default" else path
            request_v1 = payload_v1.RequestV1(method, path, resource, {name: request.values(name) for name in headers},
                                              raw_query,
                                              path_params, stage.variables,
                                              payload_v1.request_context(context, resource_path=resource))

        # Authorization: a refusal is answered here, and the integration is never invoked.
        try:
            decision = self._authorization.authorize(config, api, stage, route, request, host, request_arn, context,
                                                     path_params, now, request_v1)
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
        fields = payload_v2.request_fields(route_key=route_key, raw_path=path, raw_query=raw_query, headers=headers,
                                           cookies=request.cookies, query=query, request_context=context,
                                           path_parameters=path_params, stage_variables=stage.variables)
        event = payload_v2.integration_event(fields, body, headers.get("content-type"))
        return self._invoke(api, stage, route, method, event, request_id)

    @staticmethod
    def _stage(api: Api, raw_path: str) -> tuple[Stage | None, str]:
        if len(api.stages) > 1 or "$default" not in api.stages:
            first = raw_path[1:].split("/", 1)[0]
            stage = api.stages.get(first)
            if stage is not None and first != "$default":
                rest = raw_path[1 + len(first):]
                return stage, rest or "/"
        return api.stages.get("$default"), raw_path

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
