"""The embedded AWS: a moto server on loopback, plus the few operations it lacks.

moto 5.2.1 answers most of what Terraform's AWS provider calls for this project's resources, but
not all, and a few answers differ from AWS in ways that make `terraform apply` of a change fail,
`terraform destroy` hang, or the next plan show a diff. `apply_patches()` adds or corrects those
operations on moto's own backends and response classes, so they share moto's state and errors:

  cognito-idp   UpdateResourceServer, DeleteResourceServer; TagResource, UntagResource,
                ListTagsForResource (user pools); DeleteUserPool refuses while deletion protection
                is ACTIVE; UpdateUserPool keeps the settings it cannot change (username attributes
                and configuration) and the tags; user pool domains keep their ManagedLoginVersion
  apigatewayv2  GetAuthorizers, UpdateStage, DeleteRouteSettings, CreateDeployment, GetDeployment(s),
                UpdateDeployment, DeleteDeployment, UpdateDomainName, UpdateApiMapping; tags of stages
                and custom domains; a custom domain reports AVAILABLE and its target domain name
  lambda        UpdateFunctionCode applies Architectures; a function keeps its KMSKeyArn, and
                UpdateFunctionConfiguration applies KMSKeyArn and TracingConfig (the local stack
                names them at startup as not emulated)
  dynamodb      item operations run one at a time: a cancelled TransactWriteItems restores a copy
                of each table it touched, which would discard every write that other requests
                made meanwhile (DynamoDB isolates transactions; moto's server runs requests in threads)
  iam           AWS managed policies exist (arn:aws:iam::aws:policy/...), so attaching
                AWSLambdaBasicExecutionRole works: moto ships them and loads them on request (its
                iam.load_aws_managed_policies setting), here in the `aws` partition only, where
                the embedded AWS's regions are. Measured: the first IAM call costs 0.13 s more
                CPU and the process 14 MB more, once (all six partitions: 0.6 s and 36 MB)

Started as a process (`main`), once it serves it sends moto a few read requests of its own
(`warm_up`, past the write counter below), so that the first request of each service an apply
reaches first (STS, IAM, S3, Lambda, ...) finds its backend built while Terraform still plans.

It also serves a few read-only private endpoints under /_local/ for the local data plane
(deployed code, password checks, access key secrets, a change counter): see embedded_hooks.py.
With `--state-file PATH` it restores the state the file holds and keeps saving into it
(embedded_state.py, and /_local/snapshot): what `make local` keeps across restarts.

Run it in-process with `start()`, or as a process:

    python -m local_aws.embedded --port 4566      # prints `ready http://127.0.0.1:4566`

then point a client at it: AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import random
import re
import signal
import socket
import string
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

from moto.apigatewayv2 import urls as apigatewayv2_urls
from moto.apigatewayv2.exceptions import APIGatewayV2Error, BadRequestException
from moto.apigatewayv2.models import Api, ApiGatewayV2Backend, DomainName, Stage
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.awslambda.models import LambdaFunction
from moto.cognitoidp.exceptions import InvalidParameterException, ResourceNotFoundError
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool, CognitoIdpUserPoolDomain, CognitoResourceServer
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.common_models import BaseModel
from moto.core.config import default_user_config
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import iso_8601_datetime_without_milliseconds
from moto.dynamodb.models import DynamoDBBackend
from moto.iam.models import IAMBackend
from moto import backends as moto_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.utils import _VersionedKeyStore
from werkzeug.test import EnvironBuilder, run_wsgi_app

from local_aws import embedded_rest, embedded_state
from local_aws.embedded_hooks import LocalHooks
from local_aws.serving import MotoServer, PortInUseError, is_loopback

_PATCH_LOCK = threading.Lock()
# Set on a moto class, not in this module: `python -m` loads this file a second time as __main__.
_PATCHED_MARK = "_local_aws_patched"


# --- cognito-idp -------------------------------------------------------------------------------

def _update_resource_server(self: CognitoIdpBackend, user_pool_id: str, identifier: str, name: str,
                            scopes: list[dict[str, str]] | None) -> CognitoResourceServer:
    server = self.describe_resource_server(user_pool_id, identifier)  # or ResourceNotFoundException
    # As on AWS, an update replaces the whole definition: scopes left out are removed.
    server.name = name
    server.scopes = scopes or []
    return server


def _delete_resource_server(self: CognitoIdpBackend, user_pool_id: str, identifier: str) -> None:
    self.describe_resource_server(user_pool_id, identifier)
    del self.user_pools[user_pool_id].resource_servers[identifier]


def _guard_deletion_protection(delete_user_pool):
    def delete_user_pool_unless_protected(self: CognitoIdpBackend, user_pool_id: str) -> None:
        pool = self.describe_user_pool(user_pool_id)
        if pool.extended_config.get("DeletionProtection") == "ACTIVE":
            raise InvalidParameterException(
                "The user pool cannot be deleted because deletion protection is activated. "
                "Deletion protection must be inactivated first."
            )
        delete_user_pool(self, user_pool_id)

    return delete_user_pool_unless_protected


# UpdateUserPool resets what it is not given to the default, but it cannot change these (they are
# CreateUserPool-only), and tags have operations of their own; moto resets them all, so after an
# in-place update (such as switching deletion protection off) Terraform plans to replace the pool.
_KEPT_BY_UPDATE_USER_POOL = ("UsernameAttributes", "AliasAttributes", "UsernameConfiguration", "UserPoolTags")


def _keep_create_only_settings(update_user_pool):
    def update_user_pool_keeping_create_only_settings(self: CognitoIdpBackend, user_pool_id: str,
                                                      extended_config: dict[str, Any]) -> None:
        pool = self.describe_user_pool(user_pool_id)
        kept = {key: pool.extended_config[key] for key in _KEPT_BY_UPDATE_USER_POOL
                if key in pool.extended_config and key not in (extended_config or {})}
        update_user_pool(self, user_pool_id, extended_config)
        pool.extended_config.update(kept)

    return update_user_pool_keeping_create_only_settings


def _user_pool_by_arn(backend: CognitoIdpBackend, arn: str) -> CognitoIdpUserPool:
    for pool in backend.user_pools.values():
        if pool.arn == arn:
            return pool
    raise ResourceNotFoundError(f"Resource {arn} does not exist.")


def _tag_resource(self: CognitoIdpBackend, arn: str, tags: dict[str, str]) -> None:
    pool = _user_pool_by_arn(self, arn)
    pool.extended_config["UserPoolTags"] = {**pool.extended_config.get("UserPoolTags", {}), **tags}


def _untag_resource(self: CognitoIdpBackend, arn: str, keys: list[str]) -> None:
    pool = _user_pool_by_arn(self, arn)
    tags = pool.extended_config.get("UserPoolTags", {})
    pool.extended_config["UserPoolTags"] = {k: v for k, v in tags.items() if k not in keys}


def _list_tags_for_resource(self: CognitoIdpBackend, arn: str) -> dict[str, str]:
    return dict(_user_pool_by_arn(self, arn).extended_config.get("UserPoolTags", {}))


def _respond_tag_resource(self: CognitoIdpResponse) -> EmptyResult:
    self.backend.tag_resource(self._get_param("ResourceArn"), self._get_param("Tags") or {})
    return EmptyResult()


def _respond_untag_resource(self: CognitoIdpResponse) -> EmptyResult:
    self.backend.untag_resource(self._get_param("ResourceArn"), self._get_param("TagKeys") or [])
    return EmptyResult()


def _respond_list_tags_for_resource(self: CognitoIdpResponse) -> ActionResult:
    return ActionResult({"Tags": self.backend.list_tags_for_resource(self._get_param("ResourceArn"))})


def _respond_update_resource_server(self: CognitoIdpResponse) -> ActionResult:
    server = self.backend.update_resource_server(
        self._get_param("UserPoolId"), self._get_param("Identifier"), self._get_param("Name"),
        self._get_param("Scopes"),
    )
    return ActionResult({"ResourceServer": server.to_json()})


def _respond_delete_resource_server(self: CognitoIdpResponse) -> EmptyResult:
    self.backend.delete_resource_server(self._get_param("UserPoolId"), self._get_param("Identifier"))
    return EmptyResult()


# --- lambda ------------------------------------------------------------------------------------

# moto ignores ManagedLoginVersion (1: classic hosted UI, 2: managed login) on CreateUserPoolDomain
# and UpdateUserPoolDomain and never reports it, so every plan would set it again.
def _domain_keeps_managed_login_version(respond):
    def respond_keeping_managed_login_version(self: CognitoIdpResponse) -> ActionResult:
        result = respond(self)
        version = self._get_param("ManagedLoginVersion")
        if version is not None:
            self.backend.describe_user_pool_domain(self._get_param("Domain")).managed_login_version = version
        return result

    return respond_keeping_managed_login_version


def _domain_reports_managed_login_version(to_json):
    def to_json_with_managed_login_version(self: CognitoIdpUserPoolDomain, extended: bool = True) -> dict[str, Any]:
        description = to_json(self, extended)
        version = getattr(self, "managed_login_version", None)
        if extended and version is not None:
            description["ManagedLoginVersion"] = version
        return description

    return to_json_with_managed_login_version


def _code_update_sets_architectures(update_function_code):
    def update_function_code_and_architectures(self: LambdaFunction, spec: dict[str, Any]) -> dict[str, Any]:
        # The instruction set travels with the code (UpdateFunctionCode); moto ignored it.
        if spec.get("Architectures"):
            self.architectures = spec["Architectures"]
        return update_function_code(self, spec)

    return update_function_code_and_architectures


def _keeps_kms_key(init):
    def init_keeping_kms_key(self: LambdaFunction, account_id: str, spec: dict[str, Any], *args, **kwargs) -> None:
        init(self, account_id, spec, *args, **kwargs)
        self.local_kms_key_arn = spec.get("KMSKeyArn") or None  # moto dropped it

    return init_keeping_kms_key


def _configuration_updates_kms_and_tracing(update_configuration):
    def update_configuration_with_kms_and_tracing(self: LambdaFunction, updates: dict[str, Any]) -> dict[str, Any]:
        if "KMSKeyArn" in updates:
            self.local_kms_key_arn = updates["KMSKeyArn"] or None
        if updates.get("TracingConfig"):
            self.tracing_config = updates["TracingConfig"]
        return update_configuration(self, updates)

    return update_configuration_with_kms_and_tracing


def _configuration_shows_kms_key(get_configuration):
    def get_configuration_with_kms_key(self: LambdaFunction, *args, **kwargs) -> dict[str, Any]:
        config = get_configuration(self, *args, **kwargs)
        if getattr(self, "local_kms_key_arn", None):
            config["KMSKeyArn"] = self.local_kms_key_arn
        return config

    return get_configuration_with_kms_key


# --- iam ---------------------------------------------------------------------------------------

def _aws_policies_in_the_aws_partition(init_aws_policies):
    # moto makes an IAM backend per partition (aws, aws-cn, aws-us-gov, ...) at the first IAM
    # call, each parsing and building all ~1500 managed policies: only `aws` is ever addressed here.
    def init_aws_policies_of_the_aws_partition(self: IAMBackend) -> list:
        return init_aws_policies(self) if self.region_name == "aws" else []

    return init_aws_policies_of_the_aws_partition


# --- apigatewayv2 ------------------------------------------------------------------------------

class NotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, message: str):
        super().__init__("NotFoundException", message)


class Deployment:
    def __init__(self, description: str | None):
        self.id = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))
        self.description = description
        self.created = datetime.now()

    def to_json(self) -> dict[str, Any]:
        out = {
            "deploymentId": self.id,
            "deploymentStatus": "DEPLOYED",
            "autoDeployed": False,
            "createdDate": iso_8601_datetime_without_milliseconds(self.created),
        }
        if self.description:
            out["description"] = self.description
        return out


def _deployments(api: Api) -> dict[str, Deployment]:
    return api.__dict__.setdefault("deployments", {})


def _get_authorizers(self: ApiGatewayV2Backend, api_id: str) -> list:
    return list(self.get_api(api_id).authorizers.values())


def _update_stage(self: ApiGatewayV2Backend, api_id: str, stage_name: str, params: dict[str, Any]) -> Stage:
    """Apply the fields an UpdateStage request carries, the way API Gateway does."""
    api = self.get_api(api_id)
    stage = api.get_stage(stage_name)
    if "accessLogSettings" in params:
        # The provider sends an empty object to switch access logging off.
        settings = params["accessLogSettings"] or {}
        stage.access_log_settings = settings if settings.get("destinationArn") else None
    if "autoDeploy" in params:
        stage.auto_deploy = params["autoDeploy"]
    if "clientCertificateId" in params:
        stage.client_certificate_id = params["clientCertificateId"] or None
    if "defaultRouteSettings" in params:
        stage.default_route_settings = {"detailedMetricsEnabled": False, **(params["defaultRouteSettings"] or {})}
    if "deploymentId" in params:
        deployment_id = params["deploymentId"]
        if deployment_id and deployment_id not in _deployments(api):
            raise NotFound(f"Invalid Deployment identifier specified {deployment_id}")
        stage.deployment_id = deployment_id or None
    if "description" in params:
        stage.description = params["description"]
    if "routeSettings" in params:
        # Per route key; a route's settings are removed with DeleteRouteSettings.
        stage.route_settings = {**stage.route_settings, **(params["routeSettings"] or {})}
    if "stageVariables" in params:
        # Merged; a variable set to "" is removed.
        merged = {**stage.stage_variables, **(params["stageVariables"] or {})}
        stage.stage_variables = {k: v for k, v in merged.items() if v != ""}
    stage.updated = datetime.now()
    return stage


def _delete_route_settings(self: ApiGatewayV2Backend, api_id: str, stage_name: str, route_key: str) -> None:
    stage = self.get_stage(api_id, stage_name)
    if route_key not in stage.route_settings:
        raise NotFound(f"Invalid route settings identifier specified {route_key}")
    del stage.route_settings[route_key]


def _create_deployment(self: ApiGatewayV2Backend, api_id: str, description: str | None,
                       stage_name: str | None) -> Deployment:
    api = self.get_api(api_id)
    stage = api.get_stage(stage_name) if stage_name else None
    deployment = Deployment(description)
    _deployments(api)[deployment.id] = deployment
    if stage is not None:
        stage.deployment_id = deployment.id
        stage.updated = datetime.now()
    return deployment


def _get_deployment(self: ApiGatewayV2Backend, api_id: str, deployment_id: str) -> Deployment:
    deployments = _deployments(self.get_api(api_id))
    if deployment_id not in deployments:
        raise NotFound(f"Invalid Deployment identifier specified {deployment_id}")
    return deployments[deployment_id]


def _get_deployments(self: ApiGatewayV2Backend, api_id: str) -> list[Deployment]:
    return list(_deployments(self.get_api(api_id)).values())


def _delete_deployment(self: ApiGatewayV2Backend, api_id: str, deployment_id: str) -> None:
    api = self.get_api(api_id)
    self.get_deployment(api_id, deployment_id)
    if any(getattr(stage, "deployment_id", None) == deployment_id for stage in api.stages.values()):
        raise BadRequestException("Active stages pointing to this deployment must be moved or deleted")
    del _deployments(api)[deployment_id]


def _stage_to_json(to_json):
    def to_json_with_deployment(self: Stage) -> dict[str, Any]:
        out = to_json(self)
        if getattr(self, "deployment_id", None):
            out["deploymentId"] = self.deployment_id
        return out

    return to_json_with_deployment


def _domain_name_to_json(to_json):
    def to_json_available(self: DomainName) -> dict[str, Any]:
        """What API Gateway adds to each configuration; the provider waits for AVAILABLE."""
        out = to_json(self)
        region = self.domain_name_arn.split(":")[3]
        digest = hashlib.sha256(f"{region}/{self.domain_name}".encode()).hexdigest()
        out["domainNameConfigurations"] = [
            {
                "endpointType": "REGIONAL",
                "securityPolicy": "TLS_1_2",
                "ipAddressType": "ipv4",
                "apiGatewayDomainName": f"d-{digest[:10]}.execute-api.{region}.amazonaws.com",
                "hostedZoneId": "Z" + digest[10:22].upper(),
                **configuration,
                "domainNameStatus": "AVAILABLE",
            }
            for configuration in (self.domain_name_configurations or [{}])
        ]
        if not (self.mutual_tls_authentication or {}).get("truststoreUri"):
            out.pop("mutualTlsAuthentication", None)  # absent, not empty, when mutual TLS is off
        return out

    return to_json_available


def _update_domain_name(self: ApiGatewayV2Backend, domain_name: str, params: dict[str, Any]) -> DomainName:
    domain = self.get_domain_name(domain_name)
    if params.get("domainNameConfigurations"):
        domain.domain_name_configurations = params["domainNameConfigurations"]
    if "mutualTlsAuthentication" in params:
        # An empty truststore URI switches mutual TLS off.
        mtls = params["mutualTlsAuthentication"] or {}
        domain.mutual_tls_authentication = mtls if mtls.get("truststoreUri") else {}
    return domain


def _update_api_mapping(self: ApiGatewayV2Backend, domain_name: str, api_mapping_id: str,
                        params: dict[str, Any]) -> Any:
    mapping = self.get_api_mapping(api_mapping_id, domain_name)
    if "apiId" in params:
        self.get_api(params["apiId"])
        mapping.api_id = params["apiId"]
    if "apiMappingKey" in params:
        mapping.api_mapping_key = params["apiMappingKey"] or ""
    if "stage" in params:
        mapping.stage = params["stage"]
    return mapping


def _tagged_object(backend: ApiGatewayV2Backend, arn: str) -> Stage | DomainName | None:
    """The stage or custom domain an ARN names: moto keeps their tags on them, an API's in its tagger."""
    if match := re.search(r":/apis/([^/]+)/stages/([^/]+)$", arn):
        return backend.get_stage(match[1], match[2])
    if match := re.search(r":/domainnames/([^/]+)$", arn):
        return backend.get_domain_name(match[1])
    return None


def _tags_on_objects(tag_resource, untag_resource, get_tags):
    def tag(self: ApiGatewayV2Backend, arn: str, tags: dict[str, str]) -> None:
        if (tagged := _tagged_object(self, arn)) is None:
            return tag_resource(self, arn, tags)
        tagged.tags = {**(tagged.tags or {}), **(tags or {})}

    def untag(self: ApiGatewayV2Backend, arn: str, keys: list[str]) -> None:
        if (tagged := _tagged_object(self, arn)) is None:
            return untag_resource(self, arn, keys)
        tagged.tags = {k: v for k, v in (tagged.tags or {}).items() if k not in keys}

    def tags_of(self: ApiGatewayV2Backend, arn: str) -> dict[str, str]:
        if (tagged := _tagged_object(self, arn)) is None:
            return get_tags(self, arn)
        return dict(tagged.tags or {})

    return tag, untag, tags_of


def _path_params(response: ApiGatewayV2Response) -> list[str]:
    """The decoded segments of the request path (a route key such as `GET /a` arrives as one %2F segment)."""
    return [unquote(part) for part in response.raw_path.split("/")]


def _body(response: ApiGatewayV2Response) -> dict[str, Any]:
    return json.loads(response.body) if response.body else {}


def _json(status: int, payload: Any) -> tuple[int, dict, str]:
    return status, {"status": status}, json.dumps(payload)  # moto takes the status from the headers


def _no_content() -> tuple[int, dict, str]:
    return 204, {"status": 204}, ""


def _respond_get_authorizers(self: ApiGatewayV2Response):
    api_id = _path_params(self)[3]
    return _json(200, {"items": [a.to_json() for a in self.apigatewayv2_backend.get_authorizers(api_id)]})


def _respond_update_stage(self: ApiGatewayV2Response):
    _, _, _, api_id, _, stage_name = _path_params(self)
    return _json(200, self.apigatewayv2_backend.update_stage(api_id, stage_name, _body(self)).to_json())


def _respond_delete_route_settings(self: ApiGatewayV2Response):
    parts = _path_params(self)
    self.apigatewayv2_backend.delete_route_settings(parts[3], parts[5], "/".join(parts[7:]))
    return _no_content()


def _respond_create_deployment(self: ApiGatewayV2Response):
    api_id, params = _path_params(self)[3], _body(self)
    deployment = self.apigatewayv2_backend.create_deployment(api_id, params.get("description"), params.get("stageName"))
    return _json(201, deployment.to_json())


def _respond_get_deployment(self: ApiGatewayV2Response):
    parts = _path_params(self)
    return _json(200, self.apigatewayv2_backend.get_deployment(parts[3], parts[5]).to_json())


def _respond_get_deployments(self: ApiGatewayV2Response):
    api_id = _path_params(self)[3]
    return _json(200, {"items": [d.to_json() for d in self.apigatewayv2_backend.get_deployments(api_id)]})


def _respond_update_deployment(self: ApiGatewayV2Response):
    parts = _path_params(self)
    deployment = self.apigatewayv2_backend.get_deployment(parts[3], parts[5])
    if "description" in (params := _body(self)):
        deployment.description = params["description"]
    return _json(200, deployment.to_json())


def _respond_delete_deployment(self: ApiGatewayV2Response):
    parts = _path_params(self)
    self.apigatewayv2_backend.delete_deployment(parts[3], parts[5])
    return _no_content()


def _respond_update_domain_name(self: ApiGatewayV2Response):
    domain_name = _path_params(self)[3]
    return _json(200, self.apigatewayv2_backend.update_domain_name(domain_name, _body(self)).to_json())


def _respond_update_api_mapping(self: ApiGatewayV2Response):
    parts = _path_params(self)
    return _json(200, self.apigatewayv2_backend.update_api_mapping(parts[3], parts[5], _body(self)).to_json())


_APIGATEWAYV2_PATHS = (
    "{0}/v2/apis/(?P<api_id>[^/]+)/deployments$",
    "{0}/v2/apis/(?P<api_id>[^/]+)/deployments/(?P<deployment_id>[^/]+)$",
    # Werkzeug routes on the decoded path, where the "/" of a route key or an ARN separates again.
    "{0}/v2/tags/(?P<resource_arn>.+)$",
    "{0}/v2/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)/routesettings/(?P<route_key>.+)$",
)


def _untracked_new(cls, *args: Any, **kwargs: Any):
    """moto's BaseModel.__new__ without its append to the class's `instances_tracked` (a list,
    for moto's own dashboard and an S3 reset this stack uses neither of): it held every object ever
    made, three log events per invocation among them, long after their resource was deleted."""
    return super(BaseModel, cls).__new__(cls)


def _pop_versions(self: _VersionedKeyStore, key: str) -> None:
    """moto's pop of all a key's versions, without calling dispose() on its delete markers (they
    have none: an object deleted in a bucket whose versioning was then suspended answered 500, and
    `terraform destroy` of such a bucket retried for minutes)."""
    for version in self.getlist(key, []):
        if hasattr(version, "dispose"):
            version.dispose()
    dict.pop(self, key)


_MOTO_MODULES = frozenset(moto_backends.list_of_moto_modules())


def _moto_modules() -> frozenset[str]:
    """moto's backend folder names, read once: moto's server listed and stat'ed its ~150 folders on
    every request it served (a seventh of its time per PutLogEvents under load)."""
    return _MOTO_MODULES


def apply_patches() -> None:
    """Add the operations moto lacks to its backends, response classes and URL map. Idempotent."""
    with _PATCH_LOCK:
        if getattr(CognitoIdpBackend, _PATCHED_MARK, False):
            return
        CognitoIdpBackend.update_resource_server = _update_resource_server
        CognitoIdpBackend.delete_resource_server = _delete_resource_server
        CognitoIdpBackend.delete_user_pool = _guard_deletion_protection(CognitoIdpBackend.delete_user_pool)
        CognitoIdpBackend.update_user_pool = _keep_create_only_settings(CognitoIdpBackend.update_user_pool)
        CognitoIdpBackend.tag_resource = _tag_resource
        CognitoIdpBackend.untag_resource = _untag_resource
        CognitoIdpBackend.list_tags_for_resource = _list_tags_for_resource
        CognitoIdpResponse.update_resource_server = _respond_update_resource_server
        CognitoIdpResponse.delete_resource_server = _respond_delete_resource_server
        CognitoIdpResponse.tag_resource = _respond_tag_resource
        CognitoIdpResponse.untag_resource = _respond_untag_resource
        CognitoIdpResponse.list_tags_for_resource = _respond_list_tags_for_resource
        CognitoIdpResponse.create_user_pool_domain = _domain_keeps_managed_login_version(CognitoIdpResponse.create_user_pool_domain)
        CognitoIdpResponse.update_user_pool_domain = _domain_keeps_managed_login_version(CognitoIdpResponse.update_user_pool_domain)
        CognitoIdpUserPoolDomain.to_json = _domain_reports_managed_login_version(CognitoIdpUserPoolDomain.to_json)

        LambdaFunction.update_function_code = _code_update_sets_architectures(LambdaFunction.update_function_code)
        LambdaFunction.__init__ = _keeps_kms_key(LambdaFunction.__init__)
        LambdaFunction.update_configuration = _configuration_updates_kms_and_tracing(LambdaFunction.update_configuration)
        LambdaFunction.get_configuration = _configuration_shows_kms_key(LambdaFunction.get_configuration)

        BaseModel.__new__ = _untracked_new
        moto_backends.list_of_moto_modules = _moto_modules
        _VersionedKeyStore.pop = _pop_versions

        for name in _ITEM_OPERATIONS:
            setattr(DynamoDBBackend, name, _one_at_a_time(getattr(DynamoDBBackend, name)))

        ApiGatewayV2Backend.get_authorizers = _get_authorizers
        ApiGatewayV2Backend.update_stage = _update_stage
        ApiGatewayV2Backend.delete_route_settings = _delete_route_settings
        ApiGatewayV2Backend.create_deployment = _create_deployment
        ApiGatewayV2Backend.get_deployment = _get_deployment
        ApiGatewayV2Backend.get_deployments = _get_deployments
        ApiGatewayV2Backend.delete_deployment = _delete_deployment
        ApiGatewayV2Backend.update_domain_name = _update_domain_name
        ApiGatewayV2Backend.update_api_mapping = _update_api_mapping
        Stage.to_json = _stage_to_json(Stage.to_json)
        DomainName.to_json = _domain_name_to_json(DomainName.to_json)
        (ApiGatewayV2Backend.tag_resource, ApiGatewayV2Backend.untag_resource,
         ApiGatewayV2Backend.get_tags) = _tags_on_objects(
            ApiGatewayV2Backend.tag_resource, ApiGatewayV2Backend.untag_resource, ApiGatewayV2Backend.get_tags)
        # moto's REST-JSON dispatch finds the operation from the method and path, then calls the
        # response method of that name (GetAuthorizers -> get_authorizers).
        ApiGatewayV2Response.get_authorizers = _respond_get_authorizers
        ApiGatewayV2Response.update_stage = _respond_update_stage
        ApiGatewayV2Response.delete_route_settings = _respond_delete_route_settings
        ApiGatewayV2Response.create_deployment = _respond_create_deployment
        ApiGatewayV2Response.get_deployment = _respond_get_deployment
        ApiGatewayV2Response.get_deployments = _respond_get_deployments
        ApiGatewayV2Response.update_deployment = _respond_update_deployment
        ApiGatewayV2Response.delete_deployment = _respond_delete_deployment
        ApiGatewayV2Response.update_domain_name = _respond_update_domain_name
        ApiGatewayV2Response.update_api_mapping = _respond_update_api_mapping
        for path in _APIGATEWAYV2_PATHS:
            apigatewayv2_urls.url_paths.setdefault(path, ApiGatewayV2Response.dispatch)

        embedded_rest.apply_patches()
        # Read when moto creates an account's IAM backends (lazily, at its first IAM call).
        default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
        IAMBackend._init_aws_policies = _aws_policies_in_the_aws_partition(IAMBackend._init_aws_policies)

        setattr(CognitoIdpBackend, _PATCHED_MARK, True)


# --- dynamodb ------------------------------------------------------------------------------------

_DYNAMODB_ITEMS = threading.RLock()
_ITEM_OPERATIONS = ("get_item", "put_item", "update_item", "delete_item", "query", "scan", "batch_get_item",
                    "batch_write_item", "transact_get_items", "transact_write_items")


def _one_at_a_time(operation):
    def serialized(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_ITEMS:
            return operation(self, *args, **kwargs)
    serialized.__name__ = operation.__name__
    return serialized


# --- the server --------------------------------------------------------------------------------

def _logged(app):
    """Every request on stderr: method, path, status (moto's own errors are logged regardless)."""
    def logging_app(environ, start_response):
        def start(status, headers, *exc_info):
            print(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} {status}", file=sys.stderr, flush=True)
            return start_response(status, headers, *exc_info)
        return app(environ, start)
    return logging_app


# Read requests of the services a root's apply reaches first (no state changes): the first
# request to a service builds its backend and routes, loads its botocore model and the AWS
# managed policies (IAM), 0.5 s in all; `warm_up` makes them while Terraform plans, when the
# embedded AWS has nothing else to do, instead of in the apply's first round of creates.
_WARM_UP = [
    ("sts", "POST", "/", "application/x-www-form-urlencoded", None, "Action=GetCallerIdentity&Version=2011-06-15"),
    ("iam", "POST", "/", "application/x-www-form-urlencoded", None,
     "Action=GetPolicy&Version=2010-05-08&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Fservice-role%2FAWSLambdaBasicExecutionRole"),
    ("s3", "GET", "/", None, None, ""),
    ("lambda", "GET", "/2015-03-31/functions/", None, None, ""),
    ("logs", "POST", "/", "application/x-amz-json-1.1", "Logs_20140328.DescribeLogGroups", "{}"),
    ("cognito-idp", "POST", "/", "application/x-amz-json-1.1", "AWSCognitoIdentityProviderService.ListUserPools",
     '{"MaxResults": 1}'),
    ("apigateway", "GET", "/v2/apis", None, None, ""),
    ("dynamodb", "POST", "/", "application/x-amz-json-1.0", "DynamoDB_20120810.ListTables", "{}"),
]


def warm_up(app: DomainDispatcherApplication) -> None:
    """Send moto's app (not LocalHooks: these count as no write) the _WARM_UP reads, in us-east-1."""
    started = time.monotonic()
    for service, method, path, content_type, target, body in _WARM_UP:
        headers = {"Host": "127.0.0.1", "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/"
                   f"{service}/aws4_request, SignedHeaders=host, Signature=0"}
        if target:
            headers["X-Amz-Target"] = target
        try:
            environ = EnvironBuilder(method=method, path=path, headers=headers, data=body, content_type=content_type).get_environ()
            response, _, _ = run_wsgi_app(app, environ)
            b"".join(response)
        except Exception as error:  # only slower: the first real request does the work instead
            print(f"warm-up of {service} failed: {error!r}", file=sys.stderr, flush=True)
    print(f"warmed up in {time.monotonic() - started:.2f} s", file=sys.stderr, flush=True)


class EmbeddedAWS(MotoServer):
    """A running moto server with the patches applied. `stop()` (or leaving a `with`) shuts it down.
    With `persistence`, its state is saved while it serves and once more after it stopped."""

    def __init__(self, host: str, port: int, *, log_requests: bool = False,
                 persistence: Callable[[Any], embedded_state.Persistence] | None = None,
                 listener: socket.socket | None = None):
        self.moto_app = DomainDispatcherApplication(create_backend_app)
        app = LocalHooks(self.moto_app)
        self.persistence = persistence(app) if persistence else None
        app = self.persistence or app
        super().__init__(_logged(app) if log_requests else app, host, port, listener)

    def stop(self) -> None:
        super().stop()
        if self.persistence is not None:
            self.persistence.close()


def start(host: str = "127.0.0.1", port: int = 0, *, allow_remote: bool = False,
          log_requests: bool = False, state_file: Path | None = None,
          listener: socket.socket | None = None) -> tuple[EmbeddedAWS, str]:
    """Apply the patches and serve on host:port (0: a free port), or on `listener` (a listening
    socket bound already), in a background thread.

    With `state_file`, the state it holds is restored first (when it exists), and the state is
    saved into it while serving (embedded_state.py); one that cannot be read leaves the embedded
    AWS empty, and `server.persistence.problem` says why.

    Returns the server (call `stop()`) and its URL. Raises PortInUseError if the port is taken,
    ValueError for a non-loopback host unless allow_remote: the emulator has no authentication.
    """
    if listener is not None:
        host = listener.getsockname()[0]
    if not allow_remote and not is_loopback(host):
        raise ValueError(f"{host} is not a loopback address; the embedded AWS accepts any credentials")
    apply_patches()
    persistence = None
    if state_file is not None:
        restored, problem = False, None
        if state_file.exists():
            try:
                embedded_state.restore(state_file)
                restored = True
            except embedded_state.SnapshotError as error:
                problem = str(error)
        persistence = functools.partial(embedded_state.Persistence, path=state_file, restored=restored, problem=problem)
    server = EmbeddedAWS(host, port, log_requests=log_requests, persistence=persistence, listener=listener)
    return server, server.url


class _Stop(Exception):
    pass


def _stop_on_signal(signum: int, frame: object) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws.embedded",
        description="Serve the embedded AWS (moto with this project's additions) until SIGINT or SIGTERM. "
        "Prints `ready <url>` on stdout once it accepts connections.",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback --host (anyone who reaches it gets an unauthenticated AWS)")
    parser.add_argument("--log-requests", action="store_true", help="log every request on stderr")
    parser.add_argument("--listen-fd", type=int, metavar="FD",
                        help="serve on this inherited listening socket, bound already to 127.0.0.1:PORT by the "
                             "parent (make local: so that Terraform may connect while this process starts)")
    parser.add_argument("--state-file", type=Path, metavar="PATH",
                        help="restore the state this file holds (when it exists) and keep saving the state into it")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port}: not a TCP port (0-65535)")
    if not args.allow_remote and not is_loopback(args.host):
        parser.error(f"--host {args.host} is not a loopback address; add --allow-remote to serve on it anyway")

    signal.signal(signal.SIGINT, _stop_on_signal)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    server = None
    try:
        listener = None if args.listen_fd is None else socket.socket(fileno=args.listen_fd)
        server, url = start(args.host, args.port, allow_remote=args.listen_fd is None, log_requests=args.log_requests,
                            state_file=args.state_file, listener=listener)
        if server.persistence is not None:
            persistence = server.persistence
            print(f"state: restored from {persistence.path}" if persistence.restored else
                  f"state: not restored ({persistence.problem}); starting empty" if persistence.problem else
                  f"state: {persistence.path} does not exist yet; starting empty", file=sys.stderr, flush=True)
        print(f"ready {url}", flush=True)
        threading.Thread(target=warm_up, args=(server.moto_app,), name="warm-up", daemon=True).start()
        while True:
            signal.pause()
    except _Stop:
        pass
    except PortInUseError:
        parser.exit(2, f"{parser.prog}: error: --port {args.port}: {args.host}:{args.port} is already in use; "
                       "choose another port, or --port 0 for a free one\n")
    except OSError as error:
        parser.exit(2, f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {error.strerror or error}\n")
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    # Run the imported module, not this __main__ copy of it: the state file names the patches'
    # classes (such as Deployment) by their module, local_aws.embedded, wherever it is read.
    from local_aws import embedded

    sys.exit(embedded.main())
