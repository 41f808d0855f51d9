"""Clients of the embedded AWS: one place for its fake credentials (for boto3 clients made here and,
as environment variables, for the processes the stack starts: Terraform, handlers, the shell),
default region and account, its change counter, the issuer format of a user pool, and which regions
the embedded AWS holds anything in.

REGION is only the default: a root may put its resources in any region (or several), and every
reader of the embedded AWS asks `regions()` where to look rather than assuming REGION.
"""
from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request
from typing import Any, Callable

import boto3
import botocore.session
from botocore.config import Config

REGION = "us-east-1"  # the default region of clients, and of the sandbox's AWS_REGION
ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_KEYS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
_CONFIG = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30)


# Settings read from nowhere: not AWS_PROFILE, not ~/.aws/config or credentials (a profile the user
# named, missing or not, must neither break nor steer calls to the embedded AWS).
_ISOLATED = {name: (None, None, default, None) for name, default in
             (("profile", None), ("config_file", os.devnull), ("credentials_file", os.devnull))}



def sandbox_variables(endpoint_url: str | None = None) -> dict[str, str]:
    """The environment variables that keep an AWS SDK or CLI on the fake keys and off the user's
    profile, config and credentials files and instance metadata; with `endpoint_url`, every service
    is the embedded AWS. Callers first drop the AWS_* variables they do not want kept."""
    env = {
        "AWS_ACCESS_KEY_ID": FAKE_KEYS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_KEYS["aws_secret_access_key"],
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


_session: boto3.Session | None = None
_session_lock = threading.Lock()  # a session may not make clients from two threads at once


def client(service: str, endpoint_url: str, region: str = REGION, config: Config | None = None) -> Any:
    """A boto3 client of the embedded AWS (never a real account: fake keys, explicit endpoint)."""
    global _session
    with _session_lock:
        if _session is None:  # one session: loading botocore's data files costs ~100 ms a session
            _session = boto3.Session(botocore_session=botocore.session.Session(session_vars=_ISOLATED), **FAKE_KEYS)
        return _session.client(service, endpoint_url=endpoint_url, region_name=region,
                               config=_CONFIG.merge(config) if config else _CONFIG)


def private(endpoint_url: str, path: str, payload: dict | None = None) -> tuple[int, bytes]:
    """Call one of the embedded AWS's private /_local/ endpoints (see embedded_hooks.py)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{endpoint_url}/_local/{path}", data=data, method="GET" if data is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class EmbeddedAwsError(RuntimeError):
    """The embedded AWS answered a private endpoint with something other than what it serves."""


def generation(endpoint_url: str) -> int:
    """The embedded AWS's change counter (GET /_local/state: it moves with every write to APIs,
    functions, pools and IAM); the one place that reads it.

    Fails one way: EmbeddedAwsError when it answers other than 200 with a counter, and urllib's
    URLError (an OSError) when it does not answer at all. Never a made-up value, so no caller
    mistakes "could not tell" for "unchanged" or "changed"."""
    status, body = private(endpoint_url, "state")
    if status != 200:
        raise EmbeddedAwsError(f"the embedded AWS at {endpoint_url} did not give its change counter: {status} {body[:200]!r}")
    try:
        return int(json.loads(body)["generation"])
    except (ValueError, KeyError, TypeError) as error:
        raise EmbeddedAwsError(f"the embedded AWS at {endpoint_url} gave no readable change counter: {body[:200]!r}") from error


def issuer(region: str, pool_id: str) -> str:
    """A user pool's issuer, as AWS names it (spec D1; the one place that builds it)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def pool_region(pool_id: str) -> str:
    """The region a user pool id names (`eu-west-1_AbC123` -> `eu-west-1`)."""
    region, underscore, _ = pool_id.partition("_")
    if not underscore or not region:
        raise ValueError(f"not a user pool id: {pool_id!r}")
    return region


def arn_region(arn: str) -> str:
    """The region field of an ARN (`arn:aws:lambda:eu-west-1:...` -> `eu-west-1`)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[3]


def regions(endpoint_url: str, service: str | None = None) -> list[str]:
    """The regions in which the embedded AWS holds something (of `service`, a boto3 service name
    such as "cognito-idp", "apigatewayv2", "lambda"), from its private /_local/regions endpoint:
    one cheap call instead of listing every region with boto3."""
    status, body = private(endpoint_url, "regions")
    if status != 200:
        raise RuntimeError(f"the embedded AWS at {endpoint_url} did not list its regions: {status} {body[:200]!r}")
    found = json.loads(body)
    return list(found["regions"] if service is None else found["services"].get(service, []))


def pages(call: Callable[..., dict], key: str = "Items", token_key: str = "NextToken", token_arg: str | None = None,
          **kwargs: Any) -> list[dict]:
    """Every item of a paginated list call of the embedded AWS: `key` holds the items, `token_key`
    the next page's token (`token_arg`: the request's name for it, when not the same)."""
    items: list[dict] = []
    token = None
    while True:
        page = call(**kwargs, **({token_arg or token_key: token} if token else {}))
        items += page.get(key, [])
        token = page.get(token_key)
        if not token:
            return items
