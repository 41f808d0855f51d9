"""Lambda resource policies as API Gateway meets them: the function ARN an integration or
authorizer URI names, and (evaluated by authorizer.py's IAM evaluator, re-exported here) whether a
function's policy lets apigateway.amazonaws.com invoke it for a source ARN (spec B6)."""
from __future__ import annotations

import re
from typing import Any

# The policy itself is read by authorizer.py's one IAM evaluator; importable from here as before.
from local_aws.authorizer import arn_like, invoke_permitted  # noqa: F401


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


_INVOKE_URI = re.compile(r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(arn:[^/]+)/invocations$")
_FUNCTION_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?$")


def function_arn_of(uri: str | None) -> str | None:
    """The Lambda function ARN an integration or authorizer URI names (invoke ARN or function ARN)."""
    if not uri:
        return None
    match = _INVOKE_URI.match(uri)
    arn = match.group(1) if match else uri
    return arn if _FUNCTION_ARN.match(arn) else None


def _unqualified(arn: str) -> str:
    parts = arn.split(":")
    return ":".join(parts[:7])
