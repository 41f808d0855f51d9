"""Settings that change no answer locally are named once at startup (stack.json `not_emulated`,
the walkthrough), never silently ignored: managed login version 2, a function's /tmp size, an HTTP
API stage's detailed metrics (the others are in tests/test_cognito_triggers.py)."""
from __future__ import annotations


from local_aws import stack
from tests.support.lambdas import zip_of


def _zip() -> bytes:
    return zip_of({"app.py": "def handler(event, context):\n    return {}\n"})


def test_settings_with_no_local_effect_are_named(embedded_aws) -> None:
    cognito, lam, apigw = (embedded_aws.client(s) for s in ("cognito-idp", "lambda", "apigatewayv2"))
    pool = cognito.create_user_pool(PoolName="branded")["UserPool"]["Id"]
    cognito.create_user_pool_domain(Domain="branded-login", UserPoolId=pool, ManagedLoginVersion=2)
    plain = cognito.create_user_pool(PoolName="plain")["UserPool"]["Id"]
    cognito.create_user_pool_domain(Domain="plain-login", UserPoolId=plain, ManagedLoginVersion=1)
    role = embedded_aws.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name, size in (("big-tmp", 2048), ("default-tmp", 512)):
        lam.create_function(FunctionName=name, Runtime="python3.13", Role=role, Handler="app.handler",
                            Code={"ZipFile": _zip()}, EphemeralStorage={"Size": size})
    api = apigw.create_api(Name="metered", ProtocolType="HTTP")["ApiId"]
    apigw.create_stage(ApiId=api, StageName="$default", DefaultRouteSettings={"DetailedMetricsEnabled": True})
    quiet = apigw.create_api(Name="quiet", ProtocolType="HTTP")["ApiId"]
    apigw.create_stage(ApiId=quiet, StageName="$default")

    found = stack.inventory(embedded_aws.url)["not_emulated"]
    named = {(e["kind"], e["id"], e["setting"], e["value"]) for e in found}
    assert ("user pool", pool, "ManagedLoginVersion", "2") in named
    assert ("Lambda function", "big-tmp", "EphemeralStorage", "2048 MB") in named
    assert ("HTTP API stage", f"{api}/$default", "DetailedMetricsEnabled", "true") in named
    assert not [e for e in found if e["id"] in (plain, "default-tmp", f"{quiet}/$default")]
    assert all(e["why"] for e in found)
