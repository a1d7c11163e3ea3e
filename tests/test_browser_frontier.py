"""What notebook 11 shows of today's cookie rules, checked in a real headless Chromium.

The `__Http-` and `__Host-Http-` prefixes on http://127.0.0.1 and http://localhost (both
secure contexts), a script that cannot set them, and CHIPS: a `Partitioned` cookie kept
per top-level site over HTTPS on `.test` names (a throwaway CA from trustme, Chromium's
host resolver rules, certificate errors ignored in that browser only), with third-party
cookies blocked. One browser per module for each configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, request

from helpers.notebook.chromium import CHROMIUM_ARGS, TIMEOUT_MS
from helpers.notebook.https_sites import HttpsLiveServer, chromium_flags, tls_context
from helpers.notebook.live_server import LiveServer
from tests import browser_support

# an end-to-end suite in headless Chromium: `make e2e` (CI runs it right after `make test`)
pytestmark = pytest.mark.e2e

NAMES = ("site-a.test", "site-b.test", "widget.test")
PREFIXED = {"__Secure-ok=1; Secure": True, "__Secure-no=1": False,
            "__Host-ok=1; Secure; Path=/": True, "__Host-no=1; Secure; Path=/app": False,
            "__Http-ok=1; Secure; HttpOnly": True, "__Http-no=1; Secure": False,
            "__Http-insecure=1; HttpOnly": False,
            "__Host-Http-ok=1; Secure; HttpOnly; Path=/": True,
            "__Host-Http-no=1; HttpOnly; Path=/": False,
            "__Host-Http-path=1; Secure; HttpOnly; Path=/app": False,
            "__host-http-lower=1; Secure; Path=/": False}  # prefixes match without regard to case


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    browser_support.require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def launch(playwright: Any, *extra: str) -> Any:
    path = browser_support.require_chromium()
    return playwright.chromium.launch(executable_path=str(path), args=[*CHROMIUM_ARGS, *extra])


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    """The course's usual flags; the CHIPS test starts the one browser that needs others."""
    running = launch(playwright)
    yield running
    running.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_http_prefixes_in_chromium(browser: Any, host: str) -> None:
    app = Flask("frontier-prefixes")

    @app.get("/set")
    def set_cookies() -> Response:
        response = Response("<p>set</p>", mimetype="text/html")
        for header in PREFIXED:
            response.headers.add("Set-Cookie", header)
        return response

    with LiveServer(app, name="frontier-prefixes") as live:
        page = browser.new_page()  # its own context: an empty jar
        page.goto(live.url.replace("127.0.0.1", host) + "/set")
        assert page.evaluate("window.isSecureContext") is True
        page.evaluate("for (const n of ['__Http-js', '__Host-Http-js', '__Host-js'])"
                      " document.cookie = n + '=1; Secure; Path=/'")
        kept = {c["name"] for c in page.context.cookies()}
        page.context.close()
    expected = {h.split("=")[0] for h, ok in PREFIXED.items() if ok}
    assert kept == expected | {"__Host-js"}  # a script may set __Host- but never an __Http- kind


def test_chips_partitions_per_top_level_site_with_third_party_cookies_blocked(
        playwright: Any) -> None:
    app, log = Flask("frontier-chips"), []

    @app.get("/")
    def top() -> Response | str:
        host, port = request.host.split(":")
        if host == "widget.test":
            response = Response("<p>widget, first party</p>")
            response.set_cookie("widget_login", "alice", secure=True, samesite="None")
            return response
        return f'<p>{host}</p><iframe src="https://widget.test:{port}/frame"></iframe>'

    @app.get("/frame")
    def frame() -> Response:
        log.append((request.headers.get("Referer", "").split("/")[2].split(":")[0],
                    sorted(request.cookies)))
        response = Response("<p>frame</p>")
        response.headers.add("Set-Cookie", "chips=1; Secure; Path=/; SameSite=None; Partitioned")
        response.headers.add("Set-Cookie", "unpartitioned=1; Secure; Path=/; SameSite=None")
        return response

    browser = launch(playwright, *chromium_flags(*NAMES), "--test-third-party-cookie-phaseout")
    try:
        with HttpsLiveServer(app, context=tls_context(*NAMES), name="frontier-chips") as sites:
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.goto(sites.url_for("widget.test") + "/")
            for top_site in ("site-a.test", "site-a.test", "site-b.test", "site-a.test"):
                page.goto(sites.url_for(top_site) + "/")
                page.frame_locator("iframe").locator("p").wait_for()
            jar = sorted((c["name"], c.get("partitionKey")) for c in context.cookies())
    finally:
        browser.close()
    assert log == [("site-a.test", []), ("site-a.test", ["chips"]), ("site-b.test", []),
                   ("site-a.test", ["chips"])]
    assert jar == [("chips", "https://site-a.test"), ("chips", "https://site-b.test"),
                   ("widget_login", None)]


def test_the_tls_server_refuses_plain_http() -> None:
    import requests

    with HttpsLiveServer(Flask("frontier-tls"), context=tls_context("widget.test"),
                         name="frontier-tls") as sites:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{sites.port}/", timeout=5)
