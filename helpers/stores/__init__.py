"""Where the demo servers keep state, behind small interfaces.

* sessions (:class:`~helpers.stores.sessions.SessionStore`): memory, SQLite or Redis;
* tokens (:class:`~helpers.stores.tokens.TokenStore`): refresh-token families and the
  jti denylist, in SQLite.

Each store module imports only :mod:`helpers.stores.sessions` (the interface), and
:func:`open_session_store` here imports the stores: no module imports another in a cycle.
"""

from __future__ import annotations

from .memory_sessions import MemorySessionStore
from .sessions import SessionRecord, SessionStore, StoreUnavailable
from .sqlite_sessions import SQLiteSessionStore


def open_session_store(db: str | None = None, redis: str | None = None) -> SessionStore:
    """The store the CLI options name: ``redis`` URL -> Redis, ``db`` path -> SQLite, else memory.

    ``db`` may also be a ``redis://`` URL (the older spelling of ``--redis``).
    """
    if db and db.startswith(("redis://", "rediss://", "unix://")) and redis is None:
        db, redis = None, db
    if redis:
        from .redis_sessions import RedisSessionStore  # redis-py is imported only when used

        return RedisSessionStore.from_url(redis)
    if db:
        return SQLiteSessionStore(db)
    return MemorySessionStore()


__all__ = [
    "MemorySessionStore",
    "SQLiteSessionStore",
    "SessionRecord",
    "SessionStore",
    "StoreUnavailable",
    "open_session_store",
]
