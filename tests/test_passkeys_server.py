"""The `passkeys` server as a black box (``python -m helpers serve passkeys``), fed hostile input.

A browser is needed to make a real passkey (see test_passkeys_browser.py); everything a
client can send without one is here: malformed bodies and credentials, real challenges
with forged responses, cookies and origins that are not the server's. None of it may get
a 500, and the server must keep serving.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support import CliServer, run_concurrently, start_cli_server

TIMEOUT = 10
CHALLENGE = 'Cookie realm="passkeys", form="/"'


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliServer]:
    running = start_cli_server("passkeys", "--db", str(tmp_path_factory.mktemp("pk") / "pk.db"))
    yield running
    assert running.stop() == 0


def post(server: CliServer, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
    return requests.post(server.url + path, json=body, timeout=TIMEOUT, **kwargs)


def assert_json_error(response: requests.Response, status: int, error: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message"} and body["message"]
    if error is not None:
        assert body["error"] == error


def client_data(challenge: bytes, kind: str, origin: str) -> str:
    data = {"type": kind, "challenge": b64url(challenge), "origin": origin}
    return b64url(json.dumps(data).encode())


def fresh_challenge(server: CliServer, ceremony: str, username: str = "mallory") -> bytes:
    body = {"username": username} if ceremony == "register" else {}
    options = post(server, f"/{ceremony}/options", body).json()
    return base64.urlsafe_b64decode(options["challenge"] + "==")


def forged_assertion(challenge: bytes, origin: str, kind: str = "webauthn.get") -> dict:
    raw_id = b64url(b"\x01" * 32)
    return {"id": raw_id, "rawId": raw_id, "type": "public-key",
            "response": {"clientDataJSON": client_data(challenge, kind, origin),
                         "authenticatorData": b64url(b"\x00" * 37),
                         "signature": b64url(b"\x30" * 70)}}


def forged_registration(challenge: bytes, origin: str, kind: str = "webauthn.create") -> dict:
    raw_id = b64url(b"\x02" * 32)
    return {"id": raw_id, "rawId": raw_id, "type": "public-key",
            "response": {"clientDataJSON": client_data(challenge, kind, origin),
                         "attestationObject": b64url(b"\xa1\x63fmt\x64none")}}


def test_first_line_names_localhost_and_the_page_has_both_buttons(server: CliServer) -> None:
    assert server.first_line == f"Serving passkeys on {server.url}"
    assert server.url.startswith("http://localhost:")
    page = requests.get(server.url + "/", timeout=TIMEOUT)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert ">create a passkey</button>" in page.text
    assert ">sign in with a passkey</button>" in page.text
    assert "parseCreationOptionsFromJSON" in page.text and "toJSON()" in page.text
    nonce = page.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page.text


def test_options_speak_webauthn_json(server: CliServer) -> None:
    created = post(server, "/register/options", {"username": "carol"}).json()
    assert created["rp"] == {"id": "localhost", "name": created["rp"]["name"]}
    assert created["authenticatorSelection"]["residentKey"] == "required"
    assert created["user"]["name"] == "carol" and created["user"]["id"] != b64url(b"carol")
    assert len(base64.urlsafe_b64decode(created["challenge"] + "==")) == 64
    request = post(server, "/login/options", {}).json()
    no_body = requests.post(server.url + "/login/options", timeout=TIMEOUT)
    assert no_body.status_code == 200
    assert request["rpId"] == "localhost" and request["allowCredentials"] == []
    assert request["challenge"] != created["challenge"]


@pytest.mark.parametrize("path", ["/me", "/devices"])
def test_every_401_carries_a_challenge(server: CliServer, path: str) -> None:
    response = requests.get(server.url + path, timeout=TIMEOUT)
    assert_json_error(response, 401, "not_signed_in")
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_logout_everywhere_needs_a_session_and_logout_always_answers_204(server: CliServer) -> None:
    response = post(server, "/logout-everywhere", {})
    assert_json_error(response, 401)
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert post(server, "/logout").status_code == 204


BAD_BODIES = [
    ("not json", {"data": "username=alice", "headers": {"Content-Type": "text/plain"}}, 415),
    ("broken json", {"data": "{", "headers": {"Content-Type": "application/json"}}, 400),
    ("a list", {"json": ["alice"]}, 400),
    ("deeply nested", {"data": "[" * 60_000, "headers": {"Content-Type": "application/json"}}, 400),
    ("too large", {"data": "{" + " " * 70_000 + "}",
                   "headers": {"Content-Type": "application/json"}}, 413),
    ("no username", {"json": {}}, 400),
    ("username a number", {"json": {"username": 7}}, 400),
    ("username too long", {"json": {"username": "a" * 65}}, 400),
    ("username with a newline", {"json": {"username": "alice\n"}}, 400),
    ("username of NULs", {"json": {"username": "\x00" * 10}}, 400),
]


@pytest.mark.parametrize("path", ["/register/options", "/register/verify", "/login/options",
                                  "/login/verify"])
@pytest.mark.parametrize(("label", "kwargs", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_malformed_bodies_get_json_errors(server: CliServer, path: str, label: str, kwargs: dict,
                                          status: int) -> None:
    if path == "/login/options" and isinstance(kwargs.get("json"), dict):
        return  # login options read no fields: any JSON object is a good request there
    assert_json_error(requests.post(server.url + path, timeout=TIMEOUT, **kwargs), status)


GARBAGE_CREDENTIALS: list[Any] = [
    None, "a string", 12, [], {}, {"id": 1}, {"id": "x", "rawId": "x", "type": "public-key"},
    {"id": "x", "rawId": "x", "type": "public-key", "response": "nope"},
    {"id": "!!", "rawId": "!!", "type": "public-key",
     "response": {"clientDataJSON": "!!", "attestationObject": "!!", "authenticatorData": "!!",
                  "signature": "!!"}},
    {"id": "AA", "rawId": "AA", "type": "public-key",
     "response": {"clientDataJSON": b64url(b"[1, 2]"), "attestationObject": "AA",
                  "authenticatorData": "AA", "signature": "AA"}},
    {"id": "AA", "rawId": "AA", "type": "public-key",
     "response": {"clientDataJSON": b64url(b'{"type": 1, "challenge": 2, "origin": null}'),
                  "attestationObject": "AA", "authenticatorData": "AA", "signature": "AA",
                  "userHandle": 5, "transports": [1, None, "internal"]}},
    {"id": "A" * 30_000, "rawId": "A" * 30_000, "type": "public-key", "response": {}},
]


@pytest.mark.parametrize("path", ["/register/verify", "/login/verify"])
@pytest.mark.parametrize("credential", GARBAGE_CREDENTIALS, ids=range(len(GARBAGE_CREDENTIALS)))
def test_garbage_credentials_are_refused_with_400(server: CliServer, path: str,
                                                  credential: Any) -> None:
    assert_json_error(post(server, path, {"username": "mallory", "credential": credential}), 400)


def test_a_forged_assertion_with_a_real_challenge_is_refused_and_spends_it(
        server: CliServer) -> None:
    forged = forged_assertion(fresh_challenge(server, "login"), server.url)
    assert_json_error(post(server, "/login/verify", {"credential": forged}), 400,
                      "unknown_credential")
    assert_json_error(post(server, "/login/verify", {"credential": forged}), 400,
                      "unknown_challenge")


def test_a_forged_registration_is_refused_by_py_webauthn(server: CliServer) -> None:
    forged = forged_registration(fresh_challenge(server, "register"), server.url)
    refused = post(server, "/register/verify", {"username": "mallory", "credential": forged})
    assert_json_error(refused, 400, "verification_failed")
    wrong_type = forged_registration(fresh_challenge(server, "register"), server.url,
                                     "webauthn.get")
    refused = post(server, "/register/verify", {"username": "mallory", "credential": wrong_type})
    assert_json_error(refused, 400, "verification_failed")
    assert "webauthn.get" in refused.json()["message"]


def test_a_challenge_serves_only_its_own_ceremony_and_account(server: CliServer) -> None:
    login_challenge = forged_registration(fresh_challenge(server, "login"), server.url)
    refused = post(server, "/register/verify",
                   {"username": "mallory", "credential": login_challenge})
    assert_json_error(refused, 400, "wrong_ceremony")
    for_dave = forged_registration(fresh_challenge(server, "register", "dave"), server.url)
    refused = post(server, "/register/verify", {"username": "mallory", "credential": for_dave})
    assert_json_error(refused, 400, "challenge_mismatch")
    made_up = forged_assertion(b"\x07" * 64, server.url)
    assert_json_error(post(server, "/login/verify", {"credential": made_up}), 400,
                      "unknown_challenge")


def test_one_challenge_posted_at_once_by_many_is_taken_once(server: CliServer) -> None:
    forged = forged_assertion(fresh_challenge(server, "login"), server.url)
    answers = run_concurrently(
        lambda _: post(server, "/login/verify", {"credential": forged}).json()["error"], 8)
    assert sorted(answers) == ["unknown_challenge"] * 7 + ["unknown_credential"]


def test_a_post_from_another_origin_is_refused(server: CliServer) -> None:
    response = post(server, "/register/options", {"username": "erin"},
                    headers={"Origin": "http://localhost:1"})
    assert_json_error(response, 403, "cross_origin_request")
    assert post(server, "/register/options", {"username": "erin"},
                headers={"Origin": server.url}).status_code == 200


@pytest.mark.parametrize("cookie", ["sid=not-a-session", "sid=" + "A" * 43, "sid=a; sid=b",
                                    "sid=" + "x" * 9000, "sid=\x7f\x80"])
def test_odd_cookies_are_no_session(server: CliServer, cookie: str) -> None:
    response = requests.get(server.url + "/me", headers={"Cookie": cookie}, timeout=TIMEOUT)
    assert response.status_code in (401, 431)
    assert set(response.json()) == {"error", "message"}


def test_wrong_methods_and_routes_are_json(server: CliServer) -> None:
    assert_json_error(requests.get(server.url + "/login/verify", timeout=TIMEOUT), 405)
    assert_json_error(requests.get(server.url + "/nope", timeout=TIMEOUT), 404)


@pytest.mark.parametrize("raw", [b"\x16\x03\x01\x02\x00garbage\r\n\r\n",
                                 b"POST /login/verify HTTP/1.1\r\nHost: x\r\n"
                                 + b"X: " + b"a" * 70_000 + b"\r\n\r\n",
                                 b"POST /login/verify HTTP/1.1\r\nContent-Length: -5\r\n\r\n"])
def test_broken_http_gets_an_answer_not_a_crash(server: CliServer, raw: bytes) -> None:
    import socket

    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(raw)
        answer = sock.recv(4096)
    if answer.startswith(b"HTTP/1."):
        assert b" 500 " not in answer.split(b"\r\n")[0]
    else:  # no HTTP version to speak: http.server answers as HTTP/0.9 would, with the body alone
        assert json.loads(answer)["error"] == "bad_request"


def test_still_serving_after_all_that(server: CliServer) -> None:
    assert server.process.poll() is None
    assert post(server, "/register/options", {"username": "frank"}).status_code == 200


# -- in-process: limits and expiry that need the server's clock or constants ------------------


def test_unfinished_ceremonies_are_capped_until_they_expire(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.notebook.course_clock import CourseClock
    from helpers.servers.passkeys import app as app_module
    from helpers.servers.passkeys import create_app

    monkeypatch.setattr(app_module, "MAX_PENDING_CHALLENGES", 3)
    clock = CourseClock()
    client = create_app(clock=clock).test_client()
    statuses = [client.post("/login/options", json={}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.post("/register/options", json={"username": "gina"})
    assert refused.json["error"] == "too_many_ceremonies"
    clock.advance(app_module.CHALLENGE_TTL)  # the three expire, and are swept at the next one
    assert client.post("/login/options", json={}).status_code == 200


def test_a_session_ends_at_its_absolute_lifetime_however_active() -> None:
    import secrets

    from helpers.notebook.course_clock import CourseClock
    from helpers.servers.passkeys import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, create_app
    from helpers.servers.passkeys.store import Session

    clock = CourseClock()
    app = create_app(clock=clock)
    sid, start = secrets.token_urlsafe(32), clock.time()
    app.extensions["passkey_store"].add_session(Session(sid, "hana", start, start, "test"))
    client = app.test_client()
    client.set_cookie("sid", sid, domain="localhost")
    seen = []
    while clock.time() - start <= ABSOLUTE_TIMEOUT + IDLE_TIMEOUT:
        clock.advance(IDLE_TIMEOUT - 60)  # always back before the idle timeout
        seen.append((clock.time() - start, client.get("/me").status_code))
    first_refusal = next(t for t, status in seen if status == 401)
    assert all(status == 200 for t, status in seen if t <= ABSOLUTE_TIMEOUT)
    assert ABSOLUTE_TIMEOUT < first_refusal <= ABSOLUTE_TIMEOUT + IDLE_TIMEOUT
