"""Access tokens: RFC 9068 JWTs made by Authlib, on the course clock, checked against the store.

An access token is a JWT (header ``typ: at+jwt``, claims iss, sub, aud, client_id, iat,
exp, jti, scope, auth_time) signed with ``demo-oauth-2026``. A resource server can check
it locally with the keys at ``jwks_uri``; the provider itself also keeps a row per token,
so that revocation (RFC 7009) takes effect at once wherever the provider is asked
(``/userinfo``, ``/introspect``), while a local check keeps accepting the token until
its ``exp``.
"""

from __future__ import annotations

from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator, JWTBearerTokenValidator
from joserfc.errors import JoseError

from .context import ProviderContext
from .identity import SignedInUser
from .keys import signing_keys, verification_keys
from .storage import StoredToken

#: ``aud`` of every access token: the course's API, not the client (RFC 9068 section 3).
AUDIENCE = "urn:course:api"
#: JOSE header ``typ`` an access token must carry (RFC 9068 section 2.1).
ACCESS_TOKEN_TYP = "at+jwt"


class CourseTokenGenerator(JWTBearerTokenGenerator):
    """Authlib's RFC 9068 generator, with the times and issuer of the course server.

    Authlib 1.9 writes ``iat``/``exp`` from ``time.time()``; ``get_extra_claims`` is
    merged last, so it is where the course clock and the issuer override them. Without a
    ``refresh_token_generator`` Authlib would issue no refresh token at all.
    """

    def __init__(self, server: ProviderContext, access_ttl: int) -> None:
        super().__init__(
            issuer=None,  # set per token below: the issuer is the server's own URL
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: access_ttl,
        )
        self.server = server

    def get_jwks(self) -> Any:
        return signing_keys()

    def get_jti(self, client: Any, grant_type: str, user: Any, scope: str) -> str:
        return generate_token(32)  # about 190 random bits; Authlib's default is 16 characters

    def get_audiences(self, client: Any, user: Any, scope: str) -> str:
        return AUDIENCE

    def get_extra_claims(
        self, client: Any, grant_type: str, user: SignedInUser, scope: str
    ) -> dict[str, Any]:
        now = int(self.server.clock.time())
        return {
            "iss": self.server.issuer(),
            "iat": now,
            "exp": now + self._get_expires_in(client, grant_type),
            "auth_time": user.auth_time,
        }


class TokenInUse:
    """A presented access token that verified: its claims, its row, and what userinfo asks of it."""

    def __init__(self, claims: Any, stored: StoredToken, client: Any) -> None:
        self.claims, self.stored, self.client = claims, stored, client

    @property
    def scope(self) -> str:
        return self.stored.scope

    def get_client(self) -> Any:
        return self.client

    def get_user(self) -> SignedInUser:
        return SignedInUser(self.stored.sub, self.stored.auth_time)


class StoredTokenValidator(JWTBearerTokenValidator):
    """RFC 9068 section 4 validation, plus the provider's own record of the token.

    Authlib's ``validate_token`` would check ``exp`` and ``iat`` against ``time.time()``;
    here they are checked against the course clock. A token the store does not know, or
    knows as revoked, raises ``InvalidTokenError`` (returning None would crash Authlib's
    validator with an AttributeError).
    """

    def __init__(self, server: ProviderContext) -> None:
        super().__init__(issuer=None, resource_server=AUDIENCE, realm="oauth")
        self.server = server

    def get_jwks(self) -> Any:
        return verification_keys()

    def validate_iss(self, claims: Any, iss: str) -> bool:
        return iss == self.server.issuer()

    def authenticate_token(self, token_string: str) -> TokenInUse:
        stored = self.server.store.find_token(
            token_string, now=self.server.clock.time(), kind="access_token"
        )
        if stored is None or not stored.is_active():
            raise InvalidTokenError(
                "The access token is unknown, expired or revoked.", realm=self.realm
            )
        claims = super().authenticate_token(token_string)
        return TokenInUse(claims, stored, self.server.query_client(stored.client_id))

    def validate_token(self, token: TokenInUse, scopes: Any, request: Any, **_: Any) -> None:
        claims = token.claims
        try:
            if claims.header.get("typ") != ACCESS_TOKEN_TYP:
                raise InvalidTokenError(
                    "The token is not an access token (typ must be at+jwt).", realm=self.realm
                )
            claims.validate(now=int(self.server.clock.time()))
        except JoseError as exc:
            raise InvalidTokenError(realm=self.realm) from exc
        if self.scope_insufficient(claims.get("scope"), scopes):
            raise InsufficientScopeError()
