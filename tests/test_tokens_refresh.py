"""Refresh-token rotation in the ``tokens`` server.

Over HTTP against the CLI server: rotation, reuse detection (a spent token revokes its
whole family), a 16-thread race on one token, what the SQLite file holds, and, with
``--clock``, expiry and logout with an expired access token. The lifetimes and the purge
schedule are also tested in-process: ``create_app`` with the test's own clock,
driven with Flask's test client.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from helpers.servers import tokens
from tests.support import (
    TIMEOUT,
    CliServer,
    FrozenClock,
    assert_json_error,
    run_concurrently,
    start_cli_server,
)
from tests.support import login as login_request

RACERS = 16
RACE_ROUNDS = 5


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tokens-refresh") / "tokens.db"


@pytest.fixture(scope="module")
def server(db_path: Path) -> Iterator[CliServer]:
    """One CLI server for the module, with ``--clock``: the clock only moves forward, so
    every test reads its times from the server's answers, never from its own clock."""
    srv = start_cli_server("tokens", "--db", str(db_path), "--clock")
    yield srv
    srv.stop_cleanly()


def login(url: str) -> dict[str, Any]:
    response = login_request(url)
    assert response.status_code == 200
    return response.json()


def refresh(url: str, token: str, session: Any = requests) -> requests.Response:
    return session.post(f"{url}/refresh", json={"refresh_token": token}, timeout=TIMEOUT)


def me_status(url: str, access_token: str) -> int:
    return requests.get(f"{url}/me", headers={"Authorization": f"Bearer {access_token}"},
                        timeout=TIMEOUT).status_code


def assert_invalid_grant(response: Any) -> dict[str, Any]:
    """RFC 6749 section 5.2: a refused refresh token is 400 invalid_grant."""
    return assert_json_error(response, 400, "invalid_grant", field="error_description")


# -- rotation over HTTP ----------------------------------------------------------------------
def test_refresh_returns_a_new_pair_and_spends_the_old_token(server: CliServer) -> None:
    first = login(server.url)
    response = refresh(server.url, first["refresh_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    second = response.json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert me_status(server.url, second["access_token"]) == 200
    # the new one rotates in turn
    third = refresh(server.url, second["refresh_token"])
    assert third.status_code == 200
    assert me_status(server.url, third.json()["access_token"]) == 200


def test_reusing_a_spent_token_revokes_the_whole_family(server: CliServer) -> None:
    first = login(server.url)
    second = refresh(server.url, first["refresh_token"]).json()
    third = refresh(server.url, second["refresh_token"]).json()
    assert me_status(server.url, third["access_token"]) == 200

    reuse = refresh(server.url, first["refresh_token"])  # a thief replays the first token
    assert "revoked" in assert_invalid_grant(reuse)["error_description"]
    # the newest refresh token of the family is dead too, and so are its access tokens
    assert_invalid_grant(refresh(server.url, third["refresh_token"]))
    assert me_status(server.url, third["access_token"]) == 401
    assert me_status(server.url, second["access_token"]) == 401


def test_reuse_does_not_touch_another_login(server: CliServer) -> None:
    victim, bystander = login(server.url), login(server.url)
    refresh(server.url, victim["refresh_token"])
    assert_invalid_grant(refresh(server.url, victim["refresh_token"]))
    assert me_status(server.url, bystander["access_token"]) == 200
    assert refresh(server.url, bystander["refresh_token"]).status_code == 200


@pytest.mark.parametrize("token", ["x", "no-such-token-" + "a" * 30, "ünïcode"])
def test_unknown_refresh_tokens_are_refused(server: CliServer, token: str) -> None:
    assert_invalid_grant(refresh(server.url, token))


def test_an_empty_refresh_token_is_a_missing_parameter(server: CliServer) -> None:
    assert_json_error(refresh(server.url, ""), 400, "invalid_request", field="error_description")


def test_an_access_token_is_not_a_refresh_token(server: CliServer) -> None:
    pair = login(server.url)
    assert_invalid_grant(refresh(server.url, pair["access_token"]))
    assert refresh(server.url, pair["refresh_token"]).status_code == 200  # and nothing was revoked


def race(url: str, token: str) -> list[tuple[int, dict[str, Any]]]:
    """RACERS threads present the same refresh token at the same moment; their (status, body)."""
    barrier = threading.Barrier(RACERS)
    sessions = [requests.Session() for _ in range(RACERS)]
    for session in sessions:  # open every connection first, so the requests leave together
        session.get(f"{url}/.well-known/jwks.json", timeout=TIMEOUT)

    def racer(index: int) -> tuple[int, dict[str, Any]]:
        barrier.wait()
        response = refresh(url, token, sessions[index])
        return response.status_code, response.json()

    results = run_concurrently(racer, RACERS, timeout=30)
    for session in sessions:
        session.close()
    return results


def test_sixteen_simultaneous_refreshes_with_one_token_at_most_one_wins(server: CliServer) -> None:
    for _ in range(RACE_ROUNDS):
        pair = login(server.url)
        results = race(server.url, pair["refresh_token"])
        statuses = sorted(status for status, _ in results)
        assert statuses == [200] + [400] * (RACERS - 1), statuses
        assert all(body["error"] == "invalid_grant" for status, body in results if status == 400)
        # the losers presented a spent token: reuse, so even the winner's new pair is revoked
        winner = next(body for status, body in results if status == 200)
        assert_invalid_grant(refresh(server.url, winner["refresh_token"]))
        assert me_status(server.url, winner["access_token"]) == 401


def test_the_database_holds_hashes_never_raw_refresh_tokens(server: CliServer,
                                                           db_path: Path) -> None:
    first = login(server.url)
    second = refresh(server.url, first["refresh_token"]).json()
    raw_tokens = [first["refresh_token"], second["refresh_token"]]
    files = [p for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-journal")) if p.exists()]
    assert db_path in files
    data = b"".join(p.read_bytes() for p in files)
    for raw in raw_tokens:
        assert raw.encode() not in data
        assert hashlib.sha256(raw.encode()).hexdigest().encode() in data


# -- lifetimes, in-process with a clock the test moves -----------------------------------------
ACCESS, REFRESH, FAMILY = 300, 3600, 4 * 3600


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(time.time())


@pytest.fixture
def client(clock: FrozenClock, tmp_path: Path) -> FlaskClient:
    app = tokens.create_app(str(tmp_path / "t.db"), clock=clock, access_ttl=ACCESS,
                            refresh_ttl=REFRESH, family_lifetime=FAMILY)
    return app.test_client()


def local_login(client: FlaskClient, clock: FrozenClock) -> dict[str, Any]:
    """What a successful POST /login does after the password check (skipped: scrypt is slow)."""
    store = client.application.extensions["token_store"]
    pair = tokens.issue_token_pair(store, "bob", now=clock.time(),
                                   lifetimes=tokens.Lifetimes(access=ACCESS, refresh=REFRESH,
                                                              family=FAMILY))
    return pair.as_json()


def local_me(client: FlaskClient, access_token: str) -> Any:
    return client.get("/me", headers={"Authorization": f"Bearer {access_token}"})


def test_access_token_expires_on_the_course_clock(client: FlaskClient, clock: FrozenClock) -> None:
    pair = local_login(client, clock)
    clock.advance(ACCESS - 1)
    assert local_me(client, pair["access_token"]).status_code == 200
    clock.advance(1)
    expired = local_me(client, pair["access_token"])
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert "expired" in expired.get_json()["error_description"]
    # a refresh brings a fresh access token
    fresh = client.post("/refresh", json={"refresh_token": pair["refresh_token"]})
    assert fresh.status_code == 200
    assert local_me(client, fresh.get_json()["access_token"]).status_code == 200


def test_a_refresh_token_expires_when_left_unused(client: FlaskClient, clock: FrozenClock) -> None:
    pair = local_login(client, clock)
    clock.advance(REFRESH - 1)
    renewed = client.post("/refresh", json={"refresh_token": pair["refresh_token"]})
    assert renewed.status_code == 200  # just in time; its successor lives REFRESH seconds again
    clock.advance(REFRESH)
    late = client.post("/refresh", json={"refresh_token": renewed.get_json()["refresh_token"]})
    assert "expired" in assert_invalid_grant(late)["error_description"]


def test_the_family_has_an_absolute_lifetime(client: FlaskClient, clock: FrozenClock) -> None:
    pair = local_login(client, clock)
    token, used = pair["refresh_token"], 0
    while used + REFRESH // 2 < FAMILY:  # refresh diligently, well inside the idle lifetime
        clock.advance(REFRESH // 2)
        used += REFRESH // 2
        response = client.post("/refresh", json={"refresh_token": token})
        assert response.status_code == 200, (used, response.get_json())
        token = response.get_json()["refresh_token"]
    clock.advance(FAMILY - used)
    too_old = client.post("/refresh", json={"refresh_token": token})
    assert "too old" in assert_invalid_grant(too_old)["error_description"]


def test_denylist_rows_are_purged_on_schedule_after_the_token_expires(
        client: FlaskClient, clock: FrozenClock) -> None:
    store = client.application.extensions["token_store"]
    client.get("/")  # the first request purges at once; the next purge is due a minute later
    pair = local_login(client, clock)
    logout = client.post("/logout", json={"refresh_token": pair["refresh_token"]},
                         headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert logout.status_code == 204
    assert [row["reason"] for row in store.rows("denied_jtis")] == ["logout"]
    clock.advance(ACCESS)
    client.get("/")  # any request may run the purge once it is due
    assert store.rows("denied_jtis") == [] and store.rows("access_tokens") == []
    assert local_me(client, pair["access_token"]).status_code == 401  # still refused: expired


def test_the_purge_runs_at_most_once_a_minute_in_batches(tmp_path: Path) -> None:
    from helpers.stores.tokens import PURGE_INTERVAL, TokenStore

    store = TokenStore(str(tmp_path / "purge.db"), purge_batch=10)
    for n in range(25):
        store.deny_jti(f"jti-{n}", 1000, now=900)
    assert store.purge_if_due(now=1000) == 10  # a full batch: a backlog is left ...
    assert store.purge_if_due(now=1000) == 10  # ... so the next request continues it
    assert store.purge_if_due(now=1000) == 5
    store.deny_jti("late", 1001, now=1000)
    assert store.purge_if_due(now=1001) == 0  # not due: at most once per interval
    assert store.purge_if_due(now=1000 + PURGE_INTERVAL) == 1
    plan = store._read("EXPLAIN QUERY PLAN SELECT rowid FROM denied_jtis WHERE expires_at <= 5")
    assert any("denied_jtis_by_expiry" in str(row) for row in plan)
    store.close()


# -- over HTTP with --clock ------------------------------------------------------------------
def test_expiry_over_http_with_the_clock_route(server: CliServer) -> None:
    pair = login(server.url)
    server.advance(tokens.ACCESS_TTL)
    expired = requests.get(f"{server.url}/me", timeout=TIMEOUT,
                           headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert_json_error(expired, 401, "invalid_token", field="error_description")
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert refresh(server.url, pair["refresh_token"]).status_code == 200


def test_logout_with_only_an_expired_access_token_ends_the_login(server: CliServer) -> None:
    pair = login(server.url)
    server.advance(tokens.ACCESS_TTL + 1)
    response = requests.post(f"{server.url}/logout", timeout=TIMEOUT,
                             headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert response.status_code == 204
    assert_invalid_grant(refresh(server.url, pair["refresh_token"]))


def test_works_on_a_live_server_with_a_moved_clock(clock: FrozenClock, tmp_path: Path) -> None:
    from helpers.notebook.live_server import LiveServer

    app = tokens.create_app(str(tmp_path / "live.db"), clock=clock)
    with LiveServer(app, name="tokens-test") as live:
        pair = login(live.url)
        assert me_status(live.url, pair["access_token"]) == 200
        clock.advance(tokens.ACCESS_TTL)
        assert me_status(live.url, pair["access_token"]) == 401
        assert refresh(live.url, pair["refresh_token"]).status_code == 200


def test_default_database_is_a_temporary_file_removed_with_its_app() -> None:
    before = atexit._ncallbacks()
    app = tokens.create_app()
    path = Path(app.config["TOKENS_DB"])
    assert path.exists() and path.name == "tokens.db"
    assert path.parent.name.startswith("course-tokens-")
    again = tokens.create_app()  # a notebook cell run twice
    assert atexit._ncallbacks() == before  # no new atexit handler per call
    del app
    gc.collect()
    assert not path.parent.exists()  # the first app's database went with it
    assert Path(again.config["TOKENS_DB"]).exists()


def test_cli_default_database_is_removed_at_exit(tmp_path: Path) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    srv = start_cli_server("tokens", env={"TMPDIR": str(private_tmp)})
    try:
        assert refresh(srv.url, "unknown").status_code == 400  # the server works
        (made,) = private_tmp.glob("course-tokens-*")
        assert (made / "tokens.db").exists()
    finally:
        assert srv.stop() == 0
    assert list(private_tmp.iterdir()) == []
