"""The issuer's documents (spec D1): /<pool id>/.well-known/openid-configuration and .../jwks.json,
served whatever the Host, and the JWKS the gateway resolves in-process.

The issuer is AWS's string, https://cognito-idp.<pool's region>.amazonaws.com/<pool id>
(`aws.issuer()`), and `jwks_uri` is AWS's URL too. The domain endpoints in the discovery document
point at the local domain the request came in on: the request's own scheme and Host if that Host
reaches the pool's domain, else http://<the domain's host>:<port of the request>; a pool without a
domain has none. `response_types_supported` lists only "code": the implicit grant is not emulated.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from local_aws import hosts
from local_aws.cognito.domains import Pools
from local_aws.cognito.keys import KeyRing
from local_aws.cognito.pool import Pool
from local_aws.cognito.responses import json_response

_POOL_ID = r"[a-z]{2}(?:-[a-z]+)+-\d_[0-9A-Za-z]+"
_DOCUMENT_PATH = re.compile(rf"^/(?P<pool>{_POOL_ID})/\.well-known/(?P<doc>openid-configuration|jwks\.json)$")


class IssuerDocuments:
    def __init__(self, pools: Callable[[], Pools], keys: KeyRing) -> None:
        """`pools`: the pools served now (a reload replaces them)."""
        self._pools = pools
        self._keys = keys

    def jwks_for_issuer(self, issuer: str) -> dict:
        """The public JWKS of the local pool that is this issuer (of any region); KeyError if there is none."""
        # An issuer ends with its pool's id; the pool's own issuer (aws.issuer()) must be all of it.
        pool = self._pools().get(issuer.rsplit("/", 1)[-1])
        if pool is None or pool.issuer != issuer:
            raise KeyError(issuer)
        return self._keys[pool.id].jwks()

    def answer(self, request: Request) -> Response | None:
        """The document the request's path names; None if it names none."""
        named = _DOCUMENT_PATH.match(request.path)
        if not named:
            return None
        pools = self._pools()
        pool = pools.get(named["pool"])
        if pool is None:
            return json_response({"message": f"User pool {named['pool']} does not exist."}, 404)
        if named["doc"] == "jwks.json":
            return json_response(self._keys[pool.id].jwks())
        config: dict[str, Any] = {"issuer": pool.issuer}
        base = _domain_base(request, pools, pool)
        if base:
            config.update(
                authorization_endpoint=f"{base}/oauth2/authorize", token_endpoint=f"{base}/oauth2/token",
                userinfo_endpoint=f"{base}/oauth2/userInfo", revocation_endpoint=f"{base}/oauth2/revoke",
            )
        config.update(
            jwks_uri=f"{pool.issuer}/.well-known/jwks.json",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            scopes_supported=["openid", "email", "phone", "profile"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
        )
        return json_response(config)


def _domain_base(request: Request, pools: Pools, pool: Pool) -> str | None:
    if not pool.domain:
        return None
    if pools.for_host(request.host) is pool:
        return f"{request.scheme}://{request.host}"
    port = hosts.host_port(request.host) or request.environ.get("SERVER_PORT")
    return f"{request.scheme}://{pools.domain_host(pool)}" + (f":{port}" if port else "")
