"""The `sessions` demo server, driven as a black box through ``python -m helpers serve sessions``.

Expiry and a failing store need control over the server's clock and store, so those few
tests build the app in-process with ``create_app(clock=..., store=...)`` instead.
"""

from __future__ import annotations

import http.client
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from helpers.notebook.course_clock import CourseClock
from helpers.servers.sessions import create_app
from helpers.stores import MemorySessionStore, SessionRecord, SQLiteSessionStore, StoreUnavailable
from tests.support import (
    COOKIE_CHALLENGE,
    TIMEOUT,
    CliServer,
    run_concurrently,
    start_cli_server,
)
from tests.support import assert_json_error as assert_contract_error
from tests.support import login as login_request

SID = re.compile(r"^[A-Za-z0-9_-]{43}$")


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sessions") / "sessions.db"


@pytest.fixture(scope="module")
def server(db_path: Path) -> Iterator[CliServer]:
    """One server for the module, on SQLite so the tests can count its sessions.

    (The in-memory default is what the browser tests and tests/test_cli.py start.)
    """
    running = start_cli_server("sessions", "--db", str(db_path))
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def url(server: CliServer) -> str:
    return server.url


@pytest.fixture(scope="module")
def bobs_sid(url: str) -> str:
    """One live session for the tests that only read it (each login costs a deliberate scrypt)."""
    return sid_of(login(url, "bob"))


def login(url: str, username: str = "alice", password: str | None = None,
          client: requests.Session | None = None) -> requests.Response:
    return login_request(url, username, password, http=client or requests)


def sid_of(response: requests.Response) -> str:
    assert response.status_code in (200, 303), response.text
    sid = response.cookies.get("sid")
    assert sid is not None and SID.match(sid), response.headers.get("Set-Cookie")
    return sid


def me(url: str, sid: str | None) -> requests.Response:
    return requests.get(f"{url}/me", cookies={"sid": sid} if sid else None, timeout=TIMEOUT)


def assert_json_error(response: requests.Response, status: int, code: str | None = None) -> None:
    """The contract's error, and on a 401 the cookie-session challenge (a course convention)."""
    assert_contract_error(response, status, code,
                          challenge=COOKIE_CHALLENGE if status == 401 else None)


def raw_request(url: str, method: str, path: str, headers: dict[str, bytes],
                body: bytes = b"") -> tuple[int, bytes, http.client.HTTPMessage]:
    """Send exactly these header bytes (requests would refuse or re-encode odd ones)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        conn.putrequest(method, path)
        for name, value in headers.items():
            conn.putheader(name, value)
        if body or method == "POST":
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        response = conn.getresponse()
        return response.status, response.read(), response.headers
    finally:
        conn.close()


# --- the contract ------------------------------------------------------------------------------


def test_page_has_a_login_form(url: str) -> None:
    page = requests.get(url + "/", timeout=TIMEOUT)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert re.search(r'<form method="post" action="/login">', html)
    assert 'name="username"' in html and 'name="password"' in html
    assert "Not logged in" in html


def test_json_login_sets_an_httponly_lax_cookie_on_path_root(url: str) -> None:
    answer = login(url)
    assert answer.status_code == 200
    assert answer.json() == {"username": "alice"}
    set_cookie = answer.headers["Set-Cookie"]
    assert set_cookie.startswith("sid=")
    attributes = {part.strip().lower() for part in set_cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    assert SID.match(sid_of(answer))


def test_me_with_and_without_a_session(url: str, bobs_sid: str) -> None:
    answer = me(url, bobs_sid)
    assert answer.status_code == 200 and answer.json() == {"username": "bob"}
    assert_json_error(me(url, None), 401, "not_logged_in")


def test_the_page_shows_who_is_logged_in(url: str, bobs_sid: str) -> None:
    html = requests.get(url + "/", cookies={"sid": bobs_sid}, timeout=TIMEOUT).text
    assert re.search(r"Logged in as <strong[^>]*>bob</strong>", html)
    assert 'action="/logout"' in html


def test_logout_deletes_the_session_and_a_replayed_cookie_is_refused(url: str) -> None:
    sid = sid_of(login(url))
    out = requests.post(f"{url}/logout", cookies={"sid": sid}, timeout=TIMEOUT)
    assert out.status_code == 204 and out.content == b""
    expired = out.headers["Set-Cookie"]
    assert expired.startswith("sid=;") and "Max-Age=0" in expired and "Path=/" in expired
    assert_json_error(me(url, sid), 401)  # a copy of the old cookie is worthless


def test_logout_without_a_session_is_204_too(url: str) -> None:
    assert requests.post(f"{url}/logout", timeout=TIMEOUT).status_code == 204
    answer = requests.post(f"{url}/logout", cookies={"sid": "x" * 43}, timeout=TIMEOUT)
    assert answer.status_code == 204


def test_every_login_gets_a_fresh_id_and_the_old_one_dies(url: str) -> None:
    client = requests.Session()
    first = sid_of(login(url, client=client))
    second = sid_of(login(url, client=client))  # the client sends `first` along
    assert first != second
    assert_json_error(me(url, first), 401)
    assert me(url, second).status_code == 200
    # ids are random, not derived from the user or the time
    third = sid_of(login(url))
    assert len({first, second, third}) == 3


def test_a_client_chosen_id_is_never_adopted(url: str) -> None:
    chosen = "A" * 43  # well-formed, so only the server's policy can refuse it
    answer = requests.post(f"{url}/login", json={"username": "alice", "password": "wonderland"},
                           cookies={"sid": chosen}, timeout=TIMEOUT)
    assert sid_of(answer) != chosen
    assert_json_error(me(url, chosen), 401)


def test_session_fixation_with_a_planted_real_id_fails(url: str) -> None:
    """The attacker logs in, plants their id in the victim's browser; the victim logs in."""
    planted = sid_of(login(url, "bob"))
    victim = requests.Session()
    victim.cookies.set("sid", planted, domain="127.0.0.1", path="/")
    victims_sid = sid_of(login(url, "alice", client=victim))
    assert victims_sid != planted
    assert_json_error(me(url, planted), 401)  # the attacker's copy now names nothing
    assert me(url, victims_sid).json() == {"username": "alice"}


def test_form_login_redirects_with_a_cookie_and_form_logout_redirects(url: str) -> None:
    answer = requests.post(f"{url}/login", data={"username": "alice", "password": "wonderland"},
                           allow_redirects=False, timeout=TIMEOUT)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    sid = sid_of(answer)
    assert me(url, sid).json() == {"username": "alice"}
    # a browser's form with only a button posts an empty urlencoded body
    out = requests.post(f"{url}/logout", data=b"", cookies={"sid": sid}, allow_redirects=False,
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                        timeout=TIMEOUT)
    assert out.status_code == 303 and "Max-Age=0" in out.headers["Set-Cookie"]
    assert me(url, sid).status_code == 401


@pytest.mark.parametrize("username, password", [("alice", "builder"), ("nobody", "wonderland"),
                                                ("Alice", "wonderland")])
def test_wrong_credentials_are_401_and_say_the_same_thing(url: str, username: str,
                                                          password: str) -> None:
    answer = login(url, username, password)
    assert_json_error(answer, 401, "invalid_credentials")
    assert "Set-Cookie" not in answer.headers
    assert answer.json()["message"] == "Wrong username or password."


def test_a_wrong_password_does_not_end_the_current_session(url: str) -> None:
    client = requests.Session()
    sid = sid_of(login(url, client=client))
    assert_json_error(login(url, "alice", "nope", client=client), 401)
    assert me(url, sid).status_code == 200


# --- bad input ---------------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("body, headers, status, code", [
    (b"{bad json", JSON, 400, "invalid_json"),
    (b"", JSON, 400, "invalid_json"),
    (b"[]", JSON, 400, "invalid_request"),
    (b"null", JSON, 400, "invalid_request"),
    (b'"alice"', JSON, 400, "invalid_request"),
    (b"\xff\xfe\x00{", JSON, 400, "invalid_json"),
    (b'{"username": NaN, "password": "x"}', JSON, 400, "invalid_json"),
    (b'{"username": "bob", "username": "alice", "password": "wonderland"}', JSON, 400,
     "invalid_json"),
    (b'{"username": "alice"}', JSON, 400, "invalid_request"),
    (b'{"password": "wonderland"}', JSON, 400, "invalid_request"),
    (b'{"username": "", "password": "wonderland"}', JSON, 400, "invalid_request"),
    (b'{"username": null, "password": "wonderland"}', JSON, 400, "invalid_request"),
    (b'{"username": 7, "password": "wonderland"}', JSON, 400, "invalid_request"),
    (b'{"username": "alice", "password": ["wonderland"]}', JSON, 400, "invalid_request"),
    (b'{"username": {"$ne": 1}, "password": true}', JSON, 400, "invalid_request"),
    (b'{"username": "alice", "password": "' + b"p" * 5000 + b'"}', JSON, 400, "invalid_request"),
    (b"username=alice", {"Content-Type": "application/x-www-form-urlencoded"}, 400,
     "invalid_request"),
    (b"username=bob&username=alice&password=wonderland",
     {"Content-Type": "application/x-www-form-urlencoded"}, 400, "invalid_request"),
    (b"username=alice&password=wonderland", {"Content-Type": "text/plain"}, 415, None),
    (b"username=alice&password=wonderland", {}, 415, None),
    (b"", {}, 415, None),
])
def test_malformed_logins_are_json_4xx(url: str, body: bytes, headers: dict[str, str],
                                       status: int, code: str | None) -> None:
    answer = requests.post(f"{url}/login", data=body, headers=headers, timeout=TIMEOUT)
    assert_json_error(answer, status, code)
    assert "Set-Cookie" not in answer.headers


def test_a_body_over_64_kib_is_413(url: str) -> None:
    body = b'{"username": "alice", "password": "' + b"a" * 70_000 + b'"}'
    assert_json_error(requests.post(f"{url}/login", data=body, headers=JSON, timeout=TIMEOUT), 413)


@pytest.mark.parametrize("size", [9_000, 70_000])
def test_a_huge_cookie_header_is_431(url: str, size: int) -> None:
    answer = requests.get(f"{url}/me", headers={"Cookie": "sid=" + "a" * size}, timeout=TIMEOUT)
    assert answer.status_code == 431
    assert answer.headers["Content-Type"].startswith("application/json")
    assert set(answer.json()) == {"error", "message"}


@pytest.mark.parametrize("cookie", [
    b"sid=", b"sid", b"=", b";;;", b"sid=" + b"a" * 42, b"sid=" + b"a" * 44, b"sid=" + b"a" * 4000,
    b'sid="' + b"a" * 43 + b'"', b"sid=\xff\xfe\xfd", "sid=세션".encode(), b"sid=\x00\x01",
    b"sid=../../etc/passwd", b"sid=' OR 1=1 --", b"sid=%41%41", b"sid=a; sid=b; sid=c",
])
def test_garbage_cookies_are_401_never_500(url: str, cookie: bytes) -> None:
    status, body, headers = raw_request(url, "GET", "/me", {"Cookie": cookie})
    assert status == 401, body
    assert headers["Content-Type"].startswith("application/json")
    assert headers["WWW-Authenticate"] == COOKIE_CHALLENGE
    status, _, _ = raw_request(url, "GET", "/", {"Cookie": cookie})
    assert status == 200
    status, _, _ = raw_request(url, "POST", "/logout", {"Cookie": cookie})
    assert status == 204


def test_a_repeated_session_cookie_is_refused(url: str, bobs_sid: str) -> None:
    sid = bobs_sid
    status, _, _ = raw_request(url, "GET", "/me", {"Cookie": f"sid={sid}; sid={sid}".encode()})
    assert status == 401
    status, _, _ = raw_request(url, "GET", "/me", {"Cookie": f"sid={sid}; other=1".encode()})
    assert status == 200


@pytest.mark.parametrize("method, path", [("GET", "/login"), ("PUT", "/login"), ("DELETE", "/me"),
                                          ("POST", "/me"), ("GET", "/logout"), ("POST", "/")])
def test_wrong_method_is_405_json(url: str, method: str, path: str) -> None:
    answer = requests.request(method, url + path, timeout=TIMEOUT)
    assert_json_error(answer, 405)
    assert "Allow" in answer.headers


def test_unknown_path_is_404_json(url: str) -> None:
    assert_json_error(requests.get(url + "/admin", timeout=TIMEOUT), 404)


def test_a_cross_site_form_post_is_refused(url: str) -> None:
    form = {"username": "alice", "password": "wonderland"}
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}):
        answer = requests.post(f"{url}/login", data=form, headers=headers, allow_redirects=False,
                               timeout=TIMEOUT)
        assert_json_error(answer, 403, "cross_site_request")
        assert "Set-Cookie" not in answer.headers
    same = requests.post(f"{url}/login", data=form, headers={"Origin": url}, allow_redirects=False,
                         timeout=TIMEOUT)
    assert same.status_code == 303


def test_the_server_survived_all_of_it(server: CliServer, bobs_sid: str) -> None:
    assert server.process.poll() is None
    assert me(server.url, None).status_code == 401
    # and others' logins did not end it
    assert me(server.url, bobs_sid).json() == {"username": "bob"}


# --- SQLite: restart and concurrency -------------------------------------------------------------


def test_sqlite_sessions_survive_a_server_restart(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    first = start_cli_server("sessions", "--db", str(db))
    try:
        sid = sid_of(login(first.url))
        assert me(first.url, sid).status_code == 200
    finally:
        assert first.stop() == 0
    second = start_cli_server("sessions", "--db", str(db))
    try:
        assert me(second.url, sid).json() == {"username": "alice"}
        with sqlite3.connect(db) as peek:  # the row is really in the file
            found = peek.execute("SELECT username FROM sessions WHERE sid = ?", (sid,))
            assert found.fetchone() == ("alice",)
    finally:
        assert second.stop() == 0


def test_concurrent_clients_lose_nothing(server: CliServer, db_path: Path) -> None:
    """8 clients x 50 requests: each logs in, then /me mixed with logout/login; all right."""
    srv = server
    counter = SQLiteSessionStore(db_path)  # a second connection to the server's file
    before = len(counter)
    clients, per_client = 8, 50
    # logins cost a deliberate ~0.1 s of scrypt each, so two per client; the rest is /me
    plan = ["login"] + ["me"] * 22 + ["logout", "me-out", "login"] + ["me"] * 23
    assert len(plan) == per_client - 1  # plus the final step below
    problems: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(n: int) -> None:
        user = "alice" if n % 2 else "bob"
        session = requests.Session()
        steps = plan + (["me"] if n % 2 else ["logout"])  # odd clients end logged in
        start.wait()
        sid = None
        for step in steps:
            try:
                if step == "login":
                    answer = login(srv.url, user, client=session)
                    ok = answer.status_code == 200 and answer.json() == {"username": user}
                    new_sid = session.cookies.get("sid")
                    ok = ok and new_sid is not None and new_sid != sid
                    sid = new_sid
                elif step == "logout":
                    answer = session.post(f"{srv.url}/logout", timeout=TIMEOUT)
                    ok = answer.status_code == 204 and "sid" not in session.cookies
                    session.cookies.set("sid", sid, domain="127.0.0.1", path="/")  # replay it next
                elif step == "me-out":
                    answer = session.get(f"{srv.url}/me", timeout=TIMEOUT)
                    ok = answer.status_code == 401
                    session.cookies.clear()
                else:
                    answer = session.get(f"{srv.url}/me", timeout=TIMEOUT)
                    ok = answer.status_code == 200 and answer.json() == {"username": user}
                with lock:
                    statuses.append(answer.status_code)
                if not ok:
                    with lock:
                        problems.append(
                            f"client {n} {step}: {answer.status_code} {answer.text[:80]}")
            except requests.RequestException as exc:
                with lock:
                    problems.append(f"client {n} {step}: {exc!r}")

    run_concurrently(client, clients)
    assert not problems, problems[:5]
    assert len(statuses) == clients * per_client
    assert 500 not in statuses
    # exactly the clients that ended logged in added a session; nothing else is left over
    assert len(counter) == before + clients // 2
    counter.close()


# --- in-process: the clock, the store, escaping ---------------------------------------------------


@pytest.fixture
def app_parts():
    clock, store = CourseClock(), MemorySessionStore()
    app = create_app(clock=clock, store=store, idle_timeout=1800, absolute_timeout=8 * 3600)
    return app.test_client(), clock, store


def in_process_login(client) -> str:
    answer = client.post("/login", json={"username": "alice", "password": "wonderland"})
    assert answer.status_code == 200
    cookie = client.get_cookie("sid")
    assert cookie is not None
    return cookie.value


def test_an_idle_session_expires_on_the_course_clock(app_parts) -> None:
    client, clock, store = app_parts
    in_process_login(client)
    clock.advance(1799)
    assert client.get("/me").status_code == 200  # activity resets the idle timer
    clock.advance(1799)
    assert client.get("/me").status_code == 200
    clock.advance(1801)
    answer = client.get("/me")
    assert_contract_error(answer, 401, "not_logged_in", challenge=COOKIE_CHALLENGE)
    assert len(store) == 0  # the expired session was deleted, not just refused


def test_activity_cannot_outlive_the_absolute_timeout(app_parts) -> None:
    client, clock, store = app_parts
    in_process_login(client)
    for _ in range(16):  # 16 x 30 min = 8 h of steady activity
        clock.advance(1700)
        assert client.get("/me").status_code == 200
    clock.advance(1700)  # now past 8 h since login
    assert client.get("/me").status_code == 401
    assert len(store) == 0


def test_logout_removes_the_row_and_login_removes_the_previous_one(app_parts) -> None:
    client, _, store = app_parts
    first = in_process_login(client)
    second = in_process_login(client)
    assert store.get(first) is None and store.get(second) is not None
    assert len(store) == 1
    assert client.post("/logout").status_code == 204
    assert len(store) == 0


class DownStore(MemorySessionStore):
    """A store whose backend has gone away."""

    def _down(self, *args: object, **kwargs: object) -> None:
        raise StoreUnavailable("the backend is down")

    create = get = touch = delete = _down  # type: ignore[assignment]


def test_a_store_outage_is_a_503_json_never_a_500() -> None:
    client = create_app(store=DownStore()).test_client()
    client.set_cookie("sid", "a" * 43)
    answers = [
        client.post("/login", json={"username": "alice", "password": "wonderland"}),
        client.get("/me"),
        client.post("/logout"),
        client.get("/"),
    ]
    for answer in answers:
        assert answer.status_code == 503
        assert answer.json["error"] == "store_unavailable" and answer.json["message"]
    # bad credentials are still a 401, with its challenge: the store is not asked
    refused = client.post("/login", json={"username": "alice", "password": "x"})
    assert_contract_error(refused, 401, "invalid_credentials", challenge=COOKIE_CHALLENGE)


def test_two_apps_on_one_store_are_two_instances_of_one_site() -> None:
    """create_app(store=...) shares a store; ``instance`` names who answered."""
    shared = MemorySessionStore()
    one = create_app(store=shared, instance="one").test_client()
    two = create_app(store=shared, instance="two").test_client()
    signed_in = one.post("/login", json={"username": "alice", "password": "wonderland"})
    assert signed_in.status_code == 200
    two.set_cookie("sid", one.get_cookie("sid").value)
    answer = two.get("/me")
    assert answer.status_code == 200 and answer.json == {"username": "alice"}
    assert answer.headers["X-Instance"] == "two"
    assert two.post("/logout").status_code == 204
    assert len(shared) == 0


def test_the_page_escapes_what_it_shows() -> None:
    store = MemorySessionStore()
    clock = CourseClock()
    sid = "b" * 43
    evil = "<script>alert(1)</script>"
    store.create(SessionRecord(sid, evil, clock.time(), clock.time()), ttl=60)
    client = create_app(clock=clock, store=store).test_client()
    client.set_cookie("sid", sid)
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
