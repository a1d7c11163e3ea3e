"""Sessions in a real Redis server: the shared store that lets several app instances agree.

One Redis hash per session, under ``<prefix><sid>``::

    session:Xk3...  ->  {username: "alice", created_at: "1764...", last_seen: "1764..."}

with ``PEXPIRE`` set to the session's lifetime, so Redis itself forgets a session at
the end of its life. Every instance of the app talks to the same Redis, so a login
on one instance is visible on all of them.

The per-user index (chapter 13) is a Redis set of session ids per user, and beside it
the user's cut-off and changed password::

    by-user:session:alice   ->  {Xk3..., 9fQ...}       (SADD at login, SREM at logout)
    cut:session:alice       ->  "1764..."             (log out everywhere, PEXPIRE)
    password:session:alice  ->  "scrypt:32768:8:1$..."  (a changed password)

None of them starts with the prefix, so they are never counted as sessions. Consistency:
a login runs one Lua script (atomic in Redis) that checks the cut-off, writes the hash,
sets its expiry and adds the id to the set; "log out everywhere" runs one that sets the
cut-off and deletes every indexed session. So a racing login is either deleted or
refused, never left alive. Orphans: a session that Redis expired leaves its id in the set,
so the set carries the expiry of its longest-living session (it goes when they all have),
and every login and every listing prunes the ids whose hash is gone: the set never holds
more than the user's live sessions plus those that expired since the user last logged in.
The scripts build member keys from ``ARGV``, which a standalone Redis allows; Redis Cluster
would need every key of a user in one hash slot (a ``{username}`` hash tag).

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

from .sessions import (
    SessionRecord,
    StoreUnavailable,
    check_keep_for,
    check_new_session,
    oldest_first,
)

#: Seconds to wait for Redis to accept a connection or to answer a command.
SOCKET_TIMEOUT = 0.5
FIELDS = ("username", "created_at", "last_seen")
#: The longest user agent kept for the devices list (characters).
USER_AGENT_MAX = 200
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


# KEYS: session hash, the user's index set, the user's cut-off.
# ARGV: sid, username, created_at, last_seen, user_agent, ttl in ms, the session key prefix.
CREATE_SCRIPT = """
local cut = redis.call('GET', KEYS[3])
if cut and tonumber(ARGV[3]) < tonumber(cut) then
  return 0  -- logged out everywhere after this login began: it never lives
end
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[2])) do  -- prune what Redis expired
  if redis.call('EXISTS', ARGV[7] .. sid) == 0 then redis.call('SREM', KEYS[2], sid) end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'username', ARGV[2], 'created_at', ARGV[3],
           'last_seen', ARGV[4], 'user_agent', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('SADD', KEYS[2], ARGV[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[6]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[6])  -- the set lives as long as its longest session
end
return 1
"""

# KEYS: the user's index set, the user's cut-off. ARGV: cut, keep_for in ms, the prefix.
END_ALL_SCRIPT = """
local old = redis.call('GET', KEYS[2])
if not old or tonumber(old) < tonumber(ARGV[1]) then old = ARGV[1] end
redis.call('SET', KEYS[2], old, 'PX', ARGV[2])
local ended = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  ended = ended + redis.call('DEL', ARGV[3] .. sid)
end
redis.call('DEL', KEYS[1])
return ended
"""

# KEYS: the session hash. ARGV: sid, the index prefix. Delete it and its index entry.
DELETE_SCRIPT = """
local username = redis.call('HGET', KEYS[1], 'username')
local gone = redis.call('DEL', KEYS[1])
if username then redis.call('SREM', ARGV[2] .. username, ARGV[1]) end
return gone
"""


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


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
        self.index_prefix = f"by-user:{prefix}"
        self._touch = client.register_script(_TOUCH)
        self._create = client.register_script(CREATE_SCRIPT)
        self._end_all = client.register_script(END_ALL_SCRIPT)
        self._delete = client.register_script(DELETE_SCRIPT)

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
        keys = [self._key(record.sid), self._user_key("by-user:", record.username),
                self._user_key("cut:", record.username)]
        args = [_bytes(record.sid), _bytes(record.username), repr(float(record.created_at)),
                repr(float(record.last_seen)), _bytes(record.user_agent[:USER_AGENT_MAX]),
                max(1, math.ceil(ttl * 1000)), _bytes(self.prefix)]
        self._call(lambda: self._create(keys=keys, args=args))

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
                user_agent=text.get("user_agent", ""),
            )
        except (KeyError, UnicodeDecodeError, ValueError):
            return None  # missing, or not a session this store wrote

    def touch(self, sid: str, last_seen: float) -> None:
        """Record activity; a session that no longer exists stays gone. The expiry is kept."""
        self._call(lambda: self._touch(keys=[self._key(sid)], args=[repr(float(last_seen))]))

    def delete(self, sid: str) -> bool:
        """Delete the session; True if it existed."""
        return bool(self._call(lambda: self._delete(
            keys=[self._key(sid)], args=[_bytes(sid), _bytes(self.index_prefix)])))

    def __len__(self) -> int:
        """How many live sessions carry this store's prefix (SCAN, so Redis is never blocked)."""
        pattern = (_glob_escape(self.prefix) + "*").encode("utf-8", "surrogatepass")
        # SCAN may report a key twice while Redis resizes its table: count distinct keys
        return self._call(lambda: len(set(self.client.scan_iter(match=pattern, count=1000))))

    # -- the lifecycle --------------------------------------------------------------------
    def sessions_of(self, username: str) -> list[SessionRecord]:
        """The user's live sessions; ids whose session Redis expired are pruned from the set."""
        index = self._user_key("by-user:", username)
        sids = sorted(_text(sid) for sid in self._call(lambda: self.client.smembers(index)))
        found = [(sid, self.get(sid)) for sid in sids]
        gone = [sid for sid, record in found if record is None or record.username != username]
        if gone:  # SREM of an id that is gone is safe: ids are random and never reused
            self._call(lambda: self.client.srem(index, *[_bytes(sid) for sid in gone]))
        return oldest_first([record for _, record in found
                             if record is not None and record.username == username])

    def end_sessions_of(self, username: str, *, cut: float, keep_for: float) -> int:
        """Set the cut-off and delete every indexed session, in one atomic script."""
        check_keep_for(keep_for)
        keys = [self._user_key("by-user:", username), self._user_key("cut:", username)]
        args = [repr(float(cut)), max(1, math.ceil(keep_for * 1000)), _bytes(self.prefix)]
        return int(self._call(lambda: self._end_all(keys=keys, args=args)))

    def password_hash(self, username: str) -> str | None:
        raw = self._call(lambda: self.client.get(self._user_key("password:", username)))
        return None if raw is None else _text(raw)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self._call(lambda: self.client.set(self._user_key("password:", username),
                                           _bytes(password_hash)))

    # -- helpers ------------------------------------------------------------------------
    def ttl(self, sid: str) -> float | None:
        """Seconds the session ``sid`` has left in Redis, or None if it does not exist."""
        ms = self._call(lambda: self.client.pttl(self._key(sid)))
        return ms / 1000 if ms is not None and ms >= 0 else None

    def close(self) -> None:
        self.client.close()

    def _key(self, sid: str) -> bytes:
        # surrogatepass: an odd cookie value must not crash the encoder; it simply finds nothing
        return _bytes(self.prefix + sid)

    def _user_key(self, kind: str, username: str) -> bytes:
        """``by-user:``, ``cut:`` or ``password:``, then the prefix and the username."""
        return _bytes(kind + self.prefix + username)

    def _call(self, fn: Callable[[], T]) -> T:
        with _unavailable_on_connection_errors():
            return fn()

    def __repr__(self) -> str:
        kwargs: dict[str, Any] = self.client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
        return f"<RedisSessionStore redis://{where} prefix={self.prefix!r}>"
