"""The embedded AWS's state on disk (local_aws/embedded_state.py): `python -m local_aws.embedded
--state-file` processes, stopped, killed and started again, checked with boto3 over loopback."""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import signal
import sys
import threading
import time
import weakref
import zipfile
from collections import defaultdict
from pathlib import Path

import moto
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local_aws import aws, embedded_state
from tests.support.embedded_aws import EmbeddedAws

pytestmark = pytest.mark.xdist_group("embedded-state")
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
PASSWORD = "Restart-Pa55word"


def started(tmp_path: Path, name: str, state_file: Path):
    """An embedded AWS process saving into state_file; its log in tmp_path/name/."""
    (tmp_path / name).mkdir()
    return EmbeddedAws.start(tmp_path / name, "--state-file", str(state_file))


def snapshot_status(url: str) -> dict:
    status, body = aws.private(url, "snapshot")
    assert status == 200, body
    return json.loads(body)


def log_of(tmp_path: Path, name: str) -> str:
    return (tmp_path / name / "embedded-aws.log").read_text()


def function_zip() -> bytes:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr(zipfile.ZipInfo("app.py", (2026, 1, 1, 0, 0, 0)), "def handler(event, context):\n    return 'kept'\n")
    return package.getvalue()


def test_what_was_made_and_written_survives_a_stop_and_a_start(tmp_path) -> None:
    state_file = tmp_path / "aws-state.pickle"
    with started(tmp_path, "first", state_file) as first:
        assert snapshot_status(first.url)["restored"] is False
        idp = first.client("cognito-idp")
        pool_id = idp.create_user_pool(PoolName="kept")["UserPool"]["Id"]
        idp.admin_create_user(UserPoolId=pool_id, Username="ada")
        idp.admin_set_user_password(UserPoolId=pool_id, Username="ada", Password=PASSWORD, Permanent=True)
        dynamodb = first.client("dynamodb")
        dynamodb.create_table(TableName="notes", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
        dynamodb.put_item(TableName="notes", Item={"id": {"S": "n1"}, "title": {"S": "kept"}})
        s3 = first.client("s3")
        s3.create_bucket(Bucket="kept-objects")
        s3.put_object(Bucket="kept-objects", Key="a.txt", Body=b"hello again")
        iam = first.client("iam")
        role_arn = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
        iam.attach_role_policy(RoleName="fn", PolicyArn=BASIC_EXECUTION)
        first.client("lambda").create_function(FunctionName="kept", Runtime="python3.12", Role=role_arn,
                                                Handler="app.handler", Code={"ZipFile": function_zip()})
        apigw = first.client("apigatewayv2")
        api_id = apigw.create_api(Name="kept", ProtocolType="HTTP")["ApiId"]
        apigw.create_stage(ApiId=api_id, StageName="live")
        deployment = apigw.create_deployment(ApiId=api_id, StageName="live")["DeploymentId"]  # the project's own operation
        logs = first.client("logs")
        logs.create_log_group(logGroupName="/kept")
        logs.create_log_stream(logGroupName="/kept", logStreamName="s")
        written = snapshot_status(first.url)["writes"]
        logs.put_log_events(logGroupName="/kept", logStreamName="s",
                            logEvents=[{"timestamp": int(time.time() * 1000), "message": "the last line"}])
        # and the runtime's way (log_shipping.py)
        assert aws.private(first.url, "logs/us-east-1", {"streams": [
            {"group": "/kept", "stream": "delivered", "events": [[int(time.time() * 1000), "shipped"]]}]}) == (
            200, b'{"refused": []}')
        assert snapshot_status(first.url)["writes"] == written, "log shipping alone starts no save"
    assert state_file.stat().st_mode & 0o777 == 0o600, "it holds secrets and passwords"

    with started(tmp_path, "second", state_file) as second:
        assert snapshot_status(second.url)["restored"] is True
        assert f"state: restored from {state_file}" in log_of(tmp_path, "second")
        status, body = aws.private(second.url, f"cognito/{pool_id}/authenticate", {"username": "ada", "password": PASSWORD})
        assert status == 200 and json.loads(body)["username"] == "ada"
        item = second.client("dynamodb").get_item(TableName="notes", Key={"id": {"S": "n1"}})["Item"]
        assert item["title"] == {"S": "kept"}
        assert second.client("s3").get_object(Bucket="kept-objects", Key="a.txt")["Body"].read() == b"hello again"
        attached = second.client("iam").list_attached_role_policies(RoleName="fn")["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [BASIC_EXECUTION]
        assert aws.private(second.url, "lambda/us-east-1/kept/code") == (200, function_zip())
        assert second.client("apigatewayv2").get_deployment(ApiId=api_id, DeploymentId=deployment)["DeploymentStatus"] == "DEPLOYED"
        events = second.client("logs").get_log_events(logGroupName="/kept", logStreamName="s")["events"]
        assert [e["message"] for e in events] == ["the last line"], "saved at the stop"
        shipped = second.client("logs").get_log_events(logGroupName="/kept", logStreamName="delivered")["events"]
        assert [e["message"] for e in shipped] == ["shipped"]
        # Restored backends take new writes as moto's own do.
        second.client("cognito-idp").admin_create_user(UserPoolId=pool_id, Username="grace")
        assert len(second.client("cognito-idp").list_users(UserPoolId=pool_id)["Users"]) == 2


def test_writes_are_saved_while_serving_so_a_killed_process_loses_little(tmp_path) -> None:
    state_file = tmp_path / "aws-state.pickle"
    with started(tmp_path, "first", state_file) as first:
        first.client("s3").create_bucket(Bucket="before-the-kill")
        deadline = time.monotonic() + embedded_state.SAVE_INTERVAL_S * 4
        while (status := snapshot_status(first.url))["saved_writes"] < status["writes"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status["saved_writes"] == status["writes"] == 1
        first.process.send_signal(signal.SIGKILL)  # no save at the end
        first.process.wait()
    with started(tmp_path, "second", state_file) as second:
        assert [b["Name"] for b in second.client("s3").list_buckets()["Buckets"]] == ["before-the-kill"]


def test_requests_during_saves_all_succeed_and_the_saved_state_is_whole(tmp_path) -> None:
    state_file = tmp_path / "aws-state.pickle"
    with started(tmp_path, "first", state_file) as first:
        dynamodb = first.client("dynamodb")
        dynamodb.create_table(TableName="busy", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
        written: list[str] = []
        failures: list[BaseException] = []
        stop = threading.Event()

        def write(worker: int) -> None:
            client = first.client("dynamodb")
            n = 0
            while not stop.is_set():
                try:
                    client.put_item(TableName="busy", Item={"id": {"S": f"{worker}-{n}"}})
                    written.append(f"{worker}-{n}")
                except Exception as error:  # noqa: BLE001 (any failure is the finding)
                    failures.append(error)
                n += 1

        writers = [threading.Thread(target=write, args=(i,)) for i in range(3)]
        for writer in writers:
            writer.start()
        saves = []
        for _ in range(5):
            status, body = aws.private(first.url, "snapshot", {})
            saves.append((status, json.loads(body)))
        stop.set()
        for writer in writers:
            writer.join()
        assert failures == [] and all(status == 200 for status, _ in saves), saves
        assert written
    with started(tmp_path, "second", state_file) as second:
        items = aws.pages(second.client("dynamodb").scan, "Items", "LastEvaluatedKey", "ExclusiveStartKey", TableName="busy")
        assert sorted(item["id"]["S"] for item in items) == sorted(written)


@pytest.mark.parametrize("contents, reason", [
    (b"not a snapshot at all", "is not a snapshot of the embedded AWS (no header)"),
    (None, "is corrupt or cut short"),
    (json.dumps({"format": 1, "moto": "4.0.0", "python": "3.11"}).encode() + b"\n", "was written with moto 4.0.0"),
])
def test_a_state_file_that_cannot_be_read_is_named_and_nothing_is_installed(tmp_path, contents, reason) -> None:
    state_file = tmp_path / "aws-state.pickle"
    if contents is None:  # a right header, then a pickle cut short (as by a full disk)
        header = {"format": embedded_state.FORMAT, "moto": moto.__version__, "python": "%d.%d" % sys.version_info[:2]}
        payload = pickle.dumps({"moto.s3.models:s3_backends": {"123456789012": {"aws": list(range(1000))}}})
        contents = json.dumps(header).encode() + b"\n" + payload[: len(payload) // 2]
    state_file.write_bytes(contents)
    with pytest.raises(embedded_state.SnapshotError, match=re.escape(reason)) as refused:
        embedded_state.read(state_file)
    assert str(state_file) in str(refused.value)


def test_a_corrupt_state_file_gives_a_message_and_an_empty_embedded_aws(tmp_path) -> None:
    state_file = tmp_path / "aws-state.pickle"
    with started(tmp_path, "first", state_file) as first:
        first.client("s3").create_bucket(Bucket="lost-with-the-file")
    data = state_file.read_bytes()
    state_file.write_bytes(data[:-200])
    with started(tmp_path, "second", state_file) as second:
        status = snapshot_status(second.url)
        assert status["restored"] is False and "is corrupt or cut short" in status["problem"]
        assert second.client("s3").list_buckets()["Buckets"] == []
        second.client("s3").create_bucket(Bucket="after")
        assert aws.private(second.url, "snapshot", {})[0] == 200  # and saving starts afresh
    log = log_of(tmp_path, "second")
    assert "state: not restored" in log and "starting empty" in log and "Traceback" not in log
    assert state_file.read_bytes() != data[:-200]
    assert not os.path.exists(f"{state_file}.partial")


def test_services_the_project_does_not_use_are_saved_too(tmp_path) -> None:
    """What other roots hold: execute-api VPC endpoints (examples/private_rest_api), parameters (moto's
    SSM keeps them in a defaultdict subclass), certificates (cryptography objects), queues."""
    state_file = tmp_path / "aws-state.pickle"
    with started(tmp_path, "first", state_file) as first:
        ec2 = first.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.execute-api",
                                           VpcEndpointType="Interface", SubnetIds=[subnet])["VpcEndpoint"]["VpcEndpointId"]
        first.client("ssm").put_parameter(Name="/their/setting", Value="kept", Type="String")
        certificate = first.client("acm").request_certificate(DomainName="api.example.com")["CertificateArn"]
        queue = first.client("sqs").create_queue(QueueName="their-jobs")["QueueUrl"]
        first.client("sqs").send_message(QueueUrl=queue, MessageBody="job 1")
    with started(tmp_path, "second", state_file) as second:
        assert snapshot_status(second.url)["restored"] is True
        found = second.client("ec2").describe_vpc_endpoints()["VpcEndpoints"]
        assert [e["VpcEndpointId"] for e in found] == [endpoint]
        assert second.client("ssm").get_parameter(Name="/their/setting")["Parameter"]["Value"] == "kept"
        second.client("ssm").put_parameter(Name="/their/other", Value="new", Type="String")
        described = second.client("acm").describe_certificate(CertificateArn=certificate)["Certificate"]
        assert described["DomainName"] == "api.example.com"
        queue = second.client("sqs").get_queue_url(QueueName="their-jobs")["QueueUrl"]
        messages = second.client("sqs").receive_message(QueueUrl=queue)["Messages"]
        assert [m["Body"] for m in messages] == ["job 1"]


class Held:
    """A stand-in for a moto object that a weak-value dictionary points to."""


def test_what_pickle_cannot_take_as_it_is_is_rebuilt_from_its_contents() -> None:
    held = Held()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    locked = threading.Lock()
    locked.acquire()
    arns = weakref.WeakValueDictionary({"arn:1": held})
    state = {"lock": locked, "rlock": threading.RLock(), "arns": arns, "held": held, "key": key,
             "public": key.public_key(), "aliases": defaultdict(lambda: {}), "nested": defaultdict(lambda: defaultdict(dict))}
    state["aliases"]["f"]["a"] = 1
    out = io.BytesIO()
    embedded_state._Pickler(out).dump(state)
    restored = pickle.loads(out.getvalue())
    assert restored["lock"].acquire(blocking=False), "a restored lock starts free"
    assert restored["rlock"].acquire(blocking=False)
    assert restored["arns"]["arn:1"] is restored["held"], "the same object, not a copy"
    assert restored["key"].private_numbers() == key.private_numbers()
    assert restored["public"].public_numbers() == key.public_key().public_numbers()
    assert restored["aliases"] == {"f": {"a": 1}} and restored["aliases"]["new"] == {}
    assert restored["nested"]["x"]["y"] == {}
