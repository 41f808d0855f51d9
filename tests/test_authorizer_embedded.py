"""IAM authorization (spec E) end to end against a real embedded AWS: an IAM user, its access key and
its policies made with boto3, found through the private access-key endpoint (`caller_lookup`), a request
signed by botocore, checked by `authorize_iam`."""
from __future__ import annotations

import json

import pytest

from local_aws import aws
from local_aws.authorizer import HttpRequest, authorize_iam, caller_lookup
from tests.support.signing import sigv4_headers

pytestmark = pytest.mark.xdist_group("embedded")

REGION, HOST = "us-east-1", "127.0.0.1:8080"


def signed_get(path: str, key: dict) -> HttpRequest:
    headers = {name.lower(): value for name, value in sigv4_headers(key, "GET", HOST, path, region=REGION)} | {"host": HOST}
    return HttpRequest("GET", path, "", headers, b"", "127.0.0.1")


def test_e1_e2_iam_user_key_and_policies_from_the_embedded_aws(aws_url) -> None:
    iam = aws.client("iam", aws_url)
    user = iam.create_user(UserName="authorizer-caller")["User"]
    key = iam.create_access_key(UserName="authorizer-caller")["AccessKey"]
    account = user["Arn"].split(":")[4]
    iam.put_user_policy(UserName="authorizer-caller", PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:{REGION}:{account}:api1/*"},
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": f"arn:aws:execute-api:{REGION}:{account}:api1/*/DELETE/*"},
        ]}))
    find_caller = caller_lookup(aws_url)

    def route(method: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{account}:api1/$default/{method}/notes"

    allowed = authorize_iam(signed_get("/notes", key), host=HOST, region=REGION, route_arn=route("GET"), find_caller=find_caller)
    assert allowed.allowed, allowed.reason
    assert allowed.context["iam"] == {
        "accessKey": key["AccessKeyId"], "accountId": account, "callerId": user["UserId"], "cognitoIdentity": None,
        "principalOrgId": None, "userArn": user["Arn"], "userId": user["UserId"],
    }
    denied = authorize_iam(signed_get("/notes", key), host=HOST, region=REGION, route_arn=route("DELETE"), find_caller=find_caller)
    assert (denied.status, denied.body) == (403, {"message": "Forbidden"})
    assert "explicit Deny" in denied.reason

    iam.update_access_key(UserName="authorizer-caller", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    inactive = authorize_iam(signed_get("/notes", key), host=HOST, region=REGION, route_arn=route("GET"), find_caller=find_caller)
    assert (inactive.status, inactive.body) == (403, {"message": "Forbidden"})
    assert "unknown access key" in inactive.reason
    assert find_caller("../state") is None  # request text never reaches the private endpoint's path
