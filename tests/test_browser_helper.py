"""helpers.notebook.browser: Chromium on a worker thread, usable inside a running asyncio loop.

A Jupyter kernel runs every cell inside an asyncio loop, where Playwright's sync API
refuses to start; the helper must work there, reuse one browser across calls (a re-run
cell) and leave no browser or thread behind when closed.
"""

from __future__ import annotations

import asyncio

import pytest
from flask import Flask, request

from helpers import LiveServer
from helpers.notebook.browser import (
    browser_available,
    close_browser,
    new_page,
    open_browser,
    open_browser_with,
    running_browser_threads,
)
from helpers.notebook.chromium import run_in_page
from tests.browser_support import require_chromium

# an end-to-end suite in headless Chromium: `make e2e` (CI runs it right after `make test`)
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def chromium() -> None:
    require_chromium()
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


def test_every_way_of_driving_chromium_shares_one_thread_and_one_browser(server) -> None:
    """Pages, a script run in a page, WebAuthn tabs and a browser with extra flags: one thread."""
    from helpers import browser

    main = open_browser()
    assert run_in_page(server.url + "/set", [("() => document.cookie", None)]) == [""]
    tabs = browser.launch()
    try:
        assert tabs._browser is main._target  # the tabs open in the course's one Chromium
        tab = tabs.new_tab("shared", authenticator=False)
        assert tab.goto(server.url + "/set") == 200
        assert [c["name"] for c in tab.cookies()] == ["seen"]
        flagged = open_browser_with(("--lang=ko",))
        assert flagged.is_connected() and flagged._target is not main._target
        assert open_browser_with(("--lang=ko",))._target is flagged._target  # reused
        assert running_browser_threads() == 1
    finally:
        tabs.close()
    assert main.is_connected()  # closing the tabs leaves the browser for the next launch


def test_serve_https_replaces_the_server_a_re_run_cell_started() -> None:
    from helpers import running_servers
    from helpers.notebook.https_sites import serve_https, tls_context

    app = Flask(__name__)
    app.get("/")(lambda: "hi")
    context = tls_context("site.test")
    first = serve_https(app, "test-https", context)
    again = serve_https(app, "test-https", context)  # the cell, run a second time
    try:
        assert not first.running and again.running
        assert running_servers()["test-https"] is again
        assert again.url_for("site.test") == f"https://site.test:{again.port}"
    finally:
        again.stop()
    assert "test-https" not in running_servers()
