"""Where server-side sessions live: one small interface, several stores behind it.

A session is a row the server keeps, found by a random id the client carries in a
cookie::

    sid (the cookie value)  ->  SessionRecord(username, created_at, last_seen)

The ``sessions`` demo server talks only to the :class:`SessionStore` interface, so the
same server runs on memory (one process), on an SQLite file (survives a restart) or
on Redis (shared by several instances, see ``helpers.redis_store``).

Expiry: the server decides when a session is over, from the course clock (idle and
absolute timeouts). ``create`` also receives a ``ttl`` in seconds, the longest the
session can live; a store may use it, on the wall clock, to forget sessions that
nobody ever presents again (Redis does this with ``PEXPIRE``; the two stores here
do the same lazily), so an abandoned session does not stay forever.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

#: A store sweeps wall-clock-expired sessions at most this often (seconds).
SWEEP_INTERVAL = 60.0


@dataclass(frozen=True)
class SessionRecord:
    """What the server remembers about one login."""

    sid: str
    username: str
    created_at: float  # course-clock seconds at login
    last_seen: float  # course-clock seconds of the latest request with this session


class StoreUnavailable(Exception):
    """The backing store cannot be reached (e.g. Redis down); the server answers 503."""


@runtime_checkable
class SessionStore(Protocol):
    def create(self, record: SessionRecord, ttl: float) -> None:
        """Store ``record`` under ``record.sid`` (replacing any), to be kept at most ``ttl`` s."""

    def get(self, sid: str) -> SessionRecord | None:
        """The stored session ``sid``, or None."""

    def touch(self, sid: str, last_seen: float) -> None:
        """Record activity; does nothing if the session no longer exists."""

    def delete(self, sid: str) -> bool:
        """Forget the session; True if it existed."""

    def __len__(self) -> int:
        """How many sessions the store holds."""


def _check(record: SessionRecord, ttl: float) -> None:
    if not isinstance(record, SessionRecord):
        raise TypeError(f"expected a SessionRecord, not {type(record).__name__}")
    if not isinstance(record.sid, str) or not isinstance(record.username, str):
        raise TypeError("sid and username must be strings")
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not (
        math.isfinite(ttl) and ttl > 0
    ):
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")


class MemorySessionStore:
    """Sessions in a dict, guarded by a lock: fast, and gone when the process ends."""

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[SessionRecord, float]] = {}  # sid -> (record, forget_at)
        self._lock = threading.Lock()
        self._next_sweep = time.time() + SWEEP_INTERVAL

    def create(self, record: SessionRecord, ttl: float) -> None:
        _check(record, ttl)
        now = time.time()
        with self._lock:
            self._sessions[record.sid] = (record, now + ttl)
            if now >= self._next_sweep:
                self._sweep(now)

    def get(self, sid: str) -> SessionRecord | None:
        with self._lock:
            entry = self._sessions.get(sid)
            if entry is None:
                return None
            record, forget_at = entry
            if time.time() >= forget_at:
                del self._sessions[sid]
                return None
            return record

    def touch(self, sid: str, last_seen: float) -> None:
        with self._lock:
            entry = self._sessions.get(sid)
            if entry is not None:
                record, forget_at = entry
                self._sessions[sid] = (_replace_last_seen(record, last_seen), forget_at)

    def delete(self, sid: str) -> bool:
        with self._lock:
            return self._sessions.pop(sid, None) is not None

    def __len__(self) -> int:
        with self._lock:
            self._sweep(time.time())
            return len(self._sessions)

    def close(self) -> None:
        """Nothing to release; here so every store can be closed the same way."""

    def _sweep(self, now: float) -> None:
        # caller holds the lock
        for sid in [sid for sid, (_, forget_at) in self._sessions.items() if now >= forget_at]:
            del self._sessions[sid]
        self._next_sweep = now + SWEEP_INTERVAL

    def __repr__(self) -> str:
        return f"<MemorySessionStore sessions={len(self)}>"


def _replace_last_seen(record: SessionRecord, last_seen: float) -> SessionRecord:
    return SessionRecord(record.sid, record.username, record.created_at, float(last_seen))


SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    sid        TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    created_at REAL NOT NULL,  -- course clock
    last_seen  REAL NOT NULL,  -- course clock
    forget_at  REAL NOT NULL   -- wall clock: the row may be purged after this
)
"""


class SQLiteSessionStore:
    """Sessions in an SQLite file: they survive a restart of the server.

    One connection, shared by the server's threads under a lock, in autocommit mode:
    every write is one atomic statement or an explicit ``BEGIN IMMEDIATE`` transaction,
    so concurrent requests never lose a write. WAL journaling lets another process
    (a second server, a notebook peeking at the table) read while this one writes, and
    ``busy_timeout`` makes a writer wait for another process's lock instead of failing.
    SQLite errors at run time (locked too long, disk gone) become :class:`StoreUnavailable`.
    """

    def __init__(self, path: str | Path, *, timeout: float = 5.0) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        try:
            self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # in WAL mode NORMAL is safe against a crash of the process; only a power cut
            # may lose the latest commits (FULL would fsync every request)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
        except sqlite3.DatabaseError as exc:  # no such directory, not a database file, ...
            raise StoreUnavailable(f"cannot open the SQLite session store {self.path!r}: {exc}") from exc

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.ProgrammingError:
                raise  # a bug here (e.g. the store was closed), not an outage
            except sqlite3.DatabaseError as exc:  # locked too long, disk full or gone, ...
                raise StoreUnavailable(f"SQLite store {self.path!r}: {exc}") from exc

    def create(self, record: SessionRecord, ttl: float) -> None:
        _check(record, ttl)
        if not _encodable(record.sid) or not _encodable(record.username):
            raise ValueError("sid and username must be encodable as UTF-8")
        now = time.time()
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if now >= self._next_sweep:
                    db.execute("DELETE FROM sessions WHERE forget_at <= ?", (now,))
                db.execute(
                    "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?)",
                    (record.sid, record.username, float(record.created_at),
                     float(record.last_seen), now + ttl),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_INTERVAL

    def get(self, sid: str) -> SessionRecord | None:
        if not _encodable(sid):
            return None  # no such id can have been stored
        with self._locked() as db:
            row = db.execute(
                "SELECT username, created_at, last_seen FROM sessions"
                " WHERE sid = ? AND forget_at > ?",
                (sid, time.time()),
            ).fetchone()
        return None if row is None else SessionRecord(sid, row[0], row[1], row[2])

    def touch(self, sid: str, last_seen: float) -> None:
        if _encodable(sid):
            with self._locked() as db:
                db.execute("UPDATE sessions SET last_seen = ? WHERE sid = ?", (float(last_seen), sid))

    def delete(self, sid: str) -> bool:
        if not _encodable(sid):
            return False
        with self._locked() as db:
            return db.execute("DELETE FROM sessions WHERE sid = ?", (sid,)).rowcount > 0

    def __len__(self) -> int:
        with self._locked() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM sessions WHERE forget_at > ?", (time.time(),)
            ).fetchone()
        return count

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<SQLiteSessionStore {self.path!r}>"


def _encodable(text: str) -> bool:
    """SQLite stores UTF-8 text; a lone surrogate (possible in a Python str) is not."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def open_store(db: str | None) -> SessionStore:
    """The store ``--db`` names: None -> memory, ``redis://...`` -> Redis, else an SQLite path."""
    if not db:
        return MemorySessionStore()
    if db.startswith(("redis://", "rediss://")):
        from helpers.redis_store import RedisSessionStore

        return RedisSessionStore.from_url(db)
    return SQLiteSessionStore(db)
