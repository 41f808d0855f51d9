"""Lambda resource policies as API Gateway meets them: whether a function's policy lets
apigateway.amazonaws.com invoke it for a source ARN (spec B6), and the function ARN an integration
or authorizer URI names."""
from __future__ import annotations

import fnmatch
import re
from typing import Any, Iterable, Mapping

def _glob(pattern: str, value: str) -> bool:
    # fnmatchcase's [...] classes do not exist in IAM: escape them so only * and ? are wildcards.
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def arn_like(pattern: str, arn: str) -> bool:
    """IAM ArnLike/ArnEquals: each of the six colon-separated parts matched on its own, * and ? wildcards."""
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(actual) == 6 and all(_glob(w, a) for w, a in zip(wanted, actual))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _condition_holds(conditions: Any, context: Mapping[str, str]) -> bool | None:
    """True/False, or None when the statement uses an operator or key this emulation does not know."""
    if not conditions:
        return True
    if not isinstance(conditions, dict):
        return None
    for operator, tests in conditions.items():
        if not isinstance(tests, dict):
            return None
        if_exists = operator.endswith("IfExists")
        base = operator[: -len("IfExists")] if if_exists else operator
        for key, expected in tests.items():
            actual = context.get(key.lower())
            if actual is None:
                if if_exists:
                    continue
                return None  # a key API Gateway's request does not carry here: cannot be evaluated
            values = [str(v) for v in _as_list(expected)]
            if base in ("ArnLike", "ArnEquals"):
                ok = any(arn_like(v, actual) for v in values)
            elif base in ("ArnNotLike", "ArnNotEquals"):
                ok = not any(arn_like(v, actual) for v in values)
            elif base == "StringEquals":
                ok = actual in values
            elif base == "StringNotEquals":
                ok = actual not in values
            elif base == "StringLike":
                ok = any(_glob(v, actual) for v in values)
            elif base == "StringNotLike":
                ok = not any(_glob(v, actual) for v in values)
            else:
                return None
            if not ok:
                return False
    return True


def invoke_permitted(statements: Iterable[dict], function_arn: str, source_arn: str, account_id: str,
                     service: str = "apigateway.amazonaws.com") -> bool:
    """Whether a function's resource policy lets `service` (API Gateway unless named) invoke it for source_arn.

    An explicit Deny wins; a statement with a condition this emulation cannot evaluate never allows
    and always denies (fail closed).
    """
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": account_id}
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        principal = statement.get("Principal")
        if principal == "*":
            principal_ok = True
        elif isinstance(principal, dict):
            principal_ok = (service in _as_list(principal.get("Service", []))
                            or "*" in _as_list(principal.get("AWS", [])))
        else:
            principal_ok = False
        actions = _as_list(statement.get("Action", []))
        action_ok = any(isinstance(a, str) and _glob(a.lower(), "lambda:invokefunction") for a in actions)
        resources = _as_list(statement.get("Resource", "*"))
        resource_ok = any(isinstance(r, str) and (arn_like(r, function_arn) or r == "*") for r in resources)
        if not (principal_ok and action_ok and resource_ok):
            continue
        holds = _condition_holds(statement.get("Condition"), context)
        if statement.get("Effect") == "Deny":
            if holds is not False:
                return False
        elif statement.get("Effect") == "Allow" and holds is True:
            allowed = True
    return allowed


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
