"""A user pool's Lambda triggers, for the local Cognito: the pre token generation trigger runs;
the others are named as not emulated. Also the group claims every token carries.

Groups (spec D6, rule D8): `cognito:groups` is in the access and the ID token only when the user is
in a group, read live (AdminListGroupsForUser). Groups come in order of precedence, the lowest
Precedence first and groups without one last; the ID token also has `cognito:roles` (the groups'
role ARNs, in the same order) and `cognito:preferred_role` (the role of the group that takes
precedence; not set when two groups of that precedence carry different roles), when a group has a
role (AWS's CreateGroup page: `Precedence`).

The pre token generation trigger (rule D9; AWS's page `user-pool-lambda-pre-token-generation`): the
pool's LambdaConfig names it, as PreTokenGenerationConfig {LambdaArn, LambdaVersion} or the older
PreTokenGeneration (an ARN: version V1_0). Before it signs tokens, the local Cognito invokes the
function through the data plane's runtime with the event of its version, then applies the answer:

  * V1_0 (`claimsOverrideDetails`): claimsToAddOrOverride and claimsToSuppress change the ID token
    only; groupOverrideDetails replaces `cognito:groups` in both tokens (AWS's page says so) and
    the roles in the ID token. Claim values must be strings.
  * V2_0 and V3_0 (`claimsAndScopeOverrideDetails`): idTokenGeneration and accessTokenGeneration
    each add, override or suppress claims, the access token's also adds and suppresses scopes;
    values may be strings, numbers, booleans, arrays or objects. V3_0 also runs for
    client-credentials (machine) tokens; V1_0 and V2_0 never do.
  * A claim both added and suppressed is suppressed; a scope both added and suppressed is
    suppressed. A groupOverrideDetails that is present but null or empty suppresses the groups.
  * Claims AWS forbids touching (its page: acr, amr, aud, at_hash, auth_time, azp,
    cognito:username, exp, iat, identities, iss, jti, nbf, nonce, origin_jti, sub, token_use) are
    refused, and the token request fails.
  * Trigger sources: TokenGeneration_HostedAuth for a code exchange (sign-in through the domain),
    TokenGeneration_RefreshTokens for a refresh, TokenGeneration_ClientCredentials for a machine.
  * Cognito waits 5 s for a trigger (AWS's Lambda triggers page `cognito-user-pools-working-with-
    lambda-triggers`); a function that fails, answers something else than an event, or is slower
    fails the token request. Cognito needs the function's resource policy to let
    cognito-idp.amazonaws.com invoke it for the pool's ARN; without it the request fails too
    (AccessDeniedException, as AWS's knowledge-center page `cognito-lambda-trigger-errors` shows).

Local choices (UNCONFIRMED):

  * A failed trigger is a 400 `invalid_request` at /oauth2/token, its description in AWS's API
    wording ("PreTokenGeneration failed with error <message>.", "PreTokenGeneration invocation
    failed due to error TimeoutException.", "Unrecognizable lambda output").
  * No retry: AWS retries a call that timed out, up to three attempts; locally one attempt of 5 s.
  * Refused besides AWS's list: client_id, scope (use scopesToAdd/scopesToSuppress), version,
    event_id, device_key, username in the access token, and every other `cognito:` claim
    (`cognito:groups`, `cognito:roles`, `cognito:preferred_role` only through
    groupOverrideDetails, or suppressed); `aud` may be added to an access token only with the
    client's id. A scope with a space, or a claim value of the wrong type, is refused too.
  * `cognito:groups` in precedence order (AWS documents precedence for the preferred role only),
    groups of equal precedence by name.
  * A V3_0 machine event has the client id as userName, no user attributes and no groups.
  * The event's callerContext.awsSdkVersion is "aws-sdk-unknown-unknown"; clientMetadata is empty.

Other triggers (pre sign-up, post confirmation, custom message, ...) shape no token that the local
stack issues: `not_emulated_triggers()` names them, and `make local` lists them at startup.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

TRIGGER_WAIT_S = 5.0  # Cognito's limit on a Lambda trigger

# AWS's pre token generation page: claims a trigger may not add, override or suppress.
AWS_RESERVED_CLAIMS = frozenset({
    "acr", "amr", "aud", "at_hash", "auth_time", "azp", "cognito:username", "exp", "iat", "identities",
    "iss", "jti", "nbf", "nonce", "origin_jti", "sub", "token_use",
})
# Refused locally as well (UNCONFIRMED, see the module docstring).
LOCAL_RESERVED_CLAIMS = frozenset({"client_id", "scope", "version", "event_id", "device_key"})
GROUP_CLAIMS = frozenset({"cognito:groups", "cognito:roles", "cognito:preferred_role"})
# In the ID token these stay as Cognito types them (AWS's page: no complex values).
ID_SCALAR_CLAIMS = frozenset({"phone_number_verified", "email_verified", "updated_at", "address"})

# LambdaConfig keys that are not the pre token generation trigger, and what each would do.
OTHER_TRIGGERS = {
    "PreSignUp": "pre sign-up trigger (sign-up is not emulated: users come from the control plane)",
    "PostConfirmation": "post confirmation trigger (no confirmation flow locally)",
    "PreAuthentication": "pre authentication trigger (sign-in is not refused by it locally)",
    "PostAuthentication": "post authentication trigger",
    "CustomMessage": "custom message trigger (no email or SMS is sent locally)",
    "DefineAuthChallenge": "define auth challenge trigger (custom auth flows are not emulated)",
    "CreateAuthChallenge": "create auth challenge trigger (custom auth flows are not emulated)",
    "VerifyAuthChallengeResponse": "verify auth challenge trigger (custom auth flows are not emulated)",
    "UserMigration": "user migration trigger (unknown users are not migrated locally)",
    "CustomSMSSender": "custom SMS sender trigger (no SMS is sent locally)",
    "CustomEmailSender": "custom email sender trigger (no email is sent locally)",
    "InboundFederation": "inbound federation trigger (federation is not emulated)",
    "KMSKeyID": "KMS key of the custom sender triggers",
}


class TriggerFailed(Exception):
    """The trigger failed, timed out or answered something Cognito refuses: the token request fails."""


# --- groups ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Group:
    name: str
    precedence: int | None
    role_arn: str | None


@dataclass(frozen=True)
class GroupClaims:
    groups: tuple[str, ...]
    roles: tuple[str, ...]
    preferred_role: str | None


def group_claims(groups: Iterable[Group]) -> GroupClaims:
    """The user's groups in precedence order, their roles and the preferred role (rule D8)."""
    ordered = sorted(groups, key=lambda g: (g.precedence is None, g.precedence or 0, g.name))
    roles = tuple(dict.fromkeys(g.role_arn for g in ordered if g.role_arn))
    with_role = [g for g in ordered if g.role_arn]
    preferred = None
    if with_role:
        first = with_role[0].precedence
        tied = {g.role_arn for g in with_role if g.precedence == first}
        preferred = with_role[0].role_arn if len(tied) == 1 else None
    return GroupClaims(tuple(g.name for g in ordered), roles, preferred)


def id_group_claims(claims: GroupClaims) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if claims.groups:
        out["cognito:groups"] = list(claims.groups)
    if claims.roles:
        out["cognito:roles"] = list(claims.roles)
    if claims.preferred_role:
        out["cognito:preferred_role"] = claims.preferred_role
    return out


def access_group_claims(claims: GroupClaims) -> dict[str, Any]:
    return {"cognito:groups": list(claims.groups)} if claims.groups else {}


# --- the pool's trigger configuration --------------------------------------------------------

@dataclass(frozen=True)
class PreTokenTrigger:
    arn: str
    version: str  # V1_0, V2_0 or V3_0

    @property
    def event_version(self) -> str:
        return self.version[1]


def pre_token_trigger(lambda_config: Mapping[str, Any] | None) -> PreTokenTrigger | None:
    config = lambda_config or {}
    versioned = config.get("PreTokenGenerationConfig") or {}
    arn = versioned.get("LambdaArn") or config.get("PreTokenGeneration")
    if not arn:
        return None
    return PreTokenTrigger(str(arn), str(versioned.get("LambdaVersion") or "V1_0"))


def not_emulated_triggers(lambda_config: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """(LambdaConfig key, its value, why) of every trigger set that the local stack does not run."""
    config = lambda_config or {}
    found = []
    for key, value in config.items():
        if key in ("PreTokenGeneration", "PreTokenGenerationConfig") or not value:
            continue
        if isinstance(value, Mapping):  # CustomSMSSender / CustomEmailSender: {LambdaVersion, LambdaArn}
            value = value.get("LambdaArn") or json.dumps(value)
        found.append((key, str(value), OTHER_TRIGGERS.get(key, "Lambda trigger")))
    return found


# --- the event ---------------------------------------------------------------------------------

def user_event(trigger: PreTokenTrigger, *, source: str, region: str, pool_id: str, client_id: str,
               username: str, attributes: Mapping[str, str], groups: GroupClaims,
               scopes: Iterable[str]) -> dict[str, Any]:
    request: dict[str, Any] = {
        "userAttributes": dict(attributes),
        "groupConfiguration": {"groupsToOverride": list(groups.groups), "iamRolesToOverride": list(groups.roles),
                               "preferredRole": groups.preferred_role},
    }
    if trigger.version != "V1_0":
        request["scopes"] = list(scopes)
    request["clientMetadata"] = {}
    return _envelope(trigger, source, region, pool_id, client_id, username, request)


def machine_event(trigger: PreTokenTrigger, *, region: str, pool_id: str, client_id: str,
                  scopes: Iterable[str]) -> dict[str, Any]:
    request = {"userAttributes": {}, "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [],
                                                          "preferredRole": None},
               "scopes": list(scopes), "clientMetadata": {}}
    return _envelope(trigger, "TokenGeneration_ClientCredentials", region, pool_id, client_id, client_id, request)


def _envelope(trigger: PreTokenTrigger, source: str, region: str, pool_id: str, client_id: str, username: str,
              request: dict[str, Any]) -> dict[str, Any]:
    response_key = "claimsOverrideDetails" if trigger.version == "V1_0" else "claimsAndScopeOverrideDetails"
    return {
        "version": trigger.event_version, "triggerSource": source, "region": region, "userPoolId": pool_id,
        "userName": username, "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
        "request": request, "response": {response_key: None},
    }


# --- invoking ------------------------------------------------------------------------------------

# invoke(function ARN, event, wait_s) -> the function's answer; raises TriggerFailed.
Invoke = Callable[[str, dict, float], Any]


def runtime_invoker(runtime: Any, aws_endpoint: str, pool_arn: str) -> Invoke:
    """Invoke through the data plane's Lambda runtime, as Cognito does: only when the function's
    resource policy lets cognito-idp.amazonaws.com invoke it for this pool (fail closed)."""
    from local_aws import aws
    from local_aws.gateway import _as_list, invoke_permitted
    from local_aws.runtime import InvocationTimeout, LambdaRuntimeError

    def invoke(arn: str, event: dict, wait_s: float) -> Any:
        if runtime is None:
            raise TriggerFailed("PreTokenGeneration invocation failed: this local Cognito has no Lambda runtime")
        name = arn.split(":")[6] if arn.startswith("arn:") and arn.count(":") >= 6 else arn
        try:
            function = runtime.function(arn)
        except LambdaRuntimeError as error:
            raise TriggerFailed(f"PreTokenGeneration invocation failed due to error ResourceNotFoundException ({error}).") from None
        lam = aws.client("lambda", aws_endpoint, function.region)
        try:
            statements = _as_list(json.loads(lam.get_policy(FunctionName=name)["Policy"]).get("Statement", []))
        except lam.exceptions.ResourceNotFoundException:
            statements = []
        account = pool_arn.split(":")[4] if pool_arn.count(":") >= 5 else ""
        if not invoke_permitted(statements, function.arn, pool_arn, account, service="cognito-idp.amazonaws.com"):
            raise TriggerFailed("PreTokenGeneration invocation failed due to error AccessDeniedException.")
        try:
            invocation = runtime.invoke(function, event, wait_s=wait_s)
        except InvocationTimeout:
            raise TriggerFailed("PreTokenGeneration invocation failed due to error TimeoutException.") from None
        except LambdaRuntimeError as error:
            raise TriggerFailed(f"PreTokenGeneration invocation failed: {error}") from None
        if invocation.error is not None:
            if invocation.error.get("errorType") == "Sandbox.Timedout":
                raise TriggerFailed("PreTokenGeneration invocation failed due to error TimeoutException.")
            raise TriggerFailed(f"PreTokenGeneration failed with error {invocation.error.get('errorMessage', '')}.")
        return invocation.payload

    return invoke


def run(invoke: Invoke, trigger: PreTokenTrigger, event: dict) -> dict[str, Any]:
    """Invoke the trigger and return its `response` member (TriggerFailed otherwise)."""
    answer = invoke(trigger.arn, event, TRIGGER_WAIT_S)
    if not isinstance(answer, dict) or not isinstance(answer.get("response", {}), (dict, type(None))):
        raise TriggerFailed("Unrecognizable lambda output")
    return answer.get("response") or {}


# --- applying the answer ---------------------------------------------------------------------------

@dataclass
class Tokens:
    """The claims about to be signed: the access token's, and the ID token's when there is one."""

    access: dict[str, Any]
    identity: dict[str, Any] | None
    client_id: str


def apply(trigger: PreTokenTrigger, response: Mapping[str, Any], tokens: Tokens, *, machine: bool = False) -> None:
    """Apply the trigger's answer to the claims, in place (TriggerFailed for what Cognito refuses)."""
    if trigger.version == "V1_0":
        details = _object(response.get("claimsOverrideDetails"), "claimsOverrideDetails")
        if details is None:
            return
        _only(details, {"claimsToAddOrOverride", "claimsToSuppress", "groupOverrideDetails"}, "claimsOverrideDetails")
        if tokens.identity is not None:
            _change_claims(tokens.identity, details, "id", tokens.client_id, strings_only=True)
        if "groupOverrideDetails" in details:
            _override_groups(tokens, details["groupOverrideDetails"])
        return
    details = _object(response.get("claimsAndScopeOverrideDetails"), "claimsAndScopeOverrideDetails")
    if details is None:
        return
    _only(details, {"idTokenGeneration", "accessTokenGeneration", "groupOverrideDetails"},
          "claimsAndScopeOverrideDetails")
    id_changes = _object(details.get("idTokenGeneration"), "idTokenGeneration")
    access_changes = _object(details.get("accessTokenGeneration"), "accessTokenGeneration")
    if id_changes is not None:
        _only(id_changes, {"claimsToAddOrOverride", "claimsToSuppress"}, "idTokenGeneration")
        if tokens.identity is not None:
            _change_claims(tokens.identity, id_changes, "id", tokens.client_id, strings_only=False)
    if access_changes is not None:
        _only(access_changes, {"claimsToAddOrOverride", "claimsToSuppress", "scopesToAdd", "scopesToSuppress"},
              "accessTokenGeneration")
        _change_claims(tokens.access, access_changes, "access", tokens.client_id, strings_only=False)
        _change_scopes(tokens.access, access_changes)
    if "groupOverrideDetails" in details and not machine:
        _override_groups(tokens, details["groupOverrideDetails"])


def _object(value: Any, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TriggerFailed(f"Unrecognizable lambda output: {what} must be an object")
    return value


def _only(details: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(details) - allowed)
    if unknown:
        raise TriggerFailed(f"Unrecognizable lambda output: {what} has unknown members {', '.join(unknown)}")


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TriggerFailed(f"Unrecognizable lambda output: {what} must be a list of strings")
    return value


def refused_claim(name: str, token: str) -> bool:
    """Whether a trigger may not add, override or suppress this claim of this token ("access" or "id")."""
    if name in AWS_RESERVED_CLAIMS or name in LOCAL_RESERVED_CLAIMS:
        return True
    if token == "access" and name == "username":
        return True
    return name.startswith("cognito:") and name not in GROUP_CLAIMS


def _change_claims(claims: dict[str, Any], changes: Mapping[str, Any], token: str, client_id: str, *,
                   strings_only: bool) -> None:
    add = changes.get("claimsToAddOrOverride")
    if add is None:
        add = {}
    if not isinstance(add, dict):
        raise TriggerFailed("Unrecognizable lambda output: claimsToAddOrOverride must be an object")
    suppress = _names(changes.get("claimsToSuppress"), "claimsToSuppress")
    for name, value in add.items():
        if token == "access" and name == "aud":
            if value != client_id:
                raise TriggerFailed("Invalid lambda response: aud in an access token must be the app client's id")
        elif refused_claim(name, token) or name in GROUP_CLAIMS:
            hint = " (groups: use groupOverrideDetails)" if name in GROUP_CLAIMS else ""
            raise TriggerFailed(f"Invalid lambda response: the claim {name} cannot be added or overridden{hint}")
        if strings_only and not isinstance(value, str):
            raise TriggerFailed(f"Invalid lambda response: the value of {name} must be a string in a V1_0 response")
        if not _json_value(value):
            raise TriggerFailed(f"Invalid lambda response: the value of {name} is not a JSON value")
        if token == "id" and name in ID_SCALAR_CLAIMS and isinstance(value, (list, dict)):
            raise TriggerFailed(f"Invalid lambda response: {name} cannot have a complex value in an ID token")
    for name in suppress:
        if refused_claim(name, token):
            raise TriggerFailed(f"Invalid lambda response: the claim {name} cannot be suppressed")
    for name, value in add.items():
        claims[name] = copy.deepcopy(value)
    for name in suppress:  # suppressed wins over added (AWS's page)
        claims.pop(name, None)


def _json_value(value: Any) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    return False


def _change_scopes(access: dict[str, Any], changes: Mapping[str, Any]) -> None:
    add = _names(changes.get("scopesToAdd"), "scopesToAdd")
    suppress = set(_names(changes.get("scopesToSuppress"), "scopesToSuppress"))
    for scope in add:
        if not scope or " " in scope:
            raise TriggerFailed(f"Invalid lambda response: the scope {scope!r} is empty or has a space")
    scopes = [s for s in str(access.get("scope", "")).split(" ") if s]
    scopes += [s for s in add if s not in scopes]
    access["scope"] = " ".join(s for s in scopes if s not in suppress)


def _override_groups(tokens: Tokens, value: Any) -> None:
    """groupOverrideDetails replaces the groups (both tokens) and roles (ID token); null or {}: none."""
    details = _object(value, "groupOverrideDetails") or {}
    _only(details, {"groupsToOverride", "iamRolesToOverride", "preferredRole"}, "groupOverrideDetails")
    groups = _names(details.get("groupsToOverride"), "groupsToOverride")
    roles = _names(details.get("iamRolesToOverride"), "iamRolesToOverride")
    preferred = details.get("preferredRole")
    if preferred is not None and not isinstance(preferred, str):
        raise TriggerFailed("Unrecognizable lambda output: preferredRole must be a string")
    overridden = GroupClaims(tuple(groups), tuple(roles), preferred or None)
    for claims in (tokens.access, tokens.identity):
        if claims is not None:
            for name in GROUP_CLAIMS:
                claims.pop(name, None)
    tokens.access.update(access_group_claims(overridden))
    if tokens.identity is not None:
        tokens.identity.update(id_group_claims(overridden))
