"""The ``tokens`` server's routes: each reads the request, calls one step, writes the answer.

Status codes:

* ``/login``, ``/refresh`` and ``/logout`` answer errors as a token endpoint does
  (RFC 6749 section 5.2): 400
  ``{"error": "invalid_request" | "invalid_grant", "error_description"}``
  (413 for a body over 64 KiB); 401 ``invalid_client`` with a ``Basic`` challenge only
  when a client tries HTTP Basic client authentication (this server has one public
  client and no client authentication, so every such try fails);
* ``/me`` follows RFC 6750 section 3.1: no credentials or another scheme -> 401 with a
  bare ``Bearer realm="tokens"`` challenge; a malformed Bearer header -> 400
  ``invalid_request``; a bad, expired or revoked token -> 401 ``error="invalid_token"``;
* ``/logout`` ends a login named by either token, or answers the error for what it
  was given: nothing -> 400 ``invalid_request``; a bad Bearer token -> 401
  ``invalid_token``; an unknown, spent or revoked refresh token -> 400 ``invalid_grant``.

Every 401 carries a ``WWW-Authenticate`` challenge (RFC 9110 section 15.5.2).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from helpers.http import (
    ERROR_DESCRIPTION,
    NO_STORE,
    BadBody,
    MalformedAuthorization,
    challenge,
    install_json_errors,
    json_error,
    no_content,
    parse_authorization,
    read_json_object,
    string_field,
)
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.course_clock import clock as course_clock
from helpers.stores.tokens import TokenStore
from helpers.users import check_credentials, load_users

from .access import ACCESS_TTL, TokenRejected, verify_access_token
from .keys import public_jwks, public_keys
from .refresh import (
    FAMILY_LIFETIME,
    REFRESH_TTL,
    Lifetimes,
    RefreshRefused,
    TokenPair,
    issue_token_pair,
    log_out_with_access_token,
    log_out_with_refresh_token,
    rotate_refresh_token,
)

NAME = "tokens"
#: ``realm`` in the WWW-Authenticate challenges.
REALM = "tokens"


def oauth_error(status: int, error: str, description: str,
                headers: dict[str, str] | None = None) -> Response:
    """An RFC 6749 section 5.2 / RFC 6750 error body, never cached."""
    # Production note: a description that names the exact check that failed teaches the
    # course, but it is a probing oracle for an attacker; a production server answers
    # tersely (the error code alone) and keeps the detail in its logs.
    return json_error(status, error, description, {**NO_STORE, **(headers or {})},
                      field=ERROR_DESCRIPTION)


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """``Bearer realm="tokens"``, with the RFC 6750 error attributes when a token was refused."""
    return challenge("Bearer", realm=REALM, error=error, error_description=description)


def token_rejected(rejected: TokenRejected) -> Response:
    """RFC 6750 section 3.1: 400 for a malformed request, 401 for a refused token."""
    status = 400 if rejected.error == "invalid_request" else 401
    return oauth_error(status, rejected.error, rejected.reason,
                       {"WWW-Authenticate": bearer_challenge(rejected.error, rejected.reason)})


def no_credentials() -> Response:
    """RFC 6750 section 3.1: a request with no credentials gets a challenge with no error code."""
    return oauth_error(401, "missing_token", "send an access token: Authorization: Bearer <token>",
                       {"WWW-Authenticate": bearer_challenge()})


def temporary_db() -> tuple[str, str]:
    """A fresh temporary directory and the SQLite path in it: ``(directory, path)``."""
    directory = tempfile.mkdtemp(prefix="course-tokens-")
    return directory, str(Path(directory) / "tokens.db")


def _release(store: TokenStore, directory: str | None) -> None:
    """Close the store; remove its temporary directory if it had one."""
    store.close()
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def create_app(
    db: str | None = None,
    *,
    clock: CourseClock = course_clock,
    access_ttl: int = ACCESS_TTL,
    refresh_ttl: float = REFRESH_TTL,
    family_lifetime: float = FAMILY_LIFETIME,
) -> Flask:
    """The ``tokens`` server. ``db`` is the SQLite file (default: a temporary one).

    Lifetimes are course-clock seconds. The store is ``app.extensions["token_store"]``.
    The store is closed, and a temporary database removed, when the app is garbage
    collected or the interpreter exits (``weakref.finalize``: one hook per app, not a
    new ``atexit`` handler per call), so re-running a notebook cell leaks nothing.
    """
    app = Flask(__name__)
    install_json_errors(app)
    directory, path = temporary_db() if db is None else (None, db)
    store = TokenStore(path)
    weakref.finalize(app, _release, store, directory)
    app.extensions["token_store"] = store
    app.config["TOKENS_DB"] = path
    lifetimes = Lifetimes(access=int(access_ttl), refresh=refresh_ttl, family=family_lifetime)
    users = load_users()
    keys = public_keys()

    def access_claims(*, for_logout: bool = False) -> dict[str, Any] | None:
        """The verified claims of the request's access token; None if it sent no Bearer token.

        The one place that reads the Authorization scheme and verifies the token.
        Logout accepts an expired or denied token (it checks signature, iss, aud and
        typ, and the store says whether the login is still live).
        """
        try:
            credentials = parse_authorization(request.headers.getlist("Authorization"))
        except MalformedAuthorization as exc:
            raise TokenRejected(str(exc), "invalid_request") from None
        if credentials is None or credentials.scheme != "bearer" or credentials.token is None:
            return None  # the URI query method (RFC 6750 section 2.3) is not supported here
        if "access_token" in request.args:
            raise TokenRejected("send the access token one way only, not also in the URI",
                                "invalid_request")  # RFC 6750 section 3.1
        return verify_access_token(
            credentials.token, keys=keys, clock=clock,
            is_denied=None if for_logout else store.is_jti_denied, check_exp=not for_logout)

    def token_response(pair: TokenPair) -> Response:
        response = jsonify(pair.as_json())
        response.headers.update(NO_STORE)  # RFC 6749 section 5.1
        return response

    @app.before_request
    def purge() -> None:
        store.purge_if_due(now=clock.time())

    @app.before_request
    def no_client_authentication() -> Response | None:
        """RFC 6749 section 5.2: a client that authenticates (HTTP Basic, section 2.3.1) and
        fails gets 401 invalid_client with a challenge; this server has no confidential
        client, so every such attempt fails."""
        if request.endpoint not in ("login", "refresh"):
            return None
        try:
            credentials = parse_authorization(request.headers.getlist("Authorization"))
        except MalformedAuthorization:
            credentials = None
        if credentials is not None and credentials.scheme == "basic":
            return oauth_error(401, "invalid_client",
                               "this server has no client authentication: send no Basic header",
                               {"WWW-Authenticate": challenge("Basic", realm=REALM)})
        return None

    @app.errorhandler(BadBody)
    def bad_body(exc: BadBody) -> Response:
        if request.endpoint in ("login", "refresh", "logout"):
            return oauth_error(exc.oauth_status, "invalid_request", exc.message)
        return json_error(exc.status, exc.code, exc.message)

    app.register_error_handler(TokenRejected, token_rejected)

    @app.errorhandler(RefreshRefused)
    def refresh_refused(refused: RefreshRefused) -> Response:
        return oauth_error(400, refused.error, refused.reason)

    @app.get("/")
    def index() -> Response:
        return jsonify(name=NAME, endpoints=["POST /login", "GET /me", "POST /refresh",
                                             "POST /logout", "GET /.well-known/jwks.json"])

    @app.post("/login")
    def login() -> Response:
        body = read_json_object()
        username, password = string_field(body, "username"), string_field(body, "password")
        user = check_credentials(users, username, password)
        if user is None:
            return oauth_error(400, "invalid_grant", "wrong username or password")
        return token_response(issue_token_pair(store, user.username, now=clock.time(),
                                               lifetimes=lifetimes))

    @app.get("/me")
    def me() -> Response:
        claims = access_claims()
        if claims is None:
            return no_credentials()
        response = jsonify(sub=claims["sub"])
        response.headers.update(NO_STORE)
        return response

    @app.post("/refresh")
    def refresh() -> Response:
        presented = string_field(read_json_object(), "refresh_token")
        return token_response(rotate_refresh_token(store, presented, now=clock.time(),
                                                   lifetimes=lifetimes))

    @app.post("/logout")
    def logout() -> Response:
        """204 when a login was ended; otherwise the error for what the request carried."""
        refresh_token = string_field(read_json_object(allow_empty=True), "refresh_token",
                                     required=False)
        claims = access_claims(for_logout=True)  # checked first: a bad one ends nothing
        if refresh_token is None and claims is None:
            return oauth_error(400, "invalid_request", "send the refresh token in the JSON body,"
                               " the access token as Bearer, or both")
        now, ended = clock.time(), None
        if refresh_token is not None:
            ended = log_out_with_refresh_token(store, refresh_token, now=now)
        if claims is not None and claims["sid"] != ended:
            log_out_with_access_token(store, claims, now=now)
        return no_content()

    @app.get("/.well-known/jwks.json")
    def jwks() -> Response:
        response = jsonify(public_jwks(now=clock.time(), max_token_lifetime=lifetimes.access))
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return app
