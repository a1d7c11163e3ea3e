"""The ``oauth`` server's sign-in form in headless Chromium: the page a reader (and the BFF) sees.

A browser enforces what ``requests`` does not, such as the page's Content-Security-Policy,
which Chromium also applies to the redirect that follows a form submission. Allow and deny
must both reach the client's loopback redirect URI (intercepted here: nothing listens there).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.oauth_client import REDIRECT_URI, AuthRequest
from tests.support import CliServer, start_cli_server
from tests.test_browser import browser  # noqa: F401 - the shared Chromium fixture (skips without chromium)

# an end-to-end suite in headless Chromium: `make e2e` (CI runs it right after `make test`)
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[CliServer]:
    srv = start_cli_server("oauth")
    yield srv
    srv.stop()


def test_sign_in_form_allow_and_deny_reach_the_callback(browser, server: CliServer) -> None:  # noqa: F811
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.route(
        REDIRECT_URI.rsplit("/", 1)[0] + "/**",
        lambda route: route.fulfill(status=200, body="callback"),
    )
    try:
        auth = AuthRequest()
        page.goto(f"{server.url}/authorize?{urlencode(auth.params())}")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "wonderland")
        page.click("button[value=allow]")
        page.wait_for_url(REDIRECT_URI + "?*")
        query = parse_qs(urlsplit(page.url).query)
        assert query["state"] == [auth.state] and query["iss"] == [server.url] and query["code"]

        denied = AuthRequest()
        page.goto(f"{server.url}/authorize?{urlencode(denied.params())}")
        page.click("button[value=deny]")  # no credentials needed to say no
        page.wait_for_url(REDIRECT_URI + "?*")
        assert parse_qs(urlsplit(page.url).query)["error"] == ["access_denied"]
    finally:
        context.close()
