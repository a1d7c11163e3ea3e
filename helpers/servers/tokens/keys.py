"""The ``tokens`` server's signing keys (DEMO ONLY), their JWKS, rotation and retirement.

Two RSA key pairs live in ``data/keys``, public on purpose, never for anything real:

* ``demo-rsa-2026`` signs every new access token;
* ``demo-rsa-2025`` was retired at :data:`RETIRED_AT` (2026-01-01T00:00:00Z). It verifies
  no token whose ``iat`` is at or after that instant, and the JWKS publishes it only while
  a token it signed before then could still be valid: until the retirement plus the
  longest access-token lifetime. Notebook 05 plays that rotation on the course clock.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from jwt import PyJWKSet
from jwt.algorithms import RSAAlgorithm

from helpers.paths import DATA_DIR

#: The one signature algorithm issued and accepted.
ALGORITHM = "RS256"
#: Where the DEMO ONLY keys live, their ids, and which one signs (the newest).
KEYS_DIR = DATA_DIR / "keys"
KIDS = ("demo-rsa-2026", "demo-rsa-2025")
SIGNING_KID = "demo-rsa-2026"
#: When each retired key stopped signing: it verifies no token issued (iat) at or after it.
RETIRED_AT: dict[str, float] = {
    "demo-rsa-2025": datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp(),
}


class KeyFileError(ValueError):
    """A file in ``data/keys`` is not the kind of key it should be."""


@dataclass(frozen=True)
class DemoKey:
    """One demo RSA key pair, its key id (``kid``), and when it was retired (None: in service)."""

    kid: str
    private_key: RSAPrivateKey
    public_key: RSAPublicKey
    retired_at: float | None = None


@functools.cache
def demo_keys() -> dict[str, DemoKey]:
    """``{kid: DemoKey}`` for the demo keys in ``data/keys`` (DEMO ONLY, public on purpose)."""
    keys = {}
    for kid in KIDS:
        private = serialization.load_pem_private_key(
            (KEYS_DIR / f"{kid}-private.pem").read_bytes(), None)
        public = serialization.load_pem_public_key((KEYS_DIR / f"{kid}-public.pem").read_bytes())
        if not isinstance(private, RSAPrivateKey) or not isinstance(public, RSAPublicKey):
            raise KeyFileError(f"{kid}: the files in {KEYS_DIR} must hold an RSA key pair")
        keys[kid] = DemoKey(kid, private, public, RETIRED_AT.get(kid))
    return keys


def public_keys() -> dict[str, RSAPublicKey]:
    """``{kid: public key}``: the server's own key set, which verification picks from."""
    return {kid: key.public_key for kid, key in demo_keys().items()}


def is_published(key: DemoKey, *, now: float, max_token_lifetime: float) -> bool:
    """Whether the JWKS lists ``key`` at ``now``: in service, or a token it signed may be valid."""
    return key.retired_at is None or now < key.retired_at + max_token_lifetime


def public_jwks(*, now: float, max_token_lifetime: float) -> dict[str, list[dict[str, str]]]:
    """The JWK Set served at ``/.well-known/jwks.json``: public parts only (kty, n, e).

    A retired key stays listed for ``max_token_lifetime`` seconds after its retirement
    (the longest an access token it signed can live), then drops out.
    """
    entries = []
    for key in demo_keys().values():
        if is_published(key, now=now, max_token_lifetime=max_token_lifetime):
            jwk = RSAAlgorithm.to_jwk(key.public_key, as_dict=True)
            entries.append({"kid": key.kid, "kty": jwk["kty"], "alg": ALGORITHM, "use": "sig",
                            "n": jwk["n"], "e": jwk["e"]})
    return {"keys": entries}


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """A fetched JWK Set as ``{kid: RSA public key}``, parsed by PyJWT's ``PyJWKSet``.

    ``verify_access_token`` also takes the ``PyJWKSet`` itself; this dict is for showing
    what a verifier holds.
    """
    return {jwk.key_id: jwk.key for jwk in PyJWKSet.from_dict(dict(jwks))
            if jwk.key_id and isinstance(jwk.key, RSAPublicKey)}
