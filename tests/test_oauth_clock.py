"""The ``oauth`` server on a course clock the test moves: codes, tokens and ID tokens expire on it.

The CLI server's clock cannot be moved from outside, so these run in-process: ``create_app``
with the test's own :class:`CourseClock`, served by a LiveServer on 127.0.0.1 and driven
over real HTTP with the same hand-written client as the black-box tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from helpers.notebook.course_clock import CourseClock
from helpers.notebook.live_server import LiveServer
from helpers.servers.oauth import create_app
from helpers.servers.tokens import TokenRejected, public_keys, verify_access_token
from tests.oauth_client import (
    AuthRequest,
    get_code,
    introspect,
    jwks_keys,
    redeem,
    refresh,
    sign_in,
    userinfo,
)


@pytest.fixture(scope="module")
def clock() -> CourseClock:
    return CourseClock()


@pytest.fixture(scope="module")
def url(clock: CourseClock) -> Iterator[str]:
    with LiveServer(create_app(clock=clock), name="oauth-clock-test") as live:
        yield live.url


def unverified_times(token: str, url: str) -> dict[str, Any]:
    """Signature, iss and aud checked; exp and iat read, not checked (PyJWT uses the wall clock)."""
    key = jwks_keys(url)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        issuer=url,
        options={"verify_exp": False, "verify_iat": False, "verify_aud": False},
    )


@pytest.mark.parametrize(("delay", "works"), [(59, True), (60, False), (3600, False)])
def test_a_code_lives_at_most_60_seconds(
    url: str, clock: CourseClock, delay: float, works: bool
) -> None:
    auth = AuthRequest()
    code = get_code(url, auth)
    with clock.moved(delay):
        response = redeem(url, auth, code)
    assert (response.status_code == 200) is works, response.text
    if not works:
        assert response.json()["error"] == "invalid_grant"


def test_tokens_carry_course_clock_times(url: str, clock: CourseClock) -> None:
    with clock.moved(10_000):
        now = clock.time()
        auth, body = sign_in(url)
    for token in (body["id_token"], body["access_token"]):
        claims = unverified_times(token, url)
        assert abs(claims["iat"] - now) < 5 and claims["exp"] - claims["iat"] == 300
        assert abs(claims["auth_time"] - now) < 5


def test_an_access_token_expires_on_the_course_clock(url: str, clock: CourseClock) -> None:
    base = 20_000
    with clock.moved(base):
        _, body = sign_in(url)
    with clock.moved(base + 299):
        assert userinfo(url, body["access_token"]).status_code == 200
        assert introspect(url, body["access_token"]).json()["active"] is True
    with clock.moved(base + 300):
        assert userinfo(url, body["access_token"]).status_code == 401
        assert introspect(url, body["access_token"]).json() == {"active": False}
        assert refresh(url, body["refresh_token"]).status_code == 200  # the refresh token lives on


def test_a_refresh_token_expires_after_a_day_unused(url: str, clock: CourseClock) -> None:
    base = 30_000
    with clock.moved(base):
        _, body = sign_in(url)
    with clock.moved(base + 24 * 3600):
        response = refresh(url, body["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_the_tokens_server_does_not_accept_the_providers_access_tokens(url: str) -> None:
    """Each issuer signs with its own key; a verifier that trusts one refuses the other."""
    _, body = sign_in(url)
    with pytest.raises(TokenRejected):
        verify_access_token(body["access_token"], keys=public_keys(), clock=CourseClock())


def test_each_app_has_its_own_store(clock: CourseClock) -> None:
    first, second = create_app(clock=clock), create_app(clock=clock)
    assert first.extensions["oauth_store"] is not second.extensions["oauth_store"]
    with LiveServer(first, name="oauth-a") as a, LiveServer(second, name="oauth-b") as b:
        _, body = sign_in(a.url)
        assert userinfo(a.url, body["access_token"]).status_code == 200
        assert (
            userinfo(b.url, body["access_token"]).status_code == 401
        )  # another issuer, another store
    assert first.extensions["oauth_store"].counts()["tokens"] == 2
    assert second.extensions["oauth_store"].counts() == {"grants": 0, "codes": 0, "tokens": 0}


def test_the_database_file_holds_hashes_only(tmp_path: Any, clock: CourseClock) -> None:
    import sqlite3

    path = tmp_path / "oauth.db"
    app = create_app(str(path), clock=clock)
    with LiveServer(app, name="oauth-db") as live:
        auth = AuthRequest()
        code = get_code(live.url, auth)
        body = redeem(live.url, auth, code).json()
    app.extensions["oauth_store"].close()
    dump = "\n".join(sqlite3.connect(path).iterdump())
    for secret in (code, body["access_token"], body["refresh_token"]):
        assert secret not in dump


def test_expired_rows_are_purged_an_hour_after_they_expire(clock: CourseClock) -> None:
    app = create_app(clock=clock)
    store = app.extensions["oauth_store"]
    with LiveServer(app, name="oauth-purge") as live:
        sign_in(live.url)
        assert store.counts()["tokens"] == 2 and store.counts()["codes"] == 1
        with clock.moved(2 * 24 * 3600):  # every code and token of that sign-in is long expired
            get_code(live.url, AuthRequest())  # the next sign-in purges
    assert store.counts() == {"grants": 2, "codes": 1, "tokens": 0}
