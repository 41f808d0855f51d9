"""What an execution environment of local_aws/runtime.py can import: what Lambda offers, no more.

Functions and layers are created with boto3 in a real embedded AWS, and run in real worker
processes started by the Runtime; the gateway test sends real HTTP to the real data plane. The
packages these tests expect to be refused (PyJWT, PyYAML, moto, the project itself) are importable
by the test process, so each refusal is the runtime's doing, not an accident of the venv.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import sys
import sysconfig
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_aws import aws
from local_aws.authorizer import JwksCache
from local_aws.gateway import Gateway
from local_aws.runtime import LambdaRuntimeError, Runtime
from tests.gateway_support import Served
from tests.support.http import call
from tests.support.lambdas import lambda_role
from tests.test_runtime import has_line, log_events, messages, zip_of

pytestmark = pytest.mark.xdist_group("runtime-imports")

LOCAL_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
# The SDK as Lambda's Python runtimes include it: boto3 and what it requires, by import name.
SDK_MODULES = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3"}
# Installed in the venv (the tests use them), not in Lambda's runtime.
VENV_ONLY = ("jwt", "yaml", "moto", "pytest", "werkzeug", "cryptography", "local_aws", "runtime_bootstrap")

# Reports where everything it can import comes from.
INSPECTOR = """
import importlib.metadata
import importlib.util
import os
import sys

import boto3
import botocore
import dateutil
import jmespath
import s3transfer
import six
import urllib3

def handler(event, context):
    return {
        "path": sys.path,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "found": {name: importlib.util.find_spec(name) is not None for name in event["names"]},
        "files": {module.__name__: module.__file__ for module in (boto3, botocore, dateutil, jmespath, s3transfer, six, urllib3)},
        "versions": {name: importlib.metadata.version(name) for name in event["distributions"]},
        "exit": callable(exit),
    }
"""


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def aws_url(embedded_aws) -> str:
    """An embedded AWS process of this module's own, not conftest.py's in-process one: the gateway
    test loads every HTTP API of the region, and an in-process server holds those of every module
    that ran before on the worker (test_embedded.py's stages, for one, which the gateway refuses)."""
    return embedded_aws.url


@pytest.fixture(scope="module")
def role(aws_url: str) -> str:
    return lambda_role(aws.client("iam", aws_url), "runtime-imports-tests")


@pytest.fixture(scope="module")
def runtime(aws_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = Runtime(aws_url, tmp_path_factory.mktemp("imports") / "runtime", max_environments=2)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def deploy(aws_url: str, role: str) -> Callable[..., str]:
    """Create a function and its log group; return its name."""

    def create(files: dict[str, str | bytes], *, runtime: str = "python3.12", layers: tuple[str, ...] = ()) -> str:
        name = f"imports-{uuid.uuid4().hex[:12]}"
        aws.client("logs", aws_url).create_log_group(logGroupName=f"/aws/lambda/{name}")
        aws.client("lambda", aws_url).create_function(
            FunctionName=name, Runtime=runtime, Role=role, Handler="app.handler", Timeout=10,
            Code={"ZipFile": zip_of(files)}, Layers=list(layers))
        return name

    return create


def publish_layer(aws_url: str, files: dict[str, str | bytes] | bytes, executables: dict[str, str] | None = None) -> str:
    content = files if isinstance(files, bytes) else zip_of(files)
    if executables:
        buffer = io.BytesIO(content)
        with zipfile.ZipFile(buffer, "a") as archive:
            for name, text in executables.items():
                entry = zipfile.ZipInfo(name)
                entry.external_attr = 0o755 << 16
                archive.writestr(entry, text)
        content = buffer.getvalue()
    return aws.client("lambda", aws_url).publish_layer_version(
        LayerName=f"layer-{uuid.uuid4().hex[:8]}", Content={"ZipFile": content},
        CompatibleRuntimes=["python3.12"])["LayerVersionArn"]


def invoke(runtime: Runtime, name: str, event: dict | None = None) -> dict:
    outcome = runtime.invoke(runtime.function(name), event or {}, wait_s=30)
    assert outcome.error is None, outcome.error
    return outcome.payload


# --- only the standard library, the SDK, the package and its layers --------------------------------

@pytest.mark.parametrize("module", ["jwt", "yaml", "moto", "local_aws"])
def test_a_package_that_lambdas_runtime_lacks_fails_to_import_as_on_aws(
        runtime: Runtime, deploy, aws_url: str, module: str) -> None:
    assert importlib.util.find_spec(module) is not None  # the venv has it
    function = runtime.function(deploy({"app.py": f"import {module}\n\ndef handler(event, context):\n    return 1\n"}))
    failed = runtime.invoke(function, {}, wait_s=30)
    message = f"Unable to import module 'app': No module named '{module}'"
    assert failed.error == {"errorType": "Runtime.ImportModuleError", "errorMessage": message,
                            "requestId": failed.request_id, "stackTrace": []}
    lines = messages(log_events(aws_url, function.log_group, has_line(f"REPORT RequestId: {failed.request_id}")))
    # AWS's shape: one event for the error and its (empty) traceback, then the platform's lines.
    assert f"[ERROR] Runtime.ImportModuleError: {message}\nTraceback (most recent call last):\n" in lines
    report = next(line for line in lines if line.startswith(f"REPORT RequestId: {failed.request_id}"))
    assert report.endswith("Status: error\tError Type: Runtime.ImportModuleError\n")


def test_through_the_gateway_an_import_error_answers_500(runtime: Runtime, deploy, aws_url: str) -> None:
    name = deploy({"app.py": "import jwt\n\ndef handler(event, context):\n    return {'statusCode': 200}\n"})
    lam, apigw = aws.client("lambda", aws_url), aws.client("apigatewayv2", aws_url)
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api_id = apigw.create_api(Name=f"imports-{name}", ProtocolType="HTTP")["ApiId"]
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    integration = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0", IntegrationMethod="POST",
        IntegrationUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations")
    apigw.create_route(ApiId=api_id, RouteKey="GET /token", Target=f"integrations/{integration['IntegrationId']}")
    lam.add_permission(FunctionName=name, StatementId="apigw", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/*/GET/token")
    gateway = Gateway(aws_url, runtime, JwksCache(lambda issuer: {"keys": []}))
    gateway.reload()
    served = Served(gateway)
    try:
        reply = call(served.port, "GET", "/token", host=f"{api_id}.execute-api.localhost:{served.port}")
    finally:
        served.stop()
    assert (reply.status, reply.json()) == (500, {"message": "Internal Server Error"})  # spec B6
    lines = messages(log_events(aws_url, f"/aws/lambda/{name}", has_line("REPORT RequestId:")))
    assert any(line.startswith("[ERROR] Runtime.ImportModuleError: Unable to import module 'app': "
                               "No module named 'jwt'") for line in lines)


def test_the_sdk_imports_and_nothing_else_of_the_venv_is_on_the_path(runtime: Runtime, deploy) -> None:
    name = deploy({"app.py": INSPECTOR})
    distributions = ["boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"]
    seen = invoke(runtime, name, {"names": [*VENV_ONLY, *SDK_MODULES], "distributions": distributions})

    assert seen["found"] == {**{name: False for name in VENV_ONLY}, **{name: True for name in SDK_MODULES}}
    # The venv's own versions, found through their metadata, from the runtime's SDK folder.
    assert seen["versions"] == {name: importlib.metadata.version(name) for name in distributions}
    assert all(Path(file).is_relative_to(runtime.sdk_dir) for file in seen["files"].values()), seen["files"]
    # (__pycache__: six.py's bytecode, written beside its link)
    assert {entry.name for entry in runtime.sdk_dir.iterdir() if not entry.name.endswith(".dist-info")} == {
        "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3", "__pycache__"}
    # Lambda's order: the package, the SDK, then the standard library (no layers here).
    path = seen["path"]
    assert path[:2] == [seen["task_root"], str(runtime.sdk_dir)]
    site_packages = {Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    for entry in path[2:]:
        assert Path(entry).is_relative_to(sys.base_prefix), entry  # the interpreter's standard library
        assert "site-packages" not in Path(entry).parts and Path(entry).resolve() not in site_packages, entry
    assert seen["exit"]  # the builtins `site` adds on Lambda are there, without its folders


def test_boto3_in_a_handler_reaches_the_embedded_aws(runtime: Runtime, deploy, aws_url: str) -> None:
    bucket = f"imports-{uuid.uuid4().hex[:12]}"
    name = deploy({"app.py": """
        import boto3

        def handler(event, context):
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=event["bucket"])
            s3.put_object(Bucket=event["bucket"], Key="hello.txt", Body=b"from the handler")
            return [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]
    """})
    assert bucket in invoke(runtime, name, {"bucket": bucket})
    body = aws.client("s3", aws_url).get_object(Bucket=bucket, Key="hello.txt")["Body"].read()
    assert body == b"from the handler"


# --- layers ----------------------------------------------------------------------------------------

def test_layers_are_unpacked_in_order_onto_lambdas_python_paths(runtime: Runtime, deploy, aws_url: str) -> None:
    base = publish_layer(aws_url, {
        "python/shared.py": "VALUE = 'base'\n",
        "python/from_base.py": "VALUE = 'only in base'\n",
        "python/precedence.py": "VALUE = 'layer'\n",
        "python/lib/python3.12/site-packages/vendored/__init__.py": "VALUE = 'site-packages of base'\n",
        "python/settings": "a file of base",
    }, executables={"bin/layer-tool": "#!/bin/sh\necho tool from the layer\n"})
    override = publish_layer(aws_url, {"python/shared.py": "VALUE = 'override'\n",
                                       "python/settings/value.txt": "a folder of override"})
    name = deploy({
        "app.py": """
            import os
            import subprocess
            import sys

            import from_base
            import mypackage
            import precedence
            import shared
            import vendored

            def settings():
                path = os.path.join(sys.path[2], "settings")
                with open(path if os.path.isfile(path) else os.path.join(path, "value.txt")) as file:
                    return file.read()

            def handler(event, context):
                return {"settings": settings(), "values": [shared.VALUE, from_base.VALUE, vendored.VALUE, precedence.VALUE, mypackage.VALUE],
                        "shared": shared.__file__, "path": sys.path, "bin": os.environ["PATH"].split(os.pathsep)[-1],
                        "tool": subprocess.run(["layer-tool"], capture_output=True, text=True).stdout}
        """,
        "precedence.py": "VALUE = 'package'\n",
        "mypackage/__init__.py": "VALUE = 'the function package'\n",
    }, layers=(base, override))

    seen = invoke(runtime, name)
    assert seen["values"] == ["override", "only in base", "site-packages of base", "package", "the function package"]
    assert seen["settings"] == "a folder of override"  # a later layer's folder replaces a file
    opt = Path(seen["path"][2]).parent
    assert seen["path"][:4] == [str(runtime._code_dir(runtime.function(name))),
                                str(opt / "python" / "lib" / "python3.12" / "site-packages"),
                                str(opt / "python"), str(runtime.sdk_dir)]
    assert Path(seen["shared"]) == opt / "python" / "shared.py"
    assert Path(seen["bin"]) == opt / "bin"  # /opt/bin ends PATH, as on Lambda
    assert seen["tool"] == "tool from the layer\n"  # found on PATH, executable as the zip says

    # The other order: the base layer's file wins, in a new environment with its own /opt.
    aws.client("lambda", aws_url).update_function_configuration(FunctionName=name, Layers=[override, base])
    reordered = invoke(runtime, name)
    assert (reordered["values"][0], reordered["settings"]) == ("base", "a file of base")  # and a file a folder
    assert Path(reordered["path"][2]).parent != opt
    # Each layer version was unpacked once; each order of them is an /opt of its own.
    assert {base, override} <= set(runtime._layer_dirs)
    assert len({runtime._layer_dirs[base], runtime._layer_dirs[override]}) == 2


def test_a_layer_that_cannot_be_read_is_a_clear_error(runtime: Runtime, deploy, aws_url: str) -> None:
    broken = publish_layer(aws_url, b"this is not a zip file")
    name = deploy({"app.py": "def handler(event, context):\n    return 1\n"}, layers=(broken,))
    with pytest.raises(LambdaRuntimeError, match=rf"layer {broken} of function {name} is not a zip file"):
        runtime.function(name)
    status, body = aws.private(aws_url, "lambda/us-east-1/layers/no-such-layer/1/code")
    assert status == 404 and b"Cannot find layer" in body


# --- the interpreter ---------------------------------------------------------------------------------

def test_a_declared_runtime_other_than_the_local_python_is_noted_in_the_log(runtime: Runtime, deploy, aws_url: str) -> None:
    other = "python3.12" if LOCAL_RUNTIME != "python3.12" else "python3.13"
    noted = runtime.function(deploy({"app.py": "def handler(event, context):\n    return 1\n"}, runtime=other))
    local = runtime.function(deploy({"app.py": "def handler(event, context):\n    return 1\n"}, runtime=LOCAL_RUNTIME))
    for function in (noted, local):
        outcome = runtime.invoke(function, {}, wait_s=30)
        assert outcome.error is None, outcome.error
        lines = messages(log_events(aws_url, function.log_group, has_line("REPORT RequestId:")))
        notes = [line for line in lines if line.startswith("LOCAL NOTE:")]
        if function is noted:
            assert notes == [f"LOCAL NOTE: the function declares {other} but runs on Python "
                             f"{sys.version.split()[0]} here: the standard library, the language and C extensions "
                             f"({sys.implementation.cache_tag}) differ from {other} on AWS\n"]
        else:
            assert notes == []
