"""Old import path, kept for notebooks that use it: see the module it re-exports."""

from helpers.stores import (  # noqa: F401
    MemorySessionStore,
    SessionRecord,
    SessionStore,
    SQLiteSessionStore,
    StoreUnavailable,
)
