"""Sessions in a dict: fast, one process only, and gone when it ends."""

from __future__ import annotations

import threading
import time

from .sessions import SWEEP_INTERVAL, SessionRecord, check_new_session, with_last_seen


class MemorySessionStore:
    """Sessions in a dict, guarded by a lock: fast, and gone when the process ends."""

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[SessionRecord, float]] = {}  # sid -> (record, forget_at)
        self._lock = threading.Lock()
        self._next_sweep = time.time() + SWEEP_INTERVAL

    def create(self, record: SessionRecord, ttl: float) -> None:
        check_new_session(record, ttl)
        now = time.time()
        with self._lock:
            self._sessions[record.sid] = (record, now + ttl)
            if now >= self._next_sweep:
                self._sweep(now)

    def get(self, sid: str) -> SessionRecord | None:
        with self._lock:
            entry = self._sessions.get(sid)
            if entry is None:
                return None
            record, forget_at = entry
            if time.time() >= forget_at:
                del self._sessions[sid]
                return None
            return record

    def touch(self, sid: str, last_seen: float) -> None:
        with self._lock:
            entry = self._sessions.get(sid)
            if entry is not None:
                record, forget_at = entry
                self._sessions[sid] = (with_last_seen(record, last_seen), forget_at)

    def delete(self, sid: str) -> bool:
        with self._lock:
            return self._sessions.pop(sid, None) is not None

    def __len__(self) -> int:
        with self._lock:
            self._sweep(time.time())
            return len(self._sessions)

    def close(self) -> None:
        """Nothing to release; here so every store can be closed the same way."""

    def _sweep(self, now: float) -> None:
        # caller holds the lock
        for sid in [sid for sid, (_, forget_at) in self._sessions.items() if now >= forget_at]:
            del self._sessions[sid]
        self._next_sweep = now + SWEEP_INTERVAL

    def __repr__(self) -> str:
        return f"<MemorySessionStore sessions={len(self)}>"
