"""A real headless Chromium against the `sessions` page and the `cookies` lab.

`requests` stores cookie attributes but never enforces HttpOnly, SameSite or Path for
scripts; only a browser does. These tests check what a reader will see in theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from helpers import LiveServer
from helpers.servers import cookies, sessions
from tests import browser_support

# an end-to-end suite in headless Chromium: `make e2e` (CI runs it right after `make test`)
pytestmark = pytest.mark.e2e

# the shared Chromium fixtures (tests/test_oauth_browser.py takes ``browser`` from here too)
browser, page = browser_support.browser, browser_support.page

LAB_NAMES = {"lab_plain", "lab_max_age", "lab_path", "lab_httponly", "lab_strict", "lab_lax",
             "lab_none", "lab_signed"}


# The servers run in this process, as a notebook's ``serve()`` runs them (tests/test_cli.py
# checks the same apps behind ``python -m helpers serve``): a child process each would add
# an interpreter start and the imports, and check nothing more about the browser.
@pytest.fixture(scope="module")
def sessions_server() -> Iterator[LiveServer]:
    with LiveServer(sessions.create_app(), name="test-sessions") as running:
        yield running


@pytest.fixture(scope="module")
def cookies_server() -> Iterator[LiveServer]:
    with LiveServer(cookies.create_app(), name="test-cookies") as running:
        yield running


def fetch_json(page, path: str, method: str = "GET") -> dict:
    """Run fetch() inside the page, so the browser decides which cookies go along."""
    return page.evaluate(
        """async ([path, method]) => {
             const r = await fetch(path, {method});
             const text = await r.text();
             return {status: r.status, body: text ? JSON.parse(text) : null};
           }""",
        [path, method],
    )


def cookie_names_seen_by_js(page) -> set[str]:
    raw = page.evaluate("document.cookie")
    return {part.split("=", 1)[0].strip() for part in raw.split(";") if part.strip()}


def log_in_with_the_form(page, username: str, password: str):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    return navigation.value


def test_the_sessions_page_in_a_real_browser(page, sessions_server: LiveServer) -> None:
    page.goto(sessions_server.url + "/")
    assert page.inner_text("#status") == "Not logged in."

    # a wrong password: a JSON 401 and no cookie
    assert log_in_with_the_form(page, "alice", "not-the-password").status == 401
    assert page.context.cookies() == []

    page.goto(sessions_server.url + "/")
    assert log_in_with_the_form(page, "alice", "wonderland").status == 200
    assert page.url == sessions_server.url + "/"  # the 303 brought us back to the page
    assert page.inner_text("#username") == "alice"

    # the browser holds the cookie ...
    jar = {c["name"]: c for c in page.context.cookies()}
    assert set(jar) == {"sid"}
    sid = jar["sid"]
    assert sid["httpOnly"] is True and sid["sameSite"] == "Lax" and sid["path"] == "/"
    assert sid["domain"] == "127.0.0.1" and len(sid["value"]) == 43
    # ... the page's scripts cannot read it ...
    assert "sid" not in cookie_names_seen_by_js(page)
    assert sid["value"] not in page.evaluate("document.cookie")
    # ... and yet it goes along with the page's own requests
    assert fetch_json(page, "/me") == {"status": 200, "body": {"username": "alice"}}

    # a form on another site (here a data: URL, an opaque origin) posting to /logout is
    # refused: SameSite=Lax keeps the cookie off that POST and the Origin check says 403
    evil = (f'<form method="post" action="{sessions_server.url}/logout">'
            '<button id="go">win</button></form>')
    page.goto("data:text/html," + quote(evil))
    with page.expect_navigation() as navigation:
        page.click("#go")
    assert navigation.value.status == 403
    page.goto(sessions_server.url + "/")
    assert page.inner_text("#username") == "alice"

    # the logout button ends it, in the browser and on the server
    with page.expect_navigation():
        page.click("text=Log out")
    assert page.inner_text("#status") == "Not logged in."
    assert page.context.cookies() == []
    assert fetch_json(page, "/me")["status"] == 401


def test_the_cookie_lab_in_a_real_browser(page, cookies_server: LiveServer) -> None:
    page.goto(cookies_server.url + "/")
    with page.expect_navigation():
        page.click("#set-all")
    jar = {c["name"]: c for c in page.context.cookies()}
    # 127.0.0.1 counts as a secure origin, so even the Secure SameSite=None cookie is kept
    assert set(jar) == LAB_NAMES
    assert jar["lab_httponly"]["httpOnly"] is True
    assert jar["lab_strict"]["sameSite"] == "Strict" and jar["lab_none"]["sameSite"] == "None"
    assert jar["lab_none"]["secure"] is True and jar["lab_path"]["path"] == "/lab"

    # at /: HttpOnly is hidden from scripts, and the Path=/lab cookie is not in scope
    assert cookie_names_seen_by_js(page) == LAB_NAMES - {"lab_httponly", "lab_path"}
    row = "#kinds tr[data-name={}] td.js"
    assert page.inner_text(row.format("lab_httponly")) == "no"
    assert page.inner_text(row.format("lab_plain")) == "yes"
    assert "yes" in page.inner_text("#kinds tr[data-name=lab_httponly]")  # the server got it

    # a script can edit a plain cookie, but not fool the signature check ...
    assert fetch_json(page, "/verify")["body"]["verdict"] == "valid"
    signature = jar["lab_signed"]["value"].rpartition(".")[2]
    page.evaluate(f"document.cookie = 'lab_signed=admin.{signature}; path=/'")
    assert fetch_json(page, "/verify")["body"] == {
        "cookie": "lab_signed", "valid": False, "verdict": "tampered", "value": None}
    # ... and cannot overwrite an HttpOnly cookie at all
    page.evaluate("document.cookie = 'lab_httponly=changed-by-js; path=/'")
    values = {c["name"]: c["value"] for c in page.context.cookies()}
    assert values["lab_httponly"] == "hidden-from-js"

    # at /lab the path cookie appears, for the server and for scripts
    page.goto(cookies_server.url + "/lab")
    assert cookie_names_seen_by_js(page) == LAB_NAMES - {"lab_httponly"}
    assert page.inner_text(row.format("lab_path")) == "yes"


# --- What notebook 02 shows of SameSite, the name prefixes and the size limit --------------
# The notebook prints these results from Chromium; a machine without Chromium prints one
# line pointing here instead.

WATCHED = ["lab_strict", "lab_lax", "lab_none", "lab_plain"]


@pytest.fixture(scope="module")
def cross_site_lab(cookies_server: LiveServer) -> Iterator[dict]:
    """The cookie lab, an echo site on 127.0.0.1 and another site with a link and two forms."""
    from flask import Flask, request
    from markupsafe import escape

    received: list[list[str]] = []
    echo_app, other_app = Flask("echo"), Flask("other")

    @echo_app.route("/echo", methods=["GET", "POST"])
    def echo() -> str:
        received.append([name for name in WATCHED if name in request.cookies])
        return "<p>received</p>"

    @other_app.get("/page")
    def page() -> str:
        target = escape(request.args.get("target", ""))
        return (f'<a id="link" href="{target}">a link</a>'
                f'<form id="get" action="{target}"><button>GET</button></form>'
                f'<form id="post" method="post" action="{target}"><button>POST</button></form>')

    with (LiveServer(echo_app, name="test-echo") as echo_site,
          LiveServer(other_app, name="test-other") as other):
        yield {"lab": cookies_server.url, "echo": echo_site.url, "received": received,
               "same_site": other.url, "cross_site": other.url.replace("127.0.0.1", "localhost")}


def set_lab_cookies(page, lab_url: str) -> None:
    page.goto(lab_url + "/")
    page.evaluate("fetch('/set', {method: 'POST'})")


def test_samesite_in_chromium_across_sites_and_ports(page, cross_site_lab: dict) -> None:
    lab, echo, received = cross_site_lab["lab"], cross_site_lab["echo"], cross_site_lab["received"]
    set_lab_cookies(page, lab)

    def sent(start: str, element: str) -> list[str]:
        received.clear()
        page.goto(f"{start}/page?target={echo}/echo")
        page.click(element)
        page.wait_for_url(f"{echo}/echo*")
        return received[-1]

    same, cross = cross_site_lab["same_site"], cross_site_lab["cross_site"]
    assert sent(same, "#post button") == WATCHED                       # ports do not make a site
    assert sent(cross, "#link") == ["lab_lax", "lab_none", "lab_plain"]  # top-level GET
    assert sent(cross, "#get button") == ["lab_lax", "lab_none", "lab_plain"]
    # no SameSite: Lax by default, but sent on a top-level POST within 2 minutes (Lax+POST)
    assert sent(cross, "#post button") == ["lab_none", "lab_plain"]
    received.clear()
    page.goto(f"{cross}/page")
    page.evaluate("u => fetch(u, {method: 'POST', mode: 'no-cors', credentials: 'include'})",
                  f"{echo}/echo")
    assert received == [[]]                                            # third-party cookies blocked


def test_chromium_names_its_reasons(page, cross_site_lab: dict) -> None:
    set_lab_cookies(page, cross_site_lab["lab"])
    page.goto(f"{cross_site_lab['cross_site']}/page")
    devtools = page.context.new_cdp_session(page)
    events: list[dict] = []
    devtools.on("Network.requestWillBeSentExtraInfo", lambda event: events.append(event))
    devtools.send("Network.enable")
    page.evaluate("u => fetch(u, {mode: 'no-cors', credentials: 'include'})",
                  f"{cross_site_lab['echo']}/echo")
    for _ in range(100):
        if any(e.get("associatedCookies") for e in events):
            break
        page.wait_for_timeout(20)
    reasons = {c["cookie"]["name"]: c["blockedReasons"]
               for e in events for c in e.get("associatedCookies", [])
               if c["cookie"]["name"] in WATCHED}
    assert reasons["lab_none"] == ["UserPreferences"]
    assert "SchemefulSameSiteUnspecifiedTreatedAsLax" in reasons["lab_plain"]
    assert "SchemefulSameSiteStrict" in reasons["lab_strict"]


def test_prefixes_and_the_size_limit_in_chromium(page) -> None:
    from flask import Flask, Response

    headers = {"prefixed": ["__Host-ok=1; Secure; Path=/", "__Host-no-secure=1; Path=/",
                            "__Host-sub-path=1; Secure; Path=/app",
                            "__Host-with-domain=1; Secure; Path=/; Domain=127.0.0.1",
                            "__Secure-ok=1; Secure; Path=/app", "__Secure-no-secure=1; Path=/",
                            "__secure-lower-case=1; Path=/"],
               "sized": ["fits=" + "x" * 4092, "over=" + "x" * 4093]}
    app = Flask("rules")

    @app.get("/<any(prefixed, sized):which>")
    def set_many(which: str) -> Response:
        response = Response("<p>set</p>")
        for header in headers[which]:
            response.headers.add("Set-Cookie", header)
        return response

    with LiveServer(app, name="test-rules") as live:
        page.goto(live.url + "/prefixed")
        page.goto(live.url + "/sized")
        kept = {c["name"] for c in page.context.cookies()}
    # Chromium files Domain=<the IP address> as host-only, which __Host- accepts
    assert kept == {"__Host-ok", "__Host-with-domain", "__Secure-ok", "fits"}
