"""The routes of the ``bff`` server, thin: each reads its input, calls one step, answers.

Read top to bottom as the lesson goes: ``/login`` starts the authorization-code flow
and remembers its secrets server-side; ``/callback`` checks them and swaps the code for
tokens that stay here; ``/api/*`` is the API the page calls with its cookie, the BFF
calling the provider with the token it holds; ``/logout`` ends the session and revokes
the tokens at the provider.
"""

from __future__ import annotations

import hmac
import re
import threading
from typing import Any

from flask import Flask, Response, jsonify, redirect, request

from helpers.http import json_error, no_content
from helpers.notebook.course_clock import CourseClock
from helpers.stores.sessions import storable_text

from . import cookie
from .csrf import csrf_refusal
from .provider_client import ProviderClient, ProviderError
from .spa import spa_page
from .store import BffStore, SignedIn, Tokens

#: A sign-in must come back within this many course-clock seconds.
LOGIN_TTL = 600
#: A session lasts at most this long (absolute), whatever the refresh token allows.
SESSION_TTL = 8 * 3600
#: Refresh the access token this many seconds before it expires.
REFRESH_MARGIN = 10
MAX_NOTE = 500
CHALLENGE = 'Cookie realm="bff", form="/login"'  # a convention: no such scheme is registered
CALLBACK_PARAMS = frozenset({"code", "state", "iss", "error", "error_description", "error_uri"})
NO_STORE = {"Cache-Control": "no-store"}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
ERROR_CODE = re.compile(r"[a-z_]{1,64}")


def own_origin() -> str:
    """``http://127.0.0.1:PORT`` of the socket the request came in on (never the Host header)."""
    return f"http://{request.environ['SERVER_NAME']}:{request.environ['SERVER_PORT']}"


def userinfo_claims(answer: Any) -> dict[str, Any] | None:
    """The userinfo JSON object, or None for any other answer (a provider may fail too)."""
    if answer.status_code != 200:
        return None
    try:
        info = answer.json()
    except ValueError:
        return None
    return info if isinstance(info, dict) and isinstance(info.get("sub"), str) else None


def not_signed_in() -> Response:
    return json_error(401, "not_signed_in", "Sign in first: GET /login.",
                      {"WWW-Authenticate": CHALLENGE, **NO_STORE})


def bad_callback(error: str, message: str) -> Response:
    return json_error(400, error, message, NO_STORE)


def provider_failed(exc: ProviderError) -> Response:
    return json_error(502, exc.error, exc.message, NO_STORE)


def register_routes(app: Flask, *, store: BffStore, provider: ProviderClient,
                    clock: CourseClock) -> None:
    # one refresh at a time (for all sessions: simple, enough for a demo): a rotated refresh
    # token works once
    refresh_lock = threading.Lock()

    @app.before_request
    def guard() -> Response | None:
        if len(request.headers.get("Cookie", "")) > cookie.MAX_COOKIE_HEADER:
            return json_error(431, "cookie_too_large", "The Cookie header is too large.")
        host = request.host.rsplit(":", 1)[0]
        if host not in LOOPBACK_HOSTS:
            return json_error(400, "bad_host",
                              "This server answers only on 127.0.0.1 or localhost.")
        if request.url_rule is None:
            return None  # no such route: the 404 (or 405) says so, CSRF or not
        refusal = csrf_refusal(request, own_origin())
        return json_error(403, "csrf_refused", refusal) if refusal else None

    @app.after_request
    def no_caching(response: Response) -> Response:
        if request.path.startswith("/api/") or request.path in ("/callback", "/logout"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def redirect_uri() -> str:
        return f"{own_origin()}/callback"

    def signed_in() -> tuple[str, SignedIn] | None:
        sid = cookie.session_id(request)
        who = store.find(sid, now=clock.time()) if sid else None
        return (sid, who) if sid and who else None

    def fresh_tokens(sid: str, tokens: Tokens) -> Tokens:
        """The session's tokens, refreshed first if the access token is (nearly) expired."""
        with refresh_lock:
            current = store.find(sid, now=clock.time())
            if current is None:
                raise ProviderError("invalid_grant", "The session has ended.")
            if current.tokens.access_token != tokens.access_token:
                return current.tokens  # another request refreshed it while we waited
            new = provider.refresh(tokens, now=clock.time())
            store.replace_tokens(sid, tokens, new)
            return new

    def on_own_origin() -> Response | None:
        """A page opened as http://localhost:PORT moves to 127.0.0.1, where the callback and
        cookie live."""
        if request.host_url.rstrip("/") == own_origin():
            return None
        return redirect(own_origin() + request.full_path.rstrip("?"), 302)

    @app.get("/")
    def index() -> Response:
        return on_own_origin() or spa_page()

    @app.get("/login")
    def login() -> Response:
        if (moved := on_own_origin()) is not None:
            return moved
        if signed_in() is not None:  # already signed in: a second login would orphan this session
            return redirect("/", 303)
        store.purge_expired(clock.time())  # logins never finished, sessions past their lifetime
        try:
            url, pending = provider.begin(redirect_uri())
        except ProviderError as exc:
            return provider_failed(exc)
        sid = cookie.new_session_id()
        store.begin_login(sid, pending, now=clock.time(), ttl=LOGIN_TTL)
        response = redirect(url, 302)
        response.headers.update(NO_STORE)
        cookie.set_session_cookie(response, sid)
        return response

    @app.get("/callback")
    def callback() -> Response:
        args = request.args
        if any(len(args.getlist(name)) > 1 for name in args) or set(args) - CALLBACK_PARAMS:
            return bad_callback("invalid_request",
                                "Repeated or unknown parameters in the callback.")
        sid = cookie.session_id(request)
        pending = store.take_login(sid, now=clock.time()) if sid else None
        if pending is None:  # no sign-in started in this browser, it expired, or this is a replay
            return bad_callback("invalid_callback", "No sign-in is in progress in this browser.")
        if not hmac.compare_digest(args.get("state", ""), pending.state):
            return bad_callback("invalid_state", "The state does not match this browser's sign-in.")
        try:
            issuer = provider.metadata()["issuer"]
        except ProviderError as exc:
            return provider_failed(exc)
        if args.get("iss") != issuer:  # RFC 9207 section 2.4: the answer comes from our provider
            return bad_callback("invalid_issuer",
                                "The iss parameter is not this client's provider.")
        if "error" in args:  # RFC 6749 section 4.1.2.1; an unknown shape is not echoed back
            code = args["error"] if ERROR_CODE.fullmatch(args["error"]) else "authorization_error"
            return bad_callback(code, "The provider did not grant access.")
        if not args.get("code"):
            return bad_callback("invalid_request", "The callback carries no code.")
        try:
            who = provider.finish(redirect_uri(), request.url, pending, now=clock.time())
        except ProviderError as exc:
            return (provider_failed(exc) if exc.unreachable
                    else bad_callback(exc.error[:64], exc.message))
        new_sid = cookie.new_session_id()  # a fresh id at sign-in, never the one the login used
        store.sign_in(new_sid, SignedIn(who.sub, who.username, who.tokens), now=clock.time(),
                      ttl=SESSION_TTL)
        response = redirect("/", 303)
        cookie.set_session_cookie(response, new_sid)
        return response

    @app.get("/api/me")
    def me() -> Response:
        found = signed_in()
        if found is None:
            return not_signed_in()
        sid, who = found
        tokens = who.tokens
        try:
            if tokens.access_expires_at - REFRESH_MARGIN <= clock.time():
                tokens = fresh_tokens(sid, tokens)
            answer = provider.userinfo(tokens.access_token)
            if answer.status_code == 401:  # revoked or expired early: refresh once and retry
                tokens = fresh_tokens(sid, tokens)
                answer = provider.userinfo(tokens.access_token)
        except ProviderError as exc:
            if exc.unreachable:
                return provider_failed(exc)
            store.end(sid)  # the grant is gone at the provider: so is this session
            return not_signed_in()
        info = userinfo_claims(answer)
        if info is None:
            return json_error(502, "provider_error",
                              f"The provider's userinfo answer ({answer.status_code}) is unusable.")
        return jsonify(sub=info.get("sub"), preferred_username=info.get("preferred_username"))

    @app.get("/api/notes")
    def list_notes() -> Response:
        found = signed_in()
        return not_signed_in() if found is None else jsonify(notes=store.notes(found[1].sub))

    @app.post("/api/notes")
    def add_note() -> Response:
        found = signed_in()
        if found is None:
            return not_signed_in()
        body = request.get_json(silent=True) if request.is_json else None
        text = body.get("text") if isinstance(body, dict) else None
        if (not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE
                or not storable_text(text)):
            return json_error(400, "invalid_request",
                              f'Send JSON {{"text": "..."}}, 1 to {MAX_NOTE} characters.')
        note_id = store.add_note(found[1].sub, text, now=clock.time())
        return jsonify(id=note_id, text=text), 201

    @app.post("/logout")
    def logout() -> Response:
        sid = cookie.session_id(request)
        ended = store.end(sid) if sid else None
        if ended is None:
            response = not_signed_in()
            cookie.clear_session_cookie(response)
            return response
        revoked = provider.revoke(ended.tokens)
        response = no_content() if revoked else json_error(
            502, "revocation_failed",
            "Signed out here, but the provider could not be told to revoke the tokens.")
        cookie.clear_session_cookie(response)
        return response
