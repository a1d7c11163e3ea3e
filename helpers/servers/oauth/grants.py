"""The grants: Authlib's authorization-code and refresh-token flows, wired to the store.

Authlib does the protocol; these subclasses answer the questions it leaves to the
server (where is this code? who is this user?) and close the gaps Authlib 1.9 leaves:

* :class:`S256Required`: Authlib's ``CodeChallenge`` checks PKCE only at the token
  endpoint, only for public clients, and accepts ``plain`` (the default when the method
  is missing). RFC 9700 section 2.1.1 makes PKCE mandatory for public clients and
  recommends it for confidential ones; the course requires S256 of both, so a request
  without an S256 challenge is refused at ``/authorize``, before any sign-in form.
* single use: a code and a refresh token are *spent* atomically when tokens are about to
  be issued; a second use is ``invalid_grant`` and revokes the whole grant (RFC 6749
  section 4.1.2, RFC 9700 section 4.14.2), also when the two uses race.
* :class:`CourseOpenIDCode`: the ID token, with its times on the course clock and a
  nonce that can be used only once per client.
* :func:`refuse_repeated_parameters`: RFC 6749 section 3.1 forbids repeating a
  parameter; Authlib checks only some at ``/authorize`` (not ``nonce``).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo

from .context import ProviderContext
from .identity import SignedInUser, user_claims
from .keys import ALGORITHM, KID, signing_keys
from .storage import StoredCode, StoredToken

#: Characters RFC 6749 Appendix A allows in state, scope, code_challenge and the like (VSCHAR).
VSCHAR = frozenset(chr(c) for c in range(0x20, 0x7F))
#: Longest value of any authorization-request parameter this server reads.
MAX_PARAMETER = 2048
#: Which client authentication each token-endpoint grant accepts (RFC 6749 section 2.3).
CLIENT_AUTH = ["client_secret_basic", "none"]


def refuse_repeated_parameters(grant: grants.BaseGrant, redirect_uri: str) -> None:
    """Every parameter at most once (RFC 6749 section 3.1), in printable ASCII, of sane length."""
    for name, values in grant.request.payload.datalist.items():
        if len(values) > 1:
            raise InvalidRequestError(f"The parameter '{name}' is repeated (RFC 6749 section 3.1).")
        if name in ("username", "password", "consent"):
            continue  # the sign-in form's own fields, read by the route
        value = values[0]
        if len(value) > MAX_PARAMETER or not set(value) <= VSCHAR:
            raise InvalidRequestError(
                "A parameter is too long or has characters outside printable ASCII."
            )


class S256Required(CodeChallenge):
    """PKCE with S256, required of every client at ``/authorize`` (stricter than RFC 9700 §2.1.1).
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: grants.BaseGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError(
                "PKCE is required: send code_challenge and code_challenge_method=S256."
            )
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(
                "Only code_challenge_method=S256 is accepted (RFC 7636 section 4.2)."
            )
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    """The authorization code grant (RFC 6749 section 4.1) on the course store and clock."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
    server: ProviderContext

    def __init__(self, request: Any, server: ProviderContext) -> None:
        super().__init__(request, server)
        self.register_hook(
            "after_validate_authorization_request_payload", refuse_repeated_parameters
        )

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        self.server.store.save_code(
            code,
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            sub=request.user.username,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            auth_time=request.user.auth_time,
            now=self.server.clock.time(),
            ttl=self.server.code_ttl,
        )

    def query_authorization_code(self, code: str, client: Any) -> StoredCode | None:
        stored = self.server.store.find_code(code)
        if stored is None or stored.client_id != client.client_id:
            return None
        if stored.spent:  # a replayed code: someone else holds a copy
            self.server.store.revoke_grant(stored.grant_id)
            raise InvalidGrantError(
                "The code was already used; the tokens issued with it are revoked."
            )
        if self.server.clock.time() >= stored.expires_at:
            raise InvalidGrantError("The code has expired.")
        return stored

    def authenticate_user(self, authorization_code: StoredCode) -> SignedInUser:
        # called after every check passed, just before tokens are made: spend the code now
        if not self.server.store.spend_code(authorization_code.code_hash):
            self.server.store.revoke_grant(authorization_code.grant_id)
            raise InvalidGrantError(
                "The code was already used; the tokens issued with it are revoked."
            )
        return SignedInUser(authorization_code.sub, authorization_code.auth_time)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Kept, marked spent, so that a replay is recognised (purged an hour after it expires)."""


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Refresh with rotation and reuse detection, for both clients (RFC 9700 section 4.14.2)."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every refresh returns a new refresh token
    server: ProviderContext

    def authenticate_refresh_token(self, refresh_token: str) -> StoredToken | None:
        stored = self.server.store.find_token(
            refresh_token, now=self.server.clock.time(), kind="refresh_token"
        )
        if stored is None:
            return None
        if stored.spent:  # a rotated-away refresh token came back: it was copied
            self.server.store.revoke_grant(stored.grant_id)
            raise InvalidGrantError(
                "The refresh token was already used; its whole family is revoked."
            )
        return stored if stored.is_active() else None

    def authenticate_user(self, refresh_token: StoredToken) -> SignedInUser:
        if not self.server.store.spend_token(refresh_token.token_hash):
            self.server.store.revoke_grant(refresh_token.grant_id)
            raise InvalidGrantError(
                "The refresh token was already used; its whole family is revoked."
            )
        return SignedInUser(refresh_token.sub, refresh_token.auth_time)

    def revoke_old_credential(self, refresh_token: StoredToken) -> None:
        """Nothing left to do: :meth:`authenticate_user` spent it before the new pair was made."""


class CourseOpenIDCode(OpenIDCode):
    """OpenID Connect on the code flow: an ID token with ``scope=openid`` (OIDC Core §3.1)."""

    def __init__(self, server: ProviderContext, id_token_ttl: int) -> None:
        super().__init__(require_nonce=False)
        self.server = server
        self.id_token_ttl = id_token_ttl

    def resolve_client_private_key(self, client: Any) -> Any:
        return signing_keys()

    def get_encode_header(self, client: Any) -> dict[str, str]:
        return {"alg": ALGORITHM, "kid": KID}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        # Authlib would take iat and exp from time.time(); the course clock decides here
        now = int(self.server.clock.time())
        return {
            "iss": self.server.issuer(),
            "aud": client.client_id,
            "iat": now,
            "exp": now + self.id_token_ttl,
        }

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return self.server.store.nonce_seen(request.payload.client_id, nonce)

    def generate_user_info(self, user: SignedInUser, scope: str) -> UserInfo:
        return user_claims(user.username, scope)
