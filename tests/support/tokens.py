"""Access tokens shaped as a Cognito user pool issues them (spec D6), signed with a test's own key;
and the key-confusion forgery of one (spec A2.3)."""
from __future__ import annotations

import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import HMACAlgorithm
from jwt.utils import base64url_encode


def token(private_key, kid: str, **claims: Any) -> str:
    """An RS256 user access token under kid; claims add or override (None drops a claim)."""
    now = int(time.time())
    payload = {"sub": "user-1", "token_use": "access", "auth_time": now, "iat": now, "exp": now + 600,
               "jti": "j-1", "username": "alice", **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, private_key, algorithm="RS256",
                      headers={"kid": kid})


def hs256_with_public_key(public_key, kid: str, claims: dict) -> str:
    """The key-confusion attack: claims HMAC-signed (HS256) with the issuer's RSA public key in PEM,
    as published, hoping a verifier takes it for a shared secret."""
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = b".".join([
        base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode()),
        base64url_encode(json.dumps(claims).encode()),
    ])
    mac = HMACAlgorithm(HMACAlgorithm.SHA256).sign(signing_input, pem)  # PyJWT refuses a PEM key; the attacker does not
    return (signing_input + b"." + base64url_encode(mac)).decode()
