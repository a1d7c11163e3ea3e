"""Debian's headless Chromium on one thread of its own: the course's one browser launcher.

Why a thread: Playwright's sync API refuses to run in a thread that has a running asyncio
loop ("It looks like you are using Playwright Sync API inside the asyncio loop"), and a
Jupyter kernel runs every cell inside one. So one daemon thread owns Playwright and the
browser, and every call is handed to it and waited for. Everything in the course that
drives Chromium builds on it: :mod:`helpers.notebook.browser` (pages that behave like
Playwright's), :mod:`helpers.notebook.webauthn_tabs` (tabs with a virtual authenticator)
and :func:`run_in_page` below. So there is one thread, one Chromium, one set of flags and
one line that says what is missing. Debian's ``chromium`` is used (Playwright's own
download is not).

:func:`run_in_page` is for a cell that only runs a few scripts in one page: what only a
browser enforces (WebCrypto's non-extractable keys, cookie rules) is shown in a browser,
and opening one takes plumbing that is no part of any lesson.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

#: Where Debian's package puts it; ``COURSE_CHROMIUM`` overrides.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Flags that work in containers and CI: no sandbox (often no user namespaces), no GPU, no
#: QUIC, and nothing that phones home or updates itself while a notebook runs.
CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")
#: How long one browser call may take before it is given up (ms, Playwright's unit).
TIMEOUT_MS = 10_000
#: What a cell prints (or a test skips with) instead of running when Chromium is missing.
MISSING = ("needs a real browser: install Debian's 'chromium' package; CI runs this in "
           "Chromium (the notebooks and tests/test_*browser*.py)")


def chromium_path() -> Path | None:
    """The Chromium executable to drive, or None when the machine has none."""
    candidate = os.environ.get("COURSE_CHROMIUM", DEFAULT_CHROMIUM)
    found = shutil.which(candidate) or shutil.which("chromium")
    return Path(found) if found else None


def browser_available() -> bool:
    """True when Chromium is installed.

    Under ``COURSE_REQUIRE_SYSTEM_DEPS=1`` (CI) its absence is an error, not a skip.
    """
    if chromium_path() is not None:
        return True
    if os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1":
        raise RuntimeError(MISSING)
    return False


class BrowserThread:
    """One daemon thread that owns Playwright and runs every call made on its objects."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._stopped = False
        self._thread = threading.Thread(target=self._work, name="course-browser", daemon=True)
        self._thread.start()
        self.playwright: Any = None
        self.browser: Any = None
        self.extra: dict[tuple[str, ...], Any] = {}

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, future = job
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to the caller, who raises it in the cell
                future.set_exception(exc)
        while not self._jobs.empty():  # sent after stop(): fail them rather than leave them
            if (job := self._jobs.get()) is not None:
                job[1].set_exception(RuntimeError("the browser thread has stopped"))

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``function(*args, **kwargs)`` on the browser thread and return its result."""
        if threading.current_thread() is self._thread:
            return function(*args, **kwargs)
        if self._stopped:
            raise RuntimeError("the browser thread has stopped: open the browser again")
        future: Future[Any] = Future()
        self._jobs.put((lambda: function(*args, **kwargs), future))
        return future.result()

    def launch(self, extra_args: tuple[str, ...] = ()) -> Any:
        """A new Chromium with the course's flags (and ``extra_args``); on this thread only."""
        from playwright.sync_api import sync_playwright  # imported here: only browser cells need it

        if self.playwright is None:
            self.playwright = sync_playwright().start()
        return self.playwright.chromium.launch(executable_path=str(chromium_path()),
                                               args=[*CHROMIUM_ARGS, *extra_args])

    def browser_with(self, extra_args: tuple[str, ...]) -> Any:
        """A Chromium with extra flags, one per set of flags: started once, then reused."""

        def started() -> Any:  # on this thread, so two cells never start two of them
            browser = self.extra.get(extra_args)
            if browser is None or not browser.is_connected():
                browser = self.extra[extra_args] = self.launch(extra_args)
            return browser

        return self.call(started)

    def stop(self) -> None:
        self._stopped = True
        self._jobs.put(None)
        self._thread.join(timeout=5)


_lock = threading.Lock()
_worker: BrowserThread | None = None


def running_worker() -> BrowserThread:
    """The browser thread, with Playwright and the course's main Chromium running on it.

    Started on the first call and the same one afterwards; a browser that has crashed or
    was closed is replaced, so a re-run cell always gets a working browser, never a second
    one. Everything that drives Chromium (:mod:`helpers.notebook.browser`'s pages, the
    WebAuthn tabs, :func:`run_in_page`) builds on this thread and this browser.
    """
    global _worker
    if chromium_path() is None:
        raise RuntimeError(MISSING)
    with _lock:
        if _worker is None:
            _worker = BrowserThread()
        worker = _worker
        if worker.browser is None or not worker.call(lambda: worker.browser.is_connected()):
            worker.browser = worker.call(worker.launch)
        return worker


def close_browser() -> None:
    """Close Chromium and stop its thread (also runs at interpreter exit). Safe to call twice."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    if worker is None:
        return

    def shut_down() -> None:
        for extra in worker.extra.values():
            extra.close()
        if worker.browser is not None:
            worker.browser.close()
        if worker.playwright is not None:
            worker.playwright.stop()

    try:
        worker.call(shut_down)
    finally:
        worker.stop()


def running_browser_threads() -> int:
    """How many browser threads are alive: 0 or 1, whatever cells ran (a test checks it)."""
    return sum(t.name == "course-browser" and t.is_alive() for t in threading.enumerate())


atexit.register(close_browser)


def chromium_missing() -> str | None:
    """None when Chromium is installed; otherwise the one-line reason to skip.

    Under ``COURSE_REQUIRE_SYSTEM_DEPS=1`` (CI) a missing browser is an error instead.
    """
    return None if browser_available() else MISSING


def run_in_page(url: str, scripts: Sequence[tuple[str, Any]]) -> list[Any]:
    """Open ``url`` in a fresh browser context and evaluate each ``(script, arg)`` in turn,
    in the same page (so a later script sees what an earlier one left in ``window``).

    Returns what each script returned. The context (its cookies, storage and keys) is
    closed before this returns.
    """
    worker = running_worker()

    def run() -> list[Any]:
        context = worker.browser.new_context()
        try:
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.goto(url)
            return [page.evaluate(script, arg) for script, arg in scripts]
        finally:
            context.close()

    return worker.call(run)
