"""The ``passkeys`` routes: each reads its input, calls a ceremony, and stores the outcome.

Where a ceremony's challenge is found: the verify calls look the challenge up by the value
the browser signed into ``clientDataJSON`` and take it out of the store in the same step,
so a challenge works once, and only for the ceremony (and, for registration, the account)
it was issued for. py_webauthn then checks it again against the signed data.

The 401 challenge ``WWW-Authenticate: Cookie realm="passkeys", form="/"`` follows RFC 9110
§11.6.1's syntax, but no ``Cookie`` scheme is registered with IANA: it is this course's
convention for "sign in on that page", not a standard.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Flask, Response, jsonify, request
from webauthn.helpers import bytes_to_base64url

from helpers.http import install_json_errors, json_error, no_content
from helpers.notebook.course_clock import CourseClock

from . import ceremonies
from .page import page_response
from .sessions import (
    ABSOLUTE_TIMEOUT,
    COOKIE,
    IDLE_TIMEOUT,
    SID_SHAPE,
    clear_session_cookie,
    is_expired,
    set_session_cookie,
    start_session,
)
from .store import Challenge, Credential, DuplicateCredential, PasskeyStore, Session, User

# WebAuthn refuses IP-address origins (§5.1.3: the effective domain must be a valid domain)
RP_ID = "localhost"
RP_NAME = "Cookies, Sessions and Tokens (demo)"
CHALLENGE_TTL = 120.0  # course-clock seconds a challenge stays good (the server's choice)
MAX_PENDING_CHALLENGES = 10_000  # options calls beyond this get 429 until some expire
MAX_COOKIE_HEADER = 8192
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
CHALLENGE_HEADER = {"WWW-Authenticate": 'Cookie realm="passkeys", form="/"'}


class ApiError(Exception):
    """A refusal the routes raise; answered as the contract's ``{"error", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def build_app(db: str | None = None, *, clock: CourseClock, origin: str | None = None,
              rp_id: str = RP_ID, idle_timeout: float = IDLE_TIMEOUT,
              absolute_timeout: float = ABSOLUTE_TIMEOUT,
              challenge_ttl: float = CHALLENGE_TTL) -> Flask:
    app = Flask(__name__)
    install_json_errors(app)
    store = PasskeyStore(db)
    app.extensions["passkey_store"] = store
    app.config["PUBLIC_HOST"] = rp_id  # the CLI prints http://localhost:PORT

    def expected_origin() -> str:
        # werkzeug's SERVER_PORT is the port the socket is bound to, not the client's Host header
        return origin or f"http://{rp_id}:{request.environ['SERVER_PORT']}"

    # -- sessions ------------------------------------------------------------------------
    def current_session() -> Session | None:
        sids = request.cookies.getlist(COOKIE)
        if len(sids) != 1 or not SID_SHAPE.fullmatch(sids[0]):
            return None
        session = store.session(sids[0])
        now = clock.time()
        if session is None or is_expired(session, now, idle_timeout, absolute_timeout):
            if session is not None:
                store.delete_session(session.sid)
            return None
        store.touch_session(session.sid, now)
        return session

    def live_sessions_of(username: str) -> list[Session]:
        """The user's sessions still alive on the course clock (expired ones are deleted)."""
        now, alive = clock.time(), []
        for session in store.sessions_of(username):
            if is_expired(session, now, idle_timeout, absolute_timeout):
                store.delete_session(session.sid)
            else:
                alive.append(session)
        return alive

    def signed_in() -> Session:
        session = current_session()
        if session is None:
            raise ApiError(401, "not_signed_in", "No live session: sign in with a passkey first.")
        return session

    # -- registration ----------------------------------------------------------------------
    @app.post("/register/options")
    def register_options() -> Response:
        username = read_username(read_json())
        user = store.user(username)
        if user is not None:
            require_owner(username)
        handle = user.user_handle if user else secrets.token_bytes(32)
        existing = [c.credential_id for c in store.credentials_of(username)]
        options, challenge = ceremonies.registration_options(
            rp_id=rp_id, rp_name=RP_NAME, username=username, user_handle=handle, existing=existing)
        remember(Challenge(challenge, "register", username, handle, clock.time() + challenge_ttl))
        return jsonify(options)

    @app.post("/register/verify")
    def register_verify() -> Response:
        body = read_json()
        username = read_username(body)
        credential = ceremonies.parse_registration(body.get("credential"))
        issued = take_challenge(credential.response.client_data_json, "register")
        if issued.username != username:
            raise ApiError(400, "challenge_mismatch",
                           "That challenge was issued for another username.")
        user = store.user(username)
        if user is not None:
            if user.user_handle != issued.user_handle:
                raise ApiError(409, "username_taken", "Someone registered this username meanwhile.")
            require_owner(username)
        verified = ceremonies.verify_registration(
            credential, challenge=issued.challenge, rp_id=rp_id, origin=expected_origin())
        now = clock.time()
        transports = [t.value for t in credential.response.transports or []]
        try:
            store.add_credential(
                User(username, issued.user_handle or b"", now),
                Credential(verified.credential_id, username, verified.credential_public_key,
                           verified.sign_count, transports, now, None))
        except DuplicateCredential:
            raise ApiError(409, "credential_exists",
                           "This passkey is already registered.") from None
        response = jsonify(username=username,
                           credential_id=bytes_to_base64url(verified.credential_id))
        response.status_code = 201
        return response

    def require_owner(username: str) -> None:
        session = current_session()
        if session is None or session.username != username:
            raise ApiError(403, "not_your_account",
                           f"Only a signed-in session of {username!r} may add a passkey to it.")

    # -- sign-in ---------------------------------------------------------------------------
    @app.post("/login/options")
    def login_options() -> Response:
        if request.get_data(cache=True) or request.mimetype:  # no body at all is as good as {}
            read_json()
        options, challenge = ceremonies.authentication_options(rp_id=rp_id)
        remember(Challenge(challenge, "login", None, None, clock.time() + challenge_ttl))
        return jsonify(options)

    @app.post("/login/verify")
    def login_verify() -> Response:
        credential = ceremonies.parse_authentication(read_json().get("credential"))
        issued = take_challenge(credential.response.client_data_json, "login")
        stored = store.credential(credential.raw_id)
        if stored is None:
            raise ApiError(400, "unknown_credential", "No account has this passkey.")
        owner = store.user(stored.username)
        handle = credential.response.user_handle
        if handle is None:
            # WebAuthn §7.2: the user was not identified before this ceremony (no username,
            # allowCredentials empty), so response.userHandle must be present
            raise ApiError(400, "user_handle_missing",
                           "A sign-in without a username must carry the passkey's user handle.")
        if owner is None or handle != owner.user_handle:
            # WebAuthn §7.2: the user handle the authenticator returns must name the key's owner
            raise ApiError(400, "user_handle_mismatch",
                           "The passkey's user handle is not its owner's.")
        verified = ceremonies.verify_authentication(
            credential, challenge=issued.challenge, rp_id=rp_id, origin=expected_origin(),
            public_key=stored.public_key, sign_count=stored.sign_count)
        now = clock.time()
        store.record_use(stored.credential_id, verified.new_sign_count, now)
        for old in request.cookies.getlist(COOKIE):  # the id the browser came with dies here
            store.delete_session(old)
        sid = start_session(store, stored.username, now, request.headers.get("User-Agent", ""))
        response = jsonify(username=stored.username)
        set_session_cookie(response, sid)
        return response

    # -- the session that follows ----------------------------------------------------------
    @app.get("/me")
    def me() -> Response:
        return jsonify(username=signed_in().username)

    @app.get("/devices")
    def devices() -> Response:
        session = signed_in()
        passkeys = [{"credential_id": bytes_to_base64url(c.credential_id), "created": c.created,
                     "last_used": c.last_used, "sign_count": c.sign_count,
                     "transports": c.transports} for c in store.credentials_of(session.username)]
        sessions = [{"id": s.sid[:8], "created": s.created, "last_seen": s.last_seen,
                     "user_agent": s.user_agent, "current": s.sid == session.sid}
                    for s in live_sessions_of(session.username)]
        return jsonify(passkeys=passkeys, sessions=sessions)

    @app.post("/logout")
    def logout() -> Response:
        for sid in request.cookies.getlist(COOKIE):
            store.delete_session(sid)
        response = no_content()
        clear_session_cookie(response)
        return response

    @app.post("/logout-everywhere")
    def logout_everywhere() -> Response:
        store.delete_sessions_of(signed_in().username)
        response = no_content()
        clear_session_cookie(response)
        return response

    @app.get("/")
    def page() -> Response:
        return page_response()

    # -- challenges --------------------------------------------------------------------------
    def remember(challenge: Challenge) -> None:
        if not store.add_challenge(challenge, clock.time(), MAX_PENDING_CHALLENGES):
            raise ApiError(429, "too_many_ceremonies", "Too many unfinished ceremonies; try later.")

    def take_challenge(client_data_json: bytes, purpose: str) -> Challenge:
        issued = store.take_challenge(ceremonies.signed_challenge(client_data_json))
        if issued is None:
            raise ApiError(400, "unknown_challenge",
                           "This challenge was not issued here, or was already used.")
        if issued.purpose != purpose:
            raise ApiError(400, "wrong_ceremony",
                           f"That challenge was issued for {issued.purpose}.")
        if clock.time() >= issued.expires:
            raise ApiError(400, "challenge_expired", "That challenge has expired; start again.")
        return issued

    # -- reading input, guards, errors --------------------------------------------------------
    def read_json() -> dict[str, Any]:
        if not request.is_json:
            raise ApiError(415, "unsupported_media_type", "Send JSON (application/json).")
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # json.loads on deeply nested arrays
            data = None
        if not isinstance(data, dict):
            raise ApiError(400, "invalid_json", "The body must be a JSON object.")
        return data

    def read_username(body: dict[str, Any]) -> str:
        username = body.get("username")
        if not isinstance(username, str) or not USERNAME.fullmatch(username):
            raise ApiError(400, "invalid_username",
                           "'username' must be 1-64 letters, digits or . _ @ -"
                           " (starting with a letter or digit).")
        return username

    @app.before_request
    def guards() -> Response | None:
        if len(request.headers.get("Cookie", "")) > MAX_COOKIE_HEADER:
            return json_error(431, "cookie_too_large",
                              f"The Cookie header is over {MAX_COOKIE_HEADER} bytes.")
        sent_origin = request.headers.get("Origin")
        if request.method == "POST" and sent_origin not in (None, expected_origin()):
            # a page on another origin may post here; SameSite=Lax keeps the cookie off such
            # requests, and this refuses them outright (clients such as requests send no Origin)
            return json_error(403, "cross_origin_request",
                              "POSTs from another origin are refused; this server is"
                              f" {expected_origin()}.")
        return None

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return json_error(exc.status, exc.code, exc.message,
                          headers=CHALLENGE_HEADER if exc.status == 401 else None)

    @app.errorhandler(ceremonies.CeremonyError)
    def ceremony_error(exc: ceremonies.CeremonyError) -> Response:
        return json_error(400, exc.code, exc.message)

    @app.after_request
    def no_store(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
