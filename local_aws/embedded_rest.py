"""What moto 5.2.1 lacks for API Gateway REST APIs (v1), added on its own models like embedded.py.

- A REST API's resource policy is returned as AWS returns it: the JSON document with its quotes
  backslash-escaped (`{\\"Version\\":...}`). The AWS provider un-escapes what it reads (it fails on
  the raw document moto returns), and so does local_aws.rest_gateway.
"""
from __future__ import annotations

import json
from typing import Any

from moto.apigateway.models import RestAPI

_PATCHED_MARK = "_local_aws_rest_patched"


def escaped_policy(policy: str) -> str:
    """The policy as GetRestApi returns it."""
    return policy.replace('"', '\\"')


def unescaped_policy(returned: str) -> dict[str, Any]:
    """The policy document from what GetRestApi returns (AWS's escaped form, or a raw document)."""
    try:
        return json.loads(returned)
    except json.JSONDecodeError:
        return json.loads(returned.replace('\\"', '"'))


def _policy_escaped(to_dict):
    def to_dict_with_escaped_policy(self: RestAPI) -> dict[str, Any]:
        shown = to_dict(self)
        if shown.get("policy"):
            shown["policy"] = escaped_policy(shown["policy"])
        return shown
    return to_dict_with_escaped_policy


def apply_patches() -> None:
    """Idempotent; called by local_aws.embedded.apply_patches."""
    if getattr(RestAPI, _PATCHED_MARK, False):
        return
    RestAPI.to_dict = _policy_escaped(RestAPI.to_dict)
    setattr(RestAPI, _PATCHED_MARK, True)
