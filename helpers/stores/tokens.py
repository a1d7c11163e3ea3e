"""State of the ``tokens`` server: refresh-token families and a jti denylist, in SQLite.

A JWT access token needs no server state to verify, but two things do:

* **refresh tokens**: opaque random strings the server must recognise, spend once and
  refuse forever after. The store keeps only their SHA-256 hex digest, so a copy of the
  database file does not hand out live refresh tokens. The store hashes every token it
  is given itself: callers pass the token and never handle its hash.
* **revocation**: an access token that must die before its ``exp`` is denied by its
  ``jti`` (JWT ID). The denylist row carries the token's ``exp`` and is purged after it.

Every login starts a *family* (the chain of refresh tokens that descends from it); its
id is the ``sid`` claim of every access token the login gets, so either token names the
login. Each refresh spends the presented token and adds its successor. Presenting a
spent token means two parties hold the same token (a thief and the rightful client), so
the whole family is revoked (reuse detection), including the access tokens it issued
that have not expired yet: their jtis go into the denylist.

Times are passed in by the caller (seconds since the epoch, on the server's course
clock) and kept as whole seconds, like JWT NumericDates. One connection, a lock for the
threads of this process, and ``BEGIN IMMEDIATE`` transactions for other processes.

Purging: :meth:`TokenStore.purge_if_due` is called by the server at the start of every
request. At most once per :data:`PURGE_INTERVAL` course-clock seconds it deletes at most
:data:`PURGE_BATCH` expired rows of each table, found through an index on
``expires_at``, so one purge is short and never holds the write lock for long; a larger
backlog drains over the following requests.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS families (
    family_id      TEXT PRIMARY KEY,  -- the login; the sid claim of its access tokens
    sub            TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,  -- absolute lifetime, fixed at login
    revoked_at     INTEGER,
    revoked_reason TEXT
);
CREATE INDEX IF NOT EXISTS families_by_expiry ON families(expires_at);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash  TEXT PRIMARY KEY,   -- SHA-256 hex of the token; the token itself is never stored
    family_id   TEXT NOT NULL REFERENCES families(family_id),
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    spent       INTEGER NOT NULL DEFAULT 0,
    spent_at    INTEGER,
    replaced_by TEXT                -- hash of the token that replaced it
);
CREATE INDEX IF NOT EXISTS refresh_tokens_by_family ON refresh_tokens(family_id);
CREATE TABLE IF NOT EXISTS access_tokens (
    jti        TEXT PRIMARY KEY,    -- issued per family, so a revocation can deny them
    family_id  TEXT NOT NULL REFERENCES families(family_id),
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS access_tokens_by_family ON access_tokens(family_id);
CREATE INDEX IF NOT EXISTS access_tokens_by_expiry ON access_tokens(expires_at);
CREATE TABLE IF NOT EXISTS denied_jtis (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL,    -- the token's exp: after it the row can go
    denied_at  INTEGER NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS denied_jtis_by_expiry ON denied_jtis(expires_at);
"""

#: Tables :meth:`TokenStore.rows` will show.
TABLES = ("families", "refresh_tokens", "access_tokens", "denied_jtis")
#: A purge runs at most this often (course-clock seconds) ...
PURGE_INTERVAL = 60
#: ... and deletes at most this many expired rows per table.
PURGE_BATCH = 500
#: A family is kept this long past its absolute lifetime, so that a late refresh is told
#: "too old" rather than "unknown" (both are invalid_grant).
FAMILY_RETENTION = 24 * 3600

# What TokenStore.rotate() and end_login_of_refresh_token() can answer.
ROTATED = "rotated"  #: the token was live: it is spent now and its successor is stored
ENDED = "ended"  #: logout: the login was live and is revoked now
UNKNOWN = "unknown"  #: no such token (never issued, mistyped, or purged)
REUSED = "reused"  #: the token was already spent: the whole family has just been revoked
REVOKED = "revoked"  #: the family was revoked earlier (logout or an earlier reuse)
EXPIRED = "expired"  #: this refresh token is past its own expiry
FAMILY_EXPIRED = "family_expired"  #: the login it descends from is past its absolute lifetime


def new_refresh_token() -> str:
    """A fresh opaque refresh token: 32 random bytes as base64url (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """The SHA-256 hex digest the store keeps instead of the token.

    A plain hash is enough here (no salt, no slow hash): the token has 256 random bits,
    so nobody can guess it from its digest, unlike a password.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Rotation:
    """What :meth:`TokenStore.rotate` decided. ``family_id``/``sub`` are None for UNKNOWN."""

    outcome: str
    family_id: str | None = None
    sub: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == ROTATED


class TokenStore:
    """Refresh-token families and the jti denylist in one SQLite database (file or ``:memory:``)."""

    def __init__(self, path: str = ":memory:", *, purge_interval: float = PURGE_INTERVAL,
                 purge_batch: int = PURGE_BATCH) -> None:
        self.path = path
        self.purge_interval = purge_interval
        self.purge_batch = purge_batch
        self._next_purge: float | None = None
        self._lock = threading.Lock()
        # autocommit mode (isolation_level=None): every transaction below is explicit
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        with self._lock:
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA foreign_keys = ON")
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(SCHEMA)

    # -- transactions ---------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: the thread lock plus ``BEGIN IMMEDIATE`` (SQLite's write lock).

        ``BEGIN IMMEDIATE`` takes SQLite's write lock before the first read, so a
        read-check-update sequence inside it cannot interleave with another writer,
        even one in a different process.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- login and refresh ------------------------------------------------------------------
    def start_family(
        self,
        sub: str,
        refresh_token: str,
        *,
        now: float,
        refresh_ttl: float,
        family_lifetime: float,
        access_jti: str,
        access_expires_at: float,
    ) -> str:
        """Record a login: a family, its first refresh and access tokens; its id (the sid)."""
        family_id = secrets.token_urlsafe(16)
        now = int(now)
        family_expires = now + int(family_lifetime)
        with self._write() as db:
            db.execute(
                "INSERT INTO families (family_id, sub, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (family_id, sub, now, family_expires),
            )
            self._add_tokens(db, family_id, hash_refresh_token(refresh_token),
                             min(now + int(refresh_ttl), family_expires),
                             access_jti, access_expires_at, now)
        return family_id

    def rotate(
        self,
        presented: str,
        successor: str,
        *,
        now: float,
        refresh_ttl: float,
        access_jti: str,
        access_expires_at: float,
    ) -> Rotation:
        """Spend the presented refresh token and store its successor, atomically.

        Inside one ``BEGIN IMMEDIATE`` transaction: find the token; refuse it if unknown,
        revoked, expired or its family is past its absolute lifetime; if it was already
        spent, revoke the whole family (reuse detection). Otherwise mark it spent with a
        conditional ``UPDATE ... WHERE spent = 0`` and insert the successor. Of any number
        of concurrent calls with the same token, exactly one gets ROTATED.
        """
        now = int(now)
        presented_hash = hash_refresh_token(presented)
        successor_hash = hash_refresh_token(successor)
        with self._write() as db:
            row = db.execute(
                "SELECT r.family_id, r.expires_at, r.spent, f.sub, f.expires_at, f.revoked_at"
                " FROM refresh_tokens r JOIN families f USING (family_id) WHERE r.token_hash = ?",
                (presented_hash,),
            ).fetchone()
            if row is None:
                return Rotation(UNKNOWN)
            family_id, token_expires, spent, sub, family_expires, revoked_at = row
            if revoked_at is not None:
                return Rotation(REVOKED, family_id, sub)
            if spent:
                self._revoke_family(db, family_id, now=now, reason="refresh token reuse")
                return Rotation(REUSED, family_id, sub)
            if now >= family_expires:
                return Rotation(FAMILY_EXPIRED, family_id, sub)
            if now >= token_expires:
                return Rotation(EXPIRED, family_id, sub)
            claimed = db.execute(
                "UPDATE refresh_tokens SET spent = 1, spent_at = ?, replaced_by = ?"
                " WHERE token_hash = ? AND spent = 0",
                (now, successor_hash, presented_hash),
            ).rowcount
            if claimed != 1:  # someone spent it between our SELECT and UPDATE: treat it as reuse
                self._revoke_family(db, family_id, now=now, reason="refresh token reuse")
                return Rotation(REUSED, family_id, sub)
            self._add_tokens(db, family_id, successor_hash,
                             min(now + int(refresh_ttl), family_expires),
                             access_jti, access_expires_at, now)
            return Rotation(ROTATED, family_id, sub)

    @staticmethod
    def _add_tokens(db: sqlite3.Connection, family_id: str, refresh_hash: str,
                    refresh_expires: float, access_jti: str, access_expires_at: float,
                    now: float) -> None:
        db.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (refresh_hash, family_id, now, refresh_expires),
        )
        db.execute(
            "INSERT INTO access_tokens (jti, family_id, expires_at) VALUES (?, ?, ?)",
            (access_jti, family_id, int(access_expires_at)),
        )

    # -- revocation -------------------------------------------------------------------------
    @staticmethod
    def _revoke_family(db: sqlite3.Connection, family_id: str, *, now: float, reason: str) -> bool:
        """Mark the family revoked and deny every access token it issued that is still unexpired.

        True if the family was live until now (False: unknown, or revoked before).
        """
        changed = db.execute(
            "UPDATE families SET revoked_at = ?, revoked_reason = ?"
            " WHERE family_id = ? AND revoked_at IS NULL",
            (now, reason, family_id),
        ).rowcount
        db.execute(
            "INSERT OR IGNORE INTO denied_jtis (jti, expires_at, denied_at, reason)"
            " SELECT jti, expires_at, ?, ? FROM access_tokens"
            " WHERE family_id = ? AND expires_at > ?",
            (now, reason, family_id, now),
        )
        return changed == 1

    def end_login(self, family_id: str, *, now: float, reason: str = "logout") -> bool:
        """Revoke the login ``family_id`` (an access token's ``sid``).

        False if it is unknown or was already over: nothing was ended.
        """
        with self._write() as db:
            return self._revoke_family(db, family_id, now=int(now), reason=reason)

    def end_login_of_refresh_token(self, refresh_token: str, *, now: float,
                                   reason: str = "logout") -> tuple[str, str | None]:
        """Logout with a refresh token: ``(ENDED, family_id)``, or why nothing was ended.

        UNKNOWN (never issued or purged), REVOKED (the login was already over), or REUSED: a
        spent token was presented, which is what a thief's copy looks like, so the login
        is revoked as at ``/refresh``, and the caller still answers with an error. An
        expired token still names its login, which is ended like a live one.
        """
        now = int(now)
        with self._write() as db:
            row = db.execute(
                "SELECT r.family_id, r.spent, f.revoked_at FROM refresh_tokens r"
                " JOIN families f USING (family_id) WHERE r.token_hash = ?",
                (hash_refresh_token(refresh_token),),
            ).fetchone()
            if row is None:
                return UNKNOWN, None
            family_id, spent, revoked_at = row
            if revoked_at is not None:
                return REVOKED, family_id
            if spent:
                self._revoke_family(db, family_id, now=now, reason="refresh token reuse")
                return REUSED, family_id
            self._revoke_family(db, family_id, now=now, reason=reason)
            return ENDED, family_id

    def deny_jti(self, jti: str, expires_at: float, *, now: float, reason: str = "revoked") -> None:
        """Put one access token on the denylist until ``expires_at`` (its ``exp``)."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO denied_jtis (jti, expires_at, denied_at, reason)"
                " VALUES (?, ?, ?, ?)",
                (jti, int(expires_at), int(now), reason),
            )

    def is_jti_denied(self, jti: str) -> bool:
        """True if the access token with this ``jti`` has been revoked."""
        return bool(self._read("SELECT 1 FROM denied_jtis WHERE jti = ?", (jti,)))

    # -- purging ------------------------------------------------------------------------------
    def purge_if_due(self, *, now: float) -> int:
        """Run :meth:`purge_expired` if :attr:`purge_interval` course-clock seconds have passed
        since the last purge (or a full batch says a backlog is left); return rows deleted."""
        with self._lock:
            if self._next_purge is not None and now < self._next_purge:
                return 0
            self._next_purge = now + self.purge_interval
        gone = self.purge_expired(now=now)
        if gone >= self.purge_batch:  # a backlog: let the next request continue it
            with self._lock:
                self._next_purge = now
        return gone

    def purge_expired(self, *, now: float, batch: int | None = None) -> int:
        """Forget at most ``batch`` expired rows per table (default :attr:`purge_batch`).

        Denylist and access-token rows go once the token's ``exp`` has passed (the token
        fails its exp check anyway); families, with their refresh and access tokens,
        :data:`FAMILY_RETENTION` after their absolute lifetime (none of their tokens can be
        used any more).
        Each ``DELETE`` picks its rows through the ``expires_at`` index, in one short
        transaction.
        """
        now, limit = int(now), self.purge_batch if batch is None else batch
        with self._write() as db:
            gone = db.execute(
                "DELETE FROM denied_jtis WHERE rowid IN"
                " (SELECT rowid FROM denied_jtis WHERE expires_at <= ? LIMIT ?)", (now, limit),
            ).rowcount
            gone += db.execute(
                "DELETE FROM access_tokens WHERE rowid IN"
                " (SELECT rowid FROM access_tokens WHERE expires_at <= ? LIMIT ?)", (now, limit),
            ).rowcount
            old = [row[0] for row in db.execute(
                "SELECT family_id FROM families WHERE expires_at <= ? LIMIT ?",
                (now - FAMILY_RETENTION, limit))]
            for family_id in old:
                gone += db.execute("DELETE FROM refresh_tokens WHERE family_id = ?",
                                   (family_id,)).rowcount
                gone += db.execute("DELETE FROM access_tokens WHERE family_id = ?",
                                   (family_id,)).rowcount
                gone += db.execute("DELETE FROM families WHERE family_id = ?",
                                   (family_id,)).rowcount
            return gone

    # -- looking inside -----------------------------------------------------------------------
    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of one of :data:`TABLES`, as dicts, oldest first (to show in a notebook)."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; one of {', '.join(TABLES)}")
        with self._lock:
            cursor = self._db.execute(f"SELECT * FROM {table} ORDER BY rowid")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<TokenStore {self.path!r}>"
