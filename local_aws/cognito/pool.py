"""What the control plane says: user pools, app clients, resource servers and users, read from the
embedded AWS with boto3 (spec D).

Pools, clients and resource servers are read by `ControlPlane.read_pools()` (the app's `reload()`),
in every region that holds a pool (the embedded AWS's private /_local/regions says which); users
are always read live (admin_get_user), so a disabled or deleted user is seen at once.

Choices where AWS is silent (UNCONFIRMED unless a source is named):

  * Token lifetimes (D7) come from the client: a validity without units is in AWS's default units
    (hours for access and ID tokens, days for refresh tokens); no validity means 60 minutes and
    30 days.
  * "May read" (`readable`): the client's ReadAttributes (none set: every attribute), never a
    developer-only attribute (dev:custom:*), which only administrators see.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from botocore.exceptions import ClientError

from local_aws import aws, cognito_triggers as triggers

STANDARD_SCOPES = frozenset({"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"})
NEED_OPENID = frozenset({"email", "phone", "profile"})

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# token kind -> (validity field, TokenValidityUnits key, default seconds, unit of a value given without units)
_VALIDITY = {
    "access": ("AccessTokenValidity", "AccessToken", 3600, "hours"),
    "id": ("IdTokenValidity", "IdToken", 3600, "hours"),
    "refresh": ("RefreshTokenValidity", "RefreshToken", 30 * 86400, "days"),
}


def _lifetime(description: Mapping[str, Any], kind: str) -> int:
    field, unit_key, default, default_unit = _VALIDITY[kind]
    value = description.get(field)
    if not value:
        return default
    unit = (description.get("TokenValidityUnits") or {}).get(unit_key) or default_unit
    return int(value) * _UNIT_SECONDS[unit]


@dataclass(frozen=True)
class Client:
    """An app client, as DescribeUserPoolClient tells it."""

    id: str
    name: str
    secret: str | None
    oauth_enabled: bool
    flows: frozenset[str]
    scopes: tuple[str, ...]
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]
    identity_providers: frozenset[str]
    read_attributes: frozenset[str]  # empty: every attribute
    revocation_enabled: bool
    access_ttl: int
    id_ttl: int
    refresh_ttl: int

    @classmethod
    def from_description(cls, d: Mapping[str, Any]) -> "Client":
        return cls(
            id=d["ClientId"], name=d.get("ClientName", ""), secret=d.get("ClientSecret") or None,
            oauth_enabled=bool(d.get("AllowedOAuthFlowsUserPoolClient")),
            flows=frozenset(d.get("AllowedOAuthFlows") or ()), scopes=tuple(d.get("AllowedOAuthScopes") or ()),
            callback_urls=tuple(d.get("CallbackURLs") or ()), logout_urls=tuple(d.get("LogoutURLs") or ()),
            identity_providers=frozenset(d.get("SupportedIdentityProviders") or ()),
            read_attributes=frozenset(d.get("ReadAttributes") or ()),
            revocation_enabled=d.get("EnableTokenRevocation", True) is not False,
            access_ttl=_lifetime(d, "access"), id_ttl=_lifetime(d, "id"), refresh_ttl=_lifetime(d, "refresh"),
        )

    @property
    def public(self) -> bool:
        return self.secret is None

    def may_read(self, attribute: str) -> bool:
        return not self.read_attributes or attribute in self.read_attributes


@dataclass(frozen=True)
class Pool:
    id: str
    issuer: str
    domain: str | None
    clients: Mapping[str, Client]
    custom_scopes: frozenset[str]
    region: str = aws.REGION
    arn: str = ""
    pre_token: triggers.PreTokenTrigger | None = None  # the pre token generation trigger (rule D9)

    def known_scope(self, scope: str) -> bool:
        return scope in STANDARD_SCOPES or scope in self.custom_scopes


@dataclass(frozen=True)
class User:
    username: str
    sub: str
    attributes: Mapping[str, str]
    groups: triggers.GroupClaims  # in precedence order, with their roles (rule D8)


def readable(client: Client, attribute: str) -> bool:
    """Whether an attribute reaches the client's ID tokens and userInfo: its read attributes allow
    it, and it is not developer-only (`dev:custom:*`, which only administrators see)."""
    return not attribute.startswith("dev:") and client.may_read(attribute)


class ControlPlane:
    """The embedded AWS's cognito-idp API, in the regions this app serves."""

    def __init__(self, aws_endpoint: str, region: str | None = None) -> None:
        """`region`: read the pools of that region only; None: of every region that holds one."""
        self.aws_endpoint = aws_endpoint
        self.region = region
        self._idps: dict[str, Any] = {}

    def read_pools(self) -> dict[str, Pool]:
        """Pool id -> the pool with its clients and resource servers, as the control plane has them now."""
        pools: dict[str, Pool] = {}
        for region in [self.region] if self.region else aws.regions(self.aws_endpoint, "cognito-idp"):
            for page in self._idp(region).get_paginator("list_user_pools").paginate(MaxResults=60):
                for summary in page["UserPools"]:
                    try:
                        pools[summary["Id"]] = self._read_pool(summary["Id"], region)
                    except ClientError as error:
                        if error.response["Error"]["Code"] != "ResourceNotFoundException":
                            raise  # deleted while we listed: skip it; anything else is loud
        return pools

    def user(self, pool: Pool, username: str) -> User | None:
        """The user as the control plane has it now; None if deleted or disabled."""
        if not username:
            return None
        try:
            found = self._idp(pool.region).admin_get_user(UserPoolId=pool.id, Username=username)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("UserNotFoundException", "ResourceNotFoundException"):
                return None
            raise
        if not found.get("Enabled", True):
            return None
        attributes = {a["Name"]: a["Value"] for a in found.get("UserAttributes", [])}
        groups = triggers.group_claims(
            triggers.Group(group["GroupName"], group.get("Precedence"), group.get("RoleArn") or None)
            for page in self._idp(pool.region).get_paginator("admin_list_groups_for_user").paginate(
                UserPoolId=pool.id, Username=found["Username"])
            for group in page["Groups"]
        )
        return User(found["Username"], attributes.get("sub", found["Username"]), attributes, groups)

    def _idp(self, region: str) -> Any:
        """The cognito-idp client of a region, made once (a boto3 client costs ~10 ms to make)."""
        if region not in self._idps:
            self._idps[region] = aws.client("cognito-idp", self.aws_endpoint, region)
        return self._idps[region]

    def _read_pool(self, pool_id: str, region: str) -> Pool:
        idp = self._idp(region)
        described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        clients = {}
        for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id):
            for summary in page["UserPoolClients"]:
                d = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=summary["ClientId"])["UserPoolClient"]
                clients[d["ClientId"]] = Client.from_description(d)
        custom = set()
        for page in idp.get_paginator("list_resource_servers").paginate(UserPoolId=pool_id, MaxResults=50):
            for server in page["ResourceServers"]:
                custom.update(f"{server['Identifier']}/{scope['ScopeName']}" for scope in server.get("Scopes") or ())
        return Pool(id=pool_id, issuer=aws.issuer(region, pool_id), domain=described.get("Domain") or None,
                    clients=clients, custom_scopes=frozenset(custom), region=region, arn=described.get("Arn", ""),
                    pre_token=triggers.pre_token_trigger(described.get("LambdaConfig")))
