"""A real headless Chromium against the `sessions` page and the `cookies` lab.

`requests` stores cookie attributes but never enforces HttpOnly, SameSite or Path for
scripts; only a browser does. These tests check what a reader will see in theirs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support import CliServer, start_cli_server

CHROMIUM = Path("/usr/bin/chromium")
MISSING = "needs a real browser: install Debian's 'chromium' package"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 10_000
LAB_NAMES = {"lab_plain", "lab_max_age", "lab_path", "lab_httponly", "lab_strict", "lab_lax",
             "lab_none", "lab_signed"}


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        running = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield running
        running.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()  # a fresh, empty cookie jar for every test
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def sessions_server() -> Iterator[CliServer]:
    running = start_cli_server("sessions")
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def cookies_server() -> Iterator[CliServer]:
    running = start_cli_server("cookies")
    yield running
    assert running.stop() == 0


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


def test_the_sessions_page_in_a_real_browser(page, sessions_server: CliServer) -> None:
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


def test_the_cookie_lab_in_a_real_browser(page, cookies_server: CliServer) -> None:
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
