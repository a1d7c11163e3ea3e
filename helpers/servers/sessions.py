"""``sessions``: server-side sessions behind a session-id cookie.

The whole idea in three lines:

* at login the server makes a random id, stores ``id -> who`` on its side, and sends
  the id in a cookie (``Set-Cookie: sid=...; HttpOnly; SameSite=Lax; Path=/``);
* on every later request the browser sends the cookie back and the server looks the
  id up in its store: no row, no session;
* logout deletes the row, so the id is worthless from then on, even to a thief.

Routes: ``GET /`` (a page with a login form), ``POST /login``, ``GET /me``,
``POST /logout``. ``--db PATH`` keeps the sessions in SQLite, ``--redis URL`` in Redis.

The session lifecycle (chapter 13), each route for the signed-in user only:

* ``GET /sessions``: the user's live sessions (the devices list), each as an 8-character
  id prefix (a handle: 48 of the id's 256 bits, too few to use it, enough to name it),
  created, last seen, user agent, and ``current`` for the one asking. Never a full id;
* ``DELETE /sessions/<handle>``: end one of them (204). A handle that names no session
  of this user, another user's included, is 404, so the answer never tells that a
  session exists elsewhere;
* ``POST /logout-everywhere``: end every session of the user (204), through the store's
  per-user cut-off (:func:`end_every_session`);
* ``POST /password`` ``{"current", "new"}``: change the password, then end every session
  of the user, and give the caller's device a fresh session with a fresh id (204 with a
  new cookie). That follows the OWASP Session Management Cheat Sheet ("Renew the Session
  ID After Any Privilege Level Change", which names password changes): the old id, which
  a thief may hold (often the reason for the change), dies with every other session,
  while the person who just proved both passwords is not sent back to the login form.
  The new hash (scrypt, as in data/users.json) lives in the session store, never in
  the file. A wrong current password is 403 ``wrong_password``.

When the store cannot be reached (Redis down), every route that needs it answers 503
``store_unavailable`` and does nothing: fail closed, because a server that could not
look a session up, or could not record a logout, must not act as if it had.
Every 401 carries ``WWW-Authenticate: Cookie realm="sessions", form="/login"``: no
registered HTTP authentication scheme covers a cookie session (RFC 9110 section 11
leaves the scheme to a registry, which has none for it), so this challenge is a
convention of the course, not a standard; it satisfies RFC 9110 section 15.5.2 (every
401 names a challenge) and tells a client where to sign in.
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

from flask import Flask, Response, jsonify, redirect, render_template_string, request

from helpers.http import (
    BadBody,
    challenge,
    guard_cookie_size,
    install_json_errors,
    json_error,
    no_content,
    read_json_object,
    string_field,
)
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.course_clock import clock as course_clock
from helpers.pages import page_head
from helpers.stores import SessionRecord, SessionStore, StoreUnavailable, open_session_store
from helpers.users import check_credentials, hash_password, load_users

NAME = "sessions"

#: What ``secrets.token_urlsafe(32)`` makes: 43 characters of base64url (256 random bits).
SID_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: The challenge on every 401 (a course convention: no registered scheme exists for cookies).
CHALLENGE = challenge("Cookie", realm="sessions", form="/login")
#: How much of a session id the devices list shows (its handle).
HANDLE_LENGTH = 8
HANDLE_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,43}")
#: The most of a User-Agent header the devices list keeps.
USER_AGENT_MAX = 200
#: NIST SP 800-63B-4 section 3.1.1.2: a password used alone has at least 15 characters,
#: and at least 64 must be allowed.
PASSWORD_MIN, PASSWORD_MAX = 15, 256
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

__all__ = ["check_credentials", "create_app", "describe_session", "end_every_session",
           "is_expired", "set_session_cookie", "start_session"]


# -- the lesson: four small steps (check_credentials is helpers.users') ---------------------


def start_session(store: SessionStore, username: str, now: float, ttl: float,
                  user_agent: str = "") -> str:
    """Make a fresh random session id and remember on the server who it belongs to."""
    sid = secrets.token_urlsafe(32)  # 256 random bits from the OS's CSPRNG, never the client's
    store.create(SessionRecord(sid, username, created_at=now, last_seen=now,
                               user_agent=user_agent[:USER_AGENT_MAX]), ttl=ttl)
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


# -- the lifecycle: log out everywhere, the devices list -------------------------------------


def end_every_session(store: SessionStore, username: str, now: float,
                      longest_session: float) -> int:
    """Log the user out everywhere: delete every session and set the user's cut-off.

    The store does both at once, and from then on refuses any session of the user created
    before ``now``: a login that read the clock before the cut (its password was checked
    against the old state) cannot slip in afterwards. The cut-off is kept as long as a
    session can live, then forgotten. Returns how many sessions ended.
    """
    return store.end_sessions_of(username, cut=now, keep_for=longest_session)


def describe_session(session: SessionRecord, current_sid: str | None) -> dict[str, object]:
    """One row of the devices list: a handle, never the full id (that is the credential)."""
    return {"id": session.sid[:HANDLE_LENGTH], "created": session.created_at,
            "last_seen": session.last_seen, "user_agent": session.user_agent,
            "current": session.sid == current_sid}


# -- the server ----------------------------------------------------------------------------


def create_app(
    db: str | None = None,
    *,
    redis: str | None = None,
    clock: CourseClock = course_clock,
    store: SessionStore | None = None,
    idle_timeout: float = 1800,
    absolute_timeout: float = 8 * 3600,
    cookie_name: str = "sid",
    instance: str | None = None,
) -> Flask:
    """The ``sessions`` server; timeouts are course-clock seconds.

    Where sessions live: ``store`` (any object with the ``SessionStore`` methods, e.g. one
    Redis store shared by two apps: two instances of one site), else ``redis`` (a URL),
    else ``db`` (an SQLite path), else memory. A store passed in stays the caller's: the
    app never closes it. ``instance`` names this app in an ``X-Instance`` response header,
    so a notebook running several instances sees which one answered. The store is also at
    ``app.extensions["session_store"]``, for a notebook to look into.
    """
    app = Flask(__name__)
    install_json_errors(app)
    guard_cookie_size(app)
    store = store if store is not None else open_session_store(db, redis)
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

    def live_sessions_of(username: str) -> list[SessionRecord]:
        """The user's sessions that are still alive on the course clock (dead ones go)."""
        now, alive = clock.time(), []
        for session in store.sessions_of(username):
            if is_expired(session, now, idle_timeout, absolute_timeout):
                store.delete(session.sid)
            else:
                alive.append(session)
        return alive

    def user_agent() -> str:
        return request.headers.get("User-Agent", "")[:USER_AGENT_MAX]

    @app.post("/login")
    def login() -> Response:
        username, password = read_credentials()
        # the clock is read before the password check: if a password change or a log out
        # everywhere lands while this login is under way, its cut-off is later than this
        # and the store refuses the session
        began = clock.time()
        user = check_credentials(users, username, password, store.password_hash)
        if user is None:
            return json_error(401, "invalid_credentials", "Wrong username or password.")
        for old_sid in presented_sids():  # the id the client came with dies here
            store.delete(old_sid)
        sid = start_session(store, user.username, began, ttl=absolute_timeout,
                            user_agent=user_agent())
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

    # -- the lifecycle ----------------------------------------------------------------------
    def not_logged_in() -> Response:
        return json_error(401, "not_logged_in", "No live session: log in first.")

    def expire_cookie(response: Response) -> Response:
        response.delete_cookie(cookie_name, path="/", httponly=True, samesite="Lax",
                               secure=request.is_secure)
        return response

    @app.get("/sessions")
    def sessions() -> Response:
        session = current_session()
        if session is None:
            return not_logged_in()
        return jsonify(sessions=[describe_session(s, session.sid)
                                 for s in live_sessions_of(session.username)])

    @app.delete("/sessions/<handle>")
    def end_session(handle: str) -> Response:
        session = current_session()
        if session is None:
            return not_logged_in()
        mine = [s for s in live_sessions_of(session.username)
                if HANDLE_SHAPE.fullmatch(handle) and s.sid.startswith(handle)]
        if not mine:  # unknown, malformed, or another user's: the same answer
            return json_error(404, "no_such_session", "You have no session with that id.")
        for s in mine:
            store.delete(s.sid)
        response = no_content()
        return expire_cookie(response) if session.sid in {s.sid for s in mine} else response

    @app.post("/logout-everywhere")
    def logout_everywhere() -> Response:
        session = current_session()
        if session is None:
            return not_logged_in()
        end_every_session(store, session.username, clock.time(), absolute_timeout)
        return expire_cookie(no_content())

    @app.post("/password")
    def change_password() -> Response:
        session = current_session()
        if session is None:
            return not_logged_in()
        body = read_json_object()
        current = str(string_field(body, "current"))
        new = str(string_field(body, "new"))
        if not PASSWORD_MIN <= len(new) <= PASSWORD_MAX:
            return json_error(400, "weak_password", f"The new password needs {PASSWORD_MIN} to"
                              f" {PASSWORD_MAX} characters (NIST SP 800-63B-4 3.1.1.2).")
        if check_credentials(users, session.username, current, store.password_hash) is None:
            return json_error(403, "wrong_password", "The current password is wrong.")
        store.set_password_hash(session.username, hash_password(new))
        now = clock.time()  # after the new hash is stored: see login
        end_every_session(store, session.username, now, absolute_timeout)
        sid = start_session(store, session.username, now, ttl=absolute_timeout,
                            user_agent=session.user_agent)
        response = no_content()
        set_session_cookie(response, cookie_name, sid, secure=request.is_secure)
        return response

    @app.get("/")
    def page() -> Response:
        session = current_session()
        html = render_template_string(PAGE, session=session, cookie_name=cookie_name)
        return Response(html, content_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    # -- reading the login body ---------------------------------------------------------
    def read_credentials() -> tuple[str, str]:
        """Username and password from a JSON object or a form (each field once)."""
        if request.mimetype in FORM_TYPES:
            fields = request.form
            if any(len(fields.getlist(name)) > 1 for name in ("username", "password")):
                raise BadBody(400, "invalid_request", "Send each field once.")
        else:
            fields = read_json_object(accepted="JSON (application/json) or a form")
        username, password = string_field(fields, "username"), string_field(fields, "password")
        return str(username), str(password)

    # -- guards and errors --------------------------------------------------------------
    @app.before_request
    def cross_site_guard() -> Response | None:
        if request.method in UNSAFE_METHODS and not same_origin():
            # a form on another site may post here; SameSite=Lax keeps the session cookie
            # off such requests, and this refuses them outright (JSON clients send no Origin)
            return json_error(403, "cross_site_request", "Cross-site requests that change"
                              " state are refused.")
        return None

    def same_origin() -> bool:
        origin = request.headers.get("Origin")
        if request.headers.get("Sec-Fetch-Site") == "cross-site":
            return False
        return origin is None or origin == f"{request.scheme}://{request.host}"

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable) -> Response:
        app.logger.warning("session store unavailable: %s", exc)
        return json_error(503, "store_unavailable",
                          "The session store cannot be reached; try again shortly.",
                          headers={"Retry-After": "1"})

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")  # answers depend on the session
        if response.status_code == 401:
            response.headers.setdefault("WWW-Authenticate", CHALLENGE)
        if instance is not None:
            response.headers["X-Instance"] = instance
        return response

    return app


PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}

PAGE = page_head("sessions demo", "40em", "1.5", """\
 label { display: block; margin: .5em 0 } code { background: #eee; padding: 0 .2em }
""") + """\
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
 <label>Password
  <input name="password" type="password" autocomplete="current-password" required></label>
 <button type="submit">Log in</button>
</form>
<p>Demo accounts: <code>alice</code> / <code>wonderland</code>,
 <code>bob</code> / <code>builder</code>.</p>
{% endif %}
<p>JSON: <code>POST /login</code>, <code>GET /me</code>, <code>POST /logout</code>,
 <code>GET /sessions</code>, <code>DELETE /sessions/&lt;id&gt;</code>,
 <code>POST /logout-everywhere</code>, <code>POST /password</code>.</p>
</body>
</html>
"""
