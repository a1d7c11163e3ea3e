"""Old import path, kept for notebooks that use it: see the module it re-exports."""

from helpers.notebook.redis_server import (  # noqa: F401
    RedisServer,
    RedisServerError,
    RedisServerMissing,
    serve_redis,
)
