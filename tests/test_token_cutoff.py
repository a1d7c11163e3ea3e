"""Log out everywhere on the ``tokens`` server: the per-user cut-off.

Black box: two ``tokens`` processes, each with its own SQLite (so neither knows the other's
logins), sharing one real redis-server through ``--redis``. Both run with ``--clock`` so a
test can step past the second of a cut (``iat`` has whole seconds) without waiting; both
clocks are always moved together. Then the SQLite default, in-process.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from helpers.notebook.course_clock import CourseClock
from helpers.notebook.redis_server import RedisServer
from helpers.servers.tokens import create_app
from helpers.servers.tokens.cutoff import cutoff_second
from helpers.stores.cutoffs import SQLiteCutoffs
from tests import support
from tests.support import (
    TIMEOUT,
    CliServer,
    assert_json_error,
    run_concurrently,
    start_cli_server,
)

# the shared real redis-server, one for the module
redis_server = support.redis_server


@pytest.fixture(scope="module")
def pair(redis_server: RedisServer,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CliServer, CliServer]]:
    where = tmp_path_factory.mktemp("tokens-pair")
    servers = [start_cli_server("tokens", "--redis", redis_server.url, "--clock",
                                "--db", str(where / f"{name}.db")) for name in "ab"]
    yield servers[0], servers[1]
    for server in servers:
        server.stop_cleanly()


@pytest.fixture
def a(pair: tuple[CliServer, CliServer]) -> str:
    return pair[0].url


@pytest.fixture
def b(pair: tuple[CliServer, CliServer]) -> str:
    return pair[1].url


def next_second(pair: tuple[CliServer, CliServer]) -> None:
    """Move both instances' clocks past the second of any cut made so far."""
    for server in pair:
        server.advance(1.5)


def log_in(url: str, username: str = "alice") -> dict:
    password = {"alice": "wonderland", "bob": "builder"}[username]
    answer = requests.post(f"{url}/login", json={"username": username, "password": password},
                           timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return answer.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(url: str, token: str) -> requests.Response:
    return requests.get(f"{url}/me", headers=bearer(token), timeout=TIMEOUT)


def works(url: str, token: str) -> bool:
    answer = me(url, token)
    if answer.status_code == 401:
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
        return False
    assert answer.status_code == 200, answer.text
    return True


def refresh(url: str, refresh_token: str) -> requests.Response:
    return requests.post(f"{url}/refresh", json={"refresh_token": refresh_token}, timeout=TIMEOUT)


def log_out_everywhere(url: str, token: str) -> requests.Response:
    return requests.post(f"{url}/logout-everywhere", headers=bearer(token), timeout=TIMEOUT)


def test_log_out_everywhere_on_a_refuses_every_earlier_token_on_b(pair, a: str, b: str) -> None:
    next_second(pair)
    on_a, on_b, bobs = log_in(a), log_in(b), log_in(b, "bob")
    assert works(a, on_b["access_token"]) and works(b, on_a["access_token"])  # one key set
    assert log_out_everywhere(a, on_a["access_token"]).status_code == 204
    for url in (a, b):
        for pair_of_tokens in (on_a, on_b):
            answer = me(url, pair_of_tokens["access_token"])
            assert_json_error(answer, 401, "invalid_token", field="error_description",
                              challenge='Bearer realm="tokens", error="invalid_token"')
            if not (url == a and pair_of_tokens is on_a):  # A also denied its own jtis
                assert "logged out everywhere" in answer.json()["error_description"]
        assert works(url, bobs["access_token"])
    # B's own login (a refresh family in B's SQLite, which A never saw) cannot refresh
    assert_json_error(refresh(b, on_b["refresh_token"]), 400, "invalid_grant",
                      field="error_description")
    assert_json_error(refresh(a, on_a["refresh_token"]), 400, "invalid_grant",
                      field="error_description")
    assert refresh(b, bobs["refresh_token"]).status_code == 200
    next_second(pair)
    fresh = log_in(b)  # a new login after the cut's second works everywhere
    assert works(a, fresh["access_token"]) and works(b, fresh["access_token"])
    assert refresh(b, fresh["refresh_token"]).status_code == 200


def iat_of(token: str) -> int:
    return jwt.decode(token, options={"verify_signature": False})["iat"]


def test_a_token_of_the_same_second_as_the_cut_is_refused_too(pair, a: str, b: str) -> None:
    """``iat`` has whole seconds: a login just after the cut, in the same second, is refused."""
    for _ in range(3):  # a busy machine may cross a second boundary; try again then
        next_second(pair)
        for server in pair:  # both clocks to just after a whole second
            now = server.advance(0)
            server.advance(math.ceil(now) - now + 0.01)
        first = log_in(a)
        assert log_out_everywhere(a, first["access_token"]).status_code == 204
        same_second = log_in(b)
        if iat_of(same_second["access_token"]) == iat_of(first["access_token"]):
            break
    else:
        pytest.fail("no login landed in the second of the cut")
    assert not works(b, same_second["access_token"]) and not works(a, same_second["access_token"])
    next_second(pair)
    assert works(b, log_in(b)["access_token"])


def test_a_cut_off_token_cannot_log_out_everywhere_again(pair, a: str) -> None:
    next_second(pair)
    token = log_in(a)["access_token"]
    assert log_out_everywhere(a, token).status_code == 204
    assert_json_error(log_out_everywhere(a, token), 401, "invalid_token",
                      field="error_description")


@pytest.mark.parametrize(("authorization", "status", "error"), [
    (None, 401, "missing_token"), ("Basic YWxpY2U6d29uZGVybGFuZA==", 401, "missing_token"),
    ("Bearer", 400, "invalid_request"), ("Bearer a b", 400, "invalid_request"),
    ("Bearer !!!", 400, "invalid_request"), ("Bearer abc.def.ghi", 401, "invalid_token"),
    ("Bearer " + "A" * 9000, 401, "invalid_token"),
])
def test_hostile_or_missing_credentials_at_logout_everywhere(
        a: str, authorization: str | None, status: int, error: str) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    answer = requests.post(f"{a}/logout-everywhere", headers=headers, data=b"\xff" * 100,
                           timeout=TIMEOUT)
    assert_json_error(answer, status, error, field="error_description")
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="tokens"')


def test_logins_racing_with_log_out_everywhere(pair, a: str, b: str) -> None:
    """Every token whose login finished before the cut was sent is refused on both
    instances afterwards; tokens from logins sent after the cut's second still work."""
    next_second(pair)
    killer = log_in(a)["access_token"]
    tokens: list[tuple[float, dict]] = []  # (when the login was answered, the pair)
    cut_sent: list[float] = []
    cut_done = threading.Event()

    def work(n: int) -> None:
        if n == 0:
            while len(tokens) < 4:
                time.sleep(0.005)
            cut_sent.append(time.time())
            assert log_out_everywhere(a, killer).status_code == 204
            cut_done.set()
            return
        while not cut_done.is_set():
            got = log_in((a, b)[n % 2])
            tokens.append((time.time(), got))

    run_concurrently(work, 5)
    before = [got for answered, got in tokens if answered < cut_sent[0]]
    assert len(before) >= 4 and len(tokens) > len(before)  # some were in flight at the cut
    for got in before:
        assert not works(a, got["access_token"]) and not works(b, got["access_token"])
        assert refresh((a, b)[0], got["refresh_token"]).status_code == 400
    next_second(pair)
    assert works(b, log_in(a)["access_token"])


def test_while_redis_is_down_tokens_are_refused_with_503(pair, a: str, b: str,
                                                         redis_server: RedisServer) -> None:
    next_second(pair)
    alice = log_in(a)
    redis_server.stop()
    try:
        for url in (a, b):
            answers = [me(url, alice["access_token"]),
                       log_out_everywhere(url, alice["access_token"])]
            if url == a:  # the login is in A's store only (B answers invalid_grant: unknown)
                answers.append(refresh(url, alice["refresh_token"]))
            for answer in answers:
                assert_json_error(answer, 503, "store_unavailable", field="error_description")
                assert answer.headers["Retry-After"] == "1"
    finally:
        redis_server.start()
    assert works(b, alice["access_token"])  # Redis is back (empty): the token works again
    assert refresh(a, alice["refresh_token"]).status_code == 200


# -- SQLite, the default -------------------------------------------------------------------------
def test_without_redis_the_cut_off_lives_in_the_servers_sqlite_file(tmp_path: Path) -> None:
    clock = CourseClock()
    path = tmp_path / "tokens.db"
    client = create_app(db=str(path), clock=clock).test_client()
    body = client.post("/login", json={"username": "alice", "password": "wonderland"}).get_json()
    headers = bearer(body["access_token"])
    assert client.get("/me", headers=headers).status_code == 200
    assert client.post("/logout-everywhere", headers=headers).status_code == 204
    assert client.get("/me", headers=headers).status_code == 401
    cutoffs = SQLiteCutoffs(str(path))  # another connection to the same file
    assert cutoffs.cutoff_of("alice") == cutoff_second(clock.time())
    assert cutoffs.cutoff_of("bob") is None
    cutoffs.close()
    restarted = create_app(db=str(path), clock=clock).test_client()  # same file, new server
    assert restarted.get("/me", headers=headers).status_code == 401


def test_a_cut_off_never_moves_back(tmp_path: Path) -> None:
    cutoffs = SQLiteCutoffs(str(tmp_path / "c.db"))
    assert cutoffs.cut("alice", 200, keep_for=60) == 200
    assert cutoffs.cut("alice", 100, keep_for=60) == 200
    assert cutoffs.cutoff_of("alice") == 200
    with pytest.raises(ValueError):
        cutoffs.cut("alice", 300, keep_for=0)
    cutoffs.close()


def test_cutoff_second_rounds_up_past_the_moment_of_the_cut() -> None:
    assert cutoff_second(100.0) == 101
    assert cutoff_second(100.7) == 101
