"""Notebook 08's attacks, replayed against the `tokens` server as a black box (through the CLI).

Every forged or broken token must get a 401 JSON answer with a ``WWW-Authenticate: Bearer``
challenge, never a 500 and never a 200. Tokens are forged with the DEMO ONLY keys in
``data/keys`` (public on purpose) where a *valid* signature is needed to reach a later
check, and with a fresh attacker key where it must not verify. The sanity tests show
that a genuine token, and one signed by these helpers with correct claims, are accepted,
so a refusal below means the server refused that one defect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.support import TIMEOUT, CliServer, assert_json_error, module_server

KEYS = Path(__file__).resolve().parent.parent / "data" / "keys"
ISSUER, AUDIENCE, KID = "urn:course:tokens", "urn:course:api", "demo-rsa-2026"
HEADER = {"alg": "RS256", "typ": "at+jwt", "kid": KID}

DEMO_PRIVATE = serialization.load_pem_private_key(
    (KEYS / "demo-rsa-2026-private.pem").read_bytes(), None)
OLD_PRIVATE = serialization.load_pem_private_key(
    (KEYS / "demo-rsa-2025-private.pem").read_bytes(), None)
PUBLIC_PEM = (KEYS / "demo-rsa-2026-public.pem").read_bytes()
ATTACKER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


# -- forging helpers --------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def claims(**changes: Any) -> dict[str, Any]:
    """Correct access-token claims for alice, issued now; ``name=DROP`` removes a claim."""
    now = int(time.time())
    base = {"iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "client_id": "course-notebooks",
            "iat": now - 5, "exp": now + 300, "jti": "f" * 32, "sid": "s" * 22}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not DROP}


DROP = object()


def rs256(payload: Any, *, key: Any = DEMO_PRIVATE, **header: Any) -> str:
    """Sign ``payload`` (any JSON value) with RS256; ``header`` changes the JOSE header.

    A header value None drops that member.
    """
    merged = {k: v for k, v in {**HEADER, **header}.items() if v is not None}
    return jwt.api_jws.encode(json.dumps(payload).encode(), key, algorithm="RS256", headers=merged)


def hmac_token(secret: bytes, alg: str = "HS256", **header: Any) -> str:
    """A token with claims that would be valid, HMAC-signed by hand with ``secret``."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{part({**HEADER, 'alg': alg, **header})}.{part(claims(sub='bob'))}"
    return signing_input + "." + b64url(hmac.new(secret, signing_input.encode(), digest).digest())


def unsigned(alg: str, signature: str = "") -> str:
    return f"{part({**HEADER, 'alg': alg})}.{part(claims(sub='bob'))}.{signature}"


# -- the server -------------------------------------------------------------------------------
server = module_server("tokens")


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def me(server: CliServer, http: requests.Session) -> Callable[[str], requests.Response]:
    def call(token: str) -> requests.Response:
        return http.get(server.url + "/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=TIMEOUT)

    return call


def assert_refused(response: requests.Response, reason: str | None = None) -> None:
    body = assert_json_error(
        response, 401, "invalid_token", field="error_description",
        challenge='Bearer realm="tokens", error="invalid_token", error_description="')
    if reason is not None:
        assert reason in body["error_description"], (reason, body["error_description"])


# -- sanity: the forging helpers make tokens the server accepts -------------------------------
def test_a_genuine_token_works(server: CliServer, http: requests.Session, me) -> None:
    pair = http.post(server.url + "/login", json={"username": "alice", "password": "wonderland"},
                     timeout=TIMEOUT).json()
    response = me(pair["access_token"])
    assert response.status_code == 200 and response.json() == {"sub": "alice"}


@pytest.mark.parametrize("header", [{}, {"typ": "AT+JWT"}, {"typ": "application/at+jwt"}])
def test_a_token_signed_here_with_correct_claims_works(me, header: dict) -> None:
    response = me(rs256(claims(), **header))
    assert response.status_code == 200 and response.json() == {"sub": "alice"}


def test_the_retired_demo_key_verifies_nothing_issued_after_2026_01_01(me) -> None:
    assert_refused(me(rs256(claims(), key=OLD_PRIVATE, kid="demo-rsa-2025")), "retired")


# -- alg=none ---------------------------------------------------------------------------------
UNSECURED = "not a signed JWT (JWS)"  # RFC 7519 section 6: an Unsecured JWT is still a JWT


@pytest.mark.parametrize(("token", "reason"), [
    (unsigned("none"), UNSECURED), (unsigned("none", "AAAA"), UNSECURED),
    (unsigned("None", "AAAA"), UNSECURED), (unsigned("NONE", "AAAA"), UNSECURED),
    (unsigned("nOnE", "AAAA"), UNSECURED), (unsigned("", "AAAA"), "must be signed with RS256"),
], ids=["empty-signature", "junk-signature", "None", "NONE", "nOnE", "empty-alg"])
def test_alg_none_is_refused(me, token: str, reason: str) -> None:
    assert_refused(me(token), reason)


# -- RS256 -> HS256 key confusion ---------------------------------------------------------------
def public_key_encodings() -> dict[str, bytes]:
    public = serialization.load_pem_public_key(PUBLIC_PEM)
    jwk = {**RSAAlgorithm.to_jwk(public, as_dict=True), "kid": KID, "alg": "RS256", "use": "sig"}
    jwk.pop("key_ops", None)
    fmt = serialization
    return {
        "pem-file": PUBLIC_PEM,
        "pem-no-trailing-newline": PUBLIC_PEM.rstrip(b"\n"),
        "pem-pkcs1": public.public_bytes(fmt.Encoding.PEM, fmt.PublicFormat.PKCS1),
        "der-spki": public.public_bytes(fmt.Encoding.DER, fmt.PublicFormat.SubjectPublicKeyInfo),
        "openssh": public.public_bytes(fmt.Encoding.OpenSSH, fmt.PublicFormat.OpenSSH),
        "jwk-json": json.dumps(jwk).encode(),
        "jwk-json-compact-sorted": json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode(),
        "jwks-json": json.dumps({"keys": [jwk]}).encode(),
        "modulus-n": jwk["n"].encode(),
    }


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("encoding", sorted(public_key_encodings()))
def test_hmac_with_the_public_key_as_secret_is_refused(me, encoding: str, alg: str) -> None:
    assert_refused(me(hmac_token(public_key_encodings()[encoding], alg)),
                   "the token must be signed with RS256")


def test_the_published_jwks_is_the_key_the_confusion_tests_use(server: CliServer,
                                                               http: requests.Session) -> None:
    published = http.get(server.url + "/.well-known/jwks.json", timeout=5).json()
    jwk = next(k for k in published["keys"] if k["kid"] == KID)
    assert jwk["n"] == json.loads(public_key_encodings()["jwk-json"])["n"]
    assert "d" not in jwk and "p" not in jwk  # public parts only


# -- weak HMAC secrets, and HMAC in general --------------------------------------------------
def test_hs256_with_a_wordlist_secret_is_refused(me) -> None:
    words = (KEYS.parent / "wordlist.txt").read_text(encoding="utf-8").splitlines()
    assert words[0].startswith("#") and "your-256-bit-secret" in words
    for secret in (b"your-256-bit-secret", b"secret", b"keyboard cat"):
        assert_refused(me(hmac_token(secret)), "the token must be signed with RS256")


# -- kid -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kid", ["nope", "../../dev/null", "/dev/null", "demo-rsa-2026-private.pem",
                                 "demo-rsa-2026' OR '1'='1", "", "DEMO-RSA-2026", "demo-rsa-2026 "])
def test_unknown_kids_are_refused(me, kid: str) -> None:
    assert_refused(me(rs256(claims(), key=ATTACKER, kid=kid)),
                   "the token names a key (kid) this server does not have")


def test_a_token_without_kid_is_refused(me) -> None:
    assert_refused(me(rs256(claims(), kid=None)), "the token header has no kid")


@pytest.mark.parametrize("kid", [7, ["demo-rsa-2026"], {"kid": "demo-rsa-2026"}, True])
def test_a_kid_that_is_not_a_string_is_refused(me, kid: Any) -> None:
    token = f"{part({**HEADER, 'kid': kid})}.{part(claims())}.AAAA"
    assert_refused(me(token))


@pytest.mark.parametrize(("key", "kid"), [(ATTACKER, KID), (OLD_PRIVATE, KID),
                                           (DEMO_PRIVATE, "demo-rsa-2025")],
                         ids=["attacker-key-as-2026", "2025-key-as-2026", "2026-key-as-2025"])
def test_a_kid_pointing_to_another_key_is_refused(me, key: Any, kid: str) -> None:
    assert_refused(me(rs256(claims(), key=key, kid=kid)), "the signature does not verify")


# -- keys carried by the token: jku, jwk, x5u, x5c ----------------------------------------
def attacker_jwk() -> dict[str, Any]:
    jwk = {**RSAAlgorithm.to_jwk(ATTACKER.public_key(), as_dict=True), "kid": "mallory",
           "use": "sig"}
    jwk.pop("key_ops", None)
    return jwk


@pytest.mark.parametrize("kid", ["mallory", KID])
@pytest.mark.parametrize("extra", [
    {"jku": "http://127.0.0.1:9/jwks.json"},
    {"jwk": "EMBED"},
    {"x5u": "http://127.0.0.1:9/cert.pem"},
    {"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]},
    {"jku": "http://127.0.0.1:9/jwks.json", "jwk": "EMBED"},
], ids=["jku", "jwk", "x5u", "x5c", "jku+jwk"])
def test_keys_named_or_carried_by_the_token_are_ignored(me, extra: dict, kid: str) -> None:
    header = {k: (attacker_jwk() if v == "EMBED" else v) for k, v in extra.items()}
    expected = "the signature does not verify" if kid == KID else \
        "the token names a key (kid) this server does not have"
    assert_refused(me(rs256(claims(sub="bob"), key=ATTACKER, kid=kid, **header)), expected)


# -- claims: time ------------------------------------------------------------------------------
def now() -> int:
    return int(time.time())


@pytest.mark.parametrize(("changes", "reason"), [
    ({"exp": "past"}, "the token has expired"),
    ({"nbf": "future"}, "the token is not valid yet (nbf)"),
    ({"iat": "future"}, "the token claims to be issued in the future (iat)"),
], ids=["expired", "nbf-in-the-future", "iat-in-the-future"])
def test_time_claims_are_checked(me, changes: dict, reason: str) -> None:
    values = {"past": now() - 60, "future": now() + 3600}
    changed = {k: values[v] for k, v in changes.items()}
    if "iat" in changed:
        changed["exp"] = changed["iat"] + 300
    assert_refused(me(rs256(claims(**changed))), reason)


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("kind", ["string", "bool", "null", "list", "nan", "infinity"])
def test_numericdates_must_be_finite_json_numbers(me, name: str, kind: str) -> None:
    base = claims()
    good = base.get(name, now() - 5)
    value = {"string": str(good), "bool": True, "null": None, "list": [good],
             "nan": float("nan"), "infinity": float("inf")}[kind]
    assert_refused(me(rs256({**base, name: value})))


# -- claims: who, for whom, which --------------------------------------------------------------
@pytest.mark.parametrize(("changes", "reason"), [
    ({"aud": "urn:course:billing"}, "the token is meant for another audience (aud)"),
    ({"aud": ["urn:course:billing", "urn:other"]}, "the token is meant for another audience (aud)"),
    ({"aud": "URN:COURSE:API"}, "the token is meant for another audience (aud)"),
    ({"aud": []}, "the token is meant for another audience (aud)"),
    ({"iss": "urn:evil:issuer"}, "the token comes from another issuer (iss)"),
    ({"iss": "urn:course:tokens/"}, "the token comes from another issuer (iss)"),
    ({"sub": ""}, "sub must be a non-empty string"),
    ({"sub": 42}, "sub must be a non-empty string"),
    ({"jti": ""}, "jti must be a non-empty string"),
    ({"jti": ["a"]}, "jti must be a non-empty string"),
], ids=["aud-other", "aud-list-without-ours", "aud-case", "aud-empty-list", "iss-other",
        "iss-suffix",
        "sub-empty", "sub-number", "jti-empty", "jti-list"])
def test_wrong_claims_are_refused(me, changes: dict, reason: str) -> None:
    assert_refused(me(rs256(claims(**changes))), reason)


@pytest.mark.parametrize("name", ["exp", "aud", "iss", "sub", "jti", "iat", "client_id", "sid"])
def test_each_required_claim_must_be_present(me, name: str) -> None:
    assert_refused(me(rs256(claims(**{name: DROP}))), f"the token lacks required claims: {name}")


@pytest.mark.parametrize("payload", [[], "alice", 42, None],
                         ids=["list", "string", "number", "null"])
def test_a_payload_that_is_not_an_object_is_refused(me, payload: Any) -> None:
    assert_refused(me(rs256(payload)))


# -- the header -------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [
    {"typ": "JWT"}, {"typ": None}, {"typ": "at+jwt+evil"}, {"typ": 1}, {"typ": "id_token"},
    {"crit": ["exp"]}, {"b64": False, "crit": ["b64"]},
    {"alg": "RS512"}, {"alg": "PS256"}, {"alg": "ES256"}, {"alg": "rs256"},
], ids=["typ-JWT", "typ-missing", "typ-suffix", "typ-number", "typ-id_token", "crit", "b64",
        "alg-RS512", "alg-PS256", "alg-ES256", "alg-lowercase"])
def test_a_validly_signed_token_with_a_changed_header_is_refused(me, header: dict) -> None:
    if "alg" in header:  # a header claiming another alg, RS256 signature bytes kept
        token = rs256(claims())
        _, payload, signature = token.split(".")
        token = f"{part({**HEADER, **header})}.{payload}.{signature}"
    else:
        token = rs256(claims(), **header)
    assert_refused(me(token))


def test_a_tampered_payload_is_refused(me) -> None:
    head, _, signature = rs256(claims()).split(".")
    assert_refused(me(f"{head}.{part(claims(sub='bob'))}.{signature}"),
                   "the signature does not verify")


def test_the_server_is_still_healthy_after_the_attacks(server: CliServer, me) -> None:
    assert server.process.poll() is None
    assert me(rs256(claims())).status_code == 200
