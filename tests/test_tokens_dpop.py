"""DPoP (RFC 9449) on the ``tokens`` server, as a black box: ``python -m helpers serve tokens``.

The client side is written here from the RFC, independently of the server's code: proofs
are signed with cryptography through PyJWT's algorithm objects, and the key thumbprint
(RFC 7638) is computed by jwcrypto, a second JOSE library. Covered: the bound pair at
/login and /refresh (``token_type: DPoP``, ``cnf.jkt``), /me with ``Authorization: DPoP``
and a proof, every refusal with its status, error code and ``WWW-Authenticate: DPoP``
challenge, a battery of hostile proofs, concurrent replays of one proof (exactly one
passes), logout of a bound login, the ``--dpop-nonce`` round trip, and the replay cache's
bounds (in process, with a frozen clock). Plain Bearer behaviour is tested, unchanged, in
test_tokens_server.py.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk as jc_jwk
from jwt.algorithms import get_default_algorithms

from helpers import payload_of
from helpers.servers.tokens import create_app
from helpers.servers.tokens.dpop import ReplayCache, normalize_htu
from tests.support import (
    TIMEOUT,
    CliServer,
    FrozenClock,
    assert_json_error,
    b64url,
    login,
    module_server,
    run_concurrently,
    start_cli_server,
)

DESCRIBED = "error_description"
ALGS = 'algs="ES256 ES384 PS256 RS256 EdDSA"'
server = module_server("tokens", "--clock", db=True)


@pytest.fixture(scope="module")
def nonce_server() -> Iterator[CliServer]:
    running = start_cli_server("tokens", "--clock", "--dpop-nonce")
    yield running
    running.stop_cleanly()


# -- the client side, from RFC 9449 section 4.2 ---------------------------------------------
def new_key(alg: str) -> Any:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Holder:
    """A DPoP client: a key pair, and proofs signed with it."""

    alg: str = "ES256"
    key: Any = None

    def __post_init__(self) -> None:
        self.key = self.key or new_key(self.alg)
        algorithm = get_default_algorithms()[self.alg]
        self.jwk = algorithm.to_jwk(self.key.public_key(), as_dict=True)

    @property
    def jkt(self) -> str:
        """RFC 7638 thumbprint, computed by jwcrypto (not by the course's code)."""
        return jc_jwk.JWK(**self.jwk).thumbprint()

    def proof(self, method: str, url: str, *, now: float, token: str | None = None,
              header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None,
              drop: tuple[str, ...] = ()) -> str:
        head = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk, **(header or {})}
        body: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url,
                                "iat": int(now)}
        if token is not None:
            body["ath"] = b64url(hashlib.sha256(token.encode()).digest())
        body.update(claims or {})
        for name in drop:
            head.pop(name, None)
            body.pop(name, None)
        signing_input = f"{b64url(head)}.{b64url(body)}".encode()
        signature = get_default_algorithms()[self.alg].sign(signing_input, self.key)
        return f"{signing_input.decode()}.{b64url(signature)}"


def now(server: CliServer) -> float:
    """The server's course clock (its clock moves when a test moves it)."""
    return server.advance(0)


def dpop_login(server: CliServer, holder: Holder, username: str = "alice",
               nonce: str | None = None) -> requests.Response:
    claims = {"nonce": nonce} if nonce else None
    proof = holder.proof("POST", f"{server.url}/login", now=now(server), claims=claims)
    return requests.post(f"{server.url}/login", headers={"DPoP": proof}, timeout=TIMEOUT,
                         json={"username": username,
                               "password": {"alice": "wonderland", "bob": "builder"}[username]})


def dpop_me(server: CliServer, holder: Holder, token: str, **proof_options: Any
            ) -> requests.Response:
    proof = holder.proof("GET", f"{server.url}/me", now=now(server), token=token,
                         **proof_options)
    return requests.get(f"{server.url}/me", timeout=TIMEOUT,
                        headers={"Authorization": f"DPoP {token}", "DPoP": proof})


def assert_dpop_error(response: requests.Response, error: str, status: int = 401) -> None:
    """RFC 9449 section 7.1: the JSON error and, on a 401, a DPoP challenge with algs."""
    assert_json_error(response, status, error, field=DESCRIBED)
    if status == 401:
        header = response.headers["WWW-Authenticate"]
        assert header.startswith(f'DPoP error="{error}", error_description="'), header
        assert header.endswith(ALGS), header


_shared: dict[str, Any] = {}


@pytest.fixture
def bound(server: CliServer) -> tuple[Holder, dict[str, Any]]:
    """A DPoP-bound login shared by the tests that only read, renewed once its access token
    is near its exp (a test may move the server's clock)."""
    pair = _shared.get(server.url)
    if pair is None or payload_of(pair[1]["access_token"])["exp"] < now(server) + 60:
        holder = Holder()
        response = dpop_login(server, holder)
        assert response.status_code == 200, response.text
        _shared[server.url] = pair = (holder, response.json())
    return pair


# -- the bound pair --------------------------------------------------------------------------
def test_a_login_with_a_proof_gets_a_dpop_bound_pair(server: CliServer,
                                                     bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    assert pair["token_type"] == "DPoP" and set(pair) == {
        "access_token", "refresh_token", "token_type", "expires_in"}
    assert payload_of(pair["access_token"])["cnf"] == {"jkt": holder.jkt}
    assert dpop_me(server, holder, pair["access_token"]).json() == {"sub": "alice"}


@pytest.mark.parametrize("alg", ["ES256", "ES384", "PS256", "RS256", "EdDSA"])
def test_every_advertised_algorithm_works(server: CliServer, alg: str) -> None:
    holder = Holder(alg)
    pair = dpop_login(server, holder, "bob").json()
    assert payload_of(pair["access_token"])["cnf"]["jkt"] == holder.jkt
    assert dpop_me(server, holder, pair["access_token"]).status_code == 200


def test_a_login_without_a_proof_is_bearer_as_before(server: CliServer) -> None:
    pair = login(server.url, "bob").json()
    assert pair["token_type"] == "Bearer" and "cnf" not in payload_of(pair["access_token"])


# -- refusals at /me -------------------------------------------------------------------------
def test_a_bound_token_sent_as_bearer_is_refused(server: CliServer,
                                                 bound: tuple[Holder, dict[str, Any]]) -> None:
    _, pair = bound
    response = requests.get(f"{server.url}/me", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert_dpop_error(response, "invalid_token")


def test_dpop_without_a_proof_is_refused(server: CliServer,
                                         bound: tuple[Holder, dict[str, Any]]) -> None:
    _, pair = bound
    response = requests.get(f"{server.url}/me", timeout=TIMEOUT,
                            headers={"Authorization": f"DPoP {pair['access_token']}"})
    assert_dpop_error(response, "invalid_dpop_proof")


def test_a_stolen_token_with_the_thiefs_own_key_is_refused(
        server: CliServer, bound: tuple[Holder, dict[str, Any]]) -> None:
    _, pair = bound
    assert_dpop_error(dpop_me(server, Holder(), pair["access_token"]), "invalid_token")


def test_an_unbound_token_sent_as_dpop_is_refused(server: CliServer) -> None:
    token = login(server.url, "bob").json()["access_token"]
    assert_dpop_error(dpop_me(server, Holder(), token), "invalid_token")


@pytest.mark.parametrize("header", ["DPoP", "DPoP a b", "DPoP ***"])
def test_a_malformed_dpop_authorization_is_a_400(server: CliServer, header: str) -> None:
    response = requests.get(f"{server.url}/me", timeout=TIMEOUT,
                            headers={"Authorization": header, "DPoP": "x.y.z"})
    assert_json_error(response, 400, "invalid_request", field=DESCRIBED,
                      challenge='DPoP error="invalid_request"')


def test_a_replayed_proof_is_refused(server: CliServer,
                                     bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    token = pair["access_token"]
    proof = holder.proof("GET", f"{server.url}/me", now=now(server), token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    assert requests.get(f"{server.url}/me", headers=headers, timeout=TIMEOUT).status_code == 200
    again = requests.get(f"{server.url}/me", headers=headers, timeout=TIMEOUT)
    assert_dpop_error(again, "invalid_dpop_proof")
    assert "replayed" in again.json()[DESCRIBED]


def test_concurrent_replays_of_one_proof_exactly_one_passes(
        server: CliServer, bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    token = pair["access_token"]
    headers = {"Authorization": f"DPoP {token}",
               "DPoP": holder.proof("GET", f"{server.url}/me", now=now(server), token=token)}
    statuses = run_concurrently(lambda _: requests.get(f"{server.url}/me", headers=headers,
                                                       timeout=TIMEOUT).status_code, 12)
    assert sorted(statuses) == [200] + [401] * 11


def test_concurrent_replays_of_one_login_proof_exactly_one_passes(server: CliServer) -> None:
    holder = Holder()
    proof = holder.proof("POST", f"{server.url}/login", now=now(server))
    statuses = run_concurrently(lambda _: requests.post(
        f"{server.url}/login", headers={"DPoP": proof}, timeout=TIMEOUT,
        json={"username": "bob", "password": "builder"}).status_code, 4)
    assert sorted(statuses) == [200] + [400] * 3


def test_concurrent_replays_of_one_logout_proof_end_the_login_once(server: CliServer) -> None:
    holder = Holder()
    token = dpop_login(server, holder).json()["access_token"]
    proof = holder.proof("POST", f"{server.url}/logout", now=now(server), token=token)
    answers = run_concurrently(lambda _: requests.post(
        f"{server.url}/logout", timeout=TIMEOUT,
        headers={"Authorization": f"DPoP {token}", "DPoP": proof}), 6)
    assert sorted(r.status_code for r in answers) == [204] + [401] * 5
    assert {r.json()["error"] for r in answers if r.status_code == 401} == {"invalid_dpop_proof"}


def test_concurrent_replays_of_one_refresh_request_spend_nothing_twice(server: CliServer) -> None:
    holder = Holder()
    pair = dpop_login(server, holder).json()
    proof = holder.proof("POST", f"{server.url}/refresh", now=now(server))
    answers = run_concurrently(lambda _: requests.post(
        f"{server.url}/refresh", headers={"DPoP": proof}, timeout=TIMEOUT,
        json={"refresh_token": pair["refresh_token"]}), 8)
    assert sorted(a.status_code for a in answers) == [200] + [400] * 7
    assert {a.json()["error"] for a in answers if a.status_code == 400} == {"invalid_dpop_proof"}
    # the replays were stopped at the proof: the family was not revoked as a reuse
    winner = next(a.json() for a in answers if a.status_code == 200)
    assert dpop_me(server, holder, winner["access_token"]).status_code == 200


@pytest.mark.parametrize("claims", [{"htm": "POST"}, {"htm": "get"},
                                    {"htu": "http://127.0.0.1:1/me"},
                                    {"htu": "http://example.com/me"}, {"htu": "/me"},
                                    {"htu": "other"}])
def test_a_proof_for_another_method_or_url_is_refused(
        server: CliServer, bound: tuple[Holder, dict[str, Any]], claims: dict[str, str]) -> None:
    holder, pair = bound
    assert_dpop_error(dpop_me(server, holder, pair["access_token"], claims=claims),
                      "invalid_dpop_proof")


def test_a_proof_for_another_path_is_refused(server: CliServer,
                                             bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    response = dpop_me(server, holder, pair["access_token"],
                       claims={"htu": f"{server.url}/refresh"})
    assert_dpop_error(response, "invalid_dpop_proof")
    assert "another URL" in response.json()[DESCRIBED]


@pytest.mark.parametrize("suffix", ["?a=1", "#top", "?x=y#z"])
def test_htu_is_compared_without_query_and_fragment(server: CliServer, suffix: str,
                                                    bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    response = dpop_me(server, holder, pair["access_token"],
                       claims={"htu": f"{server.url}/me{suffix}"})
    assert response.status_code == 200, response.text


def test_htu_is_normalised(server: CliServer, bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    port = server.url.rsplit(":", 1)[1]
    for htu in (f"HTTP://127.0.0.1:{port}/me", f"http://LOCALHOST:{port}/%6De",
                f"http://127.0.0.1:{port}/x/../me", f"http://localhost:{port}/./me"):
        response = dpop_me(server, holder, pair["access_token"], claims={"htu": htu})
        assert response.status_code == 200, (htu, response.text)


def test_the_request_url_is_the_servers_not_the_host_header(
        server: CliServer, bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    token = pair["access_token"]
    # a proof made for another server, relayed here with that server's name as Host
    proof = holder.proof("GET", "http://api.example.com/me", now=now(server), token=token)
    response = requests.get(f"{server.url}/me", timeout=TIMEOUT, headers={
        "Authorization": f"DPoP {token}", "DPoP": proof, "Host": "api.example.com"})
    assert_dpop_error(response, "invalid_dpop_proof")
    # and a request that reached this server through "localhost" is this server's too
    proof = holder.proof("GET", server.url.replace("127.0.0.1", "localhost") + "/me",
                         now=now(server), token=token)
    response = requests.get(server.url.replace("127.0.0.1", "localhost") + "/me",
                            timeout=TIMEOUT,
                            headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("skew,ok", [(-62, False), (-58, True), (58, True), (62, False),
                                     (-3600, False)])
def test_iat_must_be_within_60_seconds_of_the_course_clock(
        server: CliServer, bound: tuple[Holder, dict[str, Any]], skew: int, ok: bool) -> None:
    holder, pair = bound
    token = pair["access_token"]
    proof = holder.proof("GET", f"{server.url}/me", now=now(server) + skew, token=token)
    response = requests.get(f"{server.url}/me", timeout=TIMEOUT,
                            headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert_dpop_error(response, "invalid_dpop_proof")
        assert "iat" in response.json()[DESCRIBED]


@pytest.mark.parametrize("ath", [None, "", "x", "AAAA", "\u00e9"])
def test_ath_must_be_the_hash_of_the_access_token(
        server: CliServer, bound: tuple[Holder, dict[str, Any]], ath: str | None) -> None:
    holder, pair = bound
    options: dict[str, Any] = {"drop": ("ath",)} if ath is None else {"claims": {"ath": ath}}
    assert_dpop_error(dpop_me(server, holder, pair["access_token"], **options),
                      "invalid_dpop_proof")


def test_an_expired_bound_token_is_invalid_token_in_the_dpop_scheme(server: CliServer) -> None:
    holder = Holder()
    token = dpop_login(server, holder, "bob").json()["access_token"]
    server.advance(301)
    response = dpop_me(server, holder, token)
    assert_dpop_error(response, "invalid_token")
    assert "expired" in response.json()[DESCRIBED]


# -- hostile proofs ---------------------------------------------------------------------------
def _rsa1024() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def hostile_proofs(url: str, token: str, now: float) -> dict[str, str | bytes]:
    """Proofs that must all be refused, each with a clear JSON error and never a 500."""
    holder = Holder()
    good = holder.proof("GET", url, now=now, token=token)
    head, body, sig = good.split(".")
    d = holder.key.private_numbers().private_value.to_bytes(32, "big")
    ec_private = {**holder.jwk, "d": b64url(d)}  # the real private key: it would verify
    claims = {"jti": "j", "htm": "GET", "htu": url, "iat": int(now)}
    unsigned = b64url({"typ": "dpop+jwt", "alg": "none", "jwk": holder.jwk})
    return {
        "empty": "",
        "two parts": f"{head}.{body}",
        "four parts": f"{good}.x",
        "not base64url": "!!!.???.***",
        "header not JSON": f"{b64url('nope')}.{body}.{sig}",
        "header an array": f"{b64url('[1]')}.{body}.{sig}",
        "header deep JSON": f"{b64url('[' * 3000 + ']' * 3000)}.{body}.{sig}",
        "payload not JSON": f"{head}.{b64url('nope')}.{sig}",
        "bad signature": f"{head}.{body}.{b64url(b'x' * 64)}",
        "signature of another proof": f"{head}.{body[:-2]}AA.{sig}",
        "alg none": f"{unsigned}.{b64url(claims)}.",
        "alg none with a signature": f"{unsigned}.{body}.{sig}",
        "HS256 with an oct jwk": _hs256(url, token, now),
        "HS256 keyed with the public jwk": _hs256(url, token, now, holder.jwk),
        "alg RS256 with an EC key": holder.proof("GET", url, now=now, token=token,
                                                 header={"alg": "RS256"}),
        "alg ES384 with a P-256 key": holder.proof("GET", url, now=now, token=token,
                                                   header={"alg": "ES384"}),
        "Ed25519 key of small order": _small_order_forgery(url, token, now),
        "RSA key of 1024 bits": Holder("RS256", _rsa1024()).proof("GET", url, now=now,
                                                                  token=token),
        "private key in jwk": holder.proof("GET", url, now=now, token=token,
                                           header={"jwk": ec_private}),
        "no jwk": holder.proof("GET", url, now=now, token=token, drop=("jwk",)),
        "jwk a string": holder.proof("GET", url, now=now, token=token,
                                     header={"jwk": json.dumps(holder.jwk)}),
        "jwk off the curve": holder.proof("GET", url, now=now, token=token,
                                          header={"jwk": {**holder.jwk, "y": holder.jwk["x"]}}),
        "jwk of another key": holder.proof("GET", url, now=now, token=token,
                                           header={"jwk": Holder().jwk}),
        "10 KB jwk": holder.proof("GET", url, now=now, token=token,
                                  header={"jwk": {**holder.jwk, "pad": "A" * 10_000}}),
        "oversized": good + "A" * 5000,
        "typ JWT": holder.proof("GET", url, now=now, token=token, header={"typ": "JWT"}),
        "typ at+jwt": holder.proof("GET", url, now=now, token=token, header={"typ": "at+jwt"}),
        "no typ": holder.proof("GET", url, now=now, token=token, drop=("typ",)),
        "typ a number": holder.proof("GET", url, now=now, token=token, header={"typ": 1}),
        "crit": holder.proof("GET", url, now=now, token=token, header={"crit": ["exp"]}),
        "no jti": holder.proof("GET", url, now=now, token=token, drop=("jti",)),
        "jti a number": holder.proof("GET", url, now=now, token=token, claims={"jti": 7}),
        "jti huge": holder.proof("GET", url, now=now, token=token, claims={"jti": "j" * 300}),
        "no htm": holder.proof("GET", url, now=now, token=token, drop=("htm",)),
        "htu a list": holder.proof("GET", url, now=now, token=token, claims={"htu": [url]}),
        "htu bad port": holder.proof("GET", url, now=now, token=token,
                                     claims={"htu": "http://127.0.0.1:99999/me"}),
        "no iat": holder.proof("GET", url, now=now, token=token, drop=("iat",)),
        "iat a string": holder.proof("GET", url, now=now, token=token,
                                     claims={"iat": str(int(now))}),
        "iat true": holder.proof("GET", url, now=now, token=token, claims={"iat": True}),
        "iat huge": holder.proof("GET", url, now=now, token=token, claims={"iat": 10**400}),
        "non-UTF-8": b"\xff\xfe." + body.encode() + b"." + sig.encode(),
        "NUL bytes": b"\x00.\x00.\x00",
        "two proofs in one header": f"{good}, {good}",
    }


def _small_order_forgery(url: str, token: str, now: float) -> str:
    """An EdDSA "proof" nobody signed: the all-zero public key has order 4, and a signature of
    zeros verifies for about one message in eight (OpenSSL's check accepts it), so try jtis."""
    head = b64url({"typ": "dpop+jwt", "alg": "EdDSA",
                   "jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url(bytes(32))}})
    weak = ed25519.Ed25519PublicKey.from_public_bytes(bytes(32))
    for jti in range(1000):
        body = b64url({"jti": f"forged-{jti}", "htm": "GET", "htu": url, "iat": int(now),
                       "ath": b64url(hashlib.sha256(token.encode()).digest())})
        try:
            weak.verify(bytes(64), f"{head}.{body}".encode())
        except InvalidSignature:
            continue
        return f"{head}.{body}.{b64url(bytes(64))}"
    raise AssertionError("no forgery found")


def _hs256(url: str, token: str, now: float, jwk: dict[str, str] | None = None) -> str:
    """An HS256 "proof": with a symmetric jwk, or keyed with a public JWK (key confusion)."""
    import hmac

    jwk = jwk or {"kty": "oct", "k": b64url(b"secret")}
    head = {"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}
    body = {"jti": "h", "htm": "GET", "htu": url, "iat": int(now),
            "ath": b64url(hashlib.sha256(token.encode()).digest())}
    signing_input = f"{b64url(head)}.{b64url(body)}".encode()
    mac = hmac.new(json.dumps(jwk).encode(), signing_input, "sha256").digest()
    return f"{signing_input.decode()}.{b64url(mac)}"


def raw_request(url: str, method: str, path: str, headers: list[tuple[str, str | bytes]],
                body: bytes = b"") -> tuple[int, dict[str, str], Any]:
    """One request through http.client, so headers can carry any bytes."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        conn.putrequest(method, path)
        for name, value in headers:
            conn.putheader(name, value)
        if body:
            conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), json.loads(answer.read())
    finally:
        conn.close()


def test_hostile_proofs_are_refused_clearly_at_me_and_at_login(
        server: CliServer, bound: tuple[Holder, dict[str, Any]]) -> None:
    _, pair = bound
    token = pair["access_token"]
    login_body = json.dumps({"username": "alice", "password": "wonderland"}).encode()
    for name, proof in hostile_proofs(f"{server.url}/me", token, now(server)).items():
        status, headers, body = raw_request(server.url, "GET", "/me", [
            ("Authorization", f"DPoP {token}"), ("DPoP", proof)])
        assert (status, body["error"]) == (401, "invalid_dpop_proof"), (name, status, body)
        assert headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"'), name
        assert set(body) == {"error", DESCRIBED} and body[DESCRIBED], name
        status, _, body = raw_request(server.url, "POST", "/login", [("DPoP", proof)], login_body)
        assert (status, body["error"]) == (400, "invalid_dpop_proof"), (name, status, body)
    for name, proof in hostile_proofs(f"{server.url}/login", token, now(server)).items():
        status, _, body = raw_request(server.url, "POST", "/login", [("DPoP", proof)], login_body)
        assert (status, body["error"]) == (400, "invalid_dpop_proof"), (name, status, body)
    assert requests.get(f"{server.url}/", timeout=TIMEOUT).status_code == 200


def test_two_dpop_headers_are_refused(server: CliServer,
                                      bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    token = pair["access_token"]
    proofs = [holder.proof("GET", f"{server.url}/me", now=now(server), token=token)
              for _ in range(2)]
    status, _, body = raw_request(server.url, "GET", "/me", [
        ("Authorization", f"DPoP {token}"), ("DPoP", proofs[0]), ("DPoP", proofs[1])])
    assert (status, body["error"]) == (401, "invalid_dpop_proof")
    # the server joins repeated fields with commas (RFC 9110 section 5.3); a JWS has none
    assert "more than one DPoP" in body[DESCRIBED], body


def test_a_signature_that_is_not_base64url_is_named_as_such(
        server: CliServer, bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    token = pair["access_token"]
    proof = holder.proof("GET", f"{server.url}/me", now=now(server), token=token)
    response = requests.get(f"{server.url}/me", timeout=TIMEOUT, headers={
        "Authorization": f"DPoP {token}", "DPoP": proof.rsplit(".", 1)[0] + ".AAAAA"})
    assert_dpop_error(response, "invalid_dpop_proof")
    assert "signature" in response.json()[DESCRIBED]


# -- no credentials --------------------------------------------------------------------------
BOTH = f'Bearer realm="tokens", DPoP {ALGS}'


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic YTpi"}, "a proof"],
                         ids=["nothing", "another scheme", "only a proof"])
def test_no_credentials_are_told_both_schemes(server: CliServer, headers: Any) -> None:
    """RFC 9449 section 7.2 (Figure 16) and RFC 9110 section 11.6.1: a resource that takes
    Bearer and DPoP lists both challenges, with no error code (RFC 6750 section 3.1), so a
    client that has sent nothing yet learns that DPoP is accepted, and with which algs."""
    if headers == "a proof":
        headers = {"DPoP": Holder().proof("GET", f"{server.url}/me", now=now(server))}
    response = requests.get(f"{server.url}/me", headers=headers, timeout=TIMEOUT)
    assert_json_error(response, 401, "missing_token", field=DESCRIBED)
    assert response.headers["WWW-Authenticate"] == BOTH
    assert "error=" not in response.headers["WWW-Authenticate"]


def test_no_credentials_at_a_nonce_server_are_told_both_schemes(nonce_server: CliServer) -> None:
    response = requests.get(f"{nonce_server.url}/me", timeout=TIMEOUT)
    assert response.headers["WWW-Authenticate"] == BOTH


# -- the bound refresh token -----------------------------------------------------------------
def refresh(server: CliServer, refresh_token: str, holder: Holder | None
            ) -> requests.Response:
    headers = {} if holder is None else {
        "DPoP": holder.proof("POST", f"{server.url}/refresh", now=now(server))}
    return requests.post(f"{server.url}/refresh", json={"refresh_token": refresh_token},
                         headers=headers, timeout=TIMEOUT)


def test_a_bound_refresh_token_needs_its_keys_proof(server: CliServer) -> None:
    holder = Holder()
    pair = dpop_login(server, holder).json()
    for thief in (None, Holder(), Holder("EdDSA")):
        response = refresh(server, pair["refresh_token"], thief)
        assert_json_error(response, 400, "invalid_grant", field=DESCRIBED)
        assert "bound to a DPoP key" in response.json()[DESCRIBED]
    # the refused attempts spent nothing: the rightful client still refreshes, bound again
    fresh = refresh(server, pair["refresh_token"], holder)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["token_type"] == "DPoP"
    assert payload_of(fresh.json()["access_token"])["cnf"] == {"jkt": holder.jkt}
    assert dpop_me(server, holder, fresh.json()["access_token"]).status_code == 200
    assert_json_error(refresh(server, fresh.json()["refresh_token"], None), 400, "invalid_grant",
                      field=DESCRIBED)


def test_a_bad_proof_at_refresh_is_invalid_dpop_proof(server: CliServer) -> None:
    holder = Holder()
    pair = dpop_login(server, holder).json()
    proof = holder.proof("POST", f"{server.url}/login", now=now(server))  # another URL
    response = requests.post(f"{server.url}/refresh", json={"refresh_token": pair["refresh_token"]},
                             headers={"DPoP": proof}, timeout=TIMEOUT)
    assert_json_error(response, 400, "invalid_dpop_proof", field=DESCRIBED)
    assert refresh(server, pair["refresh_token"], holder).status_code == 200


def test_a_bearer_login_refreshed_with_a_proof_becomes_bound(server: CliServer) -> None:
    holder = Holder()
    pair = login(server.url, "bob").json()
    fresh = refresh(server, pair["refresh_token"], holder).json()
    assert fresh["token_type"] == "DPoP"
    assert payload_of(fresh["access_token"])["cnf"] == {"jkt": holder.jkt}
    assert_json_error(refresh(server, fresh["refresh_token"], None), 400, "invalid_grant",
                      field=DESCRIBED)


def test_an_unknown_refresh_token_with_a_proof_is_invalid_grant(server: CliServer) -> None:
    assert_json_error(refresh(server, "no-such-token", Holder()), 400, "invalid_grant",
                      field=DESCRIBED)


# -- logout ------------------------------------------------------------------------------------
def logout(server: CliServer, *, token: str | None = None, scheme: str = "DPoP",
           holder: Holder | None = None, refresh_token: str | None = None) -> requests.Response:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    if holder is not None:
        headers["DPoP"] = holder.proof("POST", f"{server.url}/logout", now=now(server),
                                       token=token)
    body = None if refresh_token is None else {"refresh_token": refresh_token}
    return requests.post(f"{server.url}/logout", json=body, headers=headers, timeout=TIMEOUT)


def test_a_bound_login_logs_out_with_a_proof(server: CliServer) -> None:
    holder = Holder()
    pair = dpop_login(server, holder).json()
    token = pair["access_token"]
    assert_dpop_error(logout(server, token=token, scheme="Bearer"), "invalid_token")
    assert_dpop_error(logout(server, token=token), "invalid_dpop_proof")
    assert_dpop_error(logout(server, token=token, holder=Holder()), "invalid_token")
    assert dpop_me(server, holder, token).status_code == 200  # nothing was ended
    assert logout(server, token=token, holder=holder).status_code == 204
    assert_dpop_error(dpop_me(server, holder, token), "invalid_token")
    assert_json_error(refresh(server, pair["refresh_token"], holder), 400, "invalid_grant",
                      field=DESCRIBED)


def test_a_second_logout_of_a_bound_login_is_challenged_in_the_dpop_scheme(
        server: CliServer) -> None:
    """The token came as DPoP, so the refusal is a DPoP challenge (RFC 9449 section 7.1)."""
    holder = Holder()
    token = dpop_login(server, holder).json()["access_token"]
    assert logout(server, token=token, holder=holder).status_code == 204
    assert_dpop_error(logout(server, token=token, holder=holder), "invalid_token")


def test_a_bound_login_logs_out_by_refresh_token_only_with_its_keys_proof(
        server: CliServer) -> None:
    holder = Holder()
    pair = dpop_login(server, holder).json()
    for thief in (None, Holder()):
        assert_json_error(logout(server, refresh_token=pair["refresh_token"], holder=thief),
                          400, "invalid_grant", field=DESCRIBED)
    response = requests.post(f"{server.url}/logout", json={"refresh_token": pair["refresh_token"]},
                             headers={"DPoP": "garbage"}, timeout=TIMEOUT)
    assert_json_error(response, 400, "invalid_dpop_proof", field=DESCRIBED)
    assert logout(server, refresh_token=pair["refresh_token"], holder=holder).status_code == 204
    assert_dpop_error(dpop_me(server, holder, pair["access_token"]), "invalid_token")


# -- nonces (--dpop-nonce) ------------------------------------------------------------------
def test_the_nonce_round_trip(nonce_server: CliServer) -> None:
    holder = Holder()
    first = dpop_login(nonce_server, holder)
    assert_json_error(first, 400, "use_dpop_nonce", field=DESCRIBED)
    nonce = first.headers["DPoP-Nonce"]
    second = dpop_login(nonce_server, holder, nonce=nonce)
    assert second.status_code == 200, second.text
    token = second.json()["access_token"]
    # at the resource (RFC 9449 section 9): 401 with a DPoP challenge and the nonce
    response = dpop_me(nonce_server, holder, token)
    assert_dpop_error(response, "use_dpop_nonce")
    nonce = response.headers["DPoP-Nonce"]
    ok = dpop_me(nonce_server, holder, token, claims={"nonce": nonce})
    assert ok.status_code == 200 and ok.headers["DPoP-Nonce"] == nonce
    assert_dpop_error(dpop_me(nonce_server, holder, token, claims={"nonce": nonce + "x"}),
                      "use_dpop_nonce")


def test_a_nonce_expires_on_the_course_clock(nonce_server: CliServer) -> None:
    holder = Holder()
    nonce = dpop_login(nonce_server, holder).headers["DPoP-Nonce"]
    nonce_server.advance(601)
    stale = dpop_login(nonce_server, holder, nonce=nonce)
    assert_json_error(stale, 400, "use_dpop_nonce", field=DESCRIBED)
    assert stale.headers["DPoP-Nonce"] != nonce
    assert dpop_login(nonce_server, holder, nonce=stale.headers["DPoP-Nonce"]).status_code == 200


def test_bearer_clients_need_no_nonce(nonce_server: CliServer) -> None:
    pair = login(nonce_server.url).json()
    assert pair["token_type"] == "Bearer"
    response = requests.get(f"{nonce_server.url}/me", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert response.status_code == 200 and "DPoP-Nonce" not in response.headers


def test_a_server_without_the_flag_sends_no_nonce(server: CliServer,
                                                  bound: tuple[Holder, dict[str, Any]]) -> None:
    holder, pair = bound
    response = dpop_me(server, holder, pair["access_token"], claims={"nonce": "anything"})
    assert response.status_code == 200 and "DPoP-Nonce" not in response.headers


def test_the_flag_is_refused_by_servers_that_do_not_take_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.__main__ import main

    assert main(["serve", "sessions", "--dpop-nonce"]) == 2  # refused before anything starts
    assert "--dpop-nonce" in capsys.readouterr().err


# -- the replay cache's bounds (in process) ----------------------------------------------------
def test_the_replay_cache_is_bounded_in_memory_and_fails_closed_at_the_cap() -> None:
    clock = FrozenClock()
    app = create_app(":memory:", clock=clock, dpop_replay_cap=3)
    client = app.test_client()
    holder = Holder()
    # the test client's SERVER_NAME and port: http://localhost:80, written without the port
    login_proof = holder.proof("POST", "http://localhost/login", now=clock.time())
    token = client.post("/login", json={"username": "bob", "password": "builder"},
                        headers={"DPoP": login_proof}).json["access_token"]  # entry 1

    def get_me() -> Any:
        proof = holder.proof("GET", "http://localhost/me", now=clock.time(), token=token)
        return client.get("/me", headers={"Authorization": f"DPoP {token}", "DPoP": proof})

    assert [get_me().status_code for _ in range(2)] == [200, 200]  # entries 2 and 3
    full = get_me()
    assert_json_error(full, 503, "temporarily_unavailable", field=DESCRIBED)
    assert 1 <= int(full.headers["Retry-After"]) <= 60
    assert len(app.extensions["dpop_replays"]) == 3  # nothing was forgotten to make room
    clock.advance(61)  # the entries leave with their proofs' iat window
    assert get_me().status_code == 200 and len(app.extensions["dpop_replays"]) == 1


def test_a_replay_cache_entry_lives_exactly_as_long_as_the_iat_window() -> None:
    from helpers.servers.tokens.dpop import Proof

    cache = ReplayCache(cap=10)
    proof = Proof("jkt", "jti", "GET", "http://x/me", 1000.0, {})
    assert cache.claim(proof, now=1000) is True
    assert cache.claim(proof, now=1060) is False  # iat + 60: still acceptable, still a replay
    assert cache.claim(Proof("jkt", "other", "GET", "http://x/me", 1000.0, {}), now=1061)
    assert len(cache) == 1  # the first entry went once its proof could no longer pass


@pytest.mark.parametrize("uri,expected", [
    ("HTTP://Example.COM:80/a/./b/../c?q#f", "http://example.com/a/c"),
    ("https://example.com:443", "https://example.com/"),
    ("http://example.com/%7euser/%2f", "http://example.com/~user/%2F"),
    ("http://[::1]:8080/me", "http://[::1]:8080/me"),
])
def test_htu_normalisation_follows_rfc_3986_section_6(uri: str, expected: str) -> None:
    assert normalize_htu(uri) == expected


@pytest.mark.parametrize("hex_key,weak", [
    ("00" * 32, True),  # order 4
    ("01" + "00" * 31, True),  # the identity
    ("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", True),  # order 2
    ("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", True),  # order 8
    ("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", True),  # y = p
])
def test_small_order_ed25519_keys_are_weak(hex_key: str, weak: bool) -> None:
    from helpers.servers.tokens.dpop import ed25519_weak

    assert ed25519_weak(bytes.fromhex(hex_key)) is weak
    real = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert ed25519_weak(real) is False
