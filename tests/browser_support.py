"""The browser tests' one headless Chromium: the course's own flags, skipped with one reason.

Playwright's sync API is used straight from the test thread (pytest runs no asyncio loop);
the flags, the executable and the skip line are the ones the notebooks use
(:mod:`helpers.notebook.chromium`), so a test sees the browser a reader's cell sees. Take the
fixtures into a test module with ``browser, page = browser_support.browser,
browser_support.page``.

One Chromium serves every module of a test process: starting one costs about a CPU
second, and each test gets a fresh context (an empty cookie jar) anyway. It is closed when
the process ends. While it runs, Playwright's sync API keeps an asyncio loop running on the
test thread, so a test that needs a loop of its own (as a notebook kernel has) runs it on
another thread with :func:`in_a_running_loop`.
"""

from __future__ import annotations

import asyncio
import atexit
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from helpers.notebook.chromium import CHROMIUM_ARGS, MISSING, TIMEOUT_MS, chromium_path
from tests.support import REQUIRE_SYSTEM_DEPS

T = TypeVar("T")


def require_chromium() -> Path:
    """Chromium's path; the test is skipped without it (under CI, it fails instead)."""
    path = chromium_path()
    if path is None:
        if REQUIRE_SYSTEM_DEPS:
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    return path


_running: dict[str, Any] = {}  # "playwright", "browser": this process's one Chromium


def _stop() -> None:
    if "browser" in _running:
        _running.pop("browser").close()
    if "playwright" in _running:
        _running.pop("playwright").stop()


def shared_chromium(path: Path) -> Any:
    """This process's Chromium: started on first use, replaced if it has gone away."""
    if "playwright" not in _running:
        from playwright.sync_api import sync_playwright  # only browser tests need it

        _running["playwright"] = sync_playwright().start()
        atexit.register(_stop)
    browser = _running.get("browser")
    if browser is None or not browser.is_connected():
        browser = _running["browser"] = _running["playwright"].chromium.launch(
            executable_path=str(path), args=list(CHROMIUM_ARGS))
    return browser


@pytest.fixture(scope="module")
def browser() -> Any:
    """The headless Chromium (a page fixture gives each test a fresh cookie jar)."""
    return shared_chromium(require_chromium())


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context: an empty cookie jar for every test."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def in_a_running_loop(cell: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``cell()`` inside a running asyncio loop, as a Jupyter kernel runs a cell.

    On a thread of its own: this thread may already have Playwright's loop running.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kernel-like") as kernel:
        return kernel.submit(asyncio.run, cell()).result()
