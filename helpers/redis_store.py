"""Old import path, kept for existing notebooks: the code lives in :mod:`helpers.stores.redis_sessions`."""

from helpers.stores.redis_sessions import RedisSessionStore  # noqa: F401
