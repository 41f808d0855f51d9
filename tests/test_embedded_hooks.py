"""The embedded AWS's private endpoints for the local data plane, against a real server."""
from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import zipfile

import pytest

from local_aws.aws import client as _client

pytestmark = pytest.mark.xdist_group("embedded")


def aws_client(url: str, service: str):
    return _client(service, url)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post_json(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST", headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def generation(url: str) -> int:
    return json.loads(get(f"{url}/_local/state")[1])["generation"]


def test_generation_grows_on_configuration_writes_only(aws_url) -> None:
    cognito, logs = aws_client(aws_url, "cognito-idp"), aws_client(aws_url, "logs")
    before = generation(aws_url)
    cognito.list_user_pools(MaxResults=10)
    logs.create_log_group(logGroupName="/hooks/generation")  # not configuration the data plane reads
    logs.create_log_stream(logGroupName="/hooks/generation", logStreamName="s")
    logs.put_log_events(logGroupName="/hooks/generation", logStreamName="s", logEvents=[{"timestamp": 1, "message": "m"}])
    assert generation(aws_url) == before
    aws_client(aws_url, "iam").list_roles()  # query protocol: a POST, so counted as a possible write, never missed
    after_iam_read = generation(aws_url)
    pool = cognito.create_user_pool(PoolName="hooks-generation")["UserPool"]["Id"]
    after_write = generation(aws_url)
    assert after_write > after_iam_read >= before
    # The local Cognito reads users on every token request: those reads must not look like writes.
    cognito.admin_create_user(UserPoolId=pool, Username="reader", MessageAction="SUPPRESS")
    after_create = generation(aws_url)
    cognito.admin_get_user(UserPoolId=pool, Username="reader")
    cognito.admin_list_groups_for_user(UserPoolId=pool, Username="reader")
    assert generation(aws_url) == after_create


def test_function_code_is_the_deployed_zip(aws_url) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return 'hooks'\n")
    role = aws_client(aws_url, "iam").create_role(RoleName="hooks-code", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws_client(aws_url, "lambda").create_function(FunctionName="hooks-code", Runtime="python3.13", Role=role,
                                          Handler="app.handler", Code={"ZipFile": archive.getvalue()})
    status, body = get(f"{aws_url}/_local/lambda/us-east-1/hooks-code/code")
    assert status == 200 and body == archive.getvalue()
    assert get(f"{aws_url}/_local/lambda/us-east-1/no-such-function/code")[0] == 404


def test_authenticate_checks_password_status_and_alias(aws_url) -> None:
    cognito = aws_client(aws_url, "cognito-idp")
    pool = cognito.create_user_pool(PoolName="hooks", UsernameAttributes=["email"])["UserPool"]["Id"]
    cognito.admin_create_user(UserPoolId=pool, Username="ada@example.com", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "ada@example.com"}])
    url = f"{aws_url}/_local/cognito/{pool}/authenticate"
    # A user with only a temporary password is FORCE_CHANGE_PASSWORD, not CONFIRMED: no sign-in here.
    assert post_json(url, {"username": "ada@example.com", "password": "Temp0rary!pass"})[0] == 401
    cognito.admin_set_user_password(UserPoolId=pool, Username="ada@example.com", Password="C0rrect-horse!", Permanent=True)
    status, user = post_json(url, {"username": "ada@example.com", "password": "C0rrect-horse!"})
    assert status == 200
    assert user["attributes"]["email"] == "ada@example.com" and user["sub"] == user["attributes"]["sub"]
    assert post_json(url, {"username": "ada@example.com", "password": "wrong"})[0] == 401
    assert post_json(url, {"username": "nobody@example.com", "password": "C0rrect-horse!"})[0] == 401
    cognito.admin_disable_user(UserPoolId=pool, Username="ada@example.com")
    assert post_json(url, {"username": "ada@example.com", "password": "C0rrect-horse!"})[0] == 401
    assert post_json(f"{aws_url}/_local/cognito/us-east-1_nopool/authenticate", {"username": "a", "password": "b"})[0] == 404


def test_access_key_gives_secret_and_identity_policies(aws_url) -> None:
    iam = aws_client(aws_url, "iam")
    iam.create_user(UserName="hooks-caller")
    key = iam.create_access_key(UserName="hooks-caller")["AccessKey"]
    inline = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}
    iam.put_user_policy(UserName="hooks-caller", PolicyName="invoke", PolicyDocument=json.dumps(inline))
    managed = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/POST/*"}]}
    arn = iam.create_policy(PolicyName="no-posts", PolicyDocument=json.dumps(managed))["Policy"]["Arn"]
    iam.create_group(GroupName="hooks-group")
    iam.add_user_to_group(GroupName="hooks-group", UserName="hooks-caller")
    iam.attach_group_policy(GroupName="hooks-group", PolicyArn=arn)

    status, body = get(f"{aws_url}/_local/iam/access-keys/{key['AccessKeyId']}")
    found = json.loads(body)
    assert status == 200
    assert found["secret_access_key"] == key["SecretAccessKey"]
    assert found["user_name"] == "hooks-caller" and found["user_arn"].endswith(":user/hooks-caller")
    assert inline in found["policies"] and managed in found["policies"]
    iam.update_access_key(UserName="hooks-caller", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert get(f"{aws_url}/_local/iam/access-keys/{key['AccessKeyId']}")[0] == 404


def test_unknown_private_endpoint_is_404(aws_url) -> None:
    assert get(f"{aws_url}/_local/nothing")[0] == 404
