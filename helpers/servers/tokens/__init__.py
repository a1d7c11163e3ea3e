"""``tokens``: JWT access tokens (RS256, RFC 9068) and rotating refresh tokens.

The whole idea:

* ``POST /login`` checks the password once and hands out a pair: a short-lived
  **access token** (a signed JWT the server can verify with no lookup) and a long-lived
  opaque **refresh token** (a random string the server remembers, as a SHA-256 hash).
* ``GET /me`` reads ``Authorization: Bearer <access token>`` and verifies it.
* ``POST /refresh`` spends the refresh token and returns a new pair (rotation). A spent
  token presented again means it was copied: the whole family is revoked.
* ``POST /logout`` ends the login, named by either token (an access token's ``sid``).
* ``GET /.well-known/jwks.json`` publishes the public keys, so anyone can verify.

This is a first-party login that borrows OAuth's vocabulary (and so its error rules); it
is not OAuth's password grant. One concern per module: :mod:`.keys` (keys, JWKS,
retirement), :mod:`.access` (issue and verify access tokens), :mod:`.refresh` (pairs,
rotation, logout), :mod:`.app` (routes only). The keys in ``data/keys`` are DEMO ONLY.
"""

from helpers.stores.tokens import TokenStore

from .access import (
    ACCESS_TOKEN_TYP,
    ACCESS_TTL,
    AUDIENCE,
    CLIENT_ID,
    ISSUER,
    LEEWAY,
    REQUIRED_CLAIMS,
    TokenRejected,
    access_token_claims,
    bearer_token,
    check_claims,
    numeric_date,
    sign_access_token,
    verify_access_token,
)
from .app import NAME, REALM, create_app
from .keys import (
    ALGORITHM,
    KIDS,
    RETIRED_AT,
    SIGNING_KID,
    DemoKey,
    demo_keys,
    keys_from_jwks,
    public_jwks,
    public_keys,
)
from .refresh import (
    FAMILY_LIFETIME,
    REFRESH_TTL,
    Lifetimes,
    RefreshRefused,
    TokenPair,
    hash_refresh_token,
    issue_token_pair,
    log_out_with_access_token,
    log_out_with_refresh_token,
    rotate_refresh_token,
)

__all__ = [
    "ACCESS_TOKEN_TYP", "ACCESS_TTL", "ALGORITHM", "AUDIENCE", "CLIENT_ID", "FAMILY_LIFETIME",
    "ISSUER", "KIDS", "LEEWAY", "NAME", "REALM", "REFRESH_TTL", "REQUIRED_CLAIMS", "RETIRED_AT",
    "SIGNING_KID", "DemoKey", "Lifetimes", "RefreshRefused", "TokenPair", "TokenRejected",
    "TokenStore", "access_token_claims", "bearer_token", "check_claims", "create_app",
    "demo_keys", "hash_refresh_token", "issue_token_pair",
    "keys_from_jwks", "log_out_with_access_token", "log_out_with_refresh_token",
    "numeric_date", "public_jwks", "public_keys", "rotate_refresh_token",
    "sign_access_token", "verify_access_token",
]
