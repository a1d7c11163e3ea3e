"""Things a notebook cell starts by name, so that running the cell again replaces them.

Both the in-notebook web servers (:func:`helpers.notebook.live_server.serve`) and the
Redis launcher (:func:`helpers.notebook.redis_server.serve_redis`) keep one of these:
starting ``"nb03-sessions"`` a second time first stops the one already running, so a
re-run never leaves a second server behind or finds its port taken.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, Protocol, TypeVar


class Stoppable(Protocol):
    def stop(self) -> None: ...


T = TypeVar("T", bound=Stoppable)


class NamedRegistry(Generic[T]):
    """``{name: running thing}`` with replace-on-restart, stopped at interpreter exit."""

    def __init__(self) -> None:
        self._running: dict[str, T] = {}
        self._lock = threading.Lock()
        atexit.register(self.stop_all)

    def replace(self, name: str, start: Callable[[], T]) -> T:
        """Stop the thing called ``name`` if there is one, then ``start()`` and remember it."""
        with self._lock:
            old = self._running.pop(name, None)
        if old is not None:
            old.stop()
        started = start()
        with self._lock:
            self._running[name] = started
        return started

    def forget(self, name: str, thing: T) -> None:
        """Drop ``name`` if it still names ``thing`` (called when ``thing`` stops by itself)."""
        with self._lock:
            if self._running.get(name) is thing:
                del self._running[name]

    def running(self) -> dict[str, T]:
        with self._lock:
            return dict(self._running)

    def stop(self, names: list[str] | None = None) -> None:
        """Stop the named things (all when ``names`` is None) at once, in parallel.

        Each stop may wait for a poll loop or a child process; in parallel, stopping ten
        costs about one wait instead of ten.
        """
        with self._lock:
            chosen = [self._running.pop(n) for n in (names if names is not None else
                                                     list(self._running)) if n in self._running]
        if len(chosen) == 1:
            chosen[0].stop()
        elif chosen:
            with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
                list(pool.map(lambda thing: thing.stop(), chosen))

    def stop_all(self) -> None:
        self.stop(None)
