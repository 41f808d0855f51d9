"""The OAuth 2.0 grants of a user pool's token endpoint (RFC 6749 section 4 and 6), one module each,
over the grant store (`store.py`), with PKCE (`pkce.py`) as a check of the authorization code grant."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # the grants import this module: no import of them at run time
    from local_aws.cognito.grants.store import GrantStore
    from local_aws.cognito.issuing import TokenIssuer
    from local_aws.cognito.pool import ControlPlane


@dataclass(frozen=True)
class GrantContext:
    """What every grant works with."""

    store: "GrantStore"
    control: "ControlPlane"  # users are read live
    issuer: "TokenIssuer"
    clock: Callable[[], float]
