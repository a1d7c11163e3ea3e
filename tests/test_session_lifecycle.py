"""The session lifecycle of the ``sessions`` server, black box: two server processes
(``python -m helpers serve sessions --redis URL``) on one real redis-server.

The devices list, ending one session, log out everywhere, a password change, hostile
input on the new routes, Redis down (503, fail closed) and logins racing with log out
everywhere. One Redis and one pair of servers for the whole module; each test logs in
the sessions it needs. A password change is undone by deleting the stored hash.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from helpers.notebook.redis_server import RedisServer
from helpers.paths import DATA_DIR
from helpers.servers.sessions import create_app
from helpers.stores import SQLiteSessionStore
from tests import support
from tests.support import (
    COOKIE_CHALLENGE,
    TIMEOUT,
    CliServer,
    assert_json_error,
    run_concurrently,
    start_cli_server,
)

NEW_PASSWORD = "a much longer passphrase"
SID = re.compile(r"[A-Za-z0-9_-]{43}")

# the shared real redis-server, one for the module
redis_server = support.redis_server


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer) -> Iterator[tuple[CliServer, CliServer]]:
    """Instances A and B of one site: two processes, one Redis."""
    a = start_cli_server("sessions", "--redis", redis_server.url)
    b = start_cli_server("sessions", "--redis", redis_server.url)
    yield a, b
    a.stop_cleanly()
    b.stop_cleanly()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[object]:
    import redis

    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.delete(b"password:session:alice", b"password:session:bob")  # undo password changes
    client.close()


@pytest.fixture
def a(pair: tuple[CliServer, CliServer], redis_client: object) -> str:
    return pair[0].url


@pytest.fixture
def b(pair: tuple[CliServer, CliServer]) -> str:
    return pair[1].url


@pytest.fixture(scope="module")
def bobs(pair: tuple[CliServer, CliServer]) -> str:
    """One session of Bob's for the hostile-input tests (a login costs a deliberate scrypt).

    Their bodies carry Alice's password, which is wrong for Bob: none of them can change his.
    """
    return log_in(pair[0].url, "bob")


def log_in(url: str, username: str = "alice", password: str | None = None,
           agent: str = "test-agent/1") -> str:
    """A fresh session on ``url``; its id."""
    password = password or {"alice": "wonderland", "bob": "builder"}[username]
    answer = requests.post(f"{url}/login", json={"username": username, "password": password},
                           headers={"User-Agent": agent}, timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return answer.cookies["sid"]


def call(method: str, url: str, path: str, sid: str | None = None,
         **kwargs: object) -> requests.Response:
    headers = {"Cookie": f"sid={sid}"} if sid else {}
    headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
    return requests.request(method, url + path, headers=headers, timeout=TIMEOUT,
                            **kwargs)  # type: ignore[arg-type]


def alive(url: str, sid: str) -> bool:
    answer = call("GET", url, "/me", sid)
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def end_all(url: str, username: str = "alice") -> None:
    """Log the user out everywhere, so a test starts from no session of theirs."""
    assert call("POST", url, "/logout-everywhere", log_in(url, username)).status_code == 204


# -- the devices list ----------------------------------------------------------------------------
def test_the_list_shows_every_device_of_the_user_on_either_instance(a: str, b: str) -> None:
    end_all(a)
    on_a = log_in(a, agent="Firefox on a laptop")
    on_b = log_in(b, agent="Chromium on a phone")
    bobs = log_in(b, "bob")
    for url, mine in ((a, on_a), (b, on_b)):
        answer = call("GET", url, "/sessions", mine)
        assert answer.status_code == 200
        assert answer.headers["Cache-Control"] == "no-store"
        rows = answer.json()["sessions"]
        assert [(r["id"], r["user_agent"], r["current"]) for r in rows] == [
            (on_a[:8], "Firefox on a laptop", mine == on_a),
            (on_b[:8], "Chromium on a phone", mine == on_b)]
        assert all(set(r) == {"id", "created", "last_seen", "user_agent", "current"}
                   for r in rows)
        assert all(isinstance(r["created"], float) and r["last_seen"] >= r["created"]
                   for r in rows)
        assert not SID.search(answer.text), "a full session id must never be listed"
        assert bobs[:8] not in answer.text


def test_a_user_agent_is_kept_short(a: str) -> None:
    sid = log_in(a, agent="X" * 5000)
    [row] = [r for r in call("GET", a, "/sessions", sid).json()["sessions"] if r["current"]]
    assert row["user_agent"] == "X" * 200


# -- ending one session --------------------------------------------------------------------------
def test_ending_one_session_ends_it_on_every_instance_and_only_it(a: str, b: str) -> None:
    mine, other = log_in(a), log_in(b)
    assert call("DELETE", a, f"/sessions/{other[:8]}", mine).status_code == 204
    assert not alive(a, other) and not alive(b, other)
    assert alive(a, mine) and alive(b, mine)
    again = call("DELETE", a, f"/sessions/{other[:8]}", mine)
    assert_json_error(again, 404, "no_such_session")


def test_ending_the_current_session_by_its_full_id_expires_the_cookie(a: str) -> None:
    mine = log_in(a)
    answer = call("DELETE", a, f"/sessions/{mine}", mine)
    assert answer.status_code == 204
    assert "sid=;" in answer.headers["Set-Cookie"] and "Max-Age=0" in answer.headers["Set-Cookie"]
    assert not alive(a, mine)


def test_another_users_session_is_404_exactly_like_one_that_does_not_exist(a: str, b: str) -> None:
    mine, bobs = log_in(a), log_in(b, "bob")
    theirs = call("DELETE", a, f"/sessions/{bobs[:8]}", mine)
    nobodys = call("DELETE", a, "/sessions/AAAAAAAA", mine)
    assert_json_error(theirs, 404, "no_such_session")
    assert theirs.json() == nobodys.json()
    assert alive(b, bobs)


@pytest.mark.parametrize("handle", ["abc", "%00%00%00%00%00%00%00%00", "........",
                                    "세션세션세션세션", "A" * 44, "*" * 8, "%2e%2e%2fadmin0",
                                    "x" * 9000])
def test_odd_handles_are_404(a: str, bobs: str, handle: str) -> None:
    answer = call("DELETE", a, f"/sessions/{handle}", bobs)
    assert answer.status_code in (404, 414), answer.text
    if answer.status_code == 404:
        assert_json_error(answer, 404)
    assert alive(a, bobs)


# -- log out everywhere --------------------------------------------------------------------------
def test_log_out_everywhere_on_a_ends_every_session_of_the_user_on_b_too(a: str, b: str) -> None:
    sessions = [log_in(a), log_in(b), log_in(b)]
    bobs = log_in(b, "bob")
    answer = call("POST", a, "/logout-everywhere", sessions[0])
    assert answer.status_code == 204
    assert "Max-Age=0" in answer.headers["Set-Cookie"]
    assert not any(alive(url, sid) for url in (a, b) for sid in sessions)
    assert alive(a, bobs)
    fresh = log_in(b)  # a new login after the cut works at once, on both
    assert alive(a, fresh) and alive(b, fresh)


def test_logins_racing_with_log_out_everywhere(a: str, b: str) -> None:
    """Logins on A and B while A logs alice out everywhere: every login that finished before
    the request was sent is dead, and every session still alive began after it was sent."""
    end_all(a)
    killer = log_in(a)
    logins: list[tuple[float, float, str]] = []
    cut: list[float] = []
    cut_done = threading.Event()

    def work(n: int) -> None:
        if n == 0:
            while len(logins) < 4:  # some logins have finished; more are under way
                time.sleep(0.005)
            cut.append(time.time())
            assert call("POST", a, "/logout-everywhere", killer).status_code == 204
            cut.append(time.time())
            cut_done.set()
            return
        after_cut = 0
        while after_cut < 2:
            after_cut += cut_done.is_set()
            sent = time.time()
            sid = log_in((a, b)[n % 2])
            logins.append((sent, time.time(), sid))

    run_concurrently(work, 5)
    sent_cut, answered_cut = cut
    before = [sid for _, done, sid in logins if done < sent_cut]
    after = [sid for sent, _, sid in logins if sent > answered_cut]
    assert before and after, "the logins did not straddle the cut; the test proved nothing"
    assert not any(alive(a, sid) for sid in before)
    assert all(alive(b, sid) for sid in after)
    listed = call("GET", a, "/sessions", after[0]).json()["sessions"]
    assert all(row["created"] >= sent_cut for row in listed), (sent_cut, listed)
    assert len(listed) == sum(alive(a, sid) for _, _, sid in logins)


# -- changing the password -----------------------------------------------------------------------
def test_a_password_change_ends_every_session_and_renews_the_callers(a: str, b: str,
                                                                     redis_client) -> None:
    users_file = (DATA_DIR / "users.json").read_bytes()
    mine, on_b, bobs = log_in(a), log_in(b), log_in(b, "bob")
    answer = call("POST", a, "/password", mine,
                  json={"current": "wonderland", "new": NEW_PASSWORD})
    assert answer.status_code == 204, answer.text
    renewed = answer.cookies["sid"]
    assert SID.fullmatch(renewed) and renewed != mine
    assert not alive(a, mine) and not alive(b, on_b)  # the old id and every other session
    assert alive(a, renewed) and alive(b, renewed) and alive(b, bobs)
    listed = call("GET", b, "/sessions", renewed).json()["sessions"]
    assert [(r["id"], r["current"]) for r in listed] == [(renewed[:8], True)]
    for url in (a, b):  # the new password on both instances, the old one on neither
        assert_json_error(requests.post(f"{url}/login", json={"username": "alice",
                          "password": "wonderland"}, timeout=TIMEOUT), 401, "invalid_credentials")
        assert alive(url, log_in(url, password=NEW_PASSWORD))
    stored = redis_client.get(b"password:session:alice").decode()
    assert stored.startswith("scrypt:32768:8:1$") and NEW_PASSWORD not in stored
    assert (DATA_DIR / "users.json").read_bytes() == users_file


def test_a_wrong_current_password_changes_nothing(a: str, b: str) -> None:
    mine, on_b = log_in(a), log_in(b)
    answer = call("POST", a, "/password", mine, json={"current": "wrong", "new": NEW_PASSWORD})
    assert_json_error(answer, 403, "wrong_password")
    assert alive(a, mine) and alive(b, on_b)
    assert log_in(b)  # the old password still works


@pytest.mark.parametrize("new", ["short", "x" * 14, "y" * 257])
def test_a_new_password_of_the_wrong_length_is_refused(a: str, bobs: str, new: str) -> None:
    assert_json_error(call("POST", a, "/password", bobs,
                           json={"current": "builder", "new": new}), 400, "weak_password")
    assert alive(a, bobs)


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[]", b'"x"', b"{}", b'{"current": "wonderland"}',
    b'{"current": 1, "new": "a much longer passphrase"}',
    b'{"current": "wonderland", "new": null}',
    b'{"current": "wonderland", "new": "a much longer passphrase", "new": "x"}',
    b'{"current": "\\ud800", "new": "a much longer passphrase"}',
    b'{"current": "wonderland", "new": NaN}',
    b'{"current": "' + b"w" * 5000 + b'", "new": "a much longer passphrase"}',
])
def test_hostile_password_bodies_get_a_json_error(a: str, bobs: str, body: bytes) -> None:
    answer = call("POST", a, "/password", bobs, data=body,
                  headers={"Content-Type": "application/json"})
    assert answer.status_code in (400, 413, 415), answer.text
    assert_json_error(answer, answer.status_code)
    assert alive(a, bobs)


def test_a_form_or_no_type_is_415(a: str, bobs: str) -> None:
    answer = call("POST", a, "/password", bobs, data={"current": "builder", "new": "x" * 20})
    assert_json_error(answer, 415)
    assert alive(a, bobs)


# -- the rules every new route shares -----------------------------------------------------------
ROUTES = [("GET", "/sessions"), ("DELETE", "/sessions/AAAAAAAA"), ("POST", "/logout-everywhere"),
          ("POST", "/password")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("cookie", [None, "not-an-id", "A" * 43, "sid=x; sid=y"])
def test_without_a_live_session_every_route_is_401_with_the_challenge(
        a: str, method: str, path: str, cookie: str | None) -> None:
    headers = {"Cookie": cookie if "=" in (cookie or "") else f"sid={cookie}"} if cookie else {}
    answer = requests.request(method, a + path, headers=headers,
                              json={"current": "wonderland", "new": NEW_PASSWORD},
                              timeout=TIMEOUT)
    assert_json_error(answer, 401, "not_logged_in", challenge=COOKIE_CHALLENGE)


@pytest.mark.parametrize(("method", "path"), ROUTES[1:])
def test_cross_site_requests_that_change_state_are_refused(a: str, bobs: str, method: str,
                                                           path: str) -> None:
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = call(method, a, path, bobs,
                      headers=headers, json={"current": "builder", "new": NEW_PASSWORD})
        assert_json_error(answer, 403, "cross_site_request")
    assert alive(a, bobs)


@pytest.mark.parametrize(("method", "path"), [("GET", "/logout-everywhere"), ("GET", "/password"),
                                              ("POST", "/sessions"), ("PUT", "/sessions/AAAAAAAA")])
def test_other_methods_are_405_json(a: str, method: str, path: str) -> None:
    assert_json_error(requests.request(method, a + path, timeout=TIMEOUT), 405)


# -- Redis down: fail closed ----------------------------------------------------------------------
def test_while_redis_is_down_every_route_is_503_and_nothing_is_let_through(
        a: str, b: str, redis_server: RedisServer) -> None:
    mine = log_in(a)
    handle = mine[:8]
    redis_server.stop()
    try:
        calls = [("POST", "/login", None, {"username": "alice", "password": "wonderland"}),
                 ("GET", "/me", mine, None), ("GET", "/sessions", mine, None),
                 ("DELETE", f"/sessions/{handle}", mine, None),
                 ("POST", "/logout-everywhere", mine, None),
                 ("POST", "/password", mine, {"current": "wonderland", "new": NEW_PASSWORD}),
                 ("POST", "/logout", mine, None)]
        started = time.monotonic()
        for url in (a, b):
            for method, path, sid, body in calls:
                answer = call(method, url, path, sid, json=body)
                assert_json_error(answer, 503, "store_unavailable")
                assert answer.headers["Retry-After"] == "1"
        assert time.monotonic() - started < 10, "a dead Redis must be reported quickly"
    finally:
        redis_server.start()
    # the course's Redis keeps nothing on disk: every session is gone, and the servers
    # work again without a restart
    assert not alive(a, mine)
    assert alive(b, log_in(a))


# -- the same on SQLite, in-process ------------------------------------------------------------
def test_on_sqlite_a_changed_password_outlives_the_server(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    store = SQLiteSessionStore(path)
    client = create_app(store=store).test_client()
    assert client.post("/login", json={"username": "bob", "password": "builder"}).status_code == 200
    changed = client.post("/password", json={"current": "builder", "new": NEW_PASSWORD})
    assert changed.status_code == 204
    store.close()
    reopened = SQLiteSessionStore(path)
    again = create_app(store=reopened).test_client()
    assert again.post("/login", json={"username": "bob", "password": "builder"}).status_code == 401
    answer = again.post("/login", json={"username": "bob", "password": NEW_PASSWORD})
    assert answer.status_code == 200
    rows = [json.loads(json.dumps(r)) for r in again.get("/sessions").get_json()["sessions"]]
    assert [r["current"] for r in rows] == [False, True]  # the renewed one, and this one
    reopened.close()
