"""The authorization server: Authlib's Flask ``AuthorizationServer``, assembled for the course.

:func:`register_parts` registers everything: the two grants with PKCE (S256 only) and
OpenID Connect, the RFC 9068 token generator, revocation, introspection, userinfo and the
RFC 9207 ``iss`` parameter (an extension of the *server*, not of a grant, in Authlib 1.9).

The subclass adds what the course contract asks on top of Authlib's defaults:

* every error follows RFC 6749 section 5.2 and carries ``Cache-Control: no-store``;
  ``invalid_client`` is always a 401 with a ``Basic`` challenge, and no other token
  endpoint error is a 401 (Authlib answers an unknown ``token_type_hint`` with a 401
  that has no challenge at all);
* HTTP Basic client credentials are parsed strictly (``helpers.http.basic_credentials``):
  Authlib's own parser decodes them with no guard against non-ASCII or non-UTF-8 input,
  which would be a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Error
from authlib.oauth2.rfc6750 import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter

from helpers.http import (
    NO_STORE,
    MalformedAuthorization,
    basic_credentials,
    challenge,
    parse_authorization,
)
from helpers.notebook.course_clock import CourseClock
from helpers.users import DemoUser

from .access_tokens import CourseTokenGenerator, StoredTokenValidator
from .clients import SCOPES, Client
from .endpoints import CourseIntrospectionEndpoint, CourseRevocationEndpoint, CourseUserInfoEndpoint
from .grants import AuthorizationCodeGrant, CourseOpenIDCode, RefreshTokenGrant
from .storage import OAuthStore

#: ``realm`` of every challenge this server sends.
REALM = "oauth"


def authenticate_client_secret_basic(
    query_client: Callable[[str], Any], request: Any
) -> Client | None:
    """Authlib's ``client_secret_basic`` method, with the course's strict Basic decoder.

    A client that sends Basic credentials is judged by them alone: a wrong secret, an
    unknown client or a second, different ``client_id`` in the body is ``invalid_client``
    (401), never a fall-back to another method (RFC 6749 section 2.3: one method per request).
    So is any other ``Authorization`` header (malformed Basic, or a scheme this server does not
    take, such as Bearer): RFC 6749 section 5.2 counts an attempt through the header that fails,
    or an unsupported method, as ``invalid_client``.
    """
    authorization = request.headers.get("Authorization")
    if not authorization:
        return None  # no header: a public client names itself in the body
    try:
        credentials = basic_credentials(parse_authorization([authorization]))
    except MalformedAuthorization:
        credentials = None
    if credentials is None:
        raise InvalidClientError(
            status_code=401, description="The Authorization header is not valid Basic credentials."
        )
    if not credentials[1]:
        return None  # Basic with an empty secret: a public client, judged by the 'none' method
    client_id, secret = credentials
    named = request.payload.data.get("client_id")
    client = query_client(client_id)
    if (
        client is None
        or (named is not None and named != client_id)
        or not client.check_client_secret(secret)
    ):
        raise InvalidClientError(status_code=401, description="Client authentication failed.")
    return client


class CourseAuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server with the course's store, clock and issuer."""

    def __init__(
        self,
        *,
        store: OAuthStore,
        clock: CourseClock,
        clients: dict[str, Client],
        users: dict[str, DemoUser],
        issuer: Callable[[], str],
        code_ttl: float,
    ) -> None:
        super().__init__(query_client=clients.get, save_token=self._save_token)
        self.store, self.clock, self.clients, self.users = store, clock, clients, users
        self.issuer = issuer
        self.code_ttl = code_ttl
        self.refresh_ttl = 24 * 3600.0
        self.family_lifetime = 7 * 24 * 3600.0

    def _save_token(self, token: dict[str, Any], request: Any) -> None:
        """Remember the new tokens (as hashes) under the grant they came from."""
        source = request.authorization_code or request.refresh_token
        now = self.clock.time()
        common = {
            "grant_id": source.grant_id,
            "client_id": request.client.client_id,
            "sub": source.sub,
            "scope": token["scope"],
            "auth_time": source.auth_time,
            "now": now,
        }
        self.store.save_token(
            token["access_token"], kind="access_token", ttl=token["expires_in"], **common
        )
        if "refresh_token" in token:
            created = self.store.grant_created_at(source.grant_id) or now
            ttl = min(
                self.refresh_ttl, created + self.family_lifetime - now
            )  # idle and absolute lifetime
            self.store.save_token(token["refresh_token"], kind="refresh_token", ttl=ttl, **common)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Any:
        if isinstance(error, InvalidClientError):
            error.status_code = 401
        elif error.status_code == 401 and not isinstance(error, InvalidTokenError):
            error.status_code = (
                400  # RFC 6749 section 5.2: 400 unless the client failed to authenticate
            )
        status, body, headers = error(self.get_error_uri(request, error))
        headers = [
            (k, v)
            for k, v in headers
            if k.lower() not in ("www-authenticate", "cache-control", "pragma")
        ]
        if status == 401 and isinstance(error, InvalidClientError):
            headers.append(("WWW-Authenticate", challenge("Basic", realm=REALM, charset="UTF-8")))
        elif isinstance(error, InsufficientScopeError):
            headers.append(
                (
                    "WWW-Authenticate",
                    challenge(  # RFC 6750 section 3.1
                        "Bearer", realm=REALM, error="insufficient_scope", scope="openid"
                    ),
                )
            )
        elif status == 401:
            headers += [(k, v) for k, v in error.get_headers() if k.lower() == "www-authenticate"]
        if status != 302:
            headers += list(NO_STORE.items())
        return self.handle_response(status, body, headers)


class CourseIssuerParameter(IssuerParameter):
    """RFC 9207: ``iss`` in every authorization response, success or error."""

    def __init__(self, issuer: Callable[[], str]) -> None:
        self._issuer = issuer

    def get_issuer(self) -> str:
        return self._issuer()


def register_parts(
    server: CourseAuthorizationServer, *, access_ttl: int, id_token_ttl: int, pkce: CodeChallenge
) -> CourseIssuerParameter:
    """Register grants, endpoints and extensions on ``server``; return its ``iss`` extension
    (the routes add ``iss`` to early errors too)."""
    server.scopes_supported = list(SCOPES)
    server.register_token_generator("default", CourseTokenGenerator(server, access_ttl))
    server.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
    server.register_grant(AuthorizationCodeGrant, [pkce, CourseOpenIDCode(server, id_token_ttl)])
    server.register_grant(RefreshTokenGrant)
    server.register_endpoint(CourseRevocationEndpoint)
    server.register_endpoint(CourseIntrospectionEndpoint)
    protector = ResourceProtector()
    protector.register_token_validator(StoredTokenValidator(server))
    server.register_endpoint(CourseUserInfoEndpoint(resource_protector=protector))
    iss = CourseIssuerParameter(server.issuer)
    server.register_extension(iss)
    return iss
