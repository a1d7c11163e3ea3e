"""The SessionStore contract, run against the memory, SQLite and Redis stores alike.

Then what only one store does: SQLite's file (WAL, locks, reopening), Redis's key
expiry, prefixes and outages (a real redis-server, started by the course's launcher;
skipped with a reason when it is missing, unless COURSE_REQUIRE_SYSTEM_DEPS=1).
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.notebook.redis_server import RedisServer, free_port
from helpers.stores import (
    MemorySessionStore,
    SessionRecord,
    SessionStore,
    SQLiteSessionStore,
    StoreUnavailable,
    open_session_store,
)
from tests.support import need_redis_server, run_concurrently


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """One real redis-server for the module."""
    need_redis_server()
    with RedisServer() as running:
        yield running.url


@pytest.fixture
def redis_store(redis_url: str) -> Iterator[SessionStore]:
    from helpers.stores.redis_sessions import RedisSessionStore

    made = RedisSessionStore.from_url(redis_url)
    made.client.flushdb()
    yield made
    made.close()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    if request.param == "redis":
        yield request.getfixturevalue("redis_store")
        return
    made = (MemorySessionStore() if request.param == "memory"
            else SQLiteSessionStore(tmp_path / "s.db"))
    yield made
    made.close()


def record(sid: str = "sid-1", username: str = "alice",
           t: float = 1_700_000_000.125) -> SessionRecord:
    return SessionRecord(sid=sid, username=username, created_at=t, last_seen=t + 0.5)


# --- the contract --------------------------------------------------------------------------


def test_create_then_get_returns_the_same_record(store: SessionStore) -> None:
    assert store.get("sid-1") is None
    store.create(record(), ttl=60)
    assert store.get("sid-1") == record()
    assert store.get("sid-2") is None
    assert len(store) == 1


def test_touch_changes_last_seen_only(store: SessionStore) -> None:
    store.create(record(), ttl=60)
    store.touch("sid-1", 1_700_000_100.25)
    assert store.get("sid-1") == SessionRecord("sid-1", "alice", 1_700_000_000.125,
                                               1_700_000_100.25)


def test_touch_never_brings_back_a_missing_session(store: SessionStore) -> None:
    store.touch("gone", 1.0)
    assert store.get("gone") is None
    assert len(store) == 0


def test_delete_says_whether_the_session_existed(store: SessionStore) -> None:
    store.create(record(), ttl=60)
    assert store.delete("sid-1") is True
    assert store.get("sid-1") is None
    assert store.delete("sid-1") is False
    assert len(store) == 0


def test_create_replaces_a_session_with_the_same_id(store: SessionStore) -> None:
    store.create(record(username="alice"), ttl=60)
    store.create(record(username="bob"), ttl=60)
    got = store.get("sid-1")
    assert got is not None and got.username == "bob"
    assert len(store) == 1


def test_len_counts_sessions(store: SessionStore) -> None:
    for n in range(25):
        store.create(record(f"s{n}"), ttl=60)
    assert len(store) == 25
    store.delete("s0")
    assert len(store) == 24


def test_a_session_past_its_ttl_is_forgotten(store: SessionStore) -> None:
    store.create(record("brief"), ttl=0.3)  # roomy enough for a busy machine
    store.create(record("long"), ttl=60)
    assert store.get("brief") is not None
    time.sleep(0.35)
    assert store.get("brief") is None
    assert len(store) == 1
    assert store.get("long") == record("long")


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), "60", None, True])
def test_a_bad_ttl_is_refused(store: SessionStore, ttl: object) -> None:
    with pytest.raises(ValueError):
        store.create(record(), ttl=ttl)  # type: ignore[arg-type]
    assert len(store) == 0


@pytest.mark.parametrize("sid", ["*", "a b", "세션", "x" * 5000, "", "%",
                                 "'; DROP TABLE sessions; --"])
def test_odd_session_ids_are_just_keys(store: SessionStore, sid: str) -> None:
    assert store.get(sid) is None
    store.create(record(sid), ttl=60)
    assert store.get(sid) == record(sid)
    assert store.delete(sid) is True
    assert len(store) == 0


def test_a_lone_surrogate_id_finds_nothing_and_breaks_nothing(store: SessionStore) -> None:
    odd = "\ud800lone"
    assert store.get(odd) is None
    store.touch(odd, 1.0)
    assert store.delete(odd) is False
    store.create(record(), ttl=60)
    assert store.get("sid-1") == record()


def test_concurrent_writers_lose_nothing(store: SessionStore) -> None:
    """8 threads create, touch, read and delete their own sessions at the same time."""
    threads, per_thread = 8, 60
    start = threading.Barrier(threads)

    def work(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            sid = f"t{n}-{i}"
            store.create(record(sid, username=f"user{n}"), ttl=60)
            store.touch(sid, float(i))
            got = store.get(sid)
            assert got is not None and got.username == f"user{n}" and got.last_seen == float(i)
            if i % 3 == 0:  # every third one is logged out again
                assert store.delete(sid) is True

    run_concurrently(work, threads, timeout=30)
    kept = [i for i in range(per_thread) if i % 3 != 0]
    assert len(store) == threads * len(kept)
    for n in range(threads):
        for i in kept:
            assert store.get(f"t{n}-{i}") == SessionRecord(
                f"t{n}-{i}", f"user{n}", record().created_at, float(i)
            )


# --- SQLite specifics ----------------------------------------------------------------------


def test_sqlite_sessions_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.db"
    first = SQLiteSessionStore(path)
    first.create(record(), ttl=3600)
    first.touch("sid-1", 1_700_000_200.0)
    first.close()
    second = SQLiteSessionStore(path)
    assert second.get("sid-1") == SessionRecord("sid-1", "alice", 1_700_000_000.125,
                                                1_700_000_200.0)
    assert len(second) == 1
    second.close()


def test_sqlite_uses_wal_and_a_readable_table(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    store = SQLiteSessionStore(path)
    store.create(record(), ttl=60)
    with sqlite3.connect(path) as peek:  # another connection, as a notebook would open it
        assert peek.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert peek.execute("SELECT sid, username FROM sessions").fetchall() == [("sid-1", "alice")]
    store.close()


def test_two_sqlite_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    one, two = SQLiteSessionStore(path), SQLiteSessionStore(path)
    one.create(record("a"), ttl=60)
    assert two.get("a") == record("a")
    assert two.delete("a") is True
    assert one.get("a") is None
    one.close()
    two.close()


def test_a_locked_sqlite_file_becomes_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = SQLiteSessionStore(path, timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailable):
            store.create(record(), ttl=60)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.create(record(), ttl=60)  # and it works again once the lock is gone
    assert store.get("sid-1") == record()
    store.close()


def test_a_file_that_is_not_sqlite_is_refused_clearly(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_bytes(b"these are not the sessions you are looking for" * 100)
    with pytest.raises(StoreUnavailable, match="cannot open"):
        SQLiteSessionStore(bogus)
    with pytest.raises(StoreUnavailable, match="cannot open"):
        SQLiteSessionStore(tmp_path / "no" / "such" / "dir.db")
    assert bogus.read_bytes().startswith(b"these are not")  # and it was left alone


# --- Redis specifics -------------------------------------------------------------------


def test_ttl_is_set_on_the_key(redis_store) -> None:
    redis_store.create(record(), ttl=90)
    left = redis_store.client.pttl(b"session:sid-1")
    assert 85_000 < left <= 90_000
    redis_store.create(record("short"), ttl=0.2)
    assert 0 < redis_store.client.pttl(b"session:short") <= 200


def test_len_counts_only_this_prefix_and_only_live_sessions(redis_store) -> None:
    from helpers.stores.redis_sessions import RedisSessionStore

    for n in range(25):
        redis_store.create(record(f"s{n}"), ttl=60)
    redis_store.client.set(b"unrelated", b"x")
    # a glob character in the prefix
    other = RedisSessionStore(redis_store.client, prefix="session*")
    other.create(record("x"), ttl=60)
    assert len(redis_store) == 25  # not "unrelated", not "session*x"
    assert len(other) == 1  # the "*" in its prefix is matched literally
    redis_store.delete("s0")
    assert len(redis_store) == 24


def test_prefixes_keep_stores_apart(redis_store) -> None:
    from helpers.stores.redis_sessions import RedisSessionStore

    mine = RedisSessionStore(redis_store.client, prefix="app-a:")
    theirs = RedisSessionStore(redis_store.client, prefix="app-b:")
    mine.create(record("same"), ttl=60)
    assert theirs.get("same") is None and len(theirs) == 0
    assert mine.get("same") == record("same")


@pytest.mark.parametrize("sid", ["\ud800lone", "session:"])
def test_more_odd_session_ids_are_just_redis_keys(redis_store, sid: str) -> None:
    assert redis_store.get(sid) is None
    redis_store.create(record(sid), ttl=60)
    assert redis_store.get(sid) == record(sid)
    assert redis_store.delete(sid) is True


def test_a_client_that_decodes_responses_works_too(redis_store, redis_url: str) -> None:
    import redis

    from helpers.stores.redis_sessions import RedisSessionStore

    decoding = redis.Redis.from_url(redis_url, decode_responses=True)
    other = RedisSessionStore(decoding)
    redis_store.create(record(), ttl=60)
    assert other.get("sid-1") == record()
    other.touch("sid-1", 9.5)
    got = redis_store.get("sid-1")
    assert got is not None and got.last_seen == 9.5
    assert len(other) == 1
    decoding.close()


def test_something_else_under_the_prefix_is_not_a_session(redis_store) -> None:
    redis_store.client.hset(b"session:half", mapping={"username": "alice"})
    redis_store.client.hset(b"session:bad",
                            mapping={"username": "a", "created_at": "x", "last_seen": "1"})
    assert redis_store.get("half") is None and redis_store.get("bad") is None


# --- Redis going away and coming back ----------------------------------------------------


def every_operation(store: SessionStore) -> list:
    return [
        lambda: store.create(record("new"), ttl=60),
        lambda: store.get("sid-1"),
        lambda: store.touch("sid-1", 2.0),
        lambda: store.delete("sid-1"),
        lambda: len(store),
    ]


def test_store_unavailable_while_redis_is_down_then_recovery_on_the_same_port() -> None:
    need_redis_server()
    from helpers.stores.redis_sessions import RedisSessionStore

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
    from helpers.stores.redis_sessions import RedisSessionStore

    store = RedisSessionStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.get("x")
    assert time.monotonic() - started < 2


def test_a_server_that_never_answers_times_out_instead_of_hanging() -> None:
    from helpers.stores.redis_sessions import RedisSessionStore

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        store = RedisSessionStore.from_url(url, timeout=0.2)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.get("x")
        assert time.monotonic() - started < 2


# --- open_store ------------------------------------------------------------------------------


def test_open_session_store_picks_the_store_from_the_db_argument(tmp_path: Path) -> None:
    assert isinstance(open_session_store(None), MemorySessionStore)
    sqlite_store = open_session_store(str(tmp_path / "x.db"))
    assert isinstance(sqlite_store, SQLiteSessionStore)
    assert (tmp_path / "x.db").exists()
    sqlite_store.close()  # type: ignore[attr-defined]


def test_open_session_store_hands_redis_urls_to_the_redis_store() -> None:
    from helpers.stores.redis_sessions import RedisSessionStore

    # nothing listens on port 1, and no connection is made yet
    store = open_session_store("redis://127.0.0.1:1/0")
    assert isinstance(store, RedisSessionStore)
    with pytest.raises(StoreUnavailable):
        store.get("anything")
    store.close()  # type: ignore[attr-defined]


def test_open_session_store_takes_a_redis_url(redis_url: str) -> None:
    from helpers.stores.redis_sessions import RedisSessionStore

    store = open_session_store(None, redis_url)
    assert isinstance(store, RedisSessionStore)
    store.create(record("via-open"), ttl=60)
    assert store.get("via-open") == record("via-open")
    store.delete("via-open")
    store.close()
