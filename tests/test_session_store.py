"""The SessionStore contract, run against the memory store and the SQLite store alike."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.session_store import (
    MemorySessionStore,
    SessionRecord,
    SessionStore,
    SQLiteSessionStore,
    StoreUnavailable,
    open_store,
)
from tests.conftest import run_concurrently


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    made = MemorySessionStore() if request.param == "memory" else SQLiteSessionStore(tmp_path / "s.db")
    yield made
    made.close()


def record(sid: str = "sid-1", username: str = "alice", t: float = 1_700_000_000.125) -> SessionRecord:
    return SessionRecord(sid=sid, username=username, created_at=t, last_seen=t + 0.5)


def test_both_stores_satisfy_the_protocol(store: SessionStore) -> None:
    assert isinstance(store, SessionStore)


def test_create_then_get_returns_the_same_record(store: SessionStore) -> None:
    assert store.get("sid-1") is None
    store.create(record(), ttl=60)
    assert store.get("sid-1") == record()
    assert store.get("sid-2") is None
    assert len(store) == 1


def test_touch_changes_last_seen_only(store: SessionStore) -> None:
    store.create(record(), ttl=60)
    store.touch("sid-1", 1_700_000_100.25)
    assert store.get("sid-1") == SessionRecord("sid-1", "alice", 1_700_000_000.125, 1_700_000_100.25)


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


@pytest.mark.parametrize("sid", ["*", "a b", "세션", "x" * 5000, "", "%", "'; DROP TABLE sessions; --"])
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
    assert second.get("sid-1") == SessionRecord("sid-1", "alice", 1_700_000_000.125, 1_700_000_200.0)
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


# --- open_store ------------------------------------------------------------------------------


def test_open_store_picks_the_store_from_the_db_argument(tmp_path: Path) -> None:
    assert isinstance(open_store(None), MemorySessionStore)
    sqlite_store = open_store(str(tmp_path / "x.db"))
    assert isinstance(sqlite_store, SQLiteSessionStore)
    assert (tmp_path / "x.db").exists()
    sqlite_store.close()  # type: ignore[attr-defined]


def test_open_store_hands_redis_urls_to_the_redis_store() -> None:
    from helpers.redis_store import RedisSessionStore

    store = open_store("redis://127.0.0.1:1/0")  # nothing listens on port 1: no connection yet
    assert isinstance(store, RedisSessionStore)
    with pytest.raises(StoreUnavailable):
        store.get("anything")
    store.close()  # type: ignore[attr-defined]
