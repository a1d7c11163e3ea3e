"""Run a few scripts in one page of a real headless Chromium, from a notebook cell.

Why a module of its own: what only a browser enforces (WebCrypto's non-extractable keys,
cookie rules) is shown in a browser, and starting one from a notebook takes plumbing that
is no part of any lesson. Playwright's sync API refuses to run on a thread that has an
asyncio loop, and the Jupyter kernel's main thread has one, so the browser runs on a
thread of its own. Debian's ``chromium`` is used (Playwright's own download is not).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
MISSING = "needs a real browser: install Debian's 'chromium' package"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000


def chromium_missing() -> str | None:
    """None when Chromium is installed; otherwise the one-line reason to skip.

    Under ``COURSE_REQUIRE_SYSTEM_DEPS=1`` (CI) a missing browser is an error instead.
    """
    if CHROMIUM.exists():
        return None
    if os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1":
        raise RuntimeError(MISSING)
    return MISSING


def _run(url: str, scripts: Sequence[tuple[str, Any]], results: list[Any]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            for script, arg in scripts:
                results.append(page.evaluate(script, arg))
        finally:
            browser.close()


def run_in_page(url: str, scripts: Sequence[tuple[str, Any]]) -> list[Any]:
    """Open ``url`` in a fresh headless Chromium and evaluate each ``(script, arg)`` in turn,
    in the same page (so a later script sees what an earlier one left in ``window``).

    Returns what each script returned. The browser is closed before this returns.
    """
    results: list[Any] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _run(url, scripts, results)
        except BaseException as exc:  # raised again on the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=work, name="chromium", daemon=True)
    thread.start()
    thread.join(TIMEOUT_MS / 1000 * (len(scripts) + 2))
    if errors:
        raise errors[0]
    if thread.is_alive():
        raise TimeoutError("Chromium did not finish in time")
    return results
