"""The browser tests' one headless Chromium: the course's own flags, skipped with one reason.

Playwright's sync API is used straight from the test thread (pytest runs no asyncio loop);
the flags, the executable and the skip line are the ones the notebooks use
(:mod:`helpers.notebook.browser`), so a test sees the browser a reader's cell sees. Import
the fixtures into a test module: ``from tests.browser_support import browser, page``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.notebook.browser import CHROMIUM_ARGS, MISSING, TIMEOUT_MS, chromium_path
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
    """One headless Chromium for the module's tests (a page fixture gives each a fresh jar)."""
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
