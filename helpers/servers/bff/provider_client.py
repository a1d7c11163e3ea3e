"""The BFF's side of OAuth: a confidential client (``course-web``) of the ``oauth`` server.

Authlib's ``OAuth2Session`` does the protocol work: the authorization URL with
``state``, ``nonce`` and a PKCE S256 challenge (RFC 7636), the code exchange with
client_secret_basic and the code verifier (RFC 6749 section 4.1.3), the refresh
(section 6) and the revocation (RFC 7009). What is left here is what a client must
check itself: the ``iss`` of the authorization response (RFC 9207 section 2.4) and the
ID token (OIDC Core section 3.1.3.7: signature with the provider's keys, ``iss``,
``aud``, ``exp``, ``nonce``), on the course clock.

Token expiry is decided on the course clock too, so the tokens are handed to Authlib
without an ``expires_at`` (Authlib would compare it with the wall clock).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from .store import PendingLogin, Tokens

CLIENT_ID = "course-web"
CLIENT_SECRET = "course-web-secret"  # DEMO ONLY, as data/oauth_clients.json says
SCOPE = "openid profile"
TIMEOUT = 5
#: Seconds of clock skew allowed on the ID token's exp (RFC 7519 section 4.1.4).
LEEWAY = 30


class ProviderError(Exception):
    """The provider refused (``error`` is its OAuth error code) or could not be reached."""

    def __init__(self, error: str, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.error, self.message, self.unreachable = error, message, unreachable


@dataclass(frozen=True)
class Identity:
    """Who signed in, from a validated ID token, and the tokens that came with it."""

    sub: str
    username: str
    tokens: Tokens


class ProviderClient:
    """``course-web`` talking to one provider, found through its discovery document."""

    def __init__(self, provider_url: str, *, client_id: str = CLIENT_ID,
                 client_secret: str = CLIENT_SECRET) -> None:
        self.provider_url = provider_url.rstrip("/")
        self.client_id, self._secret = client_id, client_secret
        self._metadata: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once; its issuer must be the URL we were
        given."""
        with self._lock:
            if self._metadata is None:
                try:
                    doc = requests.get(f"{self.provider_url}/.well-known/openid-configuration",
                                       timeout=TIMEOUT).json()
                except (requests.RequestException, ValueError) as exc:
                    raise ProviderError("provider_unavailable",
                                        f"The provider cannot be reached: {exc}",
                                        unreachable=True) from None
                if doc.get("issuer") != self.provider_url:  # OIDC Discovery section 4.3
                    raise ProviderError("provider_mismatch",
                                        "The provider's issuer is not its URL.",
                                        unreachable=True)
                self._metadata = doc
            return self._metadata

    def session(self, redirect_uri: str | None = None,
                access_token: str | None = None) -> OAuth2Session:
        token = {"access_token": access_token, "token_type": "Bearer"} if access_token else None
        return OAuth2Session(self.client_id, self._secret,
                             token_endpoint_auth_method="client_secret_basic",
                             revocation_endpoint_auth_method="client_secret_basic", scope=SCOPE,
                             redirect_uri=redirect_uri, code_challenge_method="S256", token=token,
                             default_timeout=TIMEOUT)

    # -- sign-in ------------------------------------------------------------------------------
    def begin(self, redirect_uri: str) -> tuple[str, PendingLogin]:
        """The authorization URL to send the browser to, and the secrets to keep until the
        callback."""
        verifier, nonce = generate_token(48), generate_token(32)
        with self.session(redirect_uri) as oauth:
            url, state = oauth.create_authorization_url(self.metadata()["authorization_endpoint"],
                                                        code_verifier=verifier, nonce=nonce)
        return url, PendingLogin(state=state, nonce=nonce, code_verifier=verifier)

    def finish(self, redirect_uri: str, callback_url: str, pending: PendingLogin, *,
               now: float) -> Identity:
        """Exchange the code (Authlib checks ``state``), then validate the ID token."""
        meta = self.metadata()
        with self.session(redirect_uri) as oauth:
            token = self._call(oauth.fetch_token, meta["token_endpoint"],
                               authorization_response=callback_url, state=pending.state,
                               code_verifier=pending.code_verifier)
        claims = self.validate_id_token(token.get("id_token"), pending.nonce, now=now)
        if not isinstance(token.get("access_token"), str):
            raise ProviderError("invalid_token_response", "The token response has no access token.")
        username = claims.get("preferred_username") or claims["sub"]
        return Identity(claims["sub"], str(username), self._tokens(token, now=now))

    def validate_id_token(self, id_token: object, nonce: str, *, now: float) -> dict[str, Any]:
        """OIDC Core section 3.1.3.7 with PyJWT; times on the course clock, not the wall clock."""
        if not isinstance(id_token, str):
            raise ProviderError("invalid_id_token", "The token response has no ID token.")
        meta = self.metadata()
        try:
            keys = jwt.PyJWKSet.from_dict(requests.get(meta["jwks_uri"], timeout=TIMEOUT).json())
            key = keys[jwt.get_unverified_header(id_token).get("kid", "")]
            claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=self.client_id,
                                issuer=meta["issuer"],
                                options={"require": ["iss", "sub", "aud", "exp", "iat", "nonce"],
                                         "verify_exp": False, "verify_iat": False,
                                         "verify_nbf": False})
        except (jwt.PyJWTError, KeyError, ValueError, requests.RequestException) as exc:
            raise ProviderError("invalid_id_token", f"The ID token is not valid: {exc}") from None
        if not isinstance(claims["exp"], int | float) or claims["exp"] + LEEWAY <= now:
            raise ProviderError("invalid_id_token", "The ID token has expired.")
        if claims["nonce"] != nonce:  # the token answers this request, not a replayed older one
            raise ProviderError("invalid_id_token", "The ID token's nonce is not this login's.")
        return claims

    # -- using and ending the grant ----------------------------------------------------------------
    def refresh(self, tokens: Tokens, *, now: float) -> Tokens:
        """New tokens from the refresh token (the provider rotates it)."""
        if not tokens.refresh_token:
            raise ProviderError("invalid_grant", "This session holds no refresh token.")
        with self.session() as oauth:
            token = self._call(oauth.refresh_token, self.metadata()["token_endpoint"],
                               refresh_token=tokens.refresh_token)
        new = self._tokens(token, now=now)
        return Tokens(new.access_token, new.access_expires_at,
                      new.refresh_token or tokens.refresh_token, tokens.id_token)

    def userinfo(self, access_token: str) -> requests.Response:
        with self.session(access_token=access_token) as oauth:
            try:
                return oauth.get(self.metadata()["userinfo_endpoint"])
            except requests.RequestException as exc:
                raise ProviderError("provider_unavailable",
                                    f"The provider cannot be reached: {exc}",
                                    unreachable=True) from None

    def revoke(self, tokens: Tokens) -> bool:
        """RFC 7009: revoke the refresh token (its whole grant, here) and the access token."""
        ok = True
        with self.session() as oauth:
            for value, hint in ((tokens.refresh_token, "refresh_token"),
                                (tokens.access_token, "access_token")):
                if not value:
                    continue
                try:
                    response = oauth.revoke_token(self.metadata()["revocation_endpoint"],
                                                  token=value, token_type_hint=hint)
                    ok = ok and response.status_code == 200
                except (requests.RequestException, ProviderError):
                    ok = False
        return ok

    # -- plumbing ----------------------------------------------------------------------------------
    @staticmethod
    def _call(method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Run an Authlib call; its refusals and network failures become :class:`ProviderError`."""
        try:
            return dict(method(*args, **kwargs))
        except AuthlibBaseError as exc:  # the provider's refusal, or Authlib's own check (state)
            raise ProviderError(exc.error or "oauth_error",
                                exc.description or "The provider refused.") from None
        except requests.RequestException as exc:
            raise ProviderError("provider_unavailable", f"The provider cannot be reached: {exc}",
                                unreachable=True) from None
        except ValueError as exc:  # a token response that is not JSON
            raise ProviderError("invalid_token_response",
                                f"The provider's answer is not usable: {exc}") from None

    @staticmethod
    def _tokens(token: dict[str, Any], *, now: float) -> Tokens:
        expires_in = token.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 0.0
        return Tokens(str(token["access_token"]), now + lifetime, token.get("refresh_token"),
                      token.get("id_token"))
