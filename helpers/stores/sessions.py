"""Where server-side sessions live: one small interface, several stores behind it.

A session is a row the server keeps, found by a random id the client carries in a
cookie::

    sid (the cookie value)  ->  SessionRecord(username, created_at, last_seen)

The ``sessions`` demo server talks only to the :class:`SessionStore` interface, so the
same server runs on memory (one process), on an SQLite file (survives a restart) or
on Redis (shared by several instances): :mod:`helpers.stores.memory_sessions`,
:mod:`helpers.stores.sqlite_sessions`, :mod:`helpers.stores.redis_sessions`, and
:func:`helpers.stores.open_session_store` picks one.

Expiry: the server decides when a session is over, from the course clock (idle and
absolute timeouts). ``create`` also receives a ``ttl`` in seconds, the longest the
session can live; a store may use it, on the wall clock, to forget sessions that
nobody ever presents again (Redis does this with ``PEXPIRE``; the two stores here
do the same lazily), so an abandoned session does not stay forever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
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


def check_new_session(record: SessionRecord, ttl: float) -> None:
    """What every store checks in ``create``: a SessionRecord of strings, a positive finite ttl."""
    if not isinstance(record, SessionRecord):
        raise TypeError(f"expected a SessionRecord, not {type(record).__name__}")
    if not isinstance(record.sid, str) or not isinstance(record.username, str):
        raise TypeError("sid and username must be strings")
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not (
        math.isfinite(ttl) and ttl > 0
    ):
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")


def with_last_seen(record: SessionRecord, last_seen: float) -> SessionRecord:
    """The same session, seen at ``last_seen``."""
    return replace(record, last_seen=float(last_seen))
