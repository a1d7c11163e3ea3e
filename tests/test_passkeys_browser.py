"""The `passkeys` server with a real headless Chromium and its virtual authenticator.

Chromium's DevTools protocol can add a virtual authenticator (``WebAuthn.enable``,
``WebAuthn.addVirtualAuthenticator``): a software CTAP2 authenticator that really makes
key pairs and signs, so registration and sign-in run the browser's own WebAuthn code.

The server under test runs in-process with a clock of its own (to expire a challenge
without waiting); the look-alike origin is a second server started through the CLI.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from helpers.notebook.chromium import TIMEOUT_MS
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.live_server import LiveServer
from helpers.servers.passkeys import CHALLENGE_TTL, IDLE_TIMEOUT, create_app
from tests import browser_support
from tests.support import CliServer, start_cli_server

# an end-to-end suite in headless Chromium: `make e2e` (CI runs it right after `make test`)
pytestmark = pytest.mark.e2e

AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                 "hasUserVerification": True, "isUserVerified": True,
                 "automaticPresenceSimulation": True}
_names = itertools.count()

# the WebAuthn calls a test runs in the page, apart from the page's own window.passkeys
GET_ASSERTION = """async (options) => {
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
  return (await navigator.credentials.get({publicKey})).toJSON();
}"""


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# the shared headless Chromium, one for the module
browser = browser_support.browser


@pytest.fixture(scope="module")
def clock() -> CourseClock:
    return CourseClock()


@pytest.fixture(scope="module")
def server(clock: CourseClock) -> Iterator[LiveServer]:
    with LiveServer(create_app(clock=clock), name="passkeys-under-test") as running:
        yield running


@pytest.fixture(scope="module")
def lookalike() -> Iterator[CliServer]:
    running = start_cli_server("passkeys")
    yield running
    assert running.stop() == 0


def url(server: LiveServer) -> str:
    return f"http://localhost:{server.port}"


class Browser:
    """One browser context (own cookie jar) with one virtual authenticator in its page."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context()
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.authenticator = self.cdp.send("WebAuthn.addVirtualAuthenticator",
                                           {"options": AUTHENTICATOR})["authenticatorId"]

    def open(self, base: str) -> Browser:
        self.page.goto(base + "/")
        return self

    def run(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def create_passkey(self, username: str) -> dict:
        return self.run("u => passkeys.createPasskey(u)", username)

    def sign_in(self) -> dict:
        return self.run("() => passkeys.signIn()")

    def fetch(self, path: str, method: str = "GET") -> dict:
        return self.run("""async ([path, method]) => {
            const r = await fetch(path, {method});
            const text = await r.text();
            return {status: r.status, body: text ? JSON.parse(text) : null,
                    challenge: r.headers.get("WWW-Authenticate")};
        }""", [path, method])

    def stored_credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials",
                             {"authenticatorId": self.authenticator})["credentials"]


@pytest.fixture
def user(browser: Any) -> Iterator[Browser]:
    one = Browser(browser)
    yield one
    one.context.close()


@pytest.fixture
def other(browser: Any) -> Iterator[Browser]:
    one = Browser(browser)
    yield one
    one.context.close()


def new_name() -> str:
    return f"user{next(_names)}"


def test_register_sign_in_and_the_session_that_follows(user: Browser, server: LiveServer,
                                                       clock: CourseClock) -> None:
    name = new_name()
    user.open(url(server))
    # the page's own button, as a person would use it
    user.page.fill("#username", name)
    user.page.click("#create")
    # no eval: the page's CSP forbids it
    user.page.wait_for_selector("#status:has-text('credential_id')")
    created = json.loads(user.page.inner_text("#status"))
    assert created["username"] == name

    # the authenticator holds the private key; the server, the public key and a counter
    [held] = user.stored_credentials()
    assert held["isResidentCredential"] is True and held["rpId"] == "localhost"
    assert b64url_decode(held["credentialId"].replace("+", "-").replace("/", "_")) == b64url_decode(
        created["credential_id"])
    store = server.app.extensions["passkey_store"]
    [kept] = store.credentials_of(name)
    assert kept.sign_count == held["signCount"] and kept.transports == ["internal"]
    assert b"PRIVATE" not in kept.public_key and len(kept.public_key) < 200  # a COSE public key

    assert user.fetch("/me")["status"] == 401
    signed = user.sign_in()
    assert (signed["status"], signed["body"]) == (200, {"username": name})
    [cookie] = user.context.cookies()
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
        "sid", True, "Lax", "/")
    assert len(cookie["value"]) == 43 and "sid" not in user.run("document.cookie")
    assert user.fetch("/me")["body"] == {"username": name}
    [held_now] = user.stored_credentials()  # the authenticator counted one more signature
    assert (store.credentials_of(name)[0].sign_count == held_now["signCount"]
            == held["signCount"] + 1)

    devices = user.fetch("/devices")["body"]
    assert [p["credential_id"] for p in devices["passkeys"]] == [created["credential_id"]]
    assert [s["current"] for s in devices["sessions"]] == [True]

    # a second sign-in gets a fresh session id; the old one is gone on the server
    assert user.sign_in()["status"] == 200
    assert user.context.cookies()[0]["value"] != cookie["value"]
    assert store.session(cookie["value"]) is None
    assert len(store.sessions_of(name)) == 1

    with clock.moved(IDLE_TIMEOUT + 1):  # half an hour without a request: the session is over
        assert user.fetch("/me")["status"] == 401
    assert user.fetch("/me")["status"] == 401 and store.sessions_of(name) == []

    assert user.fetch("/logout", "POST")["status"] == 204
    gone = user.fetch("/me")
    assert (gone["status"], gone["challenge"]) == (401, 'Cookie realm="passkeys", form="/"')


def test_the_same_passkey_from_a_lookalike_origin_is_refused(
        user: Browser, server: LiveServer, lookalike: CliServer) -> None:
    name = new_name()
    assert user.open(url(server)).create_passkey(name)["status"] == 201
    # the phisher's server fetches a real challenge from the real site ...
    options = requests.post(url(server) + "/login/options", json={}, timeout=5).json()
    # ... and its page, on another origin (another port), asks the browser to sign it
    assert lookalike.url.startswith("http://localhost:") and lookalike.url != url(server)
    user.open(lookalike.url)
    assertion = user.run(GET_ASSERTION, options)  # RP ID localhost: the authenticator signs
    client_data = json.loads(b64url_decode(assertion["response"]["clientDataJSON"]))
    assert client_data["origin"] == lookalike.url  # the browser wrote down where it was

    relayed = requests.post(url(server) + "/login/verify", json={"credential": assertion},
                            timeout=5)
    assert relayed.status_code == 400
    assert relayed.json()["error"] == "verification_failed"
    assert lookalike.url in relayed.json()["message"] and "origin" in relayed.json()["message"]
    assert "Set-Cookie" not in relayed.headers


def test_a_replayed_assertion_is_refused(user: Browser, server: LiveServer) -> None:
    name = new_name()
    user.open(url(server))
    assert user.create_passkey(name)["status"] == 201
    first = user.sign_in()
    assert first["status"] == 200
    replay = requests.post(url(server) + "/login/verify", json={"credential": first["credential"]},
                           timeout=5)
    assert replay.status_code == 400 and replay.json()["error"] == "unknown_challenge"
    assert "Set-Cookie" not in replay.headers


def test_a_challenge_signed_twice_works_once(user: Browser, server: LiveServer) -> None:
    user.open(url(server))
    assert user.create_passkey(new_name())["status"] == 201
    options = user.run("() => passkeys.post('/login/options', {})")["body"]
    one, two = user.run(GET_ASSERTION, options), user.run(GET_ASSERTION, options)
    assert one["response"]["signature"] != two["response"]["signature"]  # two real signatures
    verify = "c => passkeys.post('/login/verify', {credential: c})"
    assert user.run(verify, one)["status"] == 200
    second = user.run(verify, two)
    assert (second["status"], second["body"]["error"]) == (400, "unknown_challenge")


def test_an_expired_challenge_is_refused(user: Browser, server: LiveServer,
                                         clock: CourseClock) -> None:
    user.open(url(server))
    assert user.create_passkey(new_name())["status"] == 201
    options = user.run("() => passkeys.post('/login/options', {})")["body"]
    assertion = user.run(GET_ASSERTION, options)
    with clock.moved(CHALLENGE_TTL + 1):
        late = user.run("c => passkeys.post('/login/verify', {credential: c})", assertion)
    assert (late["status"], late["body"]["error"]) == (400, "challenge_expired")
    assert user.fetch("/me")["status"] == 401


def test_nobody_adds_a_passkey_to_someone_elses_account(
        user: Browser, other: Browser, server: LiveServer) -> None:
    victim, intruder = new_name(), new_name()
    user.open(url(server))
    assert user.create_passkey(victim)["status"] == 201

    # not signed in at all
    other.open(url(server))
    refused = other.create_passkey(victim)
    assert (refused["status"], refused["body"]["error"]) == (403, "not_your_account")
    # signed in, but as someone else
    assert other.create_passkey(intruder)["status"] == 201
    assert other.sign_in()["body"] == {"username": intruder}
    assert other.create_passkey(victim)["status"] == 403
    # a registration challenge for one's own account cannot be spent on the victim's
    options = other.run("u => passkeys.post('/register/options', {username: u})", intruder)
    assert options["status"] == 200 and len(options["body"]["excludeCredentials"]) == 1
    store = server.app.extensions["passkey_store"]
    assert len(store.credentials_of(victim)) == 1 and len(store.credentials_of(intruder)) == 1

    # the owner, signed in, may add one (here the options; the same authenticator is excluded)
    assert user.sign_in()["status"] == 200
    mine = user.run("u => passkeys.post('/register/options', {username: u})", victim)
    assert mine["status"] == 200
    assert [c["id"] for c in mine["body"]["excludeCredentials"]] == [
        b64url(base64.b64decode(user.stored_credentials()[0]["credentialId"]))]


def test_devices_and_logout_everywhere(user: Browser, other: Browser, server: LiveServer) -> None:
    name = new_name()
    user.open(url(server))
    assert user.create_passkey(name)["status"] == 201
    assert user.sign_in()["body"] == {"username": name}
    # the same passkey on a second device: copy it over, counter and all (two copies that
    # both count from the same number would be refused: the counter exposes a clone, §6.1.1)
    [passkey] = user.stored_credentials()
    other.cdp.send("WebAuthn.addCredential", {"authenticatorId": other.authenticator,
                                              "credential": passkey})
    other.open(url(server))
    assert other.sign_in()["body"] == {"username": name}
    sessions = other.fetch("/devices")["body"]["sessions"]
    assert len(sessions) == 2 and sum(s["current"] for s in sessions) == 1
    assert all(s["user_agent"] for s in sessions) and all(len(s["id"]) == 8 for s in sessions)

    assert other.fetch("/logout-everywhere", "POST")["status"] == 204
    assert user.fetch("/me")["status"] == other.fetch("/me")["status"] == 401
    assert server.app.extensions["passkey_store"].sessions_of(name) == []


def test_webauthn_refuses_an_ip_address_origin(user: Browser, server: LiveServer) -> None:
    """Why the server prints http://localhost:PORT: the browser itself refuses 127.0.0.1."""
    options = requests.post(url(server) + "/register/options", json={"username": new_name()},
                            timeout=5).json()
    user.open(f"http://127.0.0.1:{server.port}")
    assert "WebAuthn refuses IP-address origins" in user.page.inner_text("#status")
    refused = user.run("""async (options) => {
        options.rp.id = location.hostname;  // even with the RP ID set to the IP address
        try {
            await navigator.credentials.create(
                {publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options)});
            return "created";
        } catch (err) { return err.name; }
    }""", options)
    assert refused == "SecurityError"
    assert user.stored_credentials() == []


# -- assertions signed in Python with the virtual authenticator's own private key ------------
# A real authenticator never gives its key away; the virtual one does, which lets a test make
# an assertion that is genuine in every byte but one chosen field (a flag, the counter, the
# user handle), to show that the server checks that field and not only the signature.


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_assertion(held: dict, server: LiveServer, *, flags: int = 0x05, sign_count: int,
                     user_handle: bool = True) -> dict:
    """An assertion for a fresh challenge of ``server``, as ``PublicKeyCredential.toJSON()``."""
    from cryptography.hazmat.primitives import serialization

    options = requests.post(url(server) + "/login/options", json={}, timeout=5).json()
    challenge = options["challenge"]
    client_data = json.dumps({"type": "webauthn.get", "challenge": challenge,
                              "origin": url(server), "crossOrigin": False}).encode()
    auth_data = (hashlib.sha256(b"localhost").digest() + bytes([flags])
                 + sign_count.to_bytes(4, "big"))
    key = serialization.load_der_private_key(base64.b64decode(held["privateKey"]), password=None)
    signature = key.sign(auth_data + hashlib.sha256(client_data).digest())
    credential_id = b64url(base64.b64decode(held["credentialId"]))
    response = {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                "signature": b64url(signature)}
    if user_handle:
        response["userHandle"] = b64url(base64.b64decode(held["userHandle"]))
    return {"id": credential_id, "rawId": credential_id, "type": "public-key",
            "response": response, "clientExtensionResults": {},
            "authenticatorAttachment": "platform"}


def registered(user: Browser, server: LiveServer) -> tuple[str, dict, int]:
    """A new account with one passkey: its name, the authenticator's record, the stored counter."""
    name = new_name()
    assert user.open(url(server)).create_passkey(name)["status"] == 201
    [held] = user.stored_credentials()
    [kept] = server.app.extensions["passkey_store"].credentials_of(name)
    return name, held, kept.sign_count


def post_assertion(credential: dict, server: LiveServer) -> requests.Response:
    return requests.post(url(server) + "/login/verify", json={"credential": credential}, timeout=5)


def test_a_forged_but_well_signed_assertion_is_accepted(user: Browser, server: LiveServer) -> None:
    """The forger itself is sound: with every field right, the server accepts its assertion."""
    name, held, count = registered(user, server)
    answer = post_assertion(signed_assertion(held, server, sign_count=count + 1), server)
    assert (answer.status_code, answer.json()) == (200, {"username": name})


def test_user_verification_is_required_and_checked(user: Browser, server: LiveServer) -> None:
    """The options ask for UV; an assertion with UP but not UV (flags 0x01) is refused (§7.2)."""
    _, held, count = registered(user, server)
    unverified = signed_assertion(held, server, flags=0x01, sign_count=count + 1)
    answer = post_assertion(unverified, server)
    assert answer.status_code == 400 and "verif" in answer.json()["message"].lower()
    assert "Set-Cookie" not in answer.headers


def test_a_counter_that_does_not_increase_is_refused_as_a_possible_clone(
        user: Browser, server: LiveServer) -> None:
    """§7.2 leaves the reaction to the RP; this server (py_webauthn) refuses the sign-in."""
    name, held, count = registered(user, server)
    store = server.app.extensions["passkey_store"]
    for stale in (count, count - 1):
        answer = post_assertion(signed_assertion(held, server, sign_count=stale), server)
        assert answer.status_code == 400 and "sign count" in answer.json()["message"]
    assert store.credentials_of(name)[0].sign_count == count  # nothing updated by a refusal
    assert post_assertion(signed_assertion(held, server, sign_count=count + 1), server).ok


def test_a_discoverable_sign_in_needs_the_user_handle(user: Browser, server: LiveServer) -> None:
    """§7.2: the user was not identified before the ceremony, so response.userHandle must be
    present (and name the key's owner)."""
    _, held, count = registered(user, server)
    answer = post_assertion(signed_assertion(held, server, sign_count=count + 1, user_handle=False),
                            server)
    assert (answer.status_code, answer.json()["error"]) == (400, "user_handle_missing")


def test_the_devices_list_leaves_out_expired_sessions(user: Browser, server: LiveServer,
                                                      clock: CourseClock) -> None:
    name, held, count = registered(user, server)
    assert post_assertion(signed_assertion(held, server, sign_count=count + 1), server).ok
    with clock.moved(IDLE_TIMEOUT + 1):  # the first session has been idle too long
        second = requests.Session()
        answer = second.post(url(server) + "/login/verify", timeout=5, json={
            "credential": signed_assertion(held, server, sign_count=count + 2)})
        assert answer.ok
        sessions = second.get(url(server) + "/devices", timeout=5).json()["sessions"]
    assert [s["current"] for s in sessions] == [True]
    assert len(server.app.extensions["passkey_store"].sessions_of(name)) == 1
