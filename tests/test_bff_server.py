"""The ``bff`` server as a black box: ``python -m helpers serve bff``, driven over HTTP.

One server process for the module (it starts its own ``oauth`` provider and prints its
URL on the second line). A small client (tests/bff_client.py) walks the sign-in as a
browser would, keeping the one cookie by hand. Checked: the cookie's attributes, the
authorization request (PKCE S256, state, nonce), the callback's refusals (replayed,
foreign, wrong state, wrong iss, denied, injected code), the API with and without a
session, the CSRF rule (header and Origin), logout, and hostile input everywhere.
What needs the course clock or the server's store (refresh, revocation at the
provider) runs in-process at the end of the file.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from tests.bff_client import COOKIE, TIMEOUT, BffBrowser, query_of, set_cookie_of
from tests.oauth_client import introspect
from tests.support import CliServer, start_cli_server

PROVIDER_LINE = re.compile(r"^Provider on (http://127\.0\.0\.1:\d+)$")
CHALLENGE = 'Cookie realm="bff", form="/login"'


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[CliServer, str]]:
    srv = start_cli_server("bff")
    assert srv.process.stdout is not None
    second = srv.process.stdout.readline().rstrip("\n")
    match = PROVIDER_LINE.match(second)
    assert match, second
    yield srv, match[1]
    srv.stop_cleanly()


@pytest.fixture(scope="module")
def url(server: tuple[CliServer, str]) -> str:
    return server[0].url


@pytest.fixture(scope="module")
def provider(server: tuple[CliServer, str]) -> str:
    return server[1]


@pytest.fixture(scope="module")
def alice(url: str) -> BffBrowser:
    """One signed-in browser shared by the read-only tests."""
    browser = BffBrowser(url)
    browser.sign_in()
    return browser


def assert_json_error(response: requests.Response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error", "message"} and isinstance(body["message"], str), body
    if error is not None:
        assert body["error"] == error, body
    return body


def assert_not_signed_in(response: requests.Response) -> None:
    assert_json_error(response, 401, "not_signed_in")
    assert response.headers["WWW-Authenticate"] == CHALLENGE


# -- the CLI and the provider --------------------------------------------------------------------


def test_the_second_line_names_a_working_provider(provider: str) -> None:
    config = requests.get(f"{provider}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    assert config["issuer"] == provider


def test_the_page_is_served(url: str) -> None:
    response = requests.get(url + "/", timeout=TIMEOUT)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert "script-src 'nonce-" in response.headers["Content-Security-Policy"]
    assert response.headers.get("Set-Cookie") is None  # no cookie before sign-in starts


# -- sign-in ---------------------------------------------------------------------------------------


def test_login_redirects_with_pkce_state_and_nonce(url: str, provider: str) -> None:
    browser = BffBrowser(url)
    response = browser.get("/login")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{provider}/authorize?")
    query = query_of(location)
    assert query["response_type"] == "code" and query["client_id"] == "course-web"
    assert query["redirect_uri"] == f"{url}/callback" and query["scope"] == "openid profile"
    assert (query["code_challenge_method"] == "S256"
            and re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"]))
    assert len(query["state"]) >= 20 and len(query["nonce"]) >= 20
    assert "code_verifier" not in query  # the verifier stays on the server
    second = BffBrowser(url).start_login()
    assert (query_of(second)["state"] != query["state"]
            and query_of(second)["nonce"] != query["nonce"])


def test_the_session_cookie_is_host_prefixed_httponly_secure_lax(url: str) -> None:
    browser = BffBrowser(url)
    login = browser.get("/login")
    raw = login.raw.headers.getlist("Set-Cookie")
    assert len(raw) == 1
    jar = set_cookie_of(login)
    assert jar is not None and list(jar) == [COOKIE]
    morsel = jar[COOKIE]
    assert morsel["secure"] and morsel["httponly"] and morsel["path"] == "/"
    assert morsel["samesite"] == "Lax" and not morsel["domain"]
    first_sid = browser.sid
    signed_in = browser.get(browser.consent(login.headers["Location"]))
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/"
    assert browser.sid is not None and browser.sid != first_sid  # a fresh id at sign-in
    for response in browser.seen:
        # no JWT reaches the browser
        assert "eyJ" not in response.text and "eyJ" not in str(response.headers)


def test_me_through_the_bff(alice: BffBrowser) -> None:
    response = alice.get("/api/me")
    assert response.status_code == 200
    assert response.json() == {"sub": "alice", "preferred_username": "alice"}
    assert response.headers["Cache-Control"] == "no-store"


def test_bob_is_bob(url: str) -> None:
    bob = BffBrowser(url)
    bob.sign_in("bob")
    assert bob.get("/api/me").json()["preferred_username"] == "bob"


def test_a_replayed_callback_is_refused(url: str) -> None:
    browser = BffBrowser(url)
    callback = browser.consent(browser.start_login())
    pending_sid = browser.sid
    assert browser.get(callback).status_code == 303
    browser.sid = pending_sid  # the same browser state as at the first callback
    assert_json_error(browser.get(callback), 400, "invalid_callback")
    signed_in = BffBrowser(url, sid=None)
    assert_json_error(signed_in.get(callback), 400, "invalid_callback")


def test_a_callback_from_another_browser_is_refused(url: str) -> None:
    """Login CSRF: Mallory's own callback URL, opened in Alice's browser, signs no one in."""
    mallory = BffBrowser(url)
    callback = mallory.consent(mallory.start_login(), "bob")
    victim = BffBrowser(url)
    victim.start_login()  # even a victim with a login of her own in progress
    assert_json_error(victim.get(callback), 400, "invalid_state")
    assert_not_signed_in(victim.get("/api/me"))
    assert_json_error(BffBrowser(url).get(callback), 400, "invalid_callback")  # and one with none


def test_an_injected_code_fails_pkce(url: str) -> None:
    """A code stolen from Mallory's login, pasted into Alice's callback with her state: the
    verifier differs."""
    mallory = BffBrowser(url)
    stolen_code = query_of(mallory.consent(mallory.start_login(), "bob"))["code"]
    victim = BffBrowser(url)
    honest = query_of(victim.consent(victim.start_login()))
    forged = {**honest, "code": stolen_code}
    assert_json_error(victim.get("/callback?" + urlencode(forged)), 400, "invalid_grant")
    assert_not_signed_in(victim.get("/api/me"))


@pytest.mark.parametrize("change", ["state", "iss", "code", "no_code", "repeated", "unknown",
                                    "error"])
def test_bad_callbacks_are_400(url: str, change: str) -> None:
    browser = BffBrowser(url)
    query = query_of(browser.consent(browser.start_login()))
    if change == "state":
        query["state"] = "x" * 30
    elif change == "iss":
        query["iss"] = "http://127.0.0.1:1"
    elif change == "code":
        query["code"] = "not-a-code"
    elif change == "no_code":
        del query["code"]
    elif change == "error":
        query = {"error": "access_denied", "state": query["state"], "iss": query["iss"]}
    elif change == "unknown":
        query["extra"] = "1"
    params = urlencode(query) + ("&state=again" if change == "repeated" else "")
    response = browser.get("/callback?" + params)
    assert_json_error(response, 400)
    assert response.headers["Cache-Control"] == "no-store"
    assert_not_signed_in(browser.get("/api/me"))


def test_consent_denied_comes_back_as_a_400(url: str) -> None:
    browser = BffBrowser(url)
    callback = browser.consent(browser.start_login(), consent="deny")
    assert query_of(callback)["error"] == "access_denied"
    assert_json_error(browser.get(callback), 400, "access_denied")


# -- the API and its CSRF rule --------------------------------------------------------------------


@pytest.mark.parametrize("cookie", [None, "", "garbage", "A" * 43, "A" * 4000, "é" * 43])
def test_no_valid_session_is_401_with_a_challenge(url: str, cookie: str | None) -> None:
    headers = {} if cookie is None else {"Cookie": f"{COOKIE}={cookie}".encode()}
    assert_not_signed_in(requests.get(url + "/api/me", headers=headers, timeout=TIMEOUT))
    assert_not_signed_in(requests.post(url + "/api/notes", json={"text": "x"}, timeout=TIMEOUT,
                                       headers={**headers, "X-CSRF": "1"}))


def test_two_session_cookies_are_no_session(alice: BffBrowser, url: str) -> None:
    cookie = f"{COOKIE}={alice.sid}; {COOKIE}={alice.sid}"
    assert_not_signed_in(requests.get(url + "/api/me", headers={"Cookie": cookie}, timeout=TIMEOUT))


def test_a_note_is_created_with_the_header(alice: BffBrowser, url: str) -> None:
    response = alice.csrf_post("/api/notes", json={"text": "hello"}, headers={"Origin": url})
    assert response.status_code == 201 and response.json()["text"] == "hello"
    without_origin = alice.csrf_post("/api/notes", json={"text": "curl-like"})
    assert without_origin.status_code == 201  # no Origin sent: the header alone is the proof
    texts = [n["text"] for n in alice.get("/api/notes").json()["notes"]]
    assert texts[:2] == ["curl-like", "hello"]


@pytest.mark.parametrize("headers", [
    {},
    {"X-CSRF": "0"},
    {"X-CSRF": "true"},
    {"X-CSRF": "1", "Origin": "http://evil.example"},
    {"X-CSRF": "1", "Origin": "null"},
    {"X-CSRF": "1", "Origin": "http://localhost:{port}"},   # another site
    {"X-CSRF": "1", "Origin": "http://127.0.0.1:1"},        # same site, another origin
    {"X-CSRF": "1", "Origin": "https://127.0.0.1:{port}"},  # another scheme
])
def test_state_changing_calls_without_the_header_or_from_another_origin_are_403(
        alice: BffBrowser, url: str, headers: dict[str, str]) -> None:
    port = url.rsplit(":", 1)[1]
    headers = {k: v.format(port=port) for k, v in headers.items()}
    before = len(alice.get("/api/notes").json()["notes"])
    assert_json_error(alice.post("/api/notes", json={"text": "forged"}, headers=headers),
                      403, "csrf_refused")
    assert_json_error(alice.post("/logout", headers=headers), 403, "csrf_refused")
    assert len(alice.get("/api/notes").json()["notes"]) == before
    assert alice.get("/api/me").status_code == 200  # the refused logout ended nothing


def test_a_form_post_cannot_pass(alice: BffBrowser) -> None:
    """What a cross-site HTML form can send: no custom header, so refused whatever the cookie."""
    response = alice.post("/api/notes", data={"text": "forged"}, headers={"Origin": "http://evil.example"})
    assert_json_error(response, 403, "csrf_refused")


def test_a_preflight_gets_no_cors_grant(url: str) -> None:
    response = requests.options(url + "/api/notes", timeout=TIMEOUT, headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-csrf, content-type"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers


@pytest.mark.parametrize(("body", "content_type"), [
    (b"", "application/json"),
    (b"not json", "application/json"),
    (b"[]", "application/json"),
    (b'{"text": 5}', "application/json"),
    (b'{"text": ""}', "application/json"),
    (b'{"text": "   "}', "application/json"),
    (b'{"nope": "x"}', "application/json"),
    (b'{"text": "' + b"x" * 501 + b'"}', "application/json"),
    (b'{"text": "x"}', "text/plain"),
    (b"\xff\xfe\x00", "application/json"),
    (b'{"text": "\\ud800"}', "application/json"),
])
def test_malformed_notes_are_400(alice: BffBrowser, body: bytes, content_type: str) -> None:
    response = alice.csrf_post("/api/notes", data=body, headers={"Content-Type": content_type})
    assert_json_error(response, 400, "invalid_request")


def test_a_huge_body_is_413(alice: BffBrowser) -> None:
    response = alice.csrf_post("/api/notes", data=b'{"text": "' + b"x" * 200_000 + b'"}',
                               headers={"Content-Type": "application/json"})
    assert_json_error(response, 413)


# -- logout ----------------------------------------------------------------------------------------


def test_logout_ends_the_session_and_clears_the_cookie(url: str) -> None:
    browser = BffBrowser(url)
    browser.sign_in()
    sid = browser.sid
    response = browser.csrf_post("/logout", headers={"Origin": url})
    assert response.status_code == 204 and response.content == b""
    jar = set_cookie_of(response)
    assert jar is not None and jar[COOKIE].value == ""
    assert jar[COOKIE]["max-age"] == "0" and jar[COOKIE]["secure"] and jar[COOKIE]["path"] == "/"
    assert browser.sid is None
    browser.sid = sid  # the old cookie, kept by a thief: worthless now
    assert_not_signed_in(browser.get("/api/me"))
    assert_not_signed_in(browser.csrf_post("/logout"))  # a second logout ends nothing: an error


# -- hostile input ---------------------------------------------------------------------------------


def test_hostile_requests_get_json_errors(url: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    assert_json_error(requests.get(url + "/nowhere", timeout=TIMEOUT), 404)
    assert_json_error(requests.put(url + "/api/me", headers={"X-CSRF": "1"}, timeout=TIMEOUT), 405)
    assert_json_error(requests.get(url + "/api/me", headers={"Host": "evil.example"},
                                   timeout=TIMEOUT), 400)
    assert_json_error(requests.get(url + "/api/me", headers={"Cookie": "a=" + "b" * 9000},
                                   timeout=TIMEOUT), 431)
    assert_json_error(requests.get(url + "/callback?" + "x=1&" * 3000, timeout=TIMEOUT), 400)
    assert_json_error(requests.get(url + "/callback?state=%ff%fe&code=%00", timeout=TIMEOUT), 400)
    for raw in (b"GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + b"\xff" * 100
                + b"\r\n\r\n",
                b"POST /api/notes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Length: 99999999999\r\nX-CSRF: 1\r\n\r\n",
                b"GARBAGE\r\n\r\n",
                b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(raw)
            answer = sock.recv(4096)
        # a request line with no version is HTTP/0.9: a body, no status line
        if answer.startswith(b"{"):
            assert b'"bad_request"' in answer, answer[:200]
            continue
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500 and b"application/json" in answer, answer[:200]


def test_the_server_survives(alice: BffBrowser) -> None:
    assert alice.get("/api/me").status_code == 200


# -- in process: the course clock and the provider's view -----------------------------------------


@pytest.fixture(scope="module")
def in_process() -> Iterator[tuple[str, str, object, object]]:
    from helpers.notebook.course_clock import CourseClock
    from helpers.notebook.live_server import LiveServer
    from helpers.servers import bff, oauth

    clock = CourseClock()
    with LiveServer(oauth.create_app(clock=clock), name="bff-test-provider") as provider:
        app = bff.create_app(provider_url=provider.url, clock=clock)
        with LiveServer(app, name="bff-test") as live:
            yield live.url, provider.url, clock, app.extensions["bff_store"]


def test_logout_revokes_the_tokens_at_the_provider(in_process) -> None:
    url, provider, _, store = in_process
    browser = BffBrowser(url)
    browser.sign_in()
    held = store.find(browser.sid, now=0)
    assert held is not None
    tokens = held.tokens
    assert introspect(provider, tokens.access_token).json()["active"] is True
    assert introspect(provider, tokens.refresh_token).json()["active"] is True
    assert browser.csrf_post("/logout").status_code == 204
    assert introspect(provider, tokens.access_token).json() == {"active": False}
    assert introspect(provider, tokens.refresh_token).json() == {"active": False}


def test_an_expired_access_token_is_refreshed_once_under_concurrency(in_process) -> None:
    from tests.support import run_concurrently

    url, provider, clock, store = in_process
    browser = BffBrowser(url)
    browser.sign_in()
    before = store.find(browser.sid, now=clock.time()).tokens
    with clock.moved(301):  # the access token (300 s) has expired on the course clock
        answers = run_concurrently(lambda _: browser.get("/api/me").status_code, 8)
        after = store.find(browser.sid, now=clock.time()).tokens
    assert answers == [200] * 8
    assert after.access_token != before.access_token and after.refresh_token != before.refresh_token
    # no reuse was detected
    assert introspect(provider, after.refresh_token).json()["active"] is True
    assert introspect(provider, before.refresh_token).json()["active"] is False  # rotated


def test_a_session_whose_grant_was_revoked_ends(in_process) -> None:
    from tests.oauth_client import revoke

    url, provider, clock, store = in_process
    browser = BffBrowser(url)
    browser.sign_in()
    tokens = store.find(browser.sid, now=clock.time()).tokens
    assert revoke(provider, tokens.refresh_token, client_id="course-web").status_code == 200
    # userinfo 401, refresh refused: the session is over
    assert_not_signed_in(browser.get("/api/me"))
    assert store.find(browser.sid, now=clock.time()) is None


def test_a_missing_provider_is_a_502_not_a_500() -> None:
    from helpers.notebook.live_server import LiveServer
    from helpers.servers import bff

    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{spare.getsockname()[1]}"
    with LiveServer(bff.create_app(provider_url=dead), name="bff-test-dead") as live:
        assert_json_error(requests.get(live.url + "/login", timeout=TIMEOUT),
                          502, "provider_unavailable")
        assert_not_signed_in(requests.get(live.url + "/api/me", timeout=TIMEOUT))


def test_localhost_moves_to_the_loopback_origin(url: str) -> None:
    port = url.rsplit(":", 1)[1]
    for path in ("/", "/login"):
        response = requests.get(f"http://localhost:{port}{path}", allow_redirects=False,
                                timeout=TIMEOUT)
        assert response.status_code == 302 and response.headers["Location"] == url + path
        assert response.headers.get("Set-Cookie") is None  # no cookie on the wrong host


def test_an_unknown_error_code_is_not_echoed(url: str) -> None:
    browser = BffBrowser(url)
    query = query_of(browser.consent(browser.start_login()))
    params = urlencode({"error": "<script>alert(1)</script>", "state": query["state"],
                        "iss": query["iss"]})
    assert_json_error(browser.get("/callback?" + params), 400, "authorization_error")


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"[]", b'{"name": "no sub"}'])
def test_an_unusable_userinfo_answer_is_a_502(in_process, monkeypatch, body: bytes) -> None:
    url, _, _, _ = in_process
    from helpers.servers.bff.provider_client import ProviderClient

    browser = BffBrowser(url)
    browser.sign_in()

    def broken(self, access_token: str) -> requests.Response:
        answer = requests.Response()
        answer.status_code, answer._content = 200, body
        return answer

    monkeypatch.setattr(ProviderClient, "userinfo", broken)
    assert_json_error(browser.get("/api/me"), 502, "provider_error")


def test_only_one_of_two_racing_callbacks_signs_in(url: str) -> None:
    from tests.support import run_concurrently

    browser = BffBrowser(url)
    callback = browser.consent(browser.start_login())
    sid = browser.sid
    statuses = run_concurrently(lambda _: BffBrowser(url, sid=sid).get(callback).status_code, 6)
    assert sorted(statuses) == [303] + [400] * 5


def test_login_while_signed_in_keeps_the_session(alice: BffBrowser) -> None:
    sid = alice.sid
    response = alice.get("/login")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert response.headers.get("Set-Cookie") is None and alice.sid == sid
    assert alice.get("/api/me").status_code == 200
