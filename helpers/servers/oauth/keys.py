"""The ``oauth`` server's signing key, ``demo-oauth-2026`` (DEMO ONLY, in ``data/keys``).

One RS256 key signs both kinds of JWT the server issues: access tokens (RFC 9068) and
ID tokens (OpenID Connect Core section 2). Its public half is published at the
``jwks_uri``, so a client or a resource server verifies with no secret. It is not the
``tokens`` server's key: each issuer signs with its own key, and a verifier that trusts
one issuer's keys rejects the other's tokens.
"""

from __future__ import annotations

import functools
from typing import Any

from joserfc.jwk import KeySet, RSAKey

from helpers.paths import DATA_DIR

KID = "demo-oauth-2026"
ALGORITHM = "RS256"
PRIVATE_PEM = DATA_DIR / "keys" / f"{KID}-private.pem"


@functools.cache
def signing_keys() -> KeySet:
    """The private key as a joserfc key set: Authlib signs with it and writes its ``kid``."""
    key = RSAKey.import_key(PRIVATE_PEM.read_bytes(), {"kid": KID, "alg": ALGORITHM, "use": "sig"})
    return KeySet([key])


def public_jwks() -> dict[str, Any]:
    """What ``jwks_uri`` serves: the public key only (RFC 7517 section 5)."""
    return {"keys": [key.as_dict(private=False) for key in signing_keys().keys]}


@functools.cache
def verification_keys() -> KeySet:
    """The public key set the server itself verifies its access tokens with."""
    return KeySet.import_key_set(public_jwks())
