"""Old import path, kept for existing notebooks: the code lives in :mod:`helpers.stores`."""

from helpers.stores import (  # noqa: F401
    MemorySessionStore,
    SessionRecord,
    SessionStore,
    SQLiteSessionStore,
    StoreUnavailable,
)
