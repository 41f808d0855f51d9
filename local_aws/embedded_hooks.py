"""Private endpoints of the embedded AWS that the local data plane reads. Not AWS APIs.

AWS keeps some things out of its APIs that a local data plane needs to behave as AWS does:
the bytes of a deployed function, whether a password is right, the secret of an access key
(to check a SigV4 signature), and the delivery of Lambda's logs, which Lambda's platform does not
make through PutLogEvents. These endpoints serve them from moto's own backends, under /_local/,
on the loopback-only embedded server:

  GET  /_local/state                                   {"generation": n}: n grows with every write to
                                                       the configuration the data plane reads, so it
                                                       knows when to reload
  GET  /_local/lambda/<region>/<function>/code         the deployed zip (application/zip)
  GET  /_local/lambda/<region>/layers/<layer>/<version>/code
                                                       a layer version's zip (application/zip)
  POST /_local/cognito/<pool id>/authenticate          {"username", "password"} -> 200 {"username",
                                                       "sub", "attributes"} | 401 {"error"}
  GET  /_local/iam/access-keys/<access key id>         {"secret_access_key", "user_name", "user_arn",
                                                       "user_id", "account_id", "policies": [documents]}
  POST /_local/logs/<region>                           {"streams": [{"group", "stream", "events":
                                                       [[timestamp ms, message], ...]}]} -> 200
                                                       {"refused": [{"group", "code", "message"}]}:
                                                       the runtime's log lines of every environment
                                                       of a region, one call per batch, into moto's
                                                       CloudWatch Logs (each stream created if
                                                       missing, events in order; a missing group is
                                                       refused, never created: Terraform creates it;
                                                       each stream keeps its newest
                                                       MAX_EVENTS_PER_STREAM events)

and, with --state-file, GET/POST /_local/snapshot (embedded_state.py).
"""
from __future__ import annotations

import hmac
import json
import re
import threading
from typing import Any, Callable, Iterable
from urllib.parse import unquote

from moto.apigateway.models import apigateway_backends
from moto.apigatewayv2.models import apigatewayv2_backends
from moto.awslambda.models import lambda_backends
from moto.cloudwatch.models import cloudwatch_backends
from moto.cognitoidp.models import cognitoidp_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends

# Reads by their action name (X-Amz-Target, Action=...): everything else may change state.
_READ_ACTION = re.compile(r"^((Admin)?(Get|List|Describe|Head|Batch(Get|Describe))|(Query|Scan|TransactGetItems)$)")
_TARGET_ACTION = re.compile(r"\.([A-Za-z]+)$")
# The signing service of a request: Credential=<key>/<date>/<region>/<service>/aws4_request.
_SIGNED_SERVICE = re.compile(r"Credential=[^/,]+/[^/,]+/[^/,]+/([^/,]+)/")
# What the data plane reads: APIs, functions, user pools, IAM users. Writes elsewhere (the
# runtime's own log shipping, a handler's S3 or DynamoDB calls) must not make it reload.
CONFIGURATION_SERVICES = {"apigateway", "lambda", "cognito-idp", "iam"}

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class LocalHooks:
    """WSGI middleware: serves /_local/* and counts write requests passing to moto."""

    def __init__(self, app: WsgiApp):
        self.app = app
        self._lock = threading.Lock()
        self.generation = 0

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_local/"):
            status, content_type, body = self._route(environ, unquote(path))
            start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]
        if not self._may_write(environ):
            return self.app(environ, start_response)
        # Counted once moto has applied the write (moto's Flask app does its work inside this
        # call): a reader that sees the new number must also see the new state.
        body = self.app(environ, start_response)
        with self._lock:
            self.generation += 1
        return body

    @staticmethod
    def _may_write(environ: dict) -> bool:
        return signed_service(environ) in CONFIGURATION_SERVICES and is_write(environ)

    def _route(self, environ: dict, path: str) -> tuple[str, str, bytes]:
        method = environ.get("REQUEST_METHOD")
        parts = path.strip("/").split("/")[1:]
        try:
            if method == "GET" and parts == ["state"]:
                return _json("200 OK", {"generation": self.generation})
            if method == "GET" and parts == ["regions"]:
                return _json("200 OK", regions_in_use())
            if method == "GET" and len(parts) == 4 and parts[0] == "lambda" and parts[3] == "code":
                return "200 OK", "application/zip", function_code(parts[1], parts[2])
            if (method == "GET" and len(parts) == 6 and parts[0] == "lambda" and parts[2] == "layers"
                    and parts[5] == "code" and parts[4].isdigit()):
                return "200 OK", "application/zip", layer_code(parts[1], parts[3], parts[4])
            if method == "POST" and len(parts) == 3 and parts[0] == "cognito" and parts[2] == "authenticate":
                credentials = _json_body(environ)
                user = authenticate(parts[1], str(credentials.get("username", "")), str(credentials.get("password", "")))
                return _json("200 OK", user) if user else _json("401 Unauthorized", {"error": "NotAuthorizedException"})
            if method == "POST" and len(parts) == 2 and parts[0] == "logs":
                return _json("200 OK", {"refused": deliver_logs(parts[1], _json_body(environ).get("streams") or [])})
            if method == "GET" and len(parts) == 3 and parts[:2] == ["iam", "access-keys"]:
                key = access_key(parts[2])
                return _json("200 OK", key) if key else _json("404 Not Found", {"error": "no such access key"})
        except BadRequest as bad:
            return _json("400 Bad Request", {"error": str(bad)})
        except (LookupError, JsonRESTError) as missing:  # moto's own not-found errors are JsonRESTErrors
            return _json("404 Not Found", {"error": str(missing)})
        return _json("404 Not Found", {"error": f"no private endpoint {method} {path}"})


LOGS_PATH = "/_local/logs/"
# The newest events each log stream keeps here (a local limit: CloudWatch keeps every event for the
# group's retention). Each event is a Python object of moto's; unbounded, a load test's three lines
# per request grew the embedded AWS by gigabytes, its saved state by hundreds of megabytes, and its
# garbage collections with them.
MAX_EVENTS_PER_STREAM = 20_000


class BadRequest(ValueError):
    """A private endpoint's request body that is not what it takes: 400, nothing applied."""


def _json_body(environ: dict) -> dict:
    try:
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)) or b"{}")
    except ValueError as error:
        raise BadRequest(f"the body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body is not a JSON object")
    return body


def deliver_logs(region: str, streams: list[dict]) -> list[dict]:
    """Put each stream's events into its log group (see POST /_local/logs); the groups refused.
    A batch of another shape is a BadRequest before any of it is put."""
    backend = logs_backends[DEFAULT_ACCOUNT_ID][region]
    try:
        batch = [(str(entry["group"]), str(entry["stream"]),
                  [{"timestamp": int(timestamp), "message": str(message)} for timestamp, message in entry["events"]])
                 for entry in streams]
    except (KeyError, TypeError, ValueError) as error:
        raise BadRequest('each stream is {"group", "stream", "events": [[timestamp ms, message], ...]}: '
                         f"{type(error).__name__}: {error}") from None
    refused = []
    for group, stream, events in batch:
        try:
            backend.ensure_log_stream(group, stream)
            backend.put_log_events(group, stream, events)
        except JsonRESTError as error:  # moto's ResourceNotFoundException, InvalidParameterException
            refused.append({"group": group, "code": error.error_type, "message": error.message})
            continue
        kept = backend.groups[group].streams[stream].events
        if len(kept) > MAX_EVENTS_PER_STREAM:
            del kept[:len(kept) - MAX_EVENTS_PER_STREAM]
    return refused


def signed_service(environ: dict) -> str | None:
    """The service a request is signed for (its SigV4 credential scope), None when unsigned."""
    service = _SIGNED_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return service.group(1) if service else None


def is_write(environ: dict) -> bool:
    """Whether a request may change state: anything but GET/HEAD/OPTIONS and actions named as reads."""
    if environ.get("REQUEST_METHOD") in ("GET", "HEAD", "OPTIONS"):
        return False
    target = _TARGET_ACTION.search(environ.get("HTTP_X_AMZ_TARGET", ""))
    return not (target and _READ_ACTION.match(target.group(1)))


def _json(status: str, payload: Any) -> tuple[str, str, bytes]:
    return status, "application/json", json.dumps(payload).encode()


# What makes a region "in use", per service: the moto backend's collection of what the data plane
# serves or names (user pools, HTTP/WebSocket APIs, REST APIs, functions, log groups, alarms).
_HOLDINGS: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "cognito-idp": (cognitoidp_backends, lambda backend: backend.user_pools),
    "apigatewayv2": (apigatewayv2_backends, lambda backend: backend.apis),
    "apigateway": (apigateway_backends, lambda backend: backend.apis),
    "lambda": (lambda_backends, lambda backend: backend._lambdas._functions),
    "logs": (logs_backends, lambda backend: backend.groups),
    "cloudwatch": (cloudwatch_backends, lambda backend: backend.alarms),
}


def regions_in_use() -> dict[str, Any]:
    """The regions whose backends hold anything, per service. Only backends moto has already made
    are looked at (indexing a region would make one): a region nobody wrote to holds nothing."""
    services: dict[str, list[str]] = {}
    for service, (backends, holding) in _HOLDINGS.items():
        made = list(backends[DEFAULT_ACCOUNT_ID].items())  # a copy: moto may add a region meanwhile
        services[service] = sorted(region for region, backend in made if region != "aws" and len(holding(backend)))
    return {"regions": sorted({region for found in services.values() for region in found}), "services": services}


def function_code(region: str, name: str) -> bytes:
    return lambda_backends[DEFAULT_ACCOUNT_ID][region].get_function(name).code_bytes


def layer_code(region: str, layer: str, version: str) -> bytes:
    return lambda_backends[DEFAULT_ACCOUNT_ID][region].get_layer_version(layer, version).code_bytes


def authenticate(pool_id: str, username: str, password: str) -> dict | None:
    """The user, if the password is theirs and they may sign in (enabled, confirmed)."""
    for backend in cognitoidp_backends[DEFAULT_ACCOUNT_ID].values():
        pool = backend.user_pools.get(pool_id)
        if pool is None:
            continue
        user = pool._get_user(username)  # by username or a username attribute such as email
        if user is None or not user.enabled or user.status != "CONFIRMED" or user.password is None:
            return None
        if not hmac.compare_digest(user.password.encode(), password.encode()):
            return None
        attributes = {a["Name"]: a["Value"] for a in user.attributes}
        return {"username": user.username, "sub": attributes.get("sub", user.id), "attributes": attributes}
    raise LookupError(f"no user pool {pool_id}")


def access_key(access_key_id: str) -> dict | None:
    """An active access key's secret and the identity policies of its user (inline, attached, groups')."""
    backend = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    for user in backend.users.values():
        for key in user.access_keys:
            if key.access_key_id == access_key_id and key.status == "Active":
                holders = [user, *backend.get_groups_for_user(user.name)]
                policies = [json.loads(unquote(doc)) for holder in holders for doc in holder.policies.values()]
                policies += [
                    json.loads(unquote(v.document))
                    for holder in holders for policy in holder.managed_policies.values()
                    for v in policy.versions if v.is_default
                ]
                return {
                    "secret_access_key": key.secret_access_key, "user_name": user.name, "user_arn": user.arn,
                    "user_id": user.id, "account_id": DEFAULT_ACCOUNT_ID, "policies": policies,
                }
    return None
