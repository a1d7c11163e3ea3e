"""Sessions in a real Redis server: the shared store that lets several app instances agree.

One Redis hash per session, under ``<prefix><sid>``::

    session:Xk3...  ->  {username: "alice", created_at: "1764...", last_seen: "1764..."}

with ``PEXPIRE`` set to the session's lifetime, so Redis itself forgets a session at
the end of its life. Every instance of the app talks to the same Redis, so a login
on one instance is visible on all of them.

Failure is explicit: any connection error or timeout from Redis becomes
:class:`helpers.stores.sessions.StoreUnavailable` (the server turns it into a 503), the
socket timeouts are short, and there is at most one immediate retry, so a dead Redis
never makes a request hang. The client reconnects by itself once Redis is back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .sessions import SessionRecord, StoreUnavailable, check_new_session

#: Seconds to wait for Redis to accept a connection or to answer a command.
SOCKET_TIMEOUT = 0.5
FIELDS = ("username", "created_at", "last_seen")
T = TypeVar("T")

# Update last_seen only if the session still exists: a plain HSET on a key that has
# just expired would create a new hash with no expiry, a session that never ends.
_TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
  return 1
end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _glob_escape(text: str) -> str:
    """Escape Redis glob characters so a prefix matches only itself in SCAN MATCH."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


@contextmanager
def _unavailable_on_connection_errors() -> Iterator[None]:
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreUnavailable(f"Redis is unreachable: {exc}") from exc


class RedisSessionStore:
    """The course's ``SessionStore`` interface on top of a Redis client.

    ``client`` should use short socket timeouts (:meth:`from_url` sets them up).
    ``prefix`` keeps these keys apart from anything else in the same database.
    """

    def __init__(self, client: redis.Redis, prefix: str = "session:") -> None:
        self.client = client
        self.prefix = prefix
        self._touch = client.register_script(_TOUCH)

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = "session:", timeout: float = SOCKET_TIMEOUT
    ) -> RedisSessionStore:
        """A store on the Redis at ``url`` (``redis://HOST:PORT/DB``), with short timeouts."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # one immediate retry covers a pooled connection that Redis closed while it
            # was away; more retries would only make a dead Redis slower to report
            retry=Retry(NoBackoff(), 1),
            health_check_interval=0,
        )
        return cls(client, prefix=prefix)

    # -- the SessionStore interface ----------------------------------------------------
    def create(self, record: SessionRecord, ttl: float) -> None:
        """Store ``record`` (replacing any session with the same id) for ``ttl`` seconds."""
        check_new_session(record, ttl)
        key = self._key(record.sid)
        fields = {
            "username": record.username,
            "created_at": repr(float(record.created_at)),
            "last_seen": repr(float(record.last_seen)),
        }
        ttl_ms = max(1, math.ceil(ttl * 1000))

        def run() -> None:
            pipe = self.client.pipeline(transaction=True)  # MULTI ... EXEC: all or nothing
            pipe.delete(key)
            pipe.hset(key, mapping=fields)
            pipe.pexpire(key, ttl_ms)
            pipe.execute()

        self._call(run)

    def get(self, sid: str) -> SessionRecord | None:
        """The live session ``sid``, or None if there is none (never existed, expired, deleted)."""
        raw: dict[Any, Any] = self._call(lambda: self.client.hgetall(self._key(sid)))
        try:
            # bytes from a default client, str from one made with decode_responses=True
            text = {_text(key): _text(value) for key, value in raw.items()}
            values = {name: text[name] for name in FIELDS}
            return SessionRecord(
                sid=sid,
                username=values["username"],
                created_at=float(values["created_at"]),
                last_seen=float(values["last_seen"]),
            )
        except (KeyError, UnicodeDecodeError, ValueError):
            return None  # missing, or not a session this store wrote

    def touch(self, sid: str, last_seen: float) -> None:
        """Record activity; a session that no longer exists stays gone. The expiry is kept."""
        self._call(lambda: self._touch(keys=[self._key(sid)], args=[repr(float(last_seen))]))

    def delete(self, sid: str) -> bool:
        """Delete the session; True if it existed."""
        return bool(self._call(lambda: self.client.delete(self._key(sid))))

    def __len__(self) -> int:
        """How many live sessions carry this store's prefix (SCAN, so Redis is never blocked)."""
        pattern = (_glob_escape(self.prefix) + "*").encode("utf-8", "surrogatepass")
        # SCAN may report a key twice while Redis resizes its table: count distinct keys
        return self._call(lambda: len(set(self.client.scan_iter(match=pattern, count=1000))))

    # -- helpers ------------------------------------------------------------------------
    def ttl(self, sid: str) -> float | None:
        """Seconds the session ``sid`` has left in Redis, or None if it does not exist."""
        ms = self._call(lambda: self.client.pttl(self._key(sid)))
        return ms / 1000 if ms is not None and ms >= 0 else None

    def close(self) -> None:
        self.client.close()

    def _key(self, sid: str) -> bytes:
        # surrogatepass: an odd cookie value must not crash the encoder; it simply finds nothing
        return (self.prefix + sid).encode("utf-8", "surrogatepass")

    def _call(self, fn: Callable[[], T]) -> T:
        with _unavailable_on_connection_errors():
            return fn()

    def __repr__(self) -> str:
        kwargs: dict[str, Any] = self.client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        return f"<RedisSessionStore redis://{where} prefix={self.prefix!r}>"
