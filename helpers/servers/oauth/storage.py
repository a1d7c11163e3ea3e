"""Where the ``oauth`` server remembers codes, grants and tokens: one SQLite database.

In memory by default (``create_app()`` makes a fresh one each time, so re-running a
notebook cell starts clean), or a file with ``--db PATH``. Nothing lives in module
globals.

Three ideas carry the security rules of the contract:

* a **grant** is one "yes" of one user to one client: the authorization code and every
  access and refresh token that descends from it belong to it. Revoking the grant
  revokes them all at once, including tokens written a moment later, because a token is
  valid only while its grant is (RFC 6749 section 4.1.2: a code used twice SHOULD revoke
  the tokens issued from it; RFC 9700 section 4.14.2: refresh-token reuse revokes the
  family);
* a code or a refresh token is **spent** by one atomic ``UPDATE ... WHERE spent = 0``:
  of two requests racing with the same value, exactly one sees a row change;
* codes and tokens are stored as SHA-256 hashes, never as the values themselves.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oidc.core import AuthorizationCodeMixin

SCHEMA = """
CREATE TABLE IF NOT EXISTS grants (
    id TEXT PRIMARY KEY, client_id TEXT NOT NULL, sub TEXT NOT NULL, scope TEXT NOT NULL,
    created_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS codes (
    code_hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL REFERENCES grants(id),
    client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL, scope TEXT NOT NULL,
    sub TEXT NOT NULL, nonce TEXT, code_challenge TEXT, code_challenge_method TEXT,
    auth_time INTEGER NOT NULL, expires_at REAL NOT NULL, spent INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS codes_nonce ON codes (client_id, nonce);
CREATE INDEX IF NOT EXISTS codes_expiry ON codes (expires_at);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('access_token', 'refresh_token')),
    grant_id TEXT NOT NULL REFERENCES grants(id), client_id TEXT NOT NULL, sub TEXT NOT NULL,
    scope TEXT NOT NULL, auth_time INTEGER NOT NULL, issued_at REAL NOT NULL,
    expires_at REAL NOT NULL, spent INTEGER NOT NULL DEFAULT 0, revoked INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS tokens_grant ON tokens (grant_id);
CREATE INDEX IF NOT EXISTS tokens_expiry ON tokens (expires_at);
"""
#: Rows are kept this long after they expire (a replayed code or refresh token is still
#: recognised as a replay for that long), then purged at the next sign-in.
KEEP_EXPIRED = 3600


def digest(value: str) -> str:
    """SHA-256 of a code or token, hex. The store keeps only this."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class StoredCode(AuthorizationCodeMixin):
    """An authorization code as Authlib's grants and PKCE read it."""

    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float
    spent: bool

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class StoredToken(TokenMixin):
    """An access or refresh token's row, read at one instant ``now`` of the course clock."""

    token_hash: str
    kind: str
    grant_id: str
    client_id: str
    sub: str
    scope: str
    auth_time: int
    issued_at: float
    expires_at: float
    spent: bool
    revoked: bool  # the token itself, or its whole grant
    now: float

    def check_client(self, client: Any) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - self.issued_at)

    def is_expired(self) -> bool:
        return self.now >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked or self.spent

    def is_active(self) -> bool:
        return not self.is_expired() and not self.is_revoked()


class OAuthStore:
    """The server's SQLite database. ``path=None`` keeps it in memory.

    One connection, used under a lock, so each method is one atomic step even when the
    threaded server runs requests side by side.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path or ":memory:"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- grants and codes ----------------------------------------------------------------
    def save_code(
        self,
        code: str,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        sub: str,
        nonce: str | None,
        code_challenge: str | None,
        code_challenge_method: str | None,
        auth_time: int,
        now: float,
        ttl: float,
    ) -> str:
        """Store a fresh code and the grant it starts; return the grant id (old rows purged first).
        """
        grant_id = secrets.token_urlsafe(16)
        with self._lock:
            self._db.execute("DELETE FROM codes WHERE expires_at < ?", (now - KEEP_EXPIRED,))
            self._db.execute("DELETE FROM tokens WHERE expires_at < ?", (now - KEEP_EXPIRED,))
            self._db.execute(
                "INSERT INTO grants (id, client_id, sub, scope, created_at) VALUES (?, ?, ?, ?, ?)",
                (grant_id, client_id, sub, scope, now),
            )
            self._db.execute(
                "INSERT INTO codes (code_hash, grant_id, client_id, redirect_uri, scope, sub,"
                " nonce, code_challenge, code_challenge_method, auth_time, expires_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    digest(code),
                    grant_id,
                    client_id,
                    redirect_uri,
                    scope,
                    sub,
                    nonce,
                    code_challenge,
                    code_challenge_method,
                    auth_time,
                    now + ttl,
                ),
            )
        return grant_id

    def find_code(self, code: str) -> StoredCode | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM codes WHERE code_hash = ?", (digest(code),)
            ).fetchone()
        if row is None:
            return None
        return StoredCode(**{**dict(row), "spent": bool(row["spent"])})

    def spend_code(self, code_hash: str) -> bool:
        """Mark the code used. True for exactly one caller, however many race."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE codes SET spent = 1 WHERE code_hash = ? AND spent = 0", (code_hash,)
            )
        return cursor.rowcount == 1

    def nonce_seen(self, client_id: str, nonce: str) -> bool:
        """Has this client sent this nonce before (in a request that got a code)?"""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM codes WHERE client_id = ? AND nonce = ?", (client_id, nonce)
            ).fetchone()
        return row is not None

    def revoke_grant(self, grant_id: str) -> None:
        """Revoke a grant: its code and every token from it stop working at once."""
        with self._lock:
            self._db.execute("UPDATE grants SET revoked = 1 WHERE id = ?", (grant_id,))

    # -- tokens --------------------------------------------------------------------------
    def save_token(
        self,
        token: str,
        *,
        kind: str,
        grant_id: str,
        client_id: str,
        sub: str,
        scope: str,
        auth_time: int,
        now: float,
        ttl: float,
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO tokens (token_hash, kind, grant_id, client_id, sub, scope, auth_time,"
                " issued_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (digest(token), kind, grant_id, client_id, sub, scope, auth_time, now, now + ttl),
            )

    def find_token(self, token: str, *, now: float, kind: str | None = None) -> StoredToken | None:
        """The token's row (either kind, or only ``kind``), its grant's revocation folded in."""
        with self._lock:
            row = self._db.execute(
                "SELECT t.*, g.revoked AS grant_revoked FROM tokens t"
                " JOIN grants g ON g.id = t.grant_id"
                " WHERE t.token_hash = ?",
                (digest(token),),
            ).fetchone()
        if row is None or (kind is not None and row["kind"] != kind):
            return None
        fields = {k: row[k] for k in row.keys() if k != "grant_revoked"}
        return StoredToken(
            **{
                **fields,
                "spent": bool(row["spent"]),
                "revoked": bool(row["revoked"] or row["grant_revoked"]),
                "now": now,
            }
        )

    def spend_token(self, token_hash: str) -> bool:
        """Spend a refresh token (rotation). True for exactly one caller, however many race."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE tokens SET spent = 1 WHERE token_hash = ? AND spent = 0", (token_hash,)
            )
        return cursor.rowcount == 1

    def revoke_token(self, token_hash: str) -> None:
        with self._lock:
            self._db.execute("UPDATE tokens SET revoked = 1 WHERE token_hash = ?", (token_hash,))

    def grant_created_at(self, grant_id: str) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT created_at FROM grants WHERE id = ?", (grant_id,)
            ).fetchone()
        return None if row is None else row["created_at"]

    def counts(self) -> dict[str, int]:
        """Rows per table, for a notebook to look at."""
        with self._lock:
            return {
                t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("grants", "codes", "tokens")
            }
