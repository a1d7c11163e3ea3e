"""Sessions in a dict: fast, one process only, and gone when it ends."""

from __future__ import annotations

import threading
import time

from .sessions import (
    SWEEP_INTERVAL,
    SessionRecord,
    check_keep_for,
    check_new_session,
    oldest_first,
    with_last_seen,
)


class MemorySessionStore:
    """Sessions in a dict, guarded by a lock: fast, and gone when the process ends.

    One lock guards everything, so ``end_sessions_of`` and a racing ``create`` are
    serialised: each sees the other's effect entirely or not at all. ``sessions_of`` scans
    every session (no per-user index): a simplification that suits a demo's few sessions.
    """

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[SessionRecord, float]] = {}  # sid -> (record, forget_at)
        self._cuts: dict[str, tuple[float, float]] = {}  # username -> (cut, forget_at)
        self._passwords: dict[str, str] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.time() + SWEEP_INTERVAL

    def create(self, record: SessionRecord, ttl: float) -> None:
        check_new_session(record, ttl)
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            cut = self._cuts.get(record.username)
            if cut is not None and now < cut[1] and record.created_at < cut[0]:
                return  # logged out everywhere after this login began: it never lives
            self._sessions[record.sid] = (record, now + ttl)

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

    # -- the lifecycle --------------------------------------------------------------------
    def sessions_of(self, username: str) -> list[SessionRecord]:
        now = time.time()
        with self._lock:
            return oldest_first([record for record, forget_at in self._sessions.values()
                                 if record.username == username and now < forget_at])

    def end_sessions_of(self, username: str, *, cut: float, keep_for: float) -> int:
        check_keep_for(keep_for)
        now = time.time()
        with self._lock:
            old = self._cuts.get(username)
            self._cuts[username] = (max(float(cut), old[0] if old else float(cut)),
                                    now + keep_for)
            ended = [sid for sid, (record, _) in self._sessions.items()
                     if record.username == username]
            for sid in ended:
                del self._sessions[sid]
            return len(ended)

    def password_hash(self, username: str) -> str | None:
        with self._lock:
            return self._passwords.get(username)

    def set_password_hash(self, username: str, password_hash: str) -> None:
        with self._lock:
            self._passwords[username] = password_hash

    def close(self) -> None:
        """Nothing to release; here so every store can be closed the same way."""

    def _sweep(self, now: float) -> None:
        # caller holds the lock
        for sid in [sid for sid, (_, forget_at) in self._sessions.items() if now >= forget_at]:
            del self._sessions[sid]
        for name in [name for name, (_, forget_at) in self._cuts.items() if now >= forget_at]:
            del self._cuts[name]
        self._next_sweep = now + SWEEP_INTERVAL

    def __repr__(self) -> str:
        return f"<MemorySessionStore sessions={len(self)}>"
