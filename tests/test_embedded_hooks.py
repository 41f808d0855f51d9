"""The embedded AWS's private endpoints for the local data plane, against a real server."""
from __future__ import annotations

import json
import time

import pytest

from local_aws.aws import client as _client
from tests.support.http import request
from tests.support.lambdas import zip_of

pytestmark = pytest.mark.xdist_group("embedded")


def aws_client(url: str, service: str):
    return _client(service, url)


def generation(url: str) -> int:
    return request("GET", f"{url}/_local/state").json()["generation"]


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
    package = zip_of({"app.py": "def handler(event, context):\n    return 'hooks'\n"})
    role = aws_client(aws_url, "iam").create_role(RoleName="hooks-code", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws_client(aws_url, "lambda").create_function(FunctionName="hooks-code", Runtime="python3.13", Role=role,
                                          Handler="app.handler", Code={"ZipFile": package})
    status, _, body = request("GET", f"{aws_url}/_local/lambda/us-east-1/hooks-code/code")
    assert status == 200 and body == package
    assert request("GET", f"{aws_url}/_local/lambda/us-east-1/no-such-function/code").status == 404


def test_authenticate_checks_password_status_and_alias(aws_url) -> None:
    cognito = aws_client(aws_url, "cognito-idp")
    pool = cognito.create_user_pool(PoolName="hooks", UsernameAttributes=["email"])["UserPool"]["Id"]
    cognito.admin_create_user(UserPoolId=pool, Username="ada@example.com", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "ada@example.com"}])
    url = f"{aws_url}/_local/cognito/{pool}/authenticate"
    # A user with only a temporary password is FORCE_CHANGE_PASSWORD, not CONFIRMED: no sign-in here.
    assert request("POST", url, json_body={"username": "ada@example.com", "password": "Temp0rary!pass"}).status == 401
    cognito.admin_set_user_password(UserPoolId=pool, Username="ada@example.com", Password="C0rrect-horse!", Permanent=True)
    reply = request("POST", url, json_body={"username": "ada@example.com", "password": "C0rrect-horse!"})
    status, user = reply.status, reply.json()
    assert status == 200
    assert user["attributes"]["email"] == "ada@example.com" and user["sub"] == user["attributes"]["sub"]
    assert request("POST", url, json_body={"username": "ada@example.com", "password": "wrong"}).status == 401
    assert request("POST", url, json_body={"username": "nobody@example.com", "password": "C0rrect-horse!"}).status == 401
    cognito.admin_disable_user(UserPoolId=pool, Username="ada@example.com")
    assert request("POST", url, json_body={"username": "ada@example.com", "password": "C0rrect-horse!"}).status == 401
    assert request("POST", f"{aws_url}/_local/cognito/us-east-1_nopool/authenticate", json_body={"username": "a", "password": "b"}).status == 404


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

    status, _, body = request("GET", f"{aws_url}/_local/iam/access-keys/{key['AccessKeyId']}")
    found = json.loads(body)
    assert status == 200
    assert found["secret_access_key"] == key["SecretAccessKey"]
    assert found["user_name"] == "hooks-caller" and found["user_arn"].endswith(":user/hooks-caller")
    assert inline in found["policies"] and managed in found["policies"]
    iam.update_access_key(UserName="hooks-caller", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert request("GET", f"{aws_url}/_local/iam/access-keys/{key['AccessKeyId']}").status == 404


def test_log_delivery_puts_every_stream_in_order_and_refuses_a_missing_group(aws_url) -> None:
    logs = aws_client(aws_url, "logs")
    logs.create_log_group(logGroupName="/hooks/delivered")
    logs.create_log_stream(logGroupName="/hooks/delivered", logStreamName="existing")
    before = generation(aws_url)
    now_ms = int(time.time() * 1000)
    answer = request("POST", f"{aws_url}/_local/logs/us-east-1", json_body={"streams": [
        {"group": "/hooks/delivered", "stream": "existing", "events": [[now_ms, "one\n"], [now_ms + 1, "two\n"]]},
        {"group": "/hooks/missing", "stream": "s", "events": [[now_ms, "lost\n"]]},
        {"group": "/hooks/delivered", "stream": "made on delivery", "events": [[now_ms, "three\n"]]},
    ]})
    assert answer.status == 200
    assert answer.json() == {"refused": [{"group": "/hooks/missing", "code": "ResourceNotFoundException",
                                          "message": "The specified log group does not exist."}]}
    read = {stream: [event["message"] for event in logs.get_log_events(
        logGroupName="/hooks/delivered", logStreamName=stream, startFromHead=True)["events"]]
        for stream in ("existing", "made on delivery")}
    assert read == {"existing": ["one\n", "two\n"], "made on delivery": ["three\n"]}
    assert "/hooks/missing" not in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert generation(aws_url) == before, "not configuration the data plane reads"


def test_a_log_stream_keeps_its_newest_events_only(aws_url, monkeypatch) -> None:
    from local_aws import embedded_hooks

    monkeypatch.setattr(embedded_hooks, "MAX_EVENTS_PER_STREAM", 5)  # the server runs in this process
    logs = aws_client(aws_url, "logs")
    logs.create_log_group(logGroupName="/hooks/bounded")
    now_ms = int(time.time() * 1000)
    for first in (0, 4):
        request("POST", f"{aws_url}/_local/logs/us-east-1", json_body={"streams": [
            {"group": "/hooks/bounded", "stream": "s", "events": [[now_ms + i, f"line {i}"] for i in range(first, first + 4)]}]})
    events = logs.get_log_events(logGroupName="/hooks/bounded", logStreamName="s", startFromHead=True)["events"]
    assert [event["message"] for event in events] == [f"line {i}" for i in range(3, 8)]


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"streams": [{"group": "/g"}]}',
                                  b'{"streams": [{"group": "/g", "stream": "s", "events": [["soon", "x"]]}]}'])
def test_a_log_delivery_of_another_shape_is_400_and_puts_nothing(aws_url, body: bytes) -> None:
    logs = aws_client(aws_url, "logs")
    if "/g" not in [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/g")["logGroups"]]:
        logs.create_log_group(logGroupName="/g")
    answer = request("POST", f"{aws_url}/_local/logs/us-east-1", body=body, headers={"Content-Type": "application/json"})
    assert answer.status == 400 and answer.json()["error"]
    assert logs.describe_log_streams(logGroupName="/g")["logStreams"] == []


def test_unknown_private_endpoint_is_404(aws_url) -> None:
    assert request("GET", f"{aws_url}/_local/nothing").status == 404
