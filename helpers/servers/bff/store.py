"""Where the BFF keeps what the browser must never hold: sessions with their tokens, in SQLite.

One row per browser session, keyed by the SHA-256 of the session id (a stolen copy of
the database gives no usable cookie). A row starts as a *login in progress* (the
``state``, ``nonce`` and PKCE ``code_verifier`` of one authorization request) and the
callback turns it into a *signed-in* row under a fresh id, holding the provider's tokens.
The notes the small API keeps live here too.

In memory by default (one database per app, so a re-run notebook cell starts clean),
or a file with ``--db PATH``. A real deployment would also encrypt the token columns.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    -- a login in progress
    state TEXT, nonce TEXT, code_verifier TEXT,
    -- a signed-in session
    sub TEXT, username TEXT,
    access_token TEXT, access_expires_at REAL, refresh_token TEXT, id_token TEXT
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sub TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class PendingLogin:
    """The secrets of one authorization request, kept until its callback."""

    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Tokens:
    """What the provider's token endpoint gave (held here, never sent to the browser)."""

    access_token: str
    access_expires_at: float
    refresh_token: str | None
    id_token: str | None


@dataclass(frozen=True)
class SignedIn:
    sub: str
    username: str
    tokens: Tokens


class BffStore:
    """Sessions and notes in one SQLite database, safe to share between request threads."""

    def __init__(self, path: str | None = None) -> None:
        self._db = sqlite3.connect(path or ":memory:", check_same_thread=False,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _run(self, sql: str, args: tuple[Any, ...]) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # -- logins in progress -----------------------------------------------------------------
    def begin_login(self, session_id: str, pending: PendingLogin, *, now: float,
                    ttl: float) -> None:
        self._run("INSERT INTO sessions (id_hash, created_at, expires_at, state, nonce,"
                  " code_verifier) VALUES (?,?,?,?,?,?)",
                  (digest(session_id), now, now + ttl, pending.state, pending.nonce,
                   pending.code_verifier))

    def take_login(self, session_id: str, *, now: float) -> PendingLogin | None:
        """The login in progress under ``session_id``, removed at once: a callback works once."""
        with self._lock:
            row = self._db.execute("DELETE FROM sessions WHERE id_hash = ? AND state IS NOT NULL"
                                   " RETURNING state, nonce, code_verifier, expires_at",
                                   (digest(session_id),)).fetchone()
        if row is None or row["expires_at"] <= now:
            return None
        return PendingLogin(row["state"], row["nonce"], row["code_verifier"])

    # -- signed-in sessions -----------------------------------------------------------------
    def sign_in(self, session_id: str, who: SignedIn, *, now: float, ttl: float) -> None:
        t = who.tokens
        self._run("INSERT INTO sessions (id_hash, created_at, expires_at, sub, username,"
                  " access_token, access_expires_at, refresh_token, id_token)"
                  " VALUES (?,?,?,?,?,?,?,?,?)",
                  (digest(session_id), now, now + ttl, who.sub, who.username, t.access_token,
                   t.access_expires_at, t.refresh_token, t.id_token))

    def find(self, session_id: str, *, now: float) -> SignedIn | None:
        row = self._one("SELECT * FROM sessions"
                        " WHERE id_hash = ? AND sub IS NOT NULL AND expires_at > ?",
                        (digest(session_id), now))
        if row is None:
            return None
        tokens = Tokens(row["access_token"], row["access_expires_at"], row["refresh_token"],
                        row["id_token"])
        return SignedIn(row["sub"], row["username"], tokens)

    def replace_tokens(self, session_id: str, old: Tokens, new: Tokens) -> bool:
        """Store refreshed tokens, only if nobody else replaced ``old`` first."""
        return self._run("UPDATE sessions SET access_token = ?, access_expires_at = ?,"
                         " refresh_token = ? WHERE id_hash = ? AND access_token = ?",
                         (new.access_token, new.access_expires_at, new.refresh_token,
                          digest(session_id), old.access_token)) == 1

    def end(self, session_id: str) -> SignedIn | None:
        """Delete the session and return what it held (its tokens still to be revoked)."""
        with self._lock:
            row = self._db.execute("DELETE FROM sessions WHERE id_hash = ? RETURNING *",
                                   (digest(session_id),)).fetchone()
        if row is None or row["sub"] is None:
            return None
        tokens = Tokens(row["access_token"], row["access_expires_at"], row["refresh_token"],
                        row["id_token"])
        return SignedIn(row["sub"], row["username"], tokens)

    def purge_expired(self, now: float) -> int:
        return self._run("DELETE FROM sessions WHERE expires_at <= ?", (now,))

    def count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM sessions", ())
        return int(row["n"]) if row else 0

    def all_tokens(self) -> list[Tokens]:
        """Every token the BFF holds (for a notebook or a test to look for in the browser)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM sessions WHERE sub IS NOT NULL").fetchall()
        return [Tokens(r["access_token"], r["access_expires_at"], r["refresh_token"], r["id_token"])
                for r in rows]

    # -- notes -------------------------------------------------------------------------------
    def add_note(self, sub: str, text: str, *, now: float) -> int:
        with self._lock:
            cursor = self._db.execute("INSERT INTO notes (sub, text, created_at) VALUES (?,?,?)",
                                      (sub, text, now))
        return int(cursor.lastrowid or 0)

    def notes(self, sub: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, text FROM notes"
                                    " WHERE sub = ? ORDER BY id DESC LIMIT ?",
                                    (sub, limit)).fetchall()
        return [dict(r) for r in rows]
