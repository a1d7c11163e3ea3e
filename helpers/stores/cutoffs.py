"""Per-user cut-off times for access tokens ("log out everywhere"), in SQLite or Redis.

A JWT access token is checked without asking anyone, so ending it early needs state
that every verifier reads. A denylist holds one row per token; a **cut-off** holds one
row per user: "refuse every token of alice issued before T". It stays small (one entry
per user who logged out everywhere) and is forgotten once no token from before it can
still be alive: ``keep_for`` seconds, the longest a token or a login lives.

* :class:`SQLiteCutoffs`: a table in an SQLite file, for one server (the default);
* :class:`RedisCutoffs`: one key per user in a shared Redis, so every instance of the
  server refuses the same tokens. Any connection error or timeout becomes
  :class:`~helpers.stores.sessions.StoreUnavailable`: the server then refuses the
  request (fail closed), since it cannot tell whether the token was cut off.

Cut-offs only move forward: a later, smaller cut never revives tokens an earlier one
refused. Times are course-clock seconds, as the ``iat`` they are compared with.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from typing import Protocol

from .sessions import StoreUnavailable

SCHEMA = """
CREATE TABLE IF NOT EXISTS token_cutoffs (
    sub       TEXT PRIMARY KEY,
    cut_at    REAL NOT NULL,  -- course clock: tokens issued before it are refused
    forget_at REAL NOT NULL   -- wall clock: no token from before the cut lives this long
)
"""
#: Seconds a Redis command may take before the store counts as unavailable.
SOCKET_TIMEOUT = 0.5


class CutoffStore(Protocol):
    def cut(self, sub: str, at: float, *, keep_for: float) -> float:
        """Refuse ``sub``'s tokens issued before ``at`` for ``keep_for`` s; the cut-off now."""

    def cutoff_of(self, sub: str) -> float | None:
        """The user's cut-off, or None."""


def _check(sub: str, keep_for: float) -> None:
    if not isinstance(sub, str):
        raise TypeError("sub must be a string")
    if isinstance(keep_for, bool) or not isinstance(keep_for, (int, float)) or not (
        math.isfinite(keep_for) and keep_for > 0
    ):
        raise ValueError(f"keep_for must be a positive number of seconds, not {keep_for!r}")


class SQLiteCutoffs:
    """Cut-offs in a table of an SQLite file (``:memory:`` for one process)."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                   timeout=10)
        self._db.execute(SCHEMA)

    def cut(self, sub: str, at: float, *, keep_for: float) -> float:
        _check(sub, keep_for)
        now = time.time()
        with self._lock:
            try:
                self._db.execute("DELETE FROM token_cutoffs WHERE forget_at <= ?", (now,))
                self._db.execute(
                    "INSERT INTO token_cutoffs VALUES (?, ?, ?) ON CONFLICT (sub) DO UPDATE"
                    " SET cut_at = max(cut_at, excluded.cut_at), forget_at = excluded.forget_at",
                    (sub, float(at), now + keep_for))
                (cut_at,) = self._db.execute("SELECT cut_at FROM token_cutoffs WHERE sub = ?",
                                             (sub,)).fetchone()
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite cut-offs {self.path!r}: {exc}") from exc
        return cut_at

    def cutoff_of(self, sub: str) -> float | None:
        try:
            sub.encode("utf-8")
        except (AttributeError, UnicodeEncodeError):
            return None
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT cut_at FROM token_cutoffs WHERE sub = ? AND forget_at > ?",
                    (sub, time.time())).fetchone()
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite cut-offs {self.path!r}: {exc}") from exc
        return None if row is None else row[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<SQLiteCutoffs {self.path!r}>"


# KEYS: the user's cut-off. ARGV: the new cut, keep_for in ms. Keeps the later cut.
_CUT = """
local old = redis.call('GET', KEYS[1])
local cut = ARGV[1]
if old and tonumber(old) > tonumber(cut) then cut = old end
redis.call('SET', KEYS[1], cut, 'PX', ARGV[2])
return cut
"""


class RedisCutoffs:
    """Cut-offs in a shared Redis: ``token-cutoff:<sub>`` -> the cut, with a ``PX`` expiry."""

    def __init__(self, client: object, prefix: str = "token-cutoff:") -> None:
        self.client = client
        self.prefix = prefix
        self._cut = client.register_script(_CUT)  # type: ignore[attr-defined]

    @classmethod
    def from_url(cls, url: str, *, timeout: float = SOCKET_TIMEOUT) -> RedisCutoffs:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(url, socket_timeout=timeout,
                                      socket_connect_timeout=timeout,
                                      retry=Retry(NoBackoff(), 1), health_check_interval=0)
        return cls(client)

    def _key(self, sub: str) -> bytes:
        return (self.prefix + sub).encode("utf-8", "surrogatepass")

    def _call(self, fn):  # type: ignore[no-untyped-def]
        import redis

        try:
            return fn()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc

    def cut(self, sub: str, at: float, *, keep_for: float) -> float:
        _check(sub, keep_for)
        args = [repr(float(at)), max(1, math.ceil(keep_for * 1000))]
        return float(self._call(lambda: self._cut(keys=[self._key(sub)], args=args)))

    def cutoff_of(self, sub: str) -> float | None:
        raw = self._call(lambda: self.client.get(self._key(sub)))  # type: ignore[attr-defined]
        return None if raw is None else float(raw)

    def close(self) -> None:
        self.client.close()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<RedisCutoffs prefix={self.prefix!r}>"


def open_cutoffs(path: str, redis: str | None = None) -> SQLiteCutoffs | RedisCutoffs:
    """Redis when a URL is given (shared by every instance), else the SQLite file at ``path``."""
    return RedisCutoffs.from_url(redis) if redis else SQLiteCutoffs(path)
