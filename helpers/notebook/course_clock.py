"""A clock the course can move.

Expiry is part of every lesson here: idle sessions, cookie ``Max-Age``, JWT ``exp``,
refresh-token lifetimes. Waiting for real minutes to pass would make the notebooks
slow and flaky, so every demo server reads the time from a :class:`CourseClock`
and a notebook moves that clock forward instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone


class CourseClock:
    """Wall-clock time plus an offset that only the course changes.

    The clock never goes backwards on its own, and moving it is explicit, so a
    notebook cell that says ``clock.advance(3600)`` is the whole story of "an hour
    later".
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        """Seconds since the Unix epoch, as the course sees them."""
        with self._lock:
            return time.time() + self._offset

    def now(self) -> datetime:
        """The course time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)

    @property
    def offset(self) -> float:
        """How far (in seconds) the course clock runs ahead of the wall clock."""
        with self._lock:
            return self._offset

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new offset."""
        if seconds < 0:
            raise ValueError("the course clock only moves forward; use reset() to start over")
        with self._lock:
            self._offset += seconds
            return self._offset

    def reset(self) -> None:
        """Go back to wall-clock time (offset 0)."""
        with self._lock:
            self._offset = 0.0

    @contextmanager
    def moved(self, seconds: float) -> Iterator[CourseClock]:
        """Run a block ``seconds`` in the future, then restore the previous offset."""
        with self._lock:
            before = self._offset
            self._offset += seconds
        try:
            yield self
        finally:
            with self._lock:
                self._offset = before

    def __repr__(self) -> str:
        return f"CourseClock(offset={self.offset:+.0f}s)"


#: The clock every demo server uses unless it is given another one.
clock = CourseClock()
