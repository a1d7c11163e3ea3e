"""helpers.notebook.webauthn_tabs: tabs with a virtual authenticator each, usable inside a
running asyncio loop (Playwright's sync API on the course's browser thread)."""

from __future__ import annotations

import asyncio
import os

import pytest

from helpers.notebook import webauthn_tabs as browser

# an end-to-end suite in headless Chromium: `make e2e` (CI runs it right after `make test`)
pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def needs_chromium() -> None:
    if not browser.chromium_available():
        if os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1":
            pytest.fail(browser.MISSING)
        pytest.skip(browser.MISSING)


def test_works_inside_a_running_loop_and_a_relaunch_replaces_the_old_browser() -> None:
    async def in_a_kernel_like_loop() -> tuple[int | None, str, list, bool]:
        first = browser.launch()
        tab = first.new_tab("one")
        again = first.new_tab("one")  # the same name: the older tab is closed
        status = again.goto("data:text/html,<p>hi</p>")
        text = again.run("() => document.body.textContent")
        held = again.authenticator_credentials()
        second = browser.launch()  # a re-run launch cell: the first browser is closed
        closed = first._browser is None and second._browser is not None
        with pytest.raises(RuntimeError):  # its browser (and worker thread) are gone
            tab.run("1 + 1")
        return status, text, held, closed

    try:
        status, text, held, closed = asyncio.run(in_a_kernel_like_loop())
    finally:
        browser.close_all()
    assert status is None and text == "hi" and held == [] and closed
