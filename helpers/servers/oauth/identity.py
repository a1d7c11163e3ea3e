"""Who signed in, and what the provider says about them (OpenID Connect Core section 5).

The password check itself is the course's one credential check,
:func:`helpers.servers.sessions.check_credentials`, with its decoy hash for unknown
names; this module only turns its answer into the user object Authlib's grants pass
around, and into the claims of the ID token and of ``/userinfo``.
"""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oidc.core import UserInfo

from helpers.servers.sessions import check_credentials
from helpers.users import DemoUser

#: Display names for the ``profile`` scope's ``name`` claim (the demo users have no other data).
DISPLAY_NAMES = {"alice": "Alice Liddell", "bob": "Bob the Builder"}


@dataclass(frozen=True)
class SignedInUser:
    """A user who has just typed the right password, and when (course-clock seconds)."""

    username: str
    auth_time: int

    def get_user_id(self) -> str:
        return self.username


def sign_in(
    users: dict[str, DemoUser], username: str, password: str, now: float
) -> SignedInUser | None:
    """The signed-in user if the password is theirs, else None (unknown name or wrong password)."""
    user = check_credentials(users, username, password)
    return None if user is None else SignedInUser(user.username, auth_time=int(now))


def user_claims(username: str, scope: str) -> UserInfo:
    """``sub`` always; ``preferred_username`` and ``name`` with the ``profile`` scope.

    OIDC Core section 5.4.
    """
    claims = UserInfo(sub=username)
    if "profile" in scope.split():
        claims["preferred_username"] = username
        claims["name"] = DISPLAY_NAMES.get(username, username)
    return claims
