"""RSA signing keys and their public JWKs, as a Cognito user pool publishes them."""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(private_key: rsa.RSAPrivateKey, kid: str, **extra: str) -> dict:
    """The public JWK of private_key for signing under kid; extra adds or overrides members (alg="RS256")."""
    return {**RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True), "kid": kid, "use": "sig", **extra}
