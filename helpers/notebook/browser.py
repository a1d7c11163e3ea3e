"""Headless Chromium for what only a browser shows (SameSite, cookie prefixes, HttpOnly).

Why a module of its own: Playwright's sync API refuses to run in a thread that has a
running asyncio loop, and a Jupyter kernel runs every cell inside one. So the browser
lives on a dedicated worker thread, and every call on a Playwright object is sent to
that thread and waited for. The objects this module returns (:class:`OnBrowserThread`)
look and behave like Playwright's own ``Browser`` / ``BrowserContext`` / ``Page``:
``page.goto(url)``, ``page.evaluate(js)``, ``page.context.cookies()`` read as usual.
Two things differ: ``with page.expect_…()`` blocks are not forwarded (wait with
``page.wait_for_url`` instead), and event handlers (``page.on``, a CDP session's ``on``)
run on the browser thread, only while some browser call is running, so wait for an event
with ``page.wait_for_timeout(ms)``, never with ``time.sleep``. A handler must be a Python
function (``lambda e: seen.append(e)``): Playwright rejects a builtin such as ``seen.append``.

Re-run safe: :func:`open_browser` starts Chromium once and hands back the same browser on
every later call (a new one if the old one died); :func:`close_browser` ends it, and runs
by itself when the interpreter exits. The machine's own Chromium is used (Debian's
``/usr/bin/chromium``), never a browser Playwright would download.

    from helpers import new_page
    page = new_page()                 # a fresh context: an empty cookie jar
    page.goto("http://127.0.0.1:5000/")
    page.context.close()
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

#: Where Debian's package puts it; ``COURSE_CHROMIUM`` overrides.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Flags that work in containers and CI: no sandbox (often no user namespaces), no GPU, no
#: QUIC, and nothing that phones home or updates itself while a notebook runs.
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")
#: How long one browser call may take before it is given up (ms, Playwright's unit).
TIMEOUT_MS = 10_000
#: What a cell prints instead of running when Chromium is missing.
MISSING = ("needs a real browser: install Debian's 'chromium' package; "
           "this behaviour is verified in tests/test_browser.py")


def chromium_path() -> Path | None:
    """The Chromium executable to drive, or None when the machine has none."""
    candidate = os.environ.get("COURSE_CHROMIUM", DEFAULT_CHROMIUM)
    found = shutil.which(candidate)
    return Path(found) if found else None


def browser_available() -> bool:
    """True when Chromium is installed.

    Under ``COURSE_REQUIRE_SYSTEM_DEPS=1`` (CI) a missing Chromium is an error, not a skip.
    """
    if chromium_path() is not None:
        return True
    if os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1":
        raise RuntimeError(MISSING)
    return False


class _BrowserThread:
    """One daemon thread that owns Playwright and runs every call made on its objects."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="course-browser", daemon=True)
        self._thread.start()
        self.playwright: Any = None
        self.browser: Any = None
        #: further browsers launched with extra flags (:func:`open_browser_with`), by flags
        self.extra: dict[tuple[str, ...], Any] = {}

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, future = job
            try:
                future.set_result(call())
            except BaseException as exc:  # handed to the caller, who raises it in the cell
                future.set_exception(exc)

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue ``function(*args, **kwargs)`` for the browser thread; its result comes later."""
        future: Future[Any] = Future()
        self._jobs.put((lambda: function(*args, **kwargs), future))
        return future

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``function(*args, **kwargs)`` on the browser thread and return its result."""
        if threading.current_thread() is self._thread:
            return function(*args, **kwargs)
        return self.submit(function, *args, **kwargs).result()

    def stop(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=5)


_lock = threading.Lock()
_worker: _BrowserThread | None = None


def _is_playwright_object(value: Any) -> bool:
    return type(value).__module__.startswith("playwright.")


class OnBrowserThread:
    """A Playwright object whose attributes and method calls all run on the browser thread."""

    def __init__(self, target: Any, worker: _BrowserThread) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_worker", worker)

    def _wrap(self, value: Any) -> Any:
        if _is_playwright_object(value):
            return OnBrowserThread(value, self._worker)
        if isinstance(value, list) and value and all(map(_is_playwright_object, value)):
            return [OnBrowserThread(v, self._worker) for v in value]
        return value

    def __getattr__(self, name: str) -> Any:
        value = self._worker.call(getattr, self._target, name)
        if callable(value) and not _is_playwright_object(value):
            def on_browser_thread(*args: Any, **kwargs: Any) -> Any:
                args = tuple(a._target if isinstance(a, OnBrowserThread) else a for a in args)
                return self._wrap(self._worker.call(value, *args, **kwargs))
            on_browser_thread.__doc__ = getattr(value, "__doc__", None)
            return on_browser_thread
        return self._wrap(value)

    def __repr__(self) -> str:
        return f"OnBrowserThread({self._target!r})"


def _launch(worker: _BrowserThread) -> Any:
    from playwright.sync_api import sync_playwright  # imported here: only browser cells need it

    if worker.playwright is None:
        worker.playwright = sync_playwright().start()
    return worker.playwright.chromium.launch(executable_path=str(chromium_path()),
                                             args=list(CHROMIUM_ARGS))


def _ensure_browser(worker: _BrowserThread) -> Any:
    """On the browser thread: the running browser, or a new one if there is none or it died."""
    if worker.browser is None or not worker.browser.is_connected():
        worker.browser = _launch(worker)
    return worker.browser


def _the_worker() -> _BrowserThread:
    global _worker
    with _lock:
        if _worker is None:
            _worker = _BrowserThread()
        return _worker


def open_browser() -> OnBrowserThread:
    """The course's headless Chromium: started on the first call, the same one afterwards.

    A browser that has crashed or was closed is replaced, so a re-run cell always gets a
    working browser and never a second one.
    """
    if chromium_path() is None:
        raise RuntimeError(MISSING)
    worker = _the_worker()
    return OnBrowserThread(worker.call(_ensure_browser, worker), worker)


def start_browser() -> None:
    """Begin launching Chromium and return at once: a later :func:`open_browser` finds it ready.

    Launching takes about a second; a notebook calls this at the top and its browser
    section does not wait. Without Chromium it does nothing; a failed launch is reported
    by the next :func:`open_browser`, which tries again.
    """
    if chromium_path() is not None:
        worker = _the_worker()
        worker.submit(_ensure_browser, worker)


def open_browser_with(extra_args: tuple[str, ...]) -> OnBrowserThread:
    """A second Chromium with extra flags (e.g. ``--host-resolver-rules``), one per set of flags.

    For what needs the whole browser configured differently: those flags stay out of the
    course's main browser. Started on first use, reused afterwards, closed by
    :func:`close_browser`.
    """
    if chromium_path() is None:
        raise RuntimeError(MISSING)
    worker = _the_worker()
    worker.call(_ensure_browser, worker)  # Playwright itself runs from here on

    def launch() -> Any:
        browser = worker.extra.get(extra_args)
        if browser is None or not browser.is_connected():
            browser = worker.extra[extra_args] = worker.playwright.chromium.launch(
                executable_path=str(chromium_path()), args=[*CHROMIUM_ARGS, *extra_args])
        return browser

    return OnBrowserThread(worker.call(launch), worker)


def new_page() -> OnBrowserThread:
    """A page in a fresh browser context (an empty cookie jar); ``page.context.close()`` ends it."""
    browser = open_browser()
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


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
    """How many browser threads are alive: 0 or 1, whatever cells ran (a test holds it to that)."""
    return sum(t.name == "course-browser" and t.is_alive() for t in threading.enumerate())


atexit.register(close_browser)


# Chapter 13 drives WebAuthn through tabs that each carry a virtual authenticator; those live
# in helpers.notebook.webauthn_tabs and are reachable here as ``browser.launch()`` and friends.
from .webauthn_tabs import Chromium, ChromiumMissing, Tab, chromium_available, close_all, launch  # noqa: E402,I001

__all__ = ["CHROMIUM_ARGS", "MISSING", "Chromium", "ChromiumMissing", "OnBrowserThread", "Tab",
           "browser_available", "chromium_available", "chromium_path", "close_all",
           "close_browser", "launch", "new_page", "open_browser", "open_browser_with",
           "start_browser",
           "running_browser_threads"]
