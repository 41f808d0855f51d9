"""PKCE (RFC 7636) as a check of the authorization code grant: the challenge at the authorization
request, the verifier at the token request. Only S256 is accepted.

Choices where AWS is silent or where the safe behaviour differs (UNCONFIRMED unless a source is named):

  * A public client (no secret) must send an S256 code_challenge (invalid_request otherwise):
    stricter than AWS, which lets a public client skip PKCE.
  * A missing code_verifier for a code that had a challenge is invalid_request, a wrong one
    invalid_grant (RFC 7636 4.6); a code_verifier for a code without a challenge is invalid_request.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

from local_aws.cognito.pool import Client
from local_aws.cognito.responses import OAuthError

_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # RFC 7636 4.1
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256, no padding


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def requested_challenge(client: Client, challenge: str | None, method: str | None) -> str | None:
    """The code_challenge of an authorization request, None if it has none; OAuthError if refused."""
    if method is not None and method != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256")
    if (method is None) != (challenge is None):
        raise OAuthError("invalid_request", "code_challenge and code_challenge_method go together")
    if challenge is not None and not _S256_CHALLENGE.match(challenge):
        raise OAuthError("invalid_request", "code_challenge must be the base64url SHA-256 of the code verifier")
    if client.public and challenge is None:
        raise OAuthError("invalid_request", "an app client without a secret must use PKCE (code_challenge, S256)")
    return challenge


def check_verifier(challenge: str | None, verifier: str | None) -> None:
    """The token request's code_verifier against the code's challenge; OAuthError if it fails."""
    if challenge is not None:
        if not verifier:
            raise OAuthError("invalid_request", "code_verifier is required: the code was requested with PKCE")
        if not _VERIFIER.match(verifier) or not hmac.compare_digest(s256(verifier), challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    elif verifier is not None:
        raise OAuthError("invalid_request", "code_verifier given, but the code was requested without PKCE")
