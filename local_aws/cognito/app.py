"""`LocalCognito`: the user pools' domains and issuers as one WSGI app, and the calls the data
plane, tests and tools make on it (reload, keys, JWKS, signing, revocation)."""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from local_aws import aws, cognito_triggers as triggers
from local_aws.cognito.discovery import IssuerDocuments
from local_aws.cognito.domains import Pools
from local_aws.cognito.grants import GrantContext
from local_aws.cognito.grants.store import GrantStore
from local_aws.cognito.issuing import TokenIssuer
from local_aws.cognito.keys import KeyRing, PoolKeys
from local_aws.cognito.pages import SignInPages
from local_aws.cognito.pool import ControlPlane, Pool
from local_aws.cognito.responses import CognitoRequest, text
from local_aws.cognito.revoke import RevocationEndpoint
from local_aws.cognito.token import TokenEndpoint
from local_aws.cognito.userinfo import UserInfoEndpoint
from local_aws.cognito.verifier import TokenVerifier

log = logging.getLogger("local_aws.cognito")

Handler = Callable[[Pool, Request], Response]


class LocalCognito:
    """The Cognito domain(s) and issuers of the embedded AWS's user pools, as one WSGI app."""

    def __init__(self, aws_endpoint: str, key_dir: Path, *, region: str | None = None,
                 clock: Callable[[], float] = time.time, runtime: Any = None) -> None:
        """`region`: serve the pools of that region only; None (the data plane's way): of every region.
        `runtime`: the data plane's Lambda runtime, which runs the pools' pre token generation
        triggers; without one, a pool with such a trigger issues no token (fail closed)."""
        self.aws_endpoint = aws_endpoint
        self.runtime = runtime
        self.key_dir = Path(key_dir)
        self.region = region
        self._control = ControlPlane(aws_endpoint, region)
        self._keys = KeyRing(self.key_dir)
        self._grants = GrantStore()
        self._pools = Pools()
        self._documents = IssuerDocuments(lambda: self._pools, self._keys)
        verifier = TokenVerifier(self._keys, self._grants, clock)
        issuer = TokenIssuer(self._keys, lambda pool: triggers.runtime_invoker(self.runtime, self.aws_endpoint, pool.arn))
        token = TokenEndpoint(GrantContext(self._grants, self._control, issuer, clock))
        pages = SignInPages(aws_endpoint, token.authorization_code)
        self._routes: dict[str, tuple[tuple[str, ...], Handler]] = {
            "/oauth2/authorize": (("GET",), pages.authorize),
            "/login": (("GET", "POST"), pages.login),
            "/oauth2/token": (("POST",), token),
            "/oauth2/userInfo": (("GET", "POST"), UserInfoEndpoint(verifier, self._control)),
            "/oauth2/revoke": (("POST",), RevocationEndpoint(self._grants, verifier)),
            "/logout": (("GET",), pages.logout),
        }
        self.reload()

    # --- control plane ---

    def reload(self) -> None:
        """Re-read pools, domains, clients and resource servers (users are always read live).

        A pool's keys stay the same across reloads (and restarts: they live in key_dir).
        """
        pools = self._control.read_pools()
        self._keys.load(pools)  # keys first: a reader that finds a pool always finds its keys
        self._pools = Pools.of(pools)

    @staticmethod
    def issuer(pool_id: str) -> str:
        return aws.issuer(aws.pool_region(pool_id), pool_id)

    def domains(self) -> dict[str, str]:
        """Pool id -> the host name of its domain (add the port this app is served on)."""
        return dict(self._pools.hosts)

    def jwks_for_issuer(self, issuer: str) -> dict:
        """The public JWKS of the local pool that is this issuer (of any region); KeyError if there is none."""
        return self._documents.jwks_for_issuer(issuer)

    def keys(self, pool_id: str) -> PoolKeys:
        """A local pool's signing keys; KeyError if there is no such pool."""
        if self._pools.get(pool_id) is None:
            raise KeyError(pool_id)
        return self._keys[pool_id]

    def sign(self, pool_id: str, claims: Mapping[str, Any], *, key: str = "access") -> str:
        """Sign any claims with the pool's access or ID token key, for tests and tools."""
        keys = self.keys(pool_id)
        return {"access": keys.access, "id": keys.id}[key].sign(claims)

    def is_revoked(self, origin_jti: str) -> bool:
        """Whether tokens of this origin_jti were revoked (/oauth2/revoke). The gateway should not
        ask: API Gateway's JWT authorizer does not check revocation on AWS."""
        return self._grants.is_revoked(origin_jti)

    # --- WSGI ---

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = CognitoRequest(environ)
        try:
            response = self._dispatch(request)
        except HTTPException as refusal:  # werkzeug's own 4xx, e.g. a form over its size limit: 413
            response = refusal.get_response(environ)
        except Exception:  # a bug here must not take the server down, and must not pass silently
            log.exception("local Cognito failed on %s %s", request.method, request.path)
            response = Response("Internal error in the local Cognito: see its log.\n", 500, mimetype="text/plain")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        document = self._documents.answer(request)
        if document is not None:
            return document
        pools = self._pools
        pool = pools.for_host(request.host)
        if pool is None:
            known = ", ".join(sorted(pools.hosts.values())) or "none"
            return text(404, f"No local user pool domain answers to Host {request.host!r}. Domains: {known}.")
        if request.path not in self._routes:
            return text(404, f"Not found: {request.path}")
        methods, handler = self._routes[request.path]
        if request.method not in methods:
            return Response(f"{request.method} is not allowed here.\n", 405, mimetype="text/plain",
                            headers={"Allow": ", ".join(methods)})
        return handler(pool, request)
