"""Authorizing a request for its route (spec A, E and Lambda REQUEST authorizers): the route's JWT,
IAM or Lambda authorizer applied to the gateway's parse of the request, with what outlives a
request (callers of access keys, until the next reload; Lambda authorizer results, for their TTL).
A refusal is a Decision or a _Response, answered by the gateway without invoking the integration."""
from __future__ import annotations

import json
import logging
from typing import Any, Callable

from local_aws import payload_v1
from local_aws.authorizer import (
    Caller,
    Decision,
    HttpRequest,
    JwksCache,
    authorize_iam,
    authorize_jwt,
    interpret_lambda_authorizer,
    lambda_authorizer_event,
    lambda_identity_missing,
)
from local_aws.gateway_model import Api, Config, Route, Stage
from local_aws.gateway_responses import _Response, internal_error
from local_aws.runtime import InvocationTimeout, LambdaRuntimeError, Runtime

log = logging.getLogger("local_aws.gateway")  # its refusals are the gateway's

AUTHORIZER_WAIT_S = 10.0
AUTHORIZER_CACHE_ENTRIES = 10000
CALLER_CACHE_ENTRIES = 1024
_NOT_CACHED = object()


class RouteAuthorization:
    """The authorizers of every route the gateway serves."""

    def __init__(self, runtime: Runtime, jwks: JwksCache, lookup_caller: Callable[[str], Caller | None],
                 clock: Callable[[], float]):
        self.runtime = runtime
        self.jwks = jwks
        self._lookup_caller = lookup_caller
        self.clock = clock

    def authorize(self, config: Config, api: Api, stage: Stage, route: Route, request: HttpRequest, host: str,
                   request_arn: str, context: dict[str, Any], path_params: dict[str, str], now: float,
                   request_v1: payload_v1.RequestV1 | None) -> Decision | _Response | None:
        if route.auth_type == "JWT":
            authorizer = route.authorizer
            return authorize_jwt(request, issuer=authorizer.issuer, audience=list(authorizer.audience),
                                 identity_source=authorizer.identity_sources[0], route_scopes=list(route.scopes),
                                 keys=self.jwks, now=now)
        if route.auth_type == "AWS_IAM":
            return authorize_iam(request, host=host, region=api.region, route_arn=request_arn,
                                 find_caller=lambda key_id: self.find_caller(config, key_id), now=now)
        if route.auth_type == "CUSTOM":
            return self.lambda_authorizer(api, route, stage, request, request_arn, context, path_params, request_v1)
        return None

    def find_caller(self, config: Config, access_key_id: str) -> Caller | None:
        """The caller of an access key; cached until the next reload (IAM writes trigger one)."""
        cached = config.callers.get(access_key_id, _NOT_CACHED)  # one read: another thread may clear()
        if cached is not _NOT_CACHED:
            return cached
        caller = self._lookup_caller(access_key_id)
        if len(config.callers) >= CALLER_CACHE_ENTRIES:
            config.callers.clear()
        config.callers[access_key_id] = caller
        return caller

    def lambda_authorizer(self, api: Api, route: Route, stage: Stage, request: HttpRequest, request_arn: str,
                           context: dict[str, Any], path_params: dict[str, str],
                           request_v1: payload_v1.RequestV1 | None) -> Decision | _Response:
        authorizer = route.authorizer
        if authorizer.payload_version == "1.0":
            event = payload_v1.authorizer_event(request_v1, request, method_arn=request_arn,
                                                identity_sources=authorizer.identity_sources)
        else:
            # rawPath: the same (decoded) path as the integration's event
            event = lambda_authorizer_event(request, route_arn=request_arn, route_key=route.key,
                                            identity_sources=list(authorizer.identity_sources),
                                            request_context=dict(context), path_parameters=dict(path_params),
                                            stage_variables=dict(stage.variables), raw_path=context["http"]["path"])
        if event is None:  # an identity source is missing: 401 without invoking
            return lambda_identity_missing(authorizer.identity_sources)
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
