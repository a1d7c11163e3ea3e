"""Revocation (RFC 7009), introspection (RFC 7662) and userinfo (OIDC Core section 5.3).

Authlib runs each endpoint; these subclasses say where tokens are and what revoking
means here:

* revoking a **refresh token** revokes its whole grant, so the access tokens issued
  with it stop too (RFC 7009 section 2.1 says the server SHOULD); revoking an **access
  token** revokes that token. An unknown token is still a 200 (RFC 7009 section 2.2).
* only ``course-web`` may introspect (RFC 7662 section 2.1 asks the caller to
  authenticate); an unknown, expired or revoked token is ``{"active": false}``.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfo, UserInfoEndpoint

from .access_tokens import AUDIENCE
from .context import ProviderContext
from .grants import CLIENT_AUTH
from .identity import SignedInUser, user_claims
from .storage import StoredToken

#: The one client allowed to introspect: it stands for the resource server here.
INTROSPECTING_CLIENT = "course-web"


def find_token(server: ProviderContext, token: str, hint: str | None) -> StoredToken | None:
    """The token's row; the hint says where to look first, never where to stop (RFC 7009 §2.1)."""
    kinds = ("access_token", "refresh_token")
    order = sorted(kinds, key=lambda kind: kind != hint)
    now = server.clock.time()
    for kind in order:
        stored = server.store.find_token(token, now=now, kind=kind)
        if stored is not None:
            return stored
    return None


class CourseRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH
    server: ProviderContext

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        return find_token(self.server, token_string, token_type_hint)

    def revoke_token(self, token: StoredToken, request: Any) -> None:
        if token.kind == "refresh_token":
            self.server.store.revoke_grant(token.grant_id)
        else:
            self.server.store.revoke_token(token.token_hash)


class CourseIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic"]
    server: ProviderContext

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        return find_token(self.server, token_string, token_type_hint)

    def check_permission(self, token: StoredToken, client: Any, request: Any) -> bool:
        return client.client_id == INTROSPECTING_CLIENT

    def introspect_token(self, token: StoredToken) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "active": True,
            "client_id": token.client_id,
            "scope": token.scope,
            "sub": token.sub,
            "username": token.sub,
            "iss": self.server.issuer(),
            "exp": int(token.expires_at),
            "iat": int(token.issued_at),
        }
        if token.kind == "access_token":
            payload.update(token_type="Bearer", aud=AUDIENCE)
        return payload


class CourseUserInfoEndpoint(UserInfoEndpoint):
    """``/userinfo``: the claims the access token's scope allows, as plain JSON."""

    def generate_user_info(self, user: SignedInUser, scope: str) -> UserInfo:
        return user_claims(user.username, scope)
