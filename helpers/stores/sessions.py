"""Where server-side sessions live: one small interface, several stores behind it.

A session is a row the server keeps, found by a random id the client carries in a
cookie::

    sid (the cookie value)  ->  SessionRecord(username, created_at, last_seen, user_agent)

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

The session lifecycle (chapter 13) adds a per-user view, which every store keeps
consistent under concurrent requests:

* ``sessions_of(username)`` lists a user's live sessions (the devices list);
* ``end_sessions_of(username, cut=..., keep_for=...)`` ends all of them at once and
  records ``cut``, a per-user **cut-off**: from then on ``create`` refuses (silently
  drops) any session of that user whose ``created_at`` is before the cut. A login that
  raced with "log out everywhere" and read the clock before the cut therefore never
  leaves a live session behind, whichever of the two reaches the store first. The
  cut-off is kept ``keep_for`` seconds (the longest a session lives), then forgotten;
* ``password_hash(username)`` / ``set_password_hash(username, hash)``: a changed
  password lives here, beside the sessions it ends, never in ``data/users.json``.
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
    user_agent: str = ""  # the User-Agent at login (shortened), for the devices list


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

    def sessions_of(self, username: str) -> list[SessionRecord]:
        """The user's live sessions, oldest first."""

    def end_sessions_of(self, username: str, *, cut: float, keep_for: float) -> int:
        """End every session of ``username`` and refuse new ones created before ``cut``
        (course-clock seconds) for ``keep_for`` seconds; how many sessions were ended."""

    def password_hash(self, username: str) -> str | None:
        """The user's changed password hash, or None if the password was never changed."""

    def set_password_hash(self, username: str, password_hash: str) -> None:
        """Store a changed password's hash (replacing any earlier one)."""


def check_new_session(record: SessionRecord, ttl: float) -> None:
    """What every store checks in ``create``: a SessionRecord of strings, a positive finite ttl."""
    if not isinstance(record, SessionRecord):
        raise TypeError(f"expected a SessionRecord, not {type(record).__name__}")
    if not all(isinstance(v, str) for v in (record.sid, record.username, record.user_agent)):
        raise TypeError("sid, username and user_agent must be strings")
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not (
        math.isfinite(ttl) and ttl > 0
    ):
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")


def check_keep_for(keep_for: float) -> None:
    """``end_sessions_of``'s ``keep_for`` follows the same rule as a session's ttl."""
    if isinstance(keep_for, bool) or not isinstance(keep_for, (int, float)) or not (
        math.isfinite(keep_for) and keep_for > 0
    ):
        raise ValueError(f"keep_for must be a positive number of seconds, not {keep_for!r}")


def oldest_first(records: list[SessionRecord]) -> list[SessionRecord]:
    """The order every store lists a user's sessions in (ties broken by id)."""
    return sorted(records, key=lambda r: (r.created_at, r.sid))


def with_last_seen(record: SessionRecord, last_seen: float) -> SessionRecord:
    """The same session, seen at ``last_seen``."""
    return replace(record, last_seen=float(last_seen))


def storable_text(text: str) -> bool:
    """False for a lone surrogate: valid in a Python str and in JSON text, but not storable as
    UTF-8 (SQLite's text, Redis's strings). Every store that keeps client text checks it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
