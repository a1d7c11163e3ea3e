"""The routes of the ``oauth`` server. Each one checks its input, then hands over to Authlib.

The lesson is in the order of the authorization endpoint: first the client and its
redirect URI (else an HTML page, never a redirect), then everything Authlib and the
course's extensions check (errors go back to the client as ``?error=...&iss=...``),
then the sign-in form, then the code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from helpers.http import (
    MalformedAuthorization,
    challenge,
    install_json_errors,
    json_error,
    parse_authorization,
)
from helpers.notebook.course_clock import CourseClock

from . import guards
from .clients import SCOPES, Client
from .identity import sign_in
from .keys import ALGORITHM, public_jwks
from .pages import error_page, sign_in_page
from .provider import REALM, CourseAuthorizationServer, CourseIssuerParameter

#: Endpoints whose errors RFC 6749 section 5.2 / RFC 6750 section 3 shape.
RFC_ENDPOINTS = frozenset({"/token", "/revoke", "/introspect", "/userinfo"})


def metadata(issuer: str) -> dict[str, Any]:
    """RFC 8414 section 2 and OpenID Connect Discovery 1.0 section 3, in one document."""
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "preferred_username",
            "name",
        ],
        "authorization_response_iss_parameter_supported": True,
    }


def register_routes(
    app: Flask,
    server: CourseAuthorizationServer,
    iss: CourseIssuerParameter,
    clients: dict[str, Client],
    clock: CourseClock,
    issuer: Callable[[], str],
) -> None:
    app.before_request(guards.loopback_host)

    @app.errorhandler(OAuth2Error)
    def _oauth_error(error: OAuth2Error) -> Response:  # a backstop: the routes catch their own
        return server.handle_error_response(None, error)

    @app.errorhandler(MethodNotAllowed)
    def _wrong_method(error: MethodNotAllowed) -> Response:
        """The OAuth endpoints answer even a wrong method in RFC 6749 section 5.2's form."""
        allow = dict(error.get_headers()).get("Allow", "")
        if request.path not in RFC_ENDPOINTS:
            return json_error(405, "method_not_allowed", error.description, {"Allow": allow})
        return guards.oauth_error(
            405, "invalid_request", f"{request.path} takes {allow}.", {"Allow": allow}
        )

    @app.get("/.well-known/openid-configuration")
    @app.get("/.well-known/oauth-authorization-server")
    def discovery() -> Response:
        return jsonify(metadata(issuer()))

    @app.get("/.well-known/jwks.json")
    def jwks() -> Response:
        return jsonify(public_jwks())

    def consent_grant() -> tuple[Any, Response | None]:
        """Authlib's validation of the request.

        An error found once the redirect URI is trusted goes back to it; one before is a page.
        """
        try:
            return server.get_consent_grant(end_user=None), None
        except OAuth2Error as error:
            if error.redirect_uri is None:
                return None, error_page(error.get_error_description() or error.error)
            response = server.handle_error_response(None, error)
            iss.add_issuer_parameter(server, response)  # RFC 9207 section 2: error responses too
            return None, response

    @app.get("/authorize")
    def authorize_form() -> Response:
        client, refused = guards.authorization_client(clients)
        if refused is not None:
            return refused
        grant, refused = consent_grant()
        if refused is not None:
            return refused
        return sign_in_page(
            client_id=client.client_id,
            client_name=client.client_name,
            scope=grant.request.scope,
            action=request.full_path,
            redirect_uri=request.args["redirect_uri"],
        )

    @app.post("/authorize")
    def authorize() -> Response:
        client, refused = guards.authorization_client(clients)
        if refused is None and guards.read_form() is not None:
            refused = error_page("The form is larger than this provider reads.", 413)
        if refused is not None:
            return refused
        grant, refused = consent_grant()
        if refused is not None:
            return refused
        fields = guards.sign_in_fields()
        page = {
            "client_id": client.client_id,
            "client_name": client.client_name,
            "scope": grant.request.scope,
            "action": request.full_path,
            "redirect_uri": request.args["redirect_uri"],
        }
        if fields is None:
            return sign_in_page(**page, error="The username or password is too long.")
        username, password, consent = fields
        if consent == "deny":
            return server.create_authorization_response(grant_user=None, grant=grant)
        if consent != "allow":
            return sign_in_page(**page, error="Choose Allow or Deny.")
        user = sign_in(server.users, username, password, clock.time())
        if user is None:
            return sign_in_page(**page, error="Wrong username or password.")
        return server.create_authorization_response(grant_user=user, grant=grant)

    @app.post("/token")
    def token() -> Response:
        refused = guards.token_endpoint()
        return refused if refused is not None else server.create_token_response()

    @app.post("/revoke")
    def revoke() -> Response:
        refused = guards.form_endpoint()
        return refused if refused is not None else server.create_endpoint_response("revocation")

    @app.post("/introspect")
    def introspect() -> Response:
        refused = guards.form_endpoint()
        return refused if refused is not None else server.create_endpoint_response("introspection")

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        # RFC 6750 section 3.1: no credentials -> a bare challenge; a malformed header -> 400
        try:
            credentials = parse_authorization(request.headers.getlist("Authorization"))
        except MalformedAuthorization as malformed:
            return guards.oauth_error(
                400,
                "invalid_request",
                str(malformed),
                {"WWW-Authenticate": challenge("Bearer", realm=REALM, error="invalid_request")},
            )
        if credentials is not None and guards.access_token_in_uri_or_body():
            return guards.oauth_error(  # RFC 6750 section 2: one method per request
                400, "invalid_request", "Send the access token one way only: in the header.",
                {"WWW-Authenticate": challenge("Bearer", realm=REALM, error="invalid_request")},
            )
        if credentials is None or credentials.scheme != "bearer":
            return guards.oauth_error(
                401,
                "missing_token",
                "Send the access token: Authorization: Bearer <token>.",
                {"WWW-Authenticate": challenge("Bearer", realm=REALM)},
            )
        return server.create_endpoint_response("userinfo")

    @app.get("/")
    def index() -> Response:
        return jsonify(
            name="oauth", issuer=issuer(), discovery=f"{issuer()}/.well-known/openid-configuration"
        )


def install(app: Flask, **parts: Any) -> Flask:
    install_json_errors(app)
    register_routes(app, **parts)
    return app
