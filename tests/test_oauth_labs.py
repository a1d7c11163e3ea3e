"""Each naive lab of chapter 10 is open to exactly one flaw, and the course's piece to none.

A battery of probes, each a rule of the contract, runs against every lab; the set of
probes a lab fails must be exactly its one flaw. The servers run in-process on
127.0.0.1 (LiveServer), each with a fresh store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from helpers.labs import oauth as labs
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.live_server import LiveServer
from helpers.servers.oauth import create_app
from tests.oauth_client import (
    TIMEOUT,
    AuthRequest,
    authorize,
    query_of,
    redeem,
    sign_in,
    userinfo,
)

EVIL = "http://127.0.0.1.evil.example/steal"


def authorize_get(url: str, auth: AuthRequest, **override: Any) -> requests.Response:
    return requests.get(
        f"{url}/authorize?{urlencode(auth.params(**override))}",
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def gives_no_code(response: requests.Response) -> bool:
    return response.status_code != 302 or "code" not in query_of(response.headers["Location"])


def probe_exact_redirect(url: str) -> bool:
    auth = AuthRequest(redirect_uri=EVIL)
    return gives_no_code(authorize_get(url, auth)) and gives_no_code(authorize(url, auth))


def probe_pkce_required(url: str) -> bool:
    auth = AuthRequest(client_id="course-web")
    if not gives_no_code(authorize_get(url, auth, code_challenge=None, code_challenge_method=None)):
        return False  # the form is shown: a code would follow
    return gives_no_code(authorize(url, auth, code_challenge=None, code_challenge_method=None))


def probe_plain_refused(url: str) -> bool:
    auth = AuthRequest()
    return gives_no_code(
        authorize(url, auth, code_challenge=auth.verifier, code_challenge_method="plain")
    )


def probe_code_bound_to_its_verifier(url: str) -> bool:
    auth = AuthRequest()
    code = query_of(authorize(url, auth).headers["Location"])["code"]
    if redeem(url, auth, code, code_verifier="x" * 43).status_code != 400:
        return False
    return redeem(url, auth, code).status_code == 200


def probe_code_single_use(url: str) -> bool:
    """A replayed token request is refused and revokes what the first one issued."""
    auth = AuthRequest()
    code = query_of(authorize(url, auth).headers["Location"])["code"]
    first, second = redeem(url, auth, code), redeem(url, auth, code)
    if first.status_code != 200 or second.status_code != 400:
        return False
    return userinfo(url, first.json()["access_token"]).status_code == 401


def probe_iss_and_state(url: str) -> bool:
    auth = AuthRequest()
    query = query_of(authorize(url, auth).headers["Location"])
    return query.get("iss") == url and query.get("state") == auth.state


SERVER_PROBES: dict[str, Callable[[str], bool]] = {
    "exact redirect_uri": probe_exact_redirect,
    "PKCE required": probe_pkce_required,
    "plain refused": probe_plain_refused,
    "code bound to its verifier": probe_code_bound_to_its_verifier,
    "code single use": probe_code_single_use,
    "iss and state in the response": probe_iss_and_state,
}


@pytest.fixture(scope="module")
def clock() -> CourseClock:
    return CourseClock()


@pytest.mark.parametrize(
    ("make_app", "flaw"),
    [
        (lambda clock: create_app(clock=clock), None),
        (labs.prefix_redirect_app, "exact redirect_uri"),
        (labs.optional_pkce_app, "PKCE required"),
        (labs.plain_pkce_app, "plain refused"),
        (labs.replayable_code_app, "code single use"),
    ],
    ids=["course server", "prefix redirect", "optional PKCE", "plain PKCE", "replayable code"],
)
def test_each_server_lab_fails_exactly_its_one_probe(
    make_app: Callable[[CourseClock], Any], flaw: str | None, clock: CourseClock
) -> None:
    with LiveServer(make_app(clock), name="oauth-lab") as live:
        failed = {name for name, probe in SERVER_PROBES.items() if not probe(live.url)}
    assert failed == ({flaw} if flaw else set())


@pytest.fixture(scope="module")
def provider(clock: CourseClock) -> Iterator[str]:
    with LiveServer(create_app(clock=clock), name="oauth-lab-provider") as live:
        yield live.url


def browser_sign_in(location: str, username: str = "alice") -> str:
    """What the browser does at the provider: submit the sign-in form; return the redirect."""
    response = requests.post(
        location,
        data={
            "username": username,
            "password": {"alice": "wonderland", "bob": "builder"}[username],
            "consent": "allow",
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 302
    return response.headers["Location"]


@pytest.fixture(scope="module")
def lenient_provider(clock: CourseClock) -> Iterator[str]:
    """A provider that lets a client skip PKCE, so that a client without PKCE can be probed."""
    with LiveServer(labs.optional_pkce_app(clock), name="oauth-lab-lenient") as live:
        yield live.url


def inject_stolen_code(client: labs.WebClient) -> str:
    """Alice's code, delivered to the client in Mallory's session under Mallory's own state."""
    alice: dict[str, Any] = {}
    stolen = browser_sign_in(client.start(alice))
    mallory: dict[str, Any] = {}
    client.start(mallory)
    own_state = mallory["pending"]["state"]
    victims_state = query_of(stolen)["state"]
    return client.callback(mallory, stolen.replace(f"state={victims_state}", f"state={own_state}"))


@pytest.fixture(scope="module")
def mallorys_provider(provider: str) -> Iterator[LiveServer]:
    with LiveServer(labs.mix_up_provider(provider), name="oauth-lab-mix-up") as live:
        yield live


def mix_up(client: labs.WebClient, mallory: LiveServer) -> str:
    """Alice picks Mallory's provider at the client; Mallory sends her on to the honest one."""
    session: dict[str, Any] = {}
    location = client.start(session, provider=mallory.url)
    honest = requests.get(location, allow_redirects=False, timeout=TIMEOUT).headers["Location"]
    return client.callback(session, browser_sign_in(honest))


@pytest.mark.parametrize(
    ("check_state", "use_pkce", "check_iss"),
    [(True, True, True), (False, True, True), (True, False, True), (True, True, False)],
    ids=["correct", "no state check", "no PKCE", "no iss check"],
)
def test_the_client_and_its_naive_twins_differ_by_one_check_each(
    provider: str,
    lenient_provider: str,
    mallorys_provider: LiveServer,
    check_state: bool,
    use_pkce: bool,
    check_iss: bool,
) -> None:
    client = labs.WebClient(
        provider if use_pkce else lenient_provider,
        check_state=check_state,
        use_pkce=use_pkce,
        check_iss=check_iss,
    )
    provider = client.provider
    session: dict[str, Any] = {}
    assert (
        client.callback(session, browser_sign_in(client.start(session))) == "alice"
    )  # the normal flow works
    # an error from the provider is refused by all
    with pytest.raises(labs.CallbackRefused, match="access_denied"):
        client.callback(
            {"pending": {"state": "s", "provider": provider}},
            f"{client.redirect_uri}?error=access_denied&state=s&iss={provider}",
        )
    # a callback whose state is not this browser's sign-in
    session = {}
    location = browser_sign_in(client.start(session)).replace("state=", "state=forged")
    if check_state:
        with pytest.raises(labs.CallbackRefused, match="state"):
            client.callback(session, location)
    else:
        assert client.callback(session, location) == "alice"
    # a stolen code injected into another session. With PKCE the token endpoint refuses it;
    # without, the provider hands out Alice's tokens and only the nonce check is left
    with pytest.raises(labs.CallbackRefused, match="invalid_grant" if use_pkce else "nonce"):
        inject_stolen_code(client)
    # a mix-up (RFC 9207): the honest provider's response to a sign-in started at Mallory's
    captured = mallorys_provider.app.extensions["captured"]
    captured.clear()
    if use_pkce:  # the lenient provider is not the one Mallory forwards to
        with pytest.raises(labs.CallbackRefused, match="iss" if check_iss else "invalid_grant"):
            mix_up(client, mallorys_provider)
        assert bool(captured) is not check_iss  # the code reached Mallory only without the check


def test_the_resource_check_and_its_naive_twin_differ_only_in_aud_and_typ(
    provider: str, clock: CourseClock
) -> None:
    _, body = sign_in(provider)
    keys = labs.provider_keys(provider)
    with LiveServer(create_app(clock=clock), name="oauth-lab-other") as other:
        _, foreign = sign_in(other.url)  # same key, another issuer
    now = clock.time()
    for verify in (labs.verify_for_api, labs.naive_verify_for_api):
        assert verify(body["access_token"], keys, provider, now)["sub"] == "alice"
        for bad in (foreign["access_token"], body["access_token"][:-3] + "AAA", "garbage"):
            with pytest.raises(labs.TokenRefused):
                verify(bad, keys, provider, now)
        with pytest.raises(labs.TokenRefused, match="expired"):
            verify(body["access_token"], keys, provider, now + 301)
    with pytest.raises(labs.TokenRefused, match="typ"):
        labs.verify_for_api(body["id_token"], keys, provider, now)
    assert (
        labs.naive_verify_for_api(body["id_token"], keys, provider, now)["aud"] == "course-spa"
    )  # the flaw
