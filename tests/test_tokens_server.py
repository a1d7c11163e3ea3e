"""The ``tokens`` server as a black box: ``python -m helpers serve tokens``, driven over HTTP.

Login, /me with Bearer tokens (RFC 6750 section 3.1: a bare challenge without credentials,
400 for a malformed header, 401 ``invalid_token`` for a bad token), the JWKS (checked with
jwcrypto, a second JOSE library that knows nothing of the server but its published keys),
a battery of malformed and forged tokens, bad request bodies answered as RFC 6749 section
5.2 says, logout with either token, and 8 concurrent clients.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.client
import json
import threading
import time
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto import jwk as jc_jwk
from jwcrypto import jwt as jc_jwt
from jwcrypto.jws import InvalidJWSSignature

from helpers import header_of, payload_of
from tests.support import (
    ROOT,
    TIMEOUT,
    CliServer,
    assert_json_error,
    b64url,
    login,
    me,
    module_server,
    run_concurrently,
)

KEYS = ROOT / "data" / "keys"
ISSUER, AUDIENCE = "urn:course:tokens", "urn:course:api"
BEARER = 'Bearer realm="tokens"'
#: A request with no credentials is told both schemes /me takes (RFC 9449 section 7.2).
NO_CREDENTIALS = 'Bearer realm="tokens", DPoP algs="ES256 ES384 PS256 RS256 EdDSA"'
DESCRIBED = "error_description"

server = module_server("tokens", db=True)


@pytest.fixture(scope="module")
def alice(server: CliServer) -> dict[str, Any]:
    """One login shared by the read-only tests (a password check costs ~0.1 s)."""
    response = login(server.url)
    assert response.status_code == 200
    return response.json()


# -- helpers ------------------------------------------------------------------------------


@functools.cache
def demo_private_key(kid: str = "demo-rsa-2026") -> Any:
    return serialization.load_pem_private_key((KEYS / f"{kid}-private.pem").read_bytes(), None)


def good_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "client_id": "course-notebooks",
              "iat": now, "exp": now + 300, "jti": "test-" + str(now), "sid": "test-login"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not DROP}


DROP = object()


def rs256(claims: dict[str, Any], *, kid: str = "demo-rsa-2026", key: Any = None,
          **header: Any) -> str:
    """Sign claims with a demo key (the keys are public on purpose: tests may forge)."""
    return jwt.encode(claims, key or demo_private_key(kid), algorithm="RS256",
                      headers={"kid": kid, "typ": "at+jwt", **header})


def rs256_raw(header: dict[str, Any], payload_json: str, kid: str = "demo-rsa-2026") -> str:
    """Sign a payload given as raw JSON text (for NaN, numeric strings and other oddities)."""
    signing_input = f"{b64url(header)}.{b64url(payload_json)}".encode()
    key = demo_private_key(kid)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{b64url(signature)}"


def hs256_raw(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{b64url(header)}.{b64url(claims)}".encode()
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64url(signature)}"


def assert_bearer_error(response: requests.Response, error: str | None) -> None:
    """RFC 6750 section 3.1: 401 with challenges and no error code (error None), 400
    invalid_request, or 401 invalid_token; the JSON body carries the same code."""
    status = 400 if error == "invalid_request" else 401
    expected_code = "missing_token" if error is None else error
    assert_json_error(response, status, expected_code, field=DESCRIBED, challenge=BEARER)
    challenge = response.headers["WWW-Authenticate"]
    if error is None:
        assert challenge == NO_CREDENTIALS
    else:
        assert f'error="{error}"' in challenge
        assert 'error_description="' in challenge


# -- login ------------------------------------------------------------------------------------
def test_login_returns_a_bearer_pair_that_must_not_be_cached(server: CliServer) -> None:
    response = login(server.url, "bob", "builder")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300 and isinstance(body["expires_in"], int)
    assert len(body["refresh_token"]) == 43 and "." not in body["refresh_token"]


def test_access_token_header_and_claims(alice: dict[str, Any]) -> None:
    token = alice["access_token"]
    header, claims = header_of(token), payload_of(token)
    assert header == {"alg": "RS256", "kid": "demo-rsa-2026", "typ": "at+jwt"}
    assert set(claims) == {"iss", "sub", "aud", "client_id", "iat", "exp", "jti", "sid"}
    assert (claims["iss"], claims["aud"], claims["sub"]) == (ISSUER, AUDIENCE, "alice")
    assert claims["client_id"] == "course-notebooks" and claims["sid"]
    # NumericDates are JSON integers, not strings
    assert type(claims["iat"]) is int and type(claims["exp"]) is int
    assert claims["exp"] - claims["iat"] == 300
    assert abs(claims["iat"] - time.time()) < 60


def test_each_login_gets_fresh_tokens(server: CliServer, alice: dict[str, Any]) -> None:
    again = login(server.url).json()
    assert again["refresh_token"] != alice["refresh_token"]
    assert payload_of(again["access_token"])["jti"] != payload_of(alice["access_token"])["jti"]


@pytest.mark.parametrize("username, password", [("alice", "wrong"), ("mallory", "wonderland"),
                                                ("bob", "wonderland")])
def test_bad_credentials_are_400_invalid_grant(server: CliServer, username: str,
                                               password: str) -> None:
    """RFC 6749 section 5.2: wrong resource-owner credentials are invalid_grant, 400."""
    response = login(server.url, username, password)
    assert_json_error(response, 400, "invalid_grant", field=DESCRIBED)
    assert response.headers["Cache-Control"] == "no-store"
    assert "access_token" not in response.text


def test_empty_credentials_are_invalid_request(server: CliServer) -> None:
    assert_json_error(login(server.url, "", ""), 400, "invalid_request", field=DESCRIBED)


@pytest.mark.parametrize("path", ["/login", "/refresh"])
def test_client_authentication_is_the_only_401_of_the_token_endpoints(
        server: CliServer, path: str) -> None:
    """This server has no client authentication: an HTTP Basic attempt is 401 invalid_client
    (RFC 6749 section 5.2), and that 401 carries a challenge."""
    response = requests.post(server.url + path, json={"username": "alice", "password": "x"},
                             headers={"Authorization": "Basic YWxpY2U6d29uZGVybGFuZA=="},
                             timeout=TIMEOUT)
    assert_json_error(response, 401, "invalid_client", field=DESCRIBED,
                      challenge='Basic realm="tokens"')


def test_a_bearer_header_at_login_is_not_client_authentication(server: CliServer) -> None:
    response = requests.post(f"{server.url}/login", timeout=TIMEOUT,
                             json={"username": "alice", "password": "wonderland"},
                             headers={"Authorization": "Bearer left-over"})
    assert response.status_code == 200


# -- /me ----------------------------------------------------------------------------------------
def test_me_with_the_access_token(server: CliServer, alice: dict[str, Any]) -> None:
    response = me(server.url, f"Bearer {alice['access_token']}")
    assert response.status_code == 200
    assert response.json() == {"sub": "alice"}
    # the auth scheme is case-insensitive (RFC 7235)
    assert me(server.url, f"bearer {alice['access_token']}").status_code == 200


@pytest.mark.parametrize("authorization", [None, "Basic YWxpY2U6d29uZGVybGFuZA==",
                                            "Digest username=alice", "Negotiate abc", "!!!"])
def test_me_without_bearer_credentials_is_a_bare_challenge(server: CliServer,
                                                          authorization: str | None) -> None:
    assert_bearer_error(me(server.url, authorization), error=None)


def test_the_retired_key_verifies_nothing_issued_after_its_retirement(server: CliServer) -> None:
    """demo-rsa-2025 retired at 2026-01-01T00:00:00Z: a token it signs now is refused."""
    response = me(server.url, "Bearer " + rs256(good_claims(), kid="demo-rsa-2025"))
    assert_bearer_error(response, "invalid_token")
    assert "retired" in response.json()[DESCRIBED]
    assert me(server.url, "Bearer " + rs256(good_claims())).status_code == 200


def test_non_integer_numeric_dates_are_numbers_too(server: CliServer) -> None:
    """RFC 7519 section 2: a NumericDate may be non-integer."""
    now = time.time()
    token = rs256(good_claims(iat=now - 0.5, exp=now + 299.5))
    assert me(server.url, "Bearer " + token).status_code == 200


def test_audience_may_be_a_list_that_contains_ours(server: CliServer) -> None:
    response = me(server.url, "Bearer " + rs256(good_claims(aud=["urn:other", AUDIENCE])))
    assert response.status_code == 200, response.text


# -- the JWKS and an independent verifier -------------------------------------------------------
def test_jwks_publishes_the_public_key_in_service_only(server: CliServer) -> None:
    """Long after 2026-01-01 no token signed by demo-rsa-2025 can be valid: it is not listed."""
    response = requests.get(f"{server.url}/.well-known/jwks.json", timeout=TIMEOUT)
    assert response.status_code == 200
    assert "max-age" in response.headers["Cache-Control"]
    keys = response.json()["keys"]
    assert {k["kid"] for k in keys} == {"demo-rsa-2026"}
    for key in keys:
        assert set(key) == {"kid", "kty", "alg", "use", "n", "e"}
        assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
        public = serialization.load_pem_public_key((KEYS / f"{key['kid']}-public.pem").read_bytes())
        n = int.from_bytes(base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4)), "big")
        assert n == public.public_numbers().n


def test_jwcrypto_verifies_the_token_with_only_the_published_jwks(
        server: CliServer, alice: dict[str, Any]) -> None:
    jwks_text = requests.get(f"{server.url}/.well-known/jwks.json", timeout=TIMEOUT).text
    keyset = jc_jwk.JWKSet.from_json(jwks_text)
    checked = jc_jwt.JWT(jwt=alice["access_token"], key=keyset, algs=["RS256"],
                         check_claims={"iss": ISSUER, "aud": AUDIENCE, "exp": None})
    claims = json.loads(checked.claims)
    assert claims["sub"] == "alice"
    assert checked.token.jose_header["kid"] == "demo-rsa-2026"
    # and the same independent verifier refuses a tampered payload
    head, _, sig = alice["access_token"].split(".")
    forged = f"{head}.{b64url({**payload_of(alice['access_token']), 'sub': 'bob'})}.{sig}"
    with pytest.raises(InvalidJWSSignature):
        jc_jwt.JWT(jwt=forged, key=keyset.get_key("demo-rsa-2026"), algs=["RS256"])
    with pytest.raises(jc_jwt.JWTMissingKey):  # with the whole set, no key verifies it
        jc_jwt.JWT(jwt=forged, key=keyset, algs=["RS256"])


# -- the malformed and forged token battery -----------------------------------------------------
def _public_pem() -> bytes:
    return (KEYS / "demo-rsa-2026-public.pem").read_bytes()


@functools.cache
def _attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


MALFORMED_HEADERS: dict[str, str | bytes] = {
    "empty header": "",
    "scheme only": "Bearer",
    "scheme and spaces": "Bearer    ",
    "lower-case scheme only": "bearer",
    "two tokens": "Bearer abc def",
    "non-b64token characters": "Bearer !!!.???.***",
    "a quoted token": 'Bearer "abc"',
    "a comma list": "Bearer a, b",
    "an auth-param list": "Bearer token=abc",
    "padding in the middle": "Bearer ab=c",
    "unicode bytes": "Bearer ключ".encode(),
    "latin-1 byte": b"Bearer \xff\xfe",
    "a tab and a token": "Bearer\tabc.def.ghi",
    "a control character": "Bearer abc\x01def",
}


@pytest.mark.parametrize("authorization", list(MALFORMED_HEADERS.values()),
                         ids=list(MALFORMED_HEADERS))
def test_malformed_bearer_header_is_400_invalid_request(server: CliServer,
                                                        authorization: str | bytes) -> None:
    assert_bearer_error(me(server.url, authorization), "invalid_request")


def raw_get(url: str, path: str,
            headers: list[tuple[str, str]]) -> tuple[int, dict[str, str], bytes]:
    """A GET with exactly these header lines, repeated names included (requests merges them)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        conn.putrequest("GET", path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        conn.close()


def test_a_token_in_the_header_and_the_uri_is_400_invalid_request(server: CliServer,
                                                                  alice: dict[str, Any]) -> None:
    """RFC 6750 section 3.1: more than one method of sending the token is invalid_request."""
    token = alice["access_token"]
    both = requests.get(f"{server.url}/me", params={"access_token": token}, timeout=TIMEOUT,
                        headers={"Authorization": f"Bearer {token}"})
    assert_bearer_error(both, "invalid_request")
    only_uri = requests.get(f"{server.url}/me", params={"access_token": token}, timeout=TIMEOUT)
    assert_bearer_error(only_uri, None)  # a method this server does not take: no credentials


def test_two_authorization_headers_are_400_invalid_request(server: CliServer,
                                                           alice: dict[str, Any]) -> None:
    bearer = f"Bearer {alice['access_token']}"
    status, headers, body = raw_get(server.url, "/me", [("Authorization", bearer),
                                                        ("Authorization", bearer)])
    assert status == 400, body
    assert json.loads(body)["error"] == "invalid_request"
    assert 'error="invalid_request"' in headers["WWW-Authenticate"]


def _battery() -> dict[str, str]:
    """Tokens that are syntactically bearer tokens but must be refused as invalid_token."""
    hs_header = {"alg": "HS256", "typ": "at+jwt", "kid": "demo-rsa-2026"}
    public_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(
        serialization.load_pem_public_key(_public_pem()))
    attacker = _attacker_key()
    attacker_jwk = jwt.algorithms.RSAAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    rs_header = {"alg": "RS256", "typ": "at+jwt", "kid": "demo-rsa-2026"}
    big = "A" * 9000
    valid = rs256(good_claims())
    head, payload, sig = valid.split(".")
    return {
        "one word after two spaces": " x",
        "three dots": "a.b.c.d",
        "only dots": "...",
        "base64 of non-JSON": f"{b64url('hello')}.{b64url('world')}.{b64url('sig')}",
        "JSON array header": f"{b64url([])}.{b64url(good_claims())}.{b64url('sig')}",
        "deeply nested header": f"{b64url('[' * 2500 + ']' * 2500)}.{payload}.{sig}",
        "header not UTF-8": f"{b64url(bytes([0xff, 0xfe, 0x7b]))}.{payload}.{sig}",
        "JSON string header":
            f"{b64url(json.dumps('RS256'))}.{b64url(good_claims())}.{b64url('sig')}",
        "header without alg":
            f"{b64url({'typ': 'at+jwt', 'kid': 'demo-rsa-2026'})}.{payload}.{sig}",
        "alg none, no signature": f"{b64url({'alg': 'none', 'typ': 'at+jwt'})}.{payload}.",
        "empty signature": f"{head}.{payload}.",
        "alg none, with signature":
            f"{b64url({'alg': 'none', 'typ': 'at+jwt', 'kid': 'demo-rsa-2026'})}.{payload}.{sig}",
        "alg NONE":
            f"{b64url({'alg': 'NONE', 'typ': 'at+jwt', 'kid': 'demo-rsa-2026'})}.{payload}.{sig}",
        "HS256 keyed with the public PEM": hs256_raw(hs_header, good_claims(), _public_pem()),
        "HS256 keyed with the public JWK": hs256_raw(hs_header, good_claims(), public_jwk.encode()),
        "RS512 header on an RS256 signature":
            f"{b64url({**rs_header, 'alg': 'RS512'})}.{payload}.{sig}",
        "huge token": f"{big}.{big}.{big}",
        "payload of invalid base64 length": f"{head}.A.{sig}",
        "payload is an array": rs256_raw(rs_header, "[1, 2, 3]"),
        "payload is not JSON": rs256_raw(rs_header, "not json"),
        "tampered payload": f"{head}.{b64url({**payload_of(valid), 'sub': 'bob'})}.{sig}",
        "signature of another token":
            f"{head}.{payload}.{rs256(good_claims(sub='bob')).split('.')[2]}",
        "unknown kid": rs256(good_claims(), kid="demo-rsa-2026").replace(
            head, b64url({**rs_header, "kid": "demo-rsa-2099"})),
        "kid path injection": rs256(good_claims(), key=attacker, kid="../../../../dev/null"),
        "kid is a number": f"{b64url({**rs_header, 'kid': 7})}.{payload}.{sig}",
        "no kid": f"{b64url({'alg': 'RS256', 'typ': 'at+jwt'})}.{payload}.{sig}",
        "attacker key in jwk header": rs256(good_claims(), key=attacker, jwk=attacker_jwk),
        "attacker key via jku": rs256(good_claims(), key=attacker, jku="http://127.0.0.1:1/jwks.json"),
        "attacker kid and jwk": rs256(good_claims(), key=attacker, kid="attacker",
                                      jwk={**attacker_jwk, "kid": "attacker"}),
        "typ JWT instead of at+jwt": rs256(good_claims(), typ="JWT"),
        "crit header": rs256(good_claims(), crit=["exp"]),
        "expired": rs256(good_claims(iat=int(time.time()) - 600, exp=int(time.time()) - 300)),
        "expires right now": rs256(good_claims(exp=int(time.time()))),
        "not yet valid (nbf)": rs256(good_claims(nbf=int(time.time()) + 600)),
        "issued in the future": rs256(good_claims(iat=int(time.time()) + 600)),
        "exp as a numeric string": rs256(good_claims(exp=str(int(time.time()) + 300))),
        "iat as a numeric string": rs256(good_claims(iat=str(int(time.time())))),
        "nbf as a numeric string": rs256(good_claims(nbf=str(int(time.time()) - 10))),
        "exp true": rs256(good_claims(exp=True)),
        "exp null": rs256(good_claims(exp=None)),
        "exp NaN": rs256_raw(rs_header, json.dumps(good_claims()).replace(
            '"exp": ', '"exp": NaN, "x": ')),
        "exp Infinity": rs256_raw(rs_header, json.dumps(good_claims()).replace(
            '"exp": ', '"exp": Infinity, "x": ')),
        "exp huge integer": rs256_raw(rs_header, json.dumps(good_claims(exp=10**400))),
        "missing exp": rs256(good_claims(exp=DROP)),
        "missing iat": rs256(good_claims(iat=DROP)),
        "missing jti": rs256(good_claims(jti=DROP)),
        "missing sub": rs256(good_claims(sub=DROP)),
        "missing iss": rs256(good_claims(iss=DROP)),
        "missing aud": rs256(good_claims(aud=DROP)),
        "missing client_id": rs256(good_claims(client_id=DROP)),
        "missing sid": rs256(good_claims(sid=DROP)),
        "client_id is a number": rs256(good_claims(client_id=7)),
        "sid is empty": rs256(good_claims(sid="")),
        "signed by the retired key": rs256(good_claims(), kid="demo-rsa-2025"),
        "wrong issuer": rs256(good_claims(iss="urn:someone:else")),
        "wrong audience": rs256(good_claims(aud="urn:other:api")),
        "audience list without ours": rs256(good_claims(aud=["urn:a", "urn:b"])),
        "sub is a number": rs256(good_claims(sub=42)),
        "jti is empty": rs256(good_claims(jti="")),
        "jti is an object": rs256(good_claims(jti={"a": 1})),
        "signed by a stranger": rs256(good_claims(), key=attacker),
    }


BATTERY = _battery()


@pytest.mark.parametrize("token", list(BATTERY.values()), ids=list(BATTERY))
def test_forged_or_broken_tokens_are_invalid_token(server: CliServer, token: str) -> None:
    assert_bearer_error(me(server.url, "Bearer " + token), "invalid_token")


@pytest.mark.parametrize("alg", ["none", "NONE", "None"])
def test_an_unsecured_jwt_is_called_what_it_is(server: CliServer, alg: str) -> None:
    """RFC 7519 section 6: an Unsecured JWT is a JWT, just not a signed one (JWS)."""
    payload = b64url(good_claims())
    response = me(server.url, f"Bearer {b64url({'alg': alg, 'typ': 'at+jwt'})}.{payload}.")
    assert_bearer_error(response, "invalid_token")
    assert "not a signed JWT (JWS)" in response.json()[DESCRIBED]


def test_the_battery_would_pass_if_its_tokens_were_good(server: CliServer) -> None:
    """Guard against a battery that fails for a boring reason: these builders make good tokens."""
    assert me(server.url, "Bearer " + rs256(good_claims())).status_code == 200
    raw_header = {"alg": "RS256", "typ": "at+jwt", "kid": "demo-rsa-2026"}
    assert me(server.url, "Bearer " + rs256_raw(raw_header,
                                                json.dumps(good_claims()))).status_code == 200
    with_nbf = rs256(good_claims(nbf=int(time.time()) - 5), typ="application/at+jwt")
    assert me(server.url, "Bearer " + with_nbf).status_code == 200


def test_a_header_too_large_to_read_is_a_json_error(server: CliServer) -> None:
    response = me(server.url, "Bearer " + "A" * 70_000)
    assert response.status_code in (400, 431)
    assert set(response.json()) == {"error", "message"}
    assert me(server.url, None).status_code == 401  # and the server still answers


def test_a_refresh_token_is_not_an_access_token(server: CliServer, alice: dict[str, Any]) -> None:
    assert_bearer_error(me(server.url, f"Bearer {alice['refresh_token']}"), "invalid_token")


def test_server_survives_the_battery(server: CliServer, alice: dict[str, Any]) -> None:
    assert server.process.poll() is None
    assert me(server.url, f"Bearer {alice['access_token']}").status_code == 200


# -- request bodies ----------------------------------------------------------------------
JSON = "application/json"

BAD_BODIES: dict[str, tuple[bytes, str, int]] = {
    "not JSON": (b"username=alice", "application/json", 400),
    "form encoded": (b"username=alice&password=wonderland", "application/x-www-form-urlencoded",
                     400),
    "text/plain JSON": (b'{"username": "alice", "password": "wonderland"}', "text/plain", 400),
    "array": (b'["alice", "wonderland"]', "application/json", 400),
    "number": (b"42", "application/json", 400),
    "null": (b"null", "application/json", 400),
    "string": (b'"alice"', "application/json", 400),
    "numbers for strings": (b'{"username": 1, "password": 2}', "application/json", 400),
    "nulls": (b'{"username": null, "password": null}', "application/json", 400),
    "lists for strings": (b'{"username": ["alice"], "password": ["wonderland"]}', JSON, 400),
    "objects for strings": (b'{"username": {}, "password": {}}', "application/json", 400),
    "booleans": (b'{"username": true, "password": false}', "application/json", 400),
    "missing password": (b'{"username": "alice"}', "application/json", 400),
    "empty object": (b"{}", "application/json", 400),
    "lone surrogate": (b'{"username": "\\ud800", "password": "x"}', "application/json", 400),
    "invalid UTF-8": (b'{"username": "\xff\xfe", "password": "x"}', "application/json", 400),
    "deep nesting": (b"[" * 30000 + b"]" * 30000, "application/json", 400),
    "huge body": (b'{"username": "' + b"a" * 100_000 + b'", "password": "x"}', JSON, 413),
    "long field": (b'{"username": "' + b"a" * 5000 + b'", "password": "x"}', JSON, 400),
    "giant number": (b'{"username": ' + b"9" * 5000 + b', "password": "x"}', JSON, 400),
    "repeated member": (b'{"username": "x", "username": "alice", "password": "wonderland",'
                        b' "refresh_token": "a", "refresh_token": "b"}', "application/json", 400),
    "NaN": (b'{"username": NaN, "password": "x", "refresh_token": NaN}', "application/json", 400),
    "no content type": (b'{"username": "alice", "password": "wonderland"}', "", 400),
}


@pytest.mark.parametrize("path", ["/login", "/refresh", "/logout"])
@pytest.mark.parametrize("body, content_type, status", list(BAD_BODIES.values()),
                         ids=list(BAD_BODIES))
def test_bad_bodies_are_rfc_6749_errors(server: CliServer, path: str, body: bytes,
                                        content_type: str, status: int) -> None:
    """RFC 6749 section 5.2: a malformed request is 400 invalid_request (413 when too big)."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = requests.post(server.url + path, data=body, headers=headers, timeout=TIMEOUT)
    assert_json_error(response, status, "invalid_request", field=DESCRIBED)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method, path", [("GET", "/login"), ("GET", "/refresh"),
                                          ("PUT", "/logout"),
                                          ("POST", "/me"), ("DELETE", "/.well-known/jwks.json")])
def test_wrong_methods_are_json_405(server: CliServer, method: str, path: str) -> None:
    response = requests.request(method, server.url + path, timeout=TIMEOUT)
    assert response.status_code == 405
    assert set(response.json()) == {"error", "message"}


def test_unknown_path_is_json_404(server: CliServer) -> None:
    response = requests.get(server.url + "/admin", timeout=TIMEOUT)
    assert response.status_code == 404
    assert set(response.json()) == {"error", "message"}


# -- logout ---------------------------------------------------------------------------------------
def logout(url: str, refresh_token: str | None = None, access_token: str | None = None,
           authorization: str | None = None) -> requests.Response:
    headers = {}
    if access_token is not None:
        headers["Authorization"] = f"Bearer {access_token}"
    if authorization is not None:
        headers["Authorization"] = authorization
    body = None if refresh_token is None else {"refresh_token": refresh_token}
    return requests.post(f"{url}/logout", json=body, headers=headers, timeout=TIMEOUT)


def refresh(url: str, token: str) -> requests.Response:
    return requests.post(f"{url}/refresh", json={"refresh_token": token}, timeout=TIMEOUT)


def assert_login_is_over(url: str, pair: dict[str, Any]) -> None:
    assert_bearer_error(me(url, f"Bearer {pair['access_token']}"), "invalid_token")
    assert_json_error(refresh(url, pair["refresh_token"]), 400, "invalid_grant", field=DESCRIBED)


@pytest.mark.parametrize("how", ["both", "refresh token", "access token"])
def test_logout_with_either_token_ends_the_whole_login(server: CliServer, how: str) -> None:
    pair = login(server.url).json()
    response = logout(server.url,
                      refresh_token=pair["refresh_token"] if how != "access token" else None,
                      access_token=pair["access_token"] if how != "refresh token" else None)
    assert response.status_code == 204 and response.content == b""
    assert "Content-Type" not in response.headers
    assert_login_is_over(server.url, pair)


def test_logout_ends_the_login_after_rotation_too(server: CliServer) -> None:
    """The sid of every access token of the login names the same family."""
    first = login(server.url).json()
    second = refresh(server.url, first["refresh_token"]).json()
    assert payload_of(first["access_token"])["sid"] == payload_of(second["access_token"])["sid"]
    assert logout(server.url, access_token=first["access_token"]).status_code == 204
    assert_login_is_over(server.url, second)


def test_a_second_logout_is_an_error_not_a_success(server: CliServer) -> None:
    pair = login(server.url).json()
    assert logout(server.url, refresh_token=pair["refresh_token"]).status_code == 204
    assert_json_error(logout(server.url, refresh_token=pair["refresh_token"]), 400,
                      "invalid_grant", field=DESCRIBED)
    again = logout(server.url, access_token=pair["access_token"])
    assert_json_error(again, 401, "invalid_token", field=DESCRIBED, challenge=BEARER)


def test_logout_that_ends_nothing_gets_the_error_for_what_it_was_given(server: CliServer) -> None:
    assert_json_error(logout(server.url), 400, "invalid_request", field=DESCRIBED)
    assert_json_error(logout(server.url, authorization="Basic YWxpY2U6eA=="), 400,
                      "invalid_request", field=DESCRIBED)
    assert_json_error(logout(server.url, refresh_token="no-such-token"), 400, "invalid_grant",
                      field=DESCRIBED)
    for garbage in ("a.b.c", rs256(good_claims(), key=_attacker_key()),
                    rs256(good_claims(iss="urn:other")), rs256(good_claims(), typ="JWT")):
        response = logout(server.url, access_token=garbage)
        assert_bearer_error(response, "invalid_token")
    assert_bearer_error(logout(server.url, authorization="Bearer a b"), "invalid_request")
    # a correctly signed token of a login the server never had ends nothing either
    assert_bearer_error(logout(server.url, access_token=rs256(good_claims())), "invalid_token")
    wrong_type = requests.post(f"{server.url}/logout", json={"refresh_token": 5}, timeout=TIMEOUT)
    assert_json_error(wrong_type, 400, "invalid_request", field=DESCRIBED)


def test_a_bad_bearer_token_at_logout_ends_nothing_even_with_a_good_refresh_token(
        server: CliServer) -> None:
    pair = login(server.url).json()
    response = logout(server.url, refresh_token=pair["refresh_token"], access_token="a.b.c")
    assert_bearer_error(response, "invalid_token")
    assert me(server.url, f"Bearer {pair['access_token']}").status_code == 200


def test_logout_with_a_spent_refresh_token_is_reuse(server: CliServer) -> None:
    first = login(server.url).json()
    second = refresh(server.url, first["refresh_token"]).json()
    assert_json_error(logout(server.url, refresh_token=first["refresh_token"]), 400,
                      "invalid_grant", field=DESCRIBED)
    assert_login_is_over(server.url, second)


def test_logout_of_one_login_leaves_another_alone(server: CliServer) -> None:
    first, second = login(server.url).json(), login(server.url).json()
    assert logout(server.url, refresh_token=first["refresh_token"]).status_code == 204
    assert me(server.url, f"Bearer {second['access_token']}").status_code == 200


# -- load --------------------------------------------------------------------------------
def test_eight_concurrent_clients_all_succeed(server: CliServer, alice: dict[str, Any]) -> None:
    clients, per_client = 8, 100
    barrier = threading.Barrier(clients)
    bearer = {"Authorization": f"Bearer {alice['access_token']}"}

    def client(index: int) -> list[int]:
        with requests.Session() as session:
            barrier.wait()
            return [session.get(f"{server.url}/me", headers=bearer, timeout=TIMEOUT).status_code
                    for _ in range(per_client)]

    results = run_concurrently(client, clients)
    statuses = [status for per in results for status in per]
    assert len(statuses) == clients * per_client
    assert set(statuses) == {200}


@pytest.mark.parametrize("first, second", [("Basic eA==", "Bearer abc.def.ghi"),
                                           ("Bearer abc.def.ghi", "Basic eA==")])
def test_two_authorization_fields_are_malformed_in_either_order(server, first: str,
                                                                second: str) -> None:
    """RFC 9110 section 5.3: the server joins them with a comma; RFC 6750 section 3.1: 400."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(server.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=TIMEOUT)
    try:
        connection.putrequest("GET", "/me")
        connection.putheader("Authorization", first)
        connection.putheader("Authorization", second)
        connection.endheaders()
        answer = connection.getresponse()
        assert answer.status == 400
        assert 'error="invalid_request"' in answer.getheader("WWW-Authenticate", "")
    finally:
        connection.close()
