"""The ``oauth`` server as a black box: ``python -m helpers serve oauth``, driven over HTTP.

One server process for the module. A hand-written client (tests/oauth_client.py) runs
the authorization-code flow with PKCE for both clients, validates the ID token and the
access token with PyJWT against the keys at jwks_uri, and checks every rule of the
contract: discovery, the authorization endpoint's errors (an HTML page before the
redirect URI is trusted, a redirect with ``error`` and ``iss`` after), the token
endpoint's errors (RFC 6749 section 5.2), single-use codes, refresh rotation with reuse
detection, revocation and introspection, userinfo's challenges, races on a code and on
a refresh token, and hostile input at every endpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests

from tests.oauth_client import (
    REDIRECT_URI,
    TIMEOUT,
    AuthRequest,
    authorize,
    basic,
    get_code,
    introspect,
    jwks_keys,
    query_of,
    redeem,
    refresh,
    revoke,
    sign_in,
    token_request,
    userinfo,
    validate_access_token,
    validate_id_token,
)
from tests.support import ROOT, CliServer, run_concurrently, start_cli_server

RACERS = 8


@pytest.fixture(scope="module")
def server() -> Iterator[CliServer]:
    srv = start_cli_server("oauth")
    yield srv
    srv.stop_cleanly()


@pytest.fixture(scope="module")
def url(server: CliServer) -> str:
    return server.url


@pytest.fixture(scope="module")
def spa_login(url: str) -> tuple[AuthRequest, dict[str, Any]]:
    """One sign-in shared by the read-only tests (each password check costs ~0.1 s)."""
    return sign_in(url)


def assert_oauth_error(response: requests.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers.get("Cache-Control") == "no-store"
    body = response.json()
    assert body["error"] == error, body
    return body


def assert_error_redirect(
    response: requests.Response, auth: AuthRequest, url: str, error: str
) -> None:
    assert response.status_code == 302, (response.status_code, response.text[:300])
    location = response.headers["Location"]
    assert location.startswith(auth.redirect_uri + "?")
    query = query_of(location)
    assert query["error"] == error and "code" not in query
    assert query["state"] == auth.state and query["iss"] == url  # RFC 9207 section 2: errors too


def assert_error_page(response: requests.Response) -> None:
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Location" not in response.headers


# -- discovery and keys ------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]
)
def test_discovery_documents(url: str, path: str) -> None:
    doc = requests.get(url + path, timeout=TIMEOUT).json()
    assert doc["issuer"] == url
    for name, route in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("userinfo_endpoint", "/userinfo"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ]:
        assert doc[name] == url + route
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["response_types_supported"] == ["code"]
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert set(doc["scopes_supported"]) == {"openid", "profile"}


def test_jwks_publishes_the_public_key_only_and_not_the_tokens_servers(url: str) -> None:
    keys = requests.get(url + "/.well-known/jwks.json", timeout=TIMEOUT).json()["keys"]
    assert [k["kid"] for k in keys] == ["demo-oauth-2026"]
    assert keys[0]["kty"] == "RSA" and not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    tokens_key = load_pem_public_key((ROOT / "data/keys/demo-rsa-2026-public.pem").read_bytes())
    assert jwt.PyJWK(keys[0]).key.public_numbers() != tokens_key.public_numbers()  # type: ignore[union-attr]


# -- the authorization endpoint ----------------------------------------------------------
def test_authorize_shows_the_sign_in_and_consent_form(url: str) -> None:
    auth = AuthRequest()
    response = requests.get(
        f"{url}/authorize", params=auth.params(), allow_redirects=False, timeout=TIMEOUT
    )
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    page = response.text
    for fragment in (
        'name="username"',
        'name="password"',
        'name="consent" value="allow"',
        'name="consent" value="deny"',
    ):
        assert fragment in page
    assert (
        response.headers["Cache-Control"] == "no-store"
        and response.headers["X-Frame-Options"] == "DENY"
    )


@pytest.mark.parametrize(
    "override",
    [
        {"client_id": None},
        {"client_id": "no-such-client"},
        {"client_id": ""},
        {"redirect_uri": None},
        {"redirect_uri": "http://evil.example/callback"},
        {"redirect_uri": "http://127.0.0.1:8765/callback/extra"},
        {"redirect_uri": "http://127.0.0.1:8765/callback?x=1"},
        {"redirect_uri": "http://127.0.0.1:8765/callback#frag"},
        {"redirect_uri": "https://127.0.0.1:8765/callback"},
        {"redirect_uri": "http://localhost:8765/callback"},
        {"redirect_uri": "http://user@127.0.0.1:8765/callback"},
        {"redirect_uri": "http://127.0.0.1:0/callback"},
        {"redirect_uri": "http://127.0.0.1:70000/callback"},
        {"redirect_uri": "http://127.0.0.1.evil.example/callback"},
        {"redirect_uri": 'http://127.0.0.1:1/"\\\u00e9'},
    ],
)
def test_bad_client_or_redirect_uri_is_an_html_page_never_a_redirect(
    url: str, override: dict[str, Any]
) -> None:
    auth = AuthRequest()
    for method in ("GET", "POST"):
        response = requests.request(
            method,
            f"{url}/authorize?{urlencode(auth.params(**override))}",
            data={"username": "alice", "password": "wonderland", "consent": "allow"},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        assert_error_page(response)


@pytest.mark.parametrize("name", ["client_id", "redirect_uri"])
def test_a_repeated_client_id_or_redirect_uri_is_an_html_page(url: str, name: str) -> None:
    auth = AuthRequest()
    query = urlencode(auth.params()) + "&" + urlencode({name: auth.params()[name]})
    assert_error_page(
        requests.get(f"{url}/authorize?{query}", allow_redirects=False, timeout=TIMEOUT)
    )


@pytest.mark.parametrize(
    "override",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": "S512"},
        {"code_challenge": "too-short"},
    ],
)
@pytest.mark.parametrize("client_id", ["course-spa", "course-web"])
def test_pkce_s256_is_required_of_every_client_on_the_get(
    url: str, override: dict[str, Any], client_id: str
) -> None:
    auth = AuthRequest(client_id=client_id)
    response = requests.get(
        f"{url}/authorize", params=auth.params(**override), allow_redirects=False, timeout=TIMEOUT
    )
    assert_error_redirect(response, auth, url, "invalid_request")


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"scope": "openid email"}, "invalid_scope"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none"}, "login_required"),
    ],
)
def test_errors_after_the_redirect_uri_is_trusted_go_back_to_the_client(
    url: str, override: dict[str, Any], error: str
) -> None:
    auth = AuthRequest()
    response = requests.get(
        f"{url}/authorize", params=auth.params(**override), allow_redirects=False, timeout=TIMEOUT
    )
    assert_error_redirect(response, auth, url, error)


@pytest.mark.parametrize(
    "name", ["state", "nonce", "scope", "code_challenge", "code_challenge_method", "response_type"]
)
def test_a_repeated_parameter_gets_no_form_and_no_code(url: str, name: str) -> None:
    auth = AuthRequest()
    query = urlencode(auth.params()) + "&" + urlencode({name: auth.params()[name] + "x"})
    for method in ("GET", "POST"):
        response = requests.request(
            method,
            f"{url}/authorize?{query}",
            allow_redirects=False,
            timeout=TIMEOUT,
            data={"username": "alice", "password": "wonderland", "consent": "allow"},
        )
        assert response.status_code in (302, 400), response.status_code
        if response.status_code == 302:
            assert query_of(response.headers["Location"])["error"] == "invalid_request"
        else:
            assert_error_page(response)


def test_wrong_password_shows_the_form_again_without_a_redirect(url: str) -> None:
    for username, password in [("alice", "wrong"), ("nobody", "wonderland"), ("", "")]:
        response = authorize(url, AuthRequest(), username=username, password=password)
        assert response.status_code == 200 and "Location" not in response.headers
        assert "Wrong username or password" in response.text


def test_deny_redirects_with_access_denied(url: str) -> None:
    auth = AuthRequest()
    assert_error_redirect(authorize(url, auth, consent="deny"), auth, url, "access_denied")


def test_a_reused_nonce_is_refused(url: str) -> None:
    auth = AuthRequest()
    get_code(url, auth)
    again = AuthRequest(nonce=auth.nonce)
    response = requests.get(
        f"{url}/authorize", params=again.params(), allow_redirects=False, timeout=TIMEOUT
    )
    assert_error_redirect(response, again, url, "invalid_request")


# -- the whole flow, for both clients ----------------------------------------------------
@pytest.mark.parametrize(
    ("client_id", "username"), [("course-spa", "alice"), ("course-web", "bob")]
)
def test_code_flow_with_pkce_id_token_and_userinfo(url: str, client_id: str, username: str) -> None:
    auth = AuthRequest(client_id=client_id)
    response = authorize(url, auth, username)
    assert response.status_code == 302
    query = query_of(response.headers["Location"])
    assert (
        set(query) == {"code", "state", "iss"}
        and query["state"] == auth.state
        and query["iss"] == url
    )
    response = redeem(url, auth, query["code"])
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert (
        body["token_type"] == "Bearer"
        and body["expires_in"] > 0
        and body["scope"] == "openid profile"
    )
    assert body["refresh_token"] and body["id_token"]

    id_claims = validate_id_token(url, body["id_token"], auth)
    assert id_claims["sub"] == username and id_claims["aud"] == client_id
    assert id_claims["iat"] <= id_claims["auth_time"] + 1 and id_claims["exp"] > id_claims["iat"]
    access = validate_access_token(url, body["access_token"])
    assert (
        access["sub"] == username
        and access["client_id"] == client_id
        and access["scope"] == "openid profile"
    )

    info = userinfo(url, body["access_token"])
    assert info.status_code == 200
    assert info.json() == {
        "sub": username,
        "preferred_username": username,
        "name": {"alice": "Alice Liddell", "bob": "Bob the Builder"}[username],
    }


def test_scope_openid_alone_gives_sub_only(url: str) -> None:
    auth, body = sign_in(url, scope="openid")
    assert userinfo(url, body["access_token"]).json() == {"sub": "alice"}
    assert "name" not in validate_id_token(url, body["id_token"], auth)


def test_an_id_token_is_signed_with_the_jwks_key_and_fails_with_any_other_check(
    url: str, spa_login: Any
) -> None:
    auth, body = spa_login
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(
            body["id_token"],
            jwks_keys(url)["demo-oauth-2026"],
            algorithms=["RS256"],
            audience="course-web",
            issuer=url,
        )
    with pytest.raises(AssertionError):
        validate_id_token(url, body["id_token"], AuthRequest(nonce="another-nonce"))
    forged = body["id_token"][:-4] + ("AAAA" if not body["id_token"].endswith("AAAA") else "BBBB")
    with pytest.raises(jwt.InvalidSignatureError):
        validate_id_token(url, forged, auth)


# -- the token endpoint ------------------------------------------------------------------
def test_confidential_client_must_authenticate(url: str) -> None:
    auth = AuthRequest(client_id="course-web")
    code = get_code(url, auth)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": auth.redirect_uri,
        "code_verifier": auth.verifier,
    }
    cases = [
        ({}, {"client_id": "course-web"}),
        ({"Authorization": basic(secret="wrong")}, {}),
        (
            {},
            {"client_id": "course-web", "client_secret": "course-web-secret"},
        ),  # client_secret_post: not registered
        ({"Authorization": basic("no-such-client", "x")}, {}),
        ({"Authorization": basic()}, {"client_id": "course-spa"}),  # two identities in one request
        ({"Authorization": basic("course-spa", "guess")}, {"client_id": "course-spa"}),
    ]
    for headers, extra in cases:
        response = requests.post(
            f"{url}/token", data={**data, **extra}, headers=headers, timeout=TIMEOUT
        )
        assert_oauth_error(response, 401, "invalid_client")
        assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert redeem(url, auth, code).status_code == 200  # the failed attempts did not spend the code


def test_wrong_verifier_redirect_uri_or_client_is_invalid_grant(url: str) -> None:
    auth = AuthRequest()
    code = get_code(url, auth)
    assert_oauth_error(redeem(url, auth, code, code_verifier="x" * 43), 400, "invalid_grant")
    assert_oauth_error(
        redeem(url, auth, code, redirect_uri="http://127.0.0.1:9999/callback"), 400, "invalid_grant"
    )
    other = AuthRequest(client_id="course-web", verifier=auth.verifier)
    assert_oauth_error(redeem(url, other, code), 400, "invalid_grant")
    assert_oauth_error(redeem(url, auth, code, code_verifier=None), 400, "invalid_request")
    assert_oauth_error(redeem(url, auth, "not-a-code"), 400, "invalid_grant")
    assert redeem(url, auth, code).status_code == 200


def test_a_replayed_code_is_refused_and_revokes_what_it_issued(url: str) -> None:
    auth = AuthRequest()
    code = get_code(url, auth)
    first = redeem(url, auth, code).json()
    assert userinfo(url, first["access_token"]).status_code == 200
    body = assert_oauth_error(redeem(url, auth, code), 400, "invalid_grant")
    assert "already used" in body["error_description"]
    assert userinfo(url, first["access_token"]).status_code == 401
    assert introspect(url, first["access_token"]).json() == {"active": False}
    assert_oauth_error(refresh(url, first["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        (
            {"grant_type": "password", "username": "alice", "password": "wonderland"},
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
        ({"grant_type": "authorization_code"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
    ],
)
def test_token_endpoint_errors(url: str, data: dict[str, str], status: int, error: str) -> None:
    assert_oauth_error(token_request(url, data), status, error)


@pytest.mark.parametrize(
    "body",
    [
        "grant_type=authorization_code&grant_type=authorization_code&code=x",
        "grant_type=refresh_token&refresh_token=a&refresh_token=b&client_id=course-spa",
        "grant_type=refresh_token&refresh_token=a&client_id=course-spa&client_id=course-spa",
    ],
)
def test_a_repeated_parameter_at_the_token_endpoint_is_invalid_request(url: str, body: str) -> None:
    response = requests.post(
        f"{url}/token",
        data=body,
        timeout=TIMEOUT,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_token_parameters_belong_in_a_form_body(url: str) -> None:
    query = {"grant_type": "refresh_token", "refresh_token": "x", "client_id": "course-spa"}
    assert_oauth_error(
        requests.post(f"{url}/token", params=query, timeout=TIMEOUT), 400, "invalid_request"
    )
    assert_oauth_error(
        requests.post(f"{url}/token", json=query, timeout=TIMEOUT), 400, "invalid_request"
    )
    assert requests.get(f"{url}/token", timeout=TIMEOUT).status_code == 405


# -- refresh tokens ----------------------------------------------------------------------
@pytest.mark.parametrize("client_id", ["course-spa", "course-web"])
def test_refresh_rotates_and_reuse_revokes_the_family(url: str, client_id: str) -> None:
    _, first = sign_in(url, client_id)
    second = refresh(url, first["refresh_token"], client_id)
    assert second.status_code == 200 and second.headers["Cache-Control"] == "no-store"
    second_body = second.json()
    assert second_body["refresh_token"] != first["refresh_token"] and "id_token" not in second_body
    assert validate_access_token(url, second_body["access_token"])["client_id"] == client_id
    assert userinfo(url, second_body["access_token"]).status_code == 200
    # the first refresh token comes back: someone copied it. The whole family dies.
    assert_oauth_error(refresh(url, first["refresh_token"], client_id), 400, "invalid_grant")
    assert_oauth_error(refresh(url, second_body["refresh_token"], client_id), 400, "invalid_grant")
    assert userinfo(url, second_body["access_token"]).status_code == 401


def test_a_refresh_token_works_only_for_its_client(url: str) -> None:
    _, spa = sign_in(url)
    assert_oauth_error(refresh(url, spa["refresh_token"], "course-web"), 400, "invalid_grant")
    assert refresh(url, spa["refresh_token"]).status_code == 200


def test_refresh_cannot_widen_the_scope(url: str) -> None:
    _, body = sign_in(url, scope="openid")
    response = token_request(
        url,
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "scope": "openid profile",
        },
    )
    assert_oauth_error(response, 400, "invalid_scope")


def test_an_access_token_or_id_token_is_not_a_refresh_token(url: str, spa_login: Any) -> None:
    _, body = spa_login
    for token in (body["access_token"], body["id_token"]):
        assert_oauth_error(refresh(url, token), 400, "invalid_grant")


# -- userinfo ----------------------------------------------------------------------------
def test_userinfo_without_credentials_is_a_bare_bearer_challenge(url: str) -> None:
    for headers in ({}, {"Authorization": basic()}):
        response = requests.get(f"{url}/userinfo", headers=headers, timeout=TIMEOUT)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="oauth"'


@pytest.mark.parametrize(
    "authorization", ["Bearer", "Bearer ", "Bearer a b", "Bearer \u00e9\u00e9", "Bearer a,b"]
)
def test_userinfo_with_a_malformed_header_is_400(url: str, authorization: str) -> None:
    response = requests.get(
        f"{url}/userinfo", headers={"Authorization": authorization.encode("utf-8")}, timeout=TIMEOUT
    )
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_userinfo_refuses_garbage_and_the_id_token(url: str, spa_login: Any) -> None:
    _, body = spa_login
    for token in (
        "garbage",
        "a.b.c",
        body["id_token"],
        body["refresh_token"],
        body["access_token"][:-2] + "xx",
    ):
        response = userinfo(url, token)
        assert response.status_code == 401
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="oauth"') and 'error="invalid_token"' in challenge
    assert userinfo(url, body["access_token"]).status_code == 200
    post = requests.post(
        f"{url}/userinfo",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )
    assert post.status_code == 200  # OIDC Core section 5.3.1: GET and POST


# -- revocation and introspection --------------------------------------------------------
def test_introspection_needs_course_webs_credentials(url: str, spa_login: Any) -> None:
    _, body = spa_login
    response = introspect(url, body["access_token"])
    assert response.status_code == 200
    info = response.json()
    assert info["active"] is True and info["sub"] == "alice" and info["client_id"] == "course-spa"
    assert info["scope"] == "openid profile" and info["exp"] > info["iat"]
    for authorization in (
        basic(secret="wrong"),
        "Bearer " + body["access_token"],
        basic("course-spa", ""),
    ):
        assert_oauth_error(
            introspect(url, body["access_token"], authorization), 401, "invalid_client"
        )
    spa = requests.post(
        f"{url}/introspect",
        data={"token": body["access_token"], "client_id": "course-spa"},
        timeout=TIMEOUT,
    )
    assert_oauth_error(spa, 401, "invalid_client")
    for token in ("unknown", body["id_token"]):
        assert introspect(url, token).json() == {"active": False}
    assert introspect(url, body["refresh_token"]).json()["active"] is True


def test_revoking_an_access_token_stops_it_at_the_provider_but_not_locally(url: str) -> None:
    _, body = sign_in(url)
    response = revoke(url, body["access_token"])
    assert response.status_code == 200
    assert userinfo(url, body["access_token"]).status_code == 401
    assert introspect(url, body["access_token"]).json() == {"active": False}
    # a resource server that only checks the JWT locally still accepts it until exp
    assert validate_access_token(url, body["access_token"])["sub"] == "alice"
    assert (
        refresh(url, body["refresh_token"]).status_code == 200
    )  # the refresh token was not revoked


def test_revoking_a_refresh_token_revokes_its_grant(url: str) -> None:
    _, body = sign_in(url, "course-web")
    assert (
        revoke(
            url, body["refresh_token"], "course-web", token_type_hint="refresh_token"
        ).status_code
        == 200
    )
    assert userinfo(url, body["access_token"]).status_code == 401
    assert_oauth_error(refresh(url, body["refresh_token"], "course-web"), 400, "invalid_grant")


def test_revocation_edge_cases(url: str, spa_login: Any) -> None:
    _, body = spa_login
    assert revoke(url, "never-issued").status_code == 200  # RFC 7009 section 2.2
    assert revoke(url, "never-issued", token_type_hint="access_token").status_code == 200
    assert_oauth_error(revoke(url, "x", token_type_hint="id_token"), 400, "unsupported_token_type")
    assert_oauth_error(
        requests.post(f"{url}/revoke", data={"token": "x"}, timeout=TIMEOUT), 401, "invalid_client"
    )
    assert_oauth_error(
        requests.post(f"{url}/revoke", data={"client_id": "course-spa"}, timeout=TIMEOUT),
        400,
        "invalid_request",
    )
    # another client may not revoke course-spa's token
    assert revoke(url, body["access_token"], "course-web").status_code == 400
    assert userinfo(url, body["access_token"]).status_code == 200


# -- races -------------------------------------------------------------------------------
def test_exactly_one_of_many_parallel_redemptions_of_a_code_wins(url: str) -> None:
    auth = AuthRequest()
    code = get_code(url, auth)
    responses = run_concurrently(lambda _: redeem(url, auth, code), RACERS)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (RACERS - 1), statuses
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert (
        userinfo(url, winner["access_token"]).status_code == 401
    )  # the replays revoked what the code issued


def test_exactly_one_of_many_parallel_refreshes_wins_and_the_family_is_revoked(url: str) -> None:
    _, body = sign_in(url)
    responses = run_concurrently(lambda _: refresh(url, body["refresh_token"]), RACERS)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (RACERS - 1), statuses
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert_oauth_error(refresh(url, winner["refresh_token"]), 400, "invalid_grant")


# -- hostile input -----------------------------------------------------------------------
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
BIG = b"a=" + b"x" * 200_000
HOSTILE_AUTH = [
    "Basic",
    "Basic !!!",
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "Basic \u00e9",
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Basic " + base64.b64encode(b":").decode(),
    "Bearer",
    "x" * 6000,
    "Basic " + "A" * 6000,
    "Digest a=b",
    "\u00ff\u00fe",
]


def hostile_requests(url: str) -> list[tuple[str, str, dict[str, Any]]]:
    auth = AuthRequest()
    authz = f"{url}/authorize?{urlencode(auth.params())}"
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for path in ("/token", "/revoke", "/introspect"):
        cases += [
            ("POST", url + path, {"data": BIG, "headers": FORM}),
            ("POST", url + path, {"data": b"grant_type=%ff%fe&code=\xff\xfe", "headers": FORM}),
            (
                "POST",
                url + path,
                {"data": b"\x00\x01\x02", "headers": {"Content-Type": "application/octet-stream"}},
            ),
            ("POST", url + path, {"data": "{", "headers": {"Content-Type": "application/json"}}),
            ("POST", url + path, {"data": "token=x&token=y", "headers": FORM}),
            (
                "POST",
                url + path,
                {"data": "a=b", "headers": {"Content-Type": "multipart/form-data; boundary=x"}},
            ),
            ("POST", url + path, {"data": "token=" + "t" * 10_000, "headers": FORM}),
            ("POST", url + path + "?token=x", {"data": "token=x", "headers": FORM}),
        ]
        cases += [
            (
                "POST",
                url + path,
                {
                    "data": {"token": "x", "grant_type": "refresh_token", "refresh_token": "x"},
                    "headers": {"Authorization": a.encode("utf-8")},
                },
            )
            for a in HOSTILE_AUTH
        ]
    cases += [
        ("GET", f"{url}/userinfo", {"headers": {"Authorization": a.encode("utf-8")}})
        for a in HOSTILE_AUTH
    ]
    cases += [
        ("GET", f"{url}/authorize?" + "a=" + "x" * 30_000, {}),
        ("GET", f"{url}/authorize?client_id=%ff%fe&redirect_uri=%ff", {}),
        ("GET", authz + "&state=%ff%fe%00", {}),
        ("GET", authz + "&nonce=" + "n" * 5000, {}),
        ("GET", authz.replace("scope=openid+profile", "scope=%00"), {}),
        ("POST", authz, {"data": BIG, "headers": FORM}),
        ("POST", authz, {"data": b"username=\xff&password=\xfe&consent=allow", "headers": FORM}),
        ("POST", authz, {"data": {"username": "a" * 5000, "password": "b", "consent": "allow"}}),
        (
            "POST",
            authz,
            {"data": {"username": ["alice", "bob"], "password": "wonderland", "consent": "allow"}},
        ),
        ("POST", authz, {"data": "{}", "headers": {"Content-Type": "application/json"}}),
        (
            "POST",
            authz,
            {"data": {"username": "alice", "password": "wonderland", "consent": "maybe"}},
        ),
        ("GET", f"{url}/.well-known/openid-configuration", {"headers": {"Host": "evil.example"}}),
        (
            "POST",
            f"{url}/token",
            {"data": {"grant_type": "refresh_token"}, "headers": {"Host": "127.0.0.1.evil"}},
        ),
        ("GET", f"{url}/authorize", {"headers": {"Host": "\u00e9:1"}}),
        ("DELETE", f"{url}/token", {}),
        ("GET", f"{url}/userinfo?access_token=x", {}),
    ]
    return cases


def test_hostile_input_never_gets_a_500_and_the_server_stays_up(url: str) -> None:
    for method, target, kwargs in hostile_requests(url):
        try:
            response = requests.request(
                method, target, allow_redirects=False, timeout=TIMEOUT, **kwargs
            )
        except requests.ConnectionError:
            continue  # the server may hang up on a body it refuses to read
        assert response.status_code < 500, (
            method,
            target[:120],
            response.status_code,
            response.text[:300],
        )
        if response.status_code == 302:
            assert "code=" not in response.headers["Location"], (
                target[:120],
                response.headers["Location"],
            )
    assert (
        requests.get(f"{url}/.well-known/openid-configuration", timeout=TIMEOUT).status_code == 200
    )
    _, body = sign_in(url)  # and it still works end to end
    assert userinfo(url, body["access_token"]).status_code == 200


def test_a_sign_in_with_a_repeated_username_gets_no_code(url: str) -> None:
    auth = AuthRequest()
    response = requests.post(
        f"{url}/authorize?{urlencode(auth.params())}",
        allow_redirects=False,
        timeout=TIMEOUT,
        data={"username": ["alice", "bob"], "password": "wonderland", "consent": "allow"},
    )
    assert_error_redirect(response, auth, url, "invalid_request")


def test_the_redirect_uri_may_use_any_loopback_port(url: str) -> None:
    for redirect_uri in (
        "http://127.0.0.1:1/callback",
        "http://127.0.0.1:65535/callback",
        "http://127.0.0.1/callback",
    ):
        auth = AuthRequest(redirect_uri=redirect_uri)
        assert redeem(url, auth, get_code(url, auth)).status_code == 200
    assert REDIRECT_URI != auth.redirect_uri


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
@pytest.mark.parametrize(
    "body", [b"token=\xff&client_id=course-spa&grant_type=refresh_token", b"token=%ff&x=1"]
)
def test_a_form_body_that_is_not_utf_8_is_invalid_request(url: str, path: str, body: bytes) -> None:
    """RFC 6749 Appendix B: the form is UTF-8, percent-encoded; anything else is a malformed
    request (400 invalid_request), not a client that failed to authenticate or a bad grant."""
    response = requests.post(
        f"{url}{path}",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic()},
        timeout=TIMEOUT,
    )
    assert "UTF-8" in assert_oauth_error(response, 400, "invalid_request")["error_description"]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/token"), ("GET", "/revoke"), ("PUT", "/introspect"),
                         ("DELETE", "/userinfo")]
)
def test_a_wrong_method_at_an_oauth_endpoint_answers_in_rfc_6749_form(
    url: str, method: str, path: str
) -> None:
    response = requests.request(method, f"{url}{path}", timeout=TIMEOUT)
    body = assert_oauth_error(response, 405, "invalid_request")
    assert body["error_description"] and "message" not in body
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("path", ["/token", "/revoke"])
@pytest.mark.parametrize(
    "authorization", ["Basic !!!", "Basic", "Basic " + base64.b64encode(b"no-colon").decode(),
                      "Bearer abc", "Digest username=x"]
)
def test_a_failed_header_authentication_is_invalid_client_even_with_a_client_id(
    url: str, spa_login: Any, path: str, authorization: str
) -> None:
    """RFC 6749 section 5.2: a client that tried the Authorization header and failed (or used a
    method the server does not support) gets 401 invalid_client, not a fall-back to the public
    client named in the body."""
    _, body = spa_login
    data = {"client_id": "course-spa", "token": "unknown-token",
            "grant_type": "refresh_token", "refresh_token": "unknown-token"}
    response = requests.post(
        f"{url}{path}", data=data, headers={"Authorization": authorization}, timeout=TIMEOUT
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert userinfo(url, body["access_token"]).status_code == 200


def test_userinfo_refuses_a_token_sent_two_ways(url: str, spa_login: Any) -> None:
    """RFC 6750 section 2: one method per request; section 3.1: more than one is invalid_request."""
    _, body = spa_login
    response = requests.get(
        f"{url}/userinfo",
        params={"access_token": body["access_token"]},
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )
    assert_oauth_error(response, 400, "invalid_request")
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    response = requests.post(  # the form-encoded body method (RFC 6750 section 2.2) too
        f"{url}/userinfo",
        data={"access_token": body["access_token"]},
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=TIMEOUT,
    )
    assert_oauth_error(response, 400, "invalid_request")
