"""Old import path, kept for existing notebooks: the code lives in :mod:`helpers.notebook.redis_server`."""

from helpers.notebook.redis_server import (  # noqa: F401
    RedisServer,
    RedisServerError,
    RedisServerMissing,
    serve_redis,
)
