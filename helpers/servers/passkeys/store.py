"""What the ``passkeys`` server remembers, in SQLite: users, passkeys, challenges, sessions.

Why a store of its own: a passkey server keeps four kinds of rows, and what it keeps is
part of the lesson. A *credential* row holds a public key and a sign counter, nothing
secret: the private key stays inside the authenticator, which only signs. A
*challenge* row lives only from the options call to the verify call, and the verify call
takes it out (single use). A *session* row is chapter 03's server-side session.

Every store is its own SQLite connection (``:memory:`` unless a path is given), so two
servers, or a notebook cell run twice, never share rows through a module global.
Times are course-clock seconds passed in by the caller; the store never reads a clock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username    TEXT PRIMARY KEY,
    user_handle BLOB NOT NULL UNIQUE,   -- WebAuthn user.id: random bytes, not the name
    created     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (
    credential_id BLOB PRIMARY KEY,
    username      TEXT NOT NULL REFERENCES users(username),
    public_key    BLOB NOT NULL,        -- COSE_Key bytes (RFC 9052 §7), public only
    sign_count    INTEGER NOT NULL,
    transports    TEXT NOT NULL,        -- JSON list, e.g. ["internal"]
    created       REAL NOT NULL,
    last_used     REAL
);
CREATE INDEX IF NOT EXISTS credentials_by_user ON credentials(username);
CREATE TABLE IF NOT EXISTS challenges (
    challenge   BLOB PRIMARY KEY,
    purpose     TEXT NOT NULL,          -- 'register' or 'login'
    username    TEXT,                   -- registration only: whose key this will be
    user_handle BLOB,                   -- registration only
    expires     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS challenges_by_expiry ON challenges(expires);
CREATE TABLE IF NOT EXISTS sessions (
    sid        TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    created    REAL NOT NULL,
    last_seen  REAL NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(username);
"""


@dataclass(frozen=True)
class User:
    username: str
    user_handle: bytes
    created: float


@dataclass(frozen=True)
class Credential:
    """One passkey as the server keeps it: a public key and a counter, no secret."""

    credential_id: bytes
    username: str
    public_key: bytes
    sign_count: int
    transports: list[str]
    created: float
    last_used: float | None


@dataclass(frozen=True)
class Challenge:
    challenge: bytes
    purpose: str
    username: str | None
    user_handle: bytes | None
    expires: float


@dataclass(frozen=True)
class Session:
    sid: str
    username: str
    created: float
    last_seen: float
    user_agent: str


class DuplicateCredential(Exception):
    """This credential id is already registered (to this or another account)."""


class PasskeyStore:
    """The four tables behind one lock; every method is one short transaction."""

    def __init__(self, path: str | Path | None = None) -> None:
        target = ":memory:" if path is None else str(path)
        # one connection shared by the server's request threads, serialised by the lock
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(SCHEMA)  # executescript commits by itself

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- users ---------------------------------------------------------------------------
    def user(self, username: str) -> User | None:
        with self._tx() as db:
            row = db.execute("SELECT username, user_handle, created FROM users WHERE username = ?",
                             (username,)).fetchone()
        return User(*row) if row else None

    # -- credentials -----------------------------------------------------------------------
    def add_credential(self, user: User, credential: Credential) -> None:
        """Store a verified passkey, creating its user on the first one (one transaction)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO users VALUES (?, ?, ?)",
                       (user.username, user.user_handle, user.created))
            try:
                db.execute(
                    "INSERT INTO credentials VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (credential.credential_id, credential.username, credential.public_key,
                     credential.sign_count, json.dumps(credential.transports),
                     credential.created, credential.last_used),
                )
            except sqlite3.IntegrityError:
                raise DuplicateCredential(credential.credential_id.hex()) from None

    def credential(self, credential_id: bytes) -> Credential | None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM credentials WHERE credential_id = ?",
                             (credential_id,)).fetchone()
        return _credential(row) if row else None

    def credentials_of(self, username: str) -> list[Credential]:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM credentials WHERE username = ? ORDER BY created",
                              (username,)).fetchall()
        return [_credential(row) for row in rows]

    def record_use(self, credential_id: bytes, sign_count: int, now: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE credentials SET sign_count = ?, last_used = ?"
                       " WHERE credential_id = ?", (sign_count, now, credential_id))

    # -- challenges ------------------------------------------------------------------------
    def add_challenge(self, challenge: Challenge, now: float, limit: int) -> bool:
        """Remember a fresh challenge; False (nothing stored) when ``limit`` are pending."""
        with self._tx() as db:
            db.execute("DELETE FROM challenges WHERE expires <= ?", (now,))
            (pending,) = db.execute("SELECT COUNT(*) FROM challenges").fetchone()
            if pending >= limit:
                return False
            db.execute("INSERT INTO challenges VALUES (?, ?, ?, ?, ?)",
                       (challenge.challenge, challenge.purpose, challenge.username,
                        challenge.user_handle, challenge.expires))
        return True

    def take_challenge(self, challenge: bytes) -> Challenge | None:
        """Remove and return the challenge: whoever calls this second gets None (single use)."""
        with self._tx() as db:
            row = db.execute("DELETE FROM challenges WHERE challenge = ? RETURNING *",
                             (challenge,)).fetchone()
        return Challenge(*row) if row else None

    def pending_challenges(self) -> int:
        with self._tx() as db:
            return db.execute("SELECT COUNT(*) FROM challenges").fetchone()[0]

    # -- sessions --------------------------------------------------------------------------
    def add_session(self, session: Session) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                       (session.sid, session.username, session.created, session.last_seen,
                        session.user_agent))

    def session(self, sid: str) -> Session | None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM sessions WHERE sid = ?", (sid,)).fetchone()
        return Session(*row) if row else None

    def touch_session(self, sid: str, now: float) -> None:
        with self._tx() as db:
            db.execute("UPDATE sessions SET last_seen = ? WHERE sid = ?", (now, sid))

    def sessions_of(self, username: str) -> list[Session]:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM sessions WHERE username = ? ORDER BY created",
                              (username,)).fetchall()
        return [Session(*row) for row in rows]

    def delete_session(self, sid: str) -> bool:
        with self._tx() as db:
            return db.execute("DELETE FROM sessions WHERE sid = ?", (sid,)).rowcount > 0

    def delete_sessions_of(self, username: str) -> int:
        with self._tx() as db:
            return db.execute("DELETE FROM sessions WHERE username = ?", (username,)).rowcount


def _credential(row: tuple) -> Credential:
    cid, username, public_key, sign_count, transports, created, last_used = row
    return Credential(cid, username, public_key, sign_count, json.loads(transports), created,
                      last_used)
