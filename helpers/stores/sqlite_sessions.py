"""Sessions in an SQLite file: they survive a restart of the server."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .sessions import SWEEP_INTERVAL, SessionRecord, StoreUnavailable, check_new_session

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
            raise StoreUnavailable(
                f"cannot open the SQLite session store {self.path!r}: {exc}") from exc

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
        check_new_session(record, ttl)
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
                db.execute("UPDATE sessions SET last_seen = ? WHERE sid = ?",
                           (float(last_seen), sid))

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
