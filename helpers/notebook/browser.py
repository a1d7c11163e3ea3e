"""Headless Chromium for what only a browser shows (SameSite, cookie prefixes, HttpOnly).

The browser lives on the course's one browser thread (:mod:`helpers.notebook.chromium`
says why). The objects this module returns (:class:`OnBrowserThread`) send every call to
that thread and wait for it, and otherwise look and behave like Playwright's own
``Browser`` / ``BrowserContext`` / ``Page``: ``page.goto(url)``, ``page.evaluate(js)``,
``page.context.cookies()`` read as usual.

Re-run safe: :func:`open_browser` starts Chromium once and hands back the same browser on
every later call (a new one if the old one died); :func:`close_browser` ends it, and runs
by itself when the interpreter exits. The machine's own Chromium is used (Debian's
``/usr/bin/chromium``), never a browser Playwright would download.

    from helpers.notebook.browser import browser_available, new_page
    page = new_page()                 # a fresh context: an empty cookie jar
    page.goto("http://127.0.0.1:5000/")
    page.context.close()

Chapter 13's WebAuthn tabs (:mod:`helpers.notebook.webauthn_tabs`) are reachable here
too, as ``from helpers import browser; browser.launch()``.
"""

from __future__ import annotations

import threading
from typing import Any

from .chromium import (
    CHROMIUM_ARGS,
    MISSING,
    TIMEOUT_MS,
    BrowserThread,
    browser_available,
    chromium_path,
    close_browser,
    running_browser_threads,
    running_worker,
)
from .webauthn_tabs import (
    Chromium,
    ChromiumMissing,
    Tab,
    chromium_available,
    close_all,
    launch,
)


def _is_playwright_object(value: Any) -> bool:
    return type(value).__module__.startswith("playwright.")


class OnBrowserThread:
    """A Playwright object whose attributes and method calls all run on the browser thread."""

    def __init__(self, target: Any, worker: BrowserThread) -> None:
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


def open_browser() -> OnBrowserThread:
    """The course's headless Chromium: started on the first call, the same one afterwards."""
    worker = running_worker()
    return OnBrowserThread(worker.browser, worker)


def open_browser_with(extra_args: tuple[str, ...]) -> OnBrowserThread:
    """A second Chromium with extra flags (e.g. ``--host-resolver-rules``), one per set of flags.

    For what needs the whole browser configured differently, such as HTTPS on test host
    names with ``--ignore-certificate-errors``: those flags stay out of the course's main
    browser. Started on first use, reused afterwards, closed by :func:`close_browser`.
    """
    worker = running_worker()
    return OnBrowserThread(worker.browser_with(tuple(extra_args)), worker)


def start_browser() -> None:
    """Begin launching Chromium and return at once: a later :func:`open_browser` finds it ready.

    Launching takes about a second; a notebook calls this at the top and its browser section
    does not wait for it. Without Chromium it does nothing; a failed launch is reported by
    the next :func:`open_browser`, which tries again.
    """
    if chromium_path() is None:
        return

    def launch_quietly() -> None:
        try:
            running_worker()
        except Exception:  # noqa: BLE001 - reported by the next open_browser(), which retries
            pass

    threading.Thread(target=launch_quietly, name="course-browser-start", daemon=True).start()


def new_page() -> OnBrowserThread:
    """A page in a fresh browser context: its own empty cookie jar.

    Closed with ``page.context.close()``.
    """
    browser = open_browser()
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


__all__ = ["CHROMIUM_ARGS", "MISSING", "TIMEOUT_MS", "Chromium", "ChromiumMissing",
           "OnBrowserThread", "Tab", "browser_available", "chromium_available", "chromium_path",
           "close_all", "close_browser", "launch", "new_page", "open_browser",
           "open_browser_with", "running_browser_threads", "running_worker", "start_browser"]
