"""Debian's headless Chromium, driven from a notebook through Playwright, on a thread of its own.

Why a thread: Playwright's sync API refuses to run where an asyncio loop is already
running ("It looks like you are using Playwright Sync API inside the asyncio loop"), and
an ipykernel cell runs inside one. So the tabs run on the course's one browser thread, in
its one Chromium (:mod:`helpers.notebook.chromium`, with its flags), and every call is
handed to that thread and waited for. Playwright's objects must stay on the thread that
made them, so this module hands out :class:`Tab` wrappers, never the Playwright objects.

Why a module-level current browser: running the launch cell again must not leave the
older tabs behind. :func:`launch` first closes the tabs the one it started before had.

Chromium 156's virtual authenticator keeps at most three discoverable credentials: a fourth
``navigator.credentials.create()`` fails with NotAllowedError (seen on this course's machine).
One tab per account, as the notebook does, stays well inside that.

Plumbing only: what a page does (``navigator.credentials.create`` and friends) is
JavaScript the notebook passes to :meth:`Tab.run`, where the reader sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .chromium import MISSING, TIMEOUT_MS, chromium_path, close_browser, running_worker

#: Chromium's virtual authenticator, as a platform authenticator with a fingerprint reader:
#: CTAP2, built in ("internal"), keeps discoverable credentials, verifies the user.
PLATFORM_AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                          "hasUserVerification": True, "isUserVerified": True,
                          "automaticPresenceSimulation": True}
T = TypeVar("T")


class ChromiumMissing(RuntimeError):
    """Debian's chromium is not installed."""


def chromium_available() -> bool:
    """True when Chromium is installed (never raises: the notebook says what to do)."""
    return chromium_path() is not None


class Chromium:
    """The course's headless Chromium; :meth:`new_tab` gives tabs with their own cookie jars."""

    def __init__(self) -> None:
        if not chromium_available():
            raise ChromiumMissing(MISSING)
        self._worker = running_worker()
        self._browser: Any = self._worker.browser
        self._tabs: dict[str, Tab] = {}
        self._lock = threading.Lock()

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the browser thread and return its result (or raise its error)."""
        if self._browser is None:
            raise RuntimeError("this browser was closed: run the launch cell again")
        return self._worker.call(fn, *args)

    @property
    def version(self) -> str:
        return self.call(lambda: self._browser.version)

    def new_tab(self, name: str = "tab", *, authenticator: bool = True) -> Tab:
        """A fresh context (empty cookie jar) and page, with a virtual authenticator if asked.

        An older tab of the same ``name`` is closed first, so a cell run twice leaves one.
        """
        with self._lock:
            old = self._tabs.pop(name, None)
        if old is not None:
            old.close()
        tab = self.call(Tab._open, self, authenticator)
        with self._lock:
            self._tabs[name] = tab
        return tab

    def close(self) -> None:
        """Close every tab; the browser itself stays for the next :func:`launch`."""
        with self._lock:
            tabs, self._tabs = list(self._tabs.values()), {}
        try:
            for tab in tabs:
                tab.close()
        except Exception:  # noqa: BLE001 - the browser or its thread is gone: nothing is left
            pass
        finally:
            self._browser = None


class Tab:
    """A page in its own browser context; every method runs on the Playwright thread."""

    def __init__(self, owner: Chromium, context: Any, page: Any, cdp: Any,
                 authenticator_id: str | None) -> None:
        self._owner, self._context, self._page, self._cdp = owner, context, page, cdp
        self.authenticator_id = authenticator_id

    @classmethod
    def _open(cls, owner: Chromium, authenticator: bool) -> Tab:
        context = owner._browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        authenticator_id = None
        if authenticator:
            cdp.send("WebAuthn.enable", {"enableUI": False})
            authenticator_id = cdp.send("WebAuthn.addVirtualAuthenticator",
                                        {"options": PLATFORM_AUTHENTICATOR})["authenticatorId"]
        return cls(owner, context, page, cdp, authenticator_id)

    def goto(self, url: str) -> int | None:
        """Open ``url``; the HTTP status of the answer (None for a ``data:`` URL)."""

        def go() -> int | None:
            response = self._page.goto(url)
            return response.status if response is not None else None

        return self._owner.call(go)

    @property
    def url(self) -> str:
        return self._owner.call(lambda: self._page.url)

    def run(self, script: str, arg: Any = None) -> Any:
        """Evaluate a JavaScript function in the page (``async`` ones are awaited)."""
        return self._owner.call(self._page.evaluate, script, arg)

    def cookies(self, url: str | None = None) -> list[dict]:
        """The cookies of this tab's jar; with ``url``, only those the browser would send there."""
        return self._owner.call(self._context.cookies, *([url] if url else []))

    def devtools(self, method: str, params: dict | None = None) -> dict:
        """One DevTools-protocol call on this page (e.g. ``WebAuthn.getCredentials``)."""
        return self._owner.call(self._cdp.send, method, params or {})

    def authenticator_credentials(self) -> list[dict]:
        """What the virtual authenticator holds (a real one never shows its private keys)."""
        return self.devtools("WebAuthn.getCredentials",
                             {"authenticatorId": self.authenticator_id})["credentials"]

    def close(self) -> None:
        self._owner.call(self._context.close)


_current: Chromium | None = None
_current_lock = threading.Lock()


def _close_current() -> None:
    global _current
    with _current_lock:
        old, _current = _current, None
    if old is not None:
        old.close()


def launch() -> Chromium:
    """Headless Chromium for WebAuthn tabs, first closing the tabs an earlier run opened."""
    global _current
    _close_current()
    browser = Chromium()
    with _current_lock:
        _current = browser
    return browser


def close_all() -> None:
    """Close the tabs, then the browser and its thread (as :func:`.chromium.close_browser`)."""
    _close_current()
    close_browser()
