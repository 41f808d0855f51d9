"""The pools' signing keys (spec D1): one RSA key pair for access tokens and another for ID tokens
per pool, and the public JWKS the issuer serves.

The keys are the local Cognito's own, kept in `key_dir/<pool id>.json` (private JWKs, mode 0600)
so that they survive restarts and so tests and tools can mint tokens of any shape
(`LocalCognito.sign()`); a pool's keys stay the same across reloads.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)


def _thumbprint(public_jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a stable kid derived from the key itself."""
    canonical = json.dumps({k: public_jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> "SigningKey":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(_thumbprint(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)), key)

    @classmethod
    def from_private_jwk(cls, jwk_dict: Mapping[str, Any]) -> "SigningKey":
        key = RSAAlgorithm.from_jwk(dict(jwk_dict))
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ValueError("not an RSA private key of at least 2048 bits")
        return cls(str(jwk_dict["kid"]), key)

    @functools.cached_property
    def public_key(self) -> rsa.RSAPublicKey:
        # One object per key: the JWT verifier caches a token's signature check per key object.
        return self.private_key.public_key()

    def private_jwk(self) -> dict[str, Any]:
        return {**RSAAlgorithm.to_jwk(self.private_key, as_dict=True), "kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_jwk(self) -> dict[str, Any]:
        jwk_dict = RSAAlgorithm.to_jwk(self.public_key, as_dict=True)
        return {"alg": "RS256", "e": jwk_dict["e"], "kid": self.kid, "kty": "RSA", "n": jwk_dict["n"], "use": "sig"}

    def sign(self, claims: Mapping[str, Any]) -> str:
        # Cognito's tokens carry kid and alg only (no typ).
        return jwt.encode(dict(claims), self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": None})


@dataclass(frozen=True)
class PoolKeys:
    access: SigningKey
    id: SigningKey

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.access.public_jwk(), self.id.public_jwk()]}


def load_or_create_keys(key_dir: Path, pool_id: str) -> PoolKeys:
    """The pool's keys from key_dir/<pool id>.json, created (mode 0600) if absent."""
    path = key_dir / f"{pool_id}.json"
    if not path.exists():
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fresh = {"pool_id": pool_id, "access": SigningKey.generate().private_jwk(), "id": SigningKey.generate().private_jwk()}
        fd, temporary = tempfile.mkstemp(dir=key_dir, prefix=f".{pool_id}.", suffix=".tmp")  # mode 0600
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(fresh, out, indent=1)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)  # atomic, and never replaces keys another process wrote first
            except FileExistsError:
                pass
        finally:
            os.unlink(temporary)
    elif path.stat().st_mode & 0o077:
        log.warning("%s holds private keys but other users may read it (chmod 600 it)", path)
    stored = json.loads(path.read_text())
    try:
        keys = PoolKeys(SigningKey.from_private_jwk(stored["access"]), SigningKey.from_private_jwk(stored["id"]))
    except (KeyError, TypeError, ValueError, jwt.PyJWTError) as error:
        raise ValueError(f"{path}: not the keys of a local user pool ({error}); delete it to get new keys") from None
    if keys.access.kid == keys.id.kid:
        raise ValueError(f"{path}: access and ID keys must have different kids")
    return keys


class KeyRing:
    """Pool id -> its keys, loaded (or created) once per pool and kept across reloads."""

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = Path(key_dir)
        self._keys: dict[str, PoolKeys] = {}
        self._lock = threading.Lock()

    def load(self, pool_ids: Iterable[str]) -> None:
        """Have the keys of these pools (of a pool seen before: the same keys)."""
        fresh = {pool_id: self._keys.get(pool_id) or load_or_create_keys(self.key_dir, pool_id) for pool_id in pool_ids}
        with self._lock:
            self._keys.update(fresh)

    def __getitem__(self, pool_id: str) -> PoolKeys:
        return self._keys[pool_id]

    def signs_with(self, kid: Any) -> bool:
        """Whether `kid` names an access or ID key of any pool seen."""
        with self._lock:
            every = list(self._keys.values())
        return any(kid in (keys.access.kid, keys.id.kid) for keys in every)
