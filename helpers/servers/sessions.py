"""``sessions``: server-side sessions behind a session-id cookie.

The whole idea in three lines:

* at login the server makes a random id, stores ``id -> who`` on its side, and sends
  the id in a cookie (``Set-Cookie: sid=...; HttpOnly; SameSite=Lax; Path=/``);
* on every later request the browser sends the cookie back and the server looks the
  id up in its store: no row, no session;
* logout deletes the row, so the id is worthless from then on, even to a thief.

Routes: ``GET /`` (a page with a login form), ``POST /login``, ``GET /me``,
``POST /logout``. ``--db PATH`` keeps the sessions in SQLite (``redis://...`` in Redis).
Cross-site requests: the cookie is ``SameSite=Lax``, so a browser leaves it off POSTs
that another site starts, and a POST whose ``Origin`` names another site is refused
with 403 (clients such as ``requests`` send no ``Origin`` and are not affected).

The steps worth reading are small module-level functions (:func:`check_credentials`,
:func:`start_session`, :func:`set_session_cookie`, :func:`is_expired`); ``create_app``
wires them to the routes and adds the input checks.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Flask, Response, jsonify, redirect, render_template_string, request
from werkzeug.security import check_password_hash

from helpers.course_clock import CourseClock
from helpers.course_clock import clock as course_clock
from helpers.errors import install_json_errors, json_error, no_content
from helpers.session_store import SessionRecord, SessionStore, StoreUnavailable, open_store
from helpers.users import DemoUser, load_users

NAME = "sessions"

#: What ``secrets.token_urlsafe(32)`` makes: 43 characters of base64url (256 random bits).
SID_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
#: Longest username or password the login reads (a longer one is a 400, not a hash call).
MAX_FIELD = 1024
#: Largest Cookie header the server reads; bigger gets 431 (browsers keep a cookie <= 4096 bytes).
MAX_COOKIE_HEADER = 8192
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# -- the lesson: four small steps -------------------------------------------------------------


def check_credentials(users: dict[str, DemoUser], username: str, password: str) -> DemoUser | None:
    """The user if ``password`` is theirs, else None (unknown name or wrong password alike)."""
    user = users.get(username)
    # an unknown name still costs one hash check, so it answers as slowly as a wrong password
    password_hash = user.password_hash if user else next(iter(users.values())).password_hash
    password_ok = check_password_hash(password_hash, password)
    return user if user is not None and password_ok else None


def start_session(store: SessionStore, username: str, now: float, ttl: float) -> str:
    """Make a fresh random session id and remember on the server who it belongs to."""
    sid = secrets.token_urlsafe(32)  # 256 random bits from the OS's CSPRNG, never the client's
    store.create(SessionRecord(sid, username, created_at=now, last_seen=now), ttl=ttl)
    return sid


def set_session_cookie(response: Response, name: str, sid: str, secure: bool = False) -> None:
    """Hand the id to the browser: scripts cannot read it, other sites' POSTs do not carry it."""
    response.set_cookie(name, sid, httponly=True, samesite="Lax", path="/", secure=secure)


def is_expired(session: SessionRecord, now: float, idle_timeout: float,
               absolute_timeout: float) -> bool:
    """Idle too long since the last request, or alive too long since login?"""
    idle = now - session.last_seen
    age = now - session.created_at
    return idle > idle_timeout or age > absolute_timeout


# -- the server ----------------------------------------------------------------------------


class BadLogin(Exception):
    """The login request itself is malformed (400) or of the wrong media type (415)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def create_app(
    db: str | None = None,
    *,
    clock: CourseClock = course_clock,
    store: SessionStore | None = None,
    idle_timeout: float = 1800,
    absolute_timeout: float = 8 * 3600,
    cookie_name: str = "sid",
) -> Flask:
    """The ``sessions`` server. ``store`` wins over ``db``; timeouts are course-clock seconds.

    The store is also at ``app.extensions["session_store"]``, for a notebook to look into.
    """
    app = Flask(__name__)
    install_json_errors(app)
    store = store if store is not None else open_store(db)
    users = load_users()
    app.extensions["session_store"] = store

    def presented_sids() -> list[str]:
        """Every well-formed session id in the request's cookies (anything else is ignored)."""
        return [v for v in request.cookies.getlist(cookie_name) if SID_SHAPE.fullmatch(v)]

    def current_session() -> SessionRecord | None:
        """The live session the cookie names, or None. An expired one is deleted on sight."""
        sids = request.cookies.getlist(cookie_name)
        if len(sids) != 1 or not SID_SHAPE.fullmatch(sids[0]):
            return None  # no cookie, two of them, or not an id this server could have made
        session = store.get(sids[0])
        if session is None:
            return None
        now = clock.time()
        if is_expired(session, now, idle_timeout, absolute_timeout):
            store.delete(session.sid)
            return None
        store.touch(session.sid, now)
        return session

    @app.post("/login")
    def login() -> Response:
        username, password = read_credentials()
        user = check_credentials(users, username, password)
        if user is None:
            return json_error(401, "invalid_credentials", "Wrong username or password.")
        for old_sid in presented_sids():  # the id the client came with dies here
            store.delete(old_sid)
        sid = start_session(store, user.username, clock.time(), ttl=absolute_timeout)
        if request.is_json:
            response = jsonify(username=user.username)
        else:
            response = redirect("/", 303)  # a browser form: back to the page
        set_session_cookie(response, cookie_name, sid, secure=request.is_secure)
        return response

    @app.get("/me")
    def me() -> Response:
        session = current_session()
        if session is None:
            return json_error(401, "not_logged_in", "No live session: log in first.")
        return jsonify(username=session.username)

    @app.post("/logout")
    def logout() -> Response:
        for sid in presented_sids():
            store.delete(sid)  # server-side: the id is dead even if someone kept a copy
        if request.mimetype in FORM_TYPES:
            response = redirect("/", 303)  # the page's logout button: back to the page
        else:
            response = no_content()
        response.delete_cookie(cookie_name, path="/", httponly=True, samesite="Lax",
                               secure=request.is_secure)
        return response

    @app.get("/")
    def page() -> Response:
        session = current_session()
        html = render_template_string(PAGE, session=session, cookie_name=cookie_name)
        return Response(html, content_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    # -- reading the login body ---------------------------------------------------------
    def read_credentials() -> tuple[str, str]:
        if request.is_json:
            data: Any = request.get_json(silent=True)
            if not isinstance(data, dict):
                raise BadLogin(400, "invalid_json", "The body must be a JSON object.")
        elif request.mimetype in FORM_TYPES:
            data = request.form
        else:
            raise BadLogin(415, "unsupported_media_type",
                           "Send JSON (application/json) or a form.")
        fields = []
        for name in ("username", "password"):
            value = data.get(name)
            if value is None or value == "":
                raise BadLogin(400, "missing_field", f"{name!r} is required.")
            if not isinstance(value, str):
                raise BadLogin(400, "invalid_field", f"{name!r} must be a string.")
            if len(value) > MAX_FIELD:
                raise BadLogin(400, "invalid_field", f"{name!r} is too long.")
            fields.append(value)
        return fields[0], fields[1]

    # -- guards and errors --------------------------------------------------------------
    @app.before_request
    def guards() -> Response | None:
        if len(request.headers.get("Cookie", "")) > MAX_COOKIE_HEADER:
            return json_error(431, "cookie_too_large",
                              f"The Cookie header is over {MAX_COOKIE_HEADER} bytes.")
        if request.method == "POST" and not same_origin():
            # a form on another site may post here; SameSite=Lax keeps the session cookie
            # off such requests, and this refuses them outright (JSON clients send no Origin)
            return json_error(403, "cross_site_request", "Cross-site POSTs are refused.")
        return None

    def same_origin() -> bool:
        origin = request.headers.get("Origin")
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            return False
        return origin is None or origin == f"{request.scheme}://{request.host}"

    @app.errorhandler(BadLogin)
    def bad_login(exc: BadLogin) -> Response:
        return json_error(exc.status, exc.code, exc.message)

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable) -> Response:
        app.logger.warning("session store unavailable: %s", exc)
        return json_error(503, "store_unavailable",
                          "The session store cannot be reached; try again shortly.",
                          headers={"Retry-After": "1"})

    @app.after_request
    def no_store(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")  # answers depend on the session
        return response

    return app


PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sessions demo</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5 }
 label { display: block; margin: .5em 0 } code { background: #eee; padding: 0 .2em }
</style>
</head>
<body>
<h1>Server-side sessions</h1>
{% if session %}
<p id="status">Logged in as <strong id="username">{{ session.username }}</strong>.</p>
<p>Your browser holds only a random id in the <code>{{ cookie_name }}</code> cookie
(HttpOnly, so this page's scripts cannot read it); who you are is stored on the server.</p>
<form method="post" action="/logout"><button type="submit">Log out</button></form>
{% else %}
<p id="status">Not logged in.</p>
<form method="post" action="/login">
 <label>Username <input name="username" autocomplete="username" required></label>
 <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
 <button type="submit">Log in</button>
</form>
<p>Demo accounts: <code>alice</code> / <code>wonderland</code>, <code>bob</code> / <code>builder</code>.</p>
{% endif %}
<p>JSON: <code>POST /login</code>, <code>GET /me</code>, <code>POST /logout</code>.</p>
</body>
</html>
"""
