"""The Redis session store against a real redis-server: the contract, expiry, and Redis going away."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterator

import pytest

from helpers import redis_server as redis_server_module
from helpers.redis_server import RedisServer, RedisServerMissing, free_port, ping, redis_server_path
from helpers.session_store import SessionRecord, StoreUnavailable
from tests.conftest import run_concurrently

REQUIRE_SYSTEM_DEPS = os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1"
MISSING = "needs a real redis-server: install the 'redis-server' package"


def need_redis_server() -> None:
    """Skip with a reason when redis-server is missing; fail where it is required (CI)."""
    if shutil.which("redis-server") is None:
        if REQUIRE_SYSTEM_DEPS:
            pytest.fail(MISSING)
        pytest.skip(MISSING)


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    need_redis_server()
    with RedisServer() as running:
        yield running


@pytest.fixture
def store(server: RedisServer):
    from helpers.redis_store import RedisSessionStore

    store = RedisSessionStore.from_url(server.url)
    store.client.flushdb()
    yield store
    store.close()


def record(sid: str = "sid-1", username: str = "alice", t: float = 1_700_000_000.125) -> SessionRecord:
    return SessionRecord(sid=sid, username=username, created_at=t, last_seen=t + 0.5)


# --- the launcher ----------------------------------------------------------------------


def test_server_listens_on_loopback_with_its_own_dir_and_no_persistence(server: RedisServer) -> None:
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    assert server.port > 0 and ping(server.port)
    command = server.command()
    assert command[command.index("--port") + 1] == str(server.port) != "0"
    assert command[command.index("--bind") + 1] == "127.0.0.1"
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert server.directory is not None and server.directory.is_dir()
    assert command[command.index("--dir") + 1] == str(server.directory)


def test_stop_removes_the_dir_and_start_comes_back_on_the_same_port() -> None:
    need_redis_server()
    redis_server = RedisServer().start()
    try:
        port, directory = redis_server.port, redis_server.directory
        redis_server.stop()
        assert not redis_server.running and not ping(port)
        assert directory is not None and not directory.exists()
        redis_server.stop()  # twice is harmless
        redis_server.start()
        assert redis_server.port == port and ping(port)
    finally:
        redis_server.stop()


def test_a_busy_fixed_port_fails_fast_with_the_servers_own_output() -> None:
    need_redis_server()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(redis_server_module.RedisServerError, match=str(port)) as info:
            RedisServer(port).start()
        assert time.monotonic() - started < 5
    assert "output" in str(info.value)


def test_port_zero_is_refused_because_redis_reads_it_as_no_tcp() -> None:
    with pytest.raises(ValueError, match="no TCP"):
        RedisServer(0)


def test_missing_binary_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RedisServerMissing) as info:
        redis_server_path()
    message = str(info.value)
    assert "'redis-server'" in message and "apt-get install redis-server" in message
    assert "conda-forge" in message
    with pytest.raises(RedisServerMissing):
        RedisServer().start()


# --- the store contract ------------------------------------------------------------------


def test_create_then_get_returns_the_same_record(store) -> None:
    store.create(record(), ttl=60)
    assert store.get("sid-1") == record()
    assert store.get("other") is None


def test_ttl_is_set_on_the_key(store) -> None:
    store.create(record(), ttl=90)
    left = store.client.pttl(b"session:sid-1")
    assert 85_000 < left <= 90_000
    store.create(record("short"), ttl=0.2)
    assert 0 < store.client.pttl(b"session:short") <= 200


def test_redis_forgets_an_expired_session(store) -> None:
    store.create(record("brief"), ttl=0.05)
    assert store.get("brief") is not None
    time.sleep(0.12)
    assert store.get("brief") is None
    assert len(store) == 0


def test_touch_updates_last_seen_and_keeps_the_expiry(store) -> None:
    store.create(record(), ttl=60)
    store.touch("sid-1", 1_700_000_100.25)
    got = store.get("sid-1")
    assert got is not None and got.last_seen == 1_700_000_100.25
    assert got.created_at == record().created_at
    assert 0 < store.client.pttl(b"session:sid-1") <= 60_000


def test_touch_never_brings_back_a_missing_session(store) -> None:
    store.touch("gone", 1.0)
    assert store.get("gone") is None
    assert store.client.exists(b"session:gone") == 0


def test_delete_says_whether_the_session_existed(store) -> None:
    store.create(record(), ttl=60)
    assert store.delete("sid-1") is True
    assert store.get("sid-1") is None
    assert store.delete("sid-1") is False


def test_create_replaces_a_session_with_the_same_id(store) -> None:
    store.create(record(username="alice"), ttl=60)
    store.create(record(username="bob"), ttl=60)
    got = store.get("sid-1")
    assert got is not None and got.username == "bob"
    assert len(store) == 1


def test_len_counts_only_this_prefix_and_only_live_sessions(store) -> None:
    from helpers.redis_store import RedisSessionStore

    for n in range(25):
        store.create(record(f"s{n}"), ttl=60)
    store.client.set(b"unrelated", b"x")
    other = RedisSessionStore(store.client, prefix="session*")  # a glob character in the prefix
    other.create(record("x"), ttl=60)
    assert len(store) == 25  # not "unrelated", not "session*x"
    assert len(other) == 1  # the "*" in its prefix is matched literally
    store.delete("s0")
    assert len(store) == 24


def test_prefixes_keep_stores_apart(store) -> None:
    from helpers.redis_store import RedisSessionStore

    mine = RedisSessionStore(store.client, prefix="app-a:")
    theirs = RedisSessionStore(store.client, prefix="app-b:")
    mine.create(record("same"), ttl=60)
    assert theirs.get("same") is None and len(theirs) == 0
    assert mine.get("same") == record("same")


@pytest.mark.parametrize("sid", ["*", "a b", "세션", "x" * 5000, "\ud800lone", "", "session:"])
def test_odd_session_ids_are_just_keys(store, sid: str) -> None:
    assert store.get(sid) is None
    store.create(record(sid), ttl=60)
    assert store.get(sid) == record(sid)
    assert store.delete(sid) is True


def test_a_client_that_decodes_responses_works_too(store, server: RedisServer) -> None:
    import redis

    from helpers.redis_store import RedisSessionStore

    decoding = redis.Redis.from_url(server.url, decode_responses=True)
    other = RedisSessionStore(decoding)
    store.create(record(), ttl=60)
    assert other.get("sid-1") == record()
    other.touch("sid-1", 9.5)
    got = store.get("sid-1")
    assert got is not None and got.last_seen == 9.5
    assert len(other) == 1
    decoding.close()


def test_something_else_under_the_prefix_is_not_a_session(store) -> None:
    store.client.hset(b"session:half", mapping={"username": "alice"})
    store.client.hset(b"session:bad", mapping={"username": "a", "created_at": "x", "last_seen": "1"})
    assert store.get("half") is None and store.get("bad") is None


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), True])
def test_a_ttl_must_be_a_positive_number(store, ttl: float) -> None:
    with pytest.raises(ValueError):
        store.create(record(), ttl=ttl)


def test_concurrent_creates_and_gets_from_threads(store) -> None:
    def work(n: int) -> None:
        for i in range(20):
            sid = f"t{n}-{i}"
            store.create(record(sid), ttl=60)
            assert store.get(sid) == record(sid)

    run_concurrently(work, 4, timeout=10)
    assert len(store) == 80


# --- Redis going away and coming back ----------------------------------------------------


def every_operation(store) -> list:
    return [
        lambda: store.create(record("new"), ttl=60),
        lambda: store.get("sid-1"),
        lambda: store.touch("sid-1", 2.0),
        lambda: store.delete("sid-1"),
        lambda: len(store),
    ]


def test_store_unavailable_while_redis_is_down_then_recovery_on_the_same_port() -> None:
    need_redis_server()
    from helpers.redis_store import RedisSessionStore

    with RedisServer() as redis_server:
        store = RedisSessionStore.from_url(redis_server.url)
        store.create(record(), ttl=60)
        store.get("sid-1")  # a pooled connection now exists, and goes stale below
        redis_server.stop()
        started = time.monotonic()
        for operation in every_operation(store):
            with pytest.raises(StoreUnavailable):
                operation()
        assert time.monotonic() - started < 3, "a dead Redis must be reported quickly"
        redis_server.start()
        # no persistence: the sessions are gone, but the same store object works again
        assert store.get("sid-1") is None
        store.create(record(), ttl=60)
        store.touch("sid-1", 5.0)  # the Lua script is loaded again after the restart
        got = store.get("sid-1")
        assert got is not None and got.last_seen == 5.0
        assert len(store) == 1
        store.close()


def test_nothing_listening_is_unavailable_at_once() -> None:
    from helpers.redis_store import RedisSessionStore

    store = RedisSessionStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.get("x")
    assert time.monotonic() - started < 2


def test_a_server_that_never_answers_times_out_instead_of_hanging() -> None:
    from helpers.redis_store import RedisSessionStore

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        store = RedisSessionStore.from_url(url, timeout=0.2)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get("x")
        assert time.monotonic() - started < 2


def test_open_store_returns_the_redis_store_for_a_redis_url(server: RedisServer) -> None:
    from helpers.redis_store import RedisSessionStore
    from helpers.session_store import open_store

    store = open_store(server.url)
    assert isinstance(store, RedisSessionStore)
    store.create(record("via-open-store"), ttl=60)
    assert store.get("via-open-store") == record("via-open-store")
    store.delete("via-open-store")
