"""The browser tests' one headless Chromium: the course's own flags, skipped with one reason.

Playwright's sync API is used straight from the test thread (pytest runs no asyncio loop);
the flags, the executable and the skip line are the ones the notebooks use
(:mod:`helpers.notebook.chromium`), so a test sees the browser a reader's cell sees. Take the
fixtures into a test module with ``browser, page = browser_support.browser,
browser_support.page``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.notebook.chromium import CHROMIUM_ARGS, MISSING, TIMEOUT_MS, chromium_path
from tests.support import REQUIRE_SYSTEM_DEPS


def require_chromium() -> Path:
    """Chromium's path; the test is skipped without it (under CI, it fails instead)."""
    path = chromium_path()
    if path is None:
        if REQUIRE_SYSTEM_DEPS:
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module's tests (a page fixture gives each a fresh jar).

    Module-scoped, not shared by the whole process: while it runs, Playwright's sync API
    keeps an asyncio loop running on this thread, where no other module could start its
    own Playwright (or run an asyncio loop, as tests of the notebook helpers do).
    """
    path = require_chromium()
    from playwright.sync_api import sync_playwright  # only browser tests need it

    with sync_playwright() as playwright:
        running = playwright.chromium.launch(executable_path=str(path), args=list(CHROMIUM_ARGS))
        yield running
        running.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context: an empty cookie jar for every test."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()

