"""Old import path, kept for notebooks that use it: see the module it re-exports."""

from helpers.stores.redis_sessions import RedisSessionStore  # noqa: F401
