"""Refresh tokens: the pair at login, rotation, reuse detection, and logout.

* login starts a *family* (the login; its id is the access tokens' ``sid``) with its
  first refresh token, and signs an access token for it;
* ``/refresh`` spends the presented refresh token and returns a new pair; a spent token
  presented again revokes the whole family and its unexpired access tokens;
* logout ends the whole login, named by either token: the refresh token, or the
  ``sid`` of an access token (even an expired one).

The store (:class:`helpers.stores.tokens.TokenStore`) hashes refresh tokens itself:
nothing here, or in any caller, handles a hash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from helpers.stores.tokens import (
    ENDED,
    EXPIRED,
    FAMILY_EXPIRED,
    REUSED,
    REVOKED,
    UNKNOWN,
    TokenStore,
    hash_refresh_token,
    new_refresh_token,
)

from .access import (
    ACCESS_TTL,
    LEEWAY,
    TokenRejected,
    access_token_claims,
    new_jti,
    sign_access_token,
)

#: Each refresh token expires 1 day after it was issued unless it is used (idle lifetime).
REFRESH_TTL = 24 * 3600
#: A login's refresh tokens all stop working 7 days after the login (absolute lifetime).
FAMILY_LIFETIME = 7 * 24 * 3600

__all__ = ["hash_refresh_token"]  # re-exported: notebook 07 shows it


@dataclass(frozen=True)
class Lifetimes:
    """How long things live, in course-clock seconds."""

    access: int = ACCESS_TTL
    refresh: float = REFRESH_TTL
    family: float = FAMILY_LIFETIME


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    sid: str

    def as_json(self) -> dict[str, Any]:
        """The body of a successful /login or /refresh (RFC 6749 section 5.1 names)."""
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "token_type": "Bearer", "expires_in": self.expires_in}


class RefreshRefused(Exception):
    """A refresh token was not accepted: RFC 6749 section 5.2 ``invalid_grant``.

    ``outcome`` is a :mod:`helpers.stores.tokens` outcome (``"unknown"``, ``"reused"``,
    ``"revoked"``, ``"expired"``, ``"family_expired"``).
    """

    error = "invalid_grant"
    MESSAGES = {
        UNKNOWN: "unknown refresh token",
        REUSED: "this refresh token was already used, so its whole family is now revoked;"
                " log in again",
        REVOKED: "this refresh token belongs to a login that has ended (logout or reuse);"
                 " log in again",
        EXPIRED: "this refresh token has expired; log in again",
        FAMILY_EXPIRED: "the login this refresh token comes from is too old; log in again",
    }

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.reason = self.MESSAGES.get(outcome, "refresh token refused")
        super().__init__(self.reason)


def issue_token_pair(store: TokenStore, sub: str, *, now: float,
                     lifetimes: Lifetimes = Lifetimes()) -> TokenPair:
    """After a successful login: start a family with its first refresh token; an access token."""
    refresh_token, jti = new_refresh_token(), new_jti()
    exp = int(now) + lifetimes.access
    sid = store.start_family(sub, refresh_token, now=now, refresh_ttl=lifetimes.refresh,
                             family_lifetime=lifetimes.family, access_jti=jti,
                             access_expires_at=exp + LEEWAY)
    claims = access_token_claims(sub, now=now, sid=sid, ttl=lifetimes.access, jti=jti)
    return TokenPair(sign_access_token(claims), refresh_token, lifetimes.access, sid)


def rotate_refresh_token(store: TokenStore, presented: str, *, now: float,
                         lifetimes: Lifetimes = Lifetimes()) -> TokenPair:
    """Spend ``presented``; a new pair of the same login, or :class:`RefreshRefused`.

    The store does the check-and-spend in one transaction, so of several concurrent
    calls with the same token one wins. Reusing a spent token revokes the family: its
    other refresh tokens stop working and its unexpired access tokens are denied by
    jti at once (they do not stay valid until their exp). No grace window.
    """
    refresh_token, jti = new_refresh_token(), new_jti()
    exp = int(now) + lifetimes.access
    rotation = store.rotate(presented, refresh_token, now=now, refresh_ttl=lifetimes.refresh,
                            access_jti=jti, access_expires_at=exp + LEEWAY)
    if not rotation.ok or rotation.sub is None or rotation.family_id is None:
        raise RefreshRefused(rotation.outcome)
    claims = access_token_claims(rotation.sub, now=now, sid=rotation.family_id,
                                 ttl=lifetimes.access, jti=jti)
    return TokenPair(sign_access_token(claims), refresh_token, lifetimes.access,
                     rotation.family_id)


def log_out_with_refresh_token(store: TokenStore, refresh_token: str, *, now: float) -> str:
    """End the login the refresh token belongs to and return its sid, or raise
    :class:`RefreshRefused` (nothing ended).

    An unknown or already revoked token ends nothing; a spent one is reuse, which
    revokes the login as ``/refresh`` does, and is refused all the same.
    """
    outcome, sid = store.end_login_of_refresh_token(refresh_token, now=now)
    if outcome != ENDED or sid is None:
        raise RefreshRefused(outcome)
    return sid


def log_out_with_access_token(store: TokenStore, claims: Mapping[str, Any], *, now: float) -> None:
    """End the login an access token names by its ``sid``, or raise :class:`TokenRejected`.

    ``claims`` were verified for signature, iss, aud and typ, but not expiry: an
    expired access token still names its login, and logging out must work with it.
    """
    if not store.end_login(claims["sid"], now=now):
        raise TokenRejected("the login this token belongs to has already ended, or is unknown")
    store.deny_jti(claims["jti"], claims["exp"] + LEEWAY, now=now, reason="logout")
