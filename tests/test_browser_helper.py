"""helpers.notebook.browser: Chromium driven from a worker thread, usable inside a running asyncio loop.

A Jupyter kernel runs every cell inside an asyncio loop, where Playwright's sync API
refuses to start; the helper must work there, reuse one browser across calls (a re-run
cell) and leave no browser or thread behind when closed.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from flask import Flask, request

from helpers import LiveServer
from helpers.notebook.browser import (
    MISSING,
    browser_available,
    chromium_path,
    close_browser,
    new_page,
    open_browser,
    running_browser_threads,
    start_browser,
)


@pytest.fixture(scope="module", autouse=True)
def chromium() -> None:
    if chromium_path() is None:
        if os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    yield
    close_browser()


@pytest.fixture(scope="module")
def server():
    app = Flask(__name__)

    @app.get("/set")
    def set_cookie():
        return "<p>set</p>", 200, {"Set-Cookie": "seen=1; Path=/; HttpOnly"}

    @app.get("/echo")
    def echo():
        return {"cookie": request.headers.get("Cookie", "")}

    with LiveServer(app, name="browser-helper") as live:
        yield live


def test_it_works_inside_a_running_event_loop(server) -> None:
    async def like_a_notebook_cell() -> dict:
        page = new_page()
        try:
            page.goto(server.url + "/set")
            names = [c["name"] for c in page.context.cookies()]
            body = page.evaluate("async (u) => (await fetch(u)).json()", server.url + "/echo")
            return {"names": names, "body": body, "js": page.evaluate("document.cookie")}
        finally:
            page.context.close()

    result = asyncio.run(like_a_notebook_cell())
    assert result == {"names": ["seen"], "body": {"cookie": "seen=1"}, "js": ""}


def test_a_second_call_reuses_the_browser_and_each_page_gets_an_empty_jar(server) -> None:
    first, again = open_browser(), open_browser()
    assert first.is_connected() and again.version == first.version
    assert running_browser_threads() == 1
    page = new_page()
    try:
        assert page.context.cookies() == []
    finally:
        page.context.close()


def test_a_closed_browser_is_replaced_and_close_is_idempotent() -> None:
    open_browser().close()                    # as if Chromium had died
    assert open_browser().is_connected()      # a fresh one, not an error
    close_browser()
    close_browser()
    assert running_browser_threads() == 0
    assert browser_available() is True
    assert open_browser().is_connected()      # and it starts again after a close
    assert running_browser_threads() == 1


def test_a_background_start_is_the_browser_open_browser_returns() -> None:
    close_browser()
    start_browser()                           # returns at once ...
    start_browser()                           # ... and twice is still one browser
    browser = open_browser()
    assert browser.is_connected() and running_browser_threads() == 1
    assert len(browser.contexts) == 0
