"""Sessions in an SQLite file: they survive a restart of the server."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .sessions import (
    SWEEP_INTERVAL,
    SessionRecord,
    StoreUnavailable,
    check_keep_for,
    check_new_session,
    oldest_first,
    storable_text,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    sid        TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    created_at REAL NOT NULL,  -- course clock
    last_seen  REAL NOT NULL,  -- course clock
    forget_at  REAL NOT NULL,  -- wall clock: the row may be purged after this
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS session_cuts (
    username  TEXT PRIMARY KEY,
    cut       REAL NOT NULL,   -- course clock: sessions created before it may not exist
    forget_at REAL NOT NULL    -- wall clock: no session from before the cut lives this long
);
CREATE TABLE IF NOT EXISTS passwords (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL  -- werkzeug's scrypt format, as in data/users.json
);
"""
#: The per-user index: "all sessions of alice" is an index lookup, not a table scan.
INDEX = "CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(username, created_at)"


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
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(sessions)")}
            if "user_agent" not in columns:  # a file written before the devices list existed
                self._db.execute(
                    "ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT ''")
            self._db.execute(INDEX)
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
        if not all(storable_text(v) for v in (record.sid, record.username, record.user_agent)):
            raise ValueError("sid, username and user_agent must be encodable as UTF-8")
        now = time.time()
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if now >= self._next_sweep:
                    db.execute("DELETE FROM sessions WHERE forget_at <= ?", (now,))
                    db.execute("DELETE FROM session_cuts WHERE forget_at <= ?", (now,))
                # in the same transaction as the insert: a racing end_sessions_of is
                # entirely before this (its cut refuses the row) or entirely after (it
                # deletes the row)
                db.execute(
                    "INSERT OR REPLACE INTO sessions"
                    " (sid, username, created_at, last_seen, forget_at, user_agent)"
                    " SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM session_cuts"
                    "  WHERE username = ? AND cut > ? AND forget_at > ?)",
                    (record.sid, record.username, float(record.created_at),
                     float(record.last_seen), now + ttl, record.user_agent,
                     record.username, float(record.created_at), now),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if now >= self._next_sweep:
                self._next_sweep = now + SWEEP_INTERVAL

    def get(self, sid: str) -> SessionRecord | None:
        if not storable_text(sid):
            return None  # no such id can have been stored
        with self._locked() as db:
            row = db.execute(
                "SELECT username, created_at, last_seen, user_agent FROM sessions"
                " WHERE sid = ? AND forget_at > ?",
                (sid, time.time()),
            ).fetchone()
        return None if row is None else SessionRecord(sid, *row)

    def touch(self, sid: str, last_seen: float) -> None:
        if storable_text(sid):
            with self._locked() as db:
                db.execute("UPDATE sessions SET last_seen = ? WHERE sid = ?",
                           (float(last_seen), sid))

    def delete(self, sid: str) -> bool:
        if not storable_text(sid):
            return False
        with self._locked() as db:
            return db.execute("DELETE FROM sessions WHERE sid = ?", (sid,)).rowcount > 0

    def __len__(self) -> int:
        with self._locked() as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM sessions WHERE forget_at > ?", (time.time(),)
            ).fetchone()
        return count

    # -- the lifecycle --------------------------------------------------------------------
    def sessions_of(self, username: str) -> list[SessionRecord]:
        if not storable_text(username):
            return []
        with self._locked() as db:
            rows = db.execute(
                "SELECT sid, username, created_at, last_seen, user_agent FROM sessions"
                " WHERE username = ? AND forget_at > ?", (username, time.time())).fetchall()
        return oldest_first([SessionRecord(*row) for row in rows])

    def end_sessions_of(self, username: str, *, cut: float, keep_for: float) -> int:
        check_keep_for(keep_for)
        if not storable_text(username):
            return 0
        now = time.time()
        with self._locked() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "INSERT INTO session_cuts VALUES (?, ?, ?) ON CONFLICT (username) DO UPDATE"
                    " SET cut = max(cut, excluded.cut), forget_at = excluded.forget_at",
                    (username, float(cut), now + keep_for))
                ended = db.execute("DELETE FROM sessions WHERE username = ?", (username,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return ended

    def password_hash(self, username: str) -> str | None:
        if not storable_text(username):
            return None
        with self._locked() as db:
            row = db.execute("SELECT password_hash FROM passwords WHERE username = ?",
                             (username,)).fetchone()
        return None if row is None else row[0]

    def set_password_hash(self, username: str, password_hash: str) -> None:
        with self._locked() as db:
            db.execute("INSERT OR REPLACE INTO passwords VALUES (?, ?)", (username, password_hash))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<SQLiteSessionStore {self.path!r}>"
