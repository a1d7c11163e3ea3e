"""Key rotation and retirement in the ``tokens`` server, on a clock the test sets.

``demo-rsa-2025`` was retired at 2026-01-01T00:00:00Z: it verifies no token issued at or
after that instant, and the JWKS lists it only while a token it signed could still be
valid (until the retirement plus the access-token lifetime).
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from helpers.servers import tokens
from tests.support import assert_json_error

RETIRED = tokens.RETIRED_AT["demo-rsa-2025"]


class FixedClock:
    """A clock that says what the test sets (the course clock only moves forward)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def test_the_retirement_is_2026_01_01_utc() -> None:
    assert RETIRED == 1767225600  # date -u -d 2026-01-01T00:00:00Z +%s


@pytest.mark.parametrize(("offset", "listed"), [
    (-3600, {"demo-rsa-2026", "demo-rsa-2025"}),
    (tokens.ACCESS_TTL - 1, {"demo-rsa-2026", "demo-rsa-2025"}),
    (tokens.ACCESS_TTL, {"demo-rsa-2026"}),
    (86400, {"demo-rsa-2026"}),
])
def test_the_jwks_lists_the_retired_key_while_its_tokens_may_live(offset: float,
                                                                  listed: set[str]) -> None:
    client = tokens.create_app(clock=FixedClock(RETIRED + offset)).test_client()
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert {key["kid"] for key in keys} == listed


def token(kid: str, iat: float, **claims: Any) -> str:
    base = tokens.access_token_claims("alice", now=iat)
    return tokens.sign_access_token({**base, "iat": iat, **claims}, kid=kid)


def test_the_retired_key_verifies_only_what_it_signed_before_its_retirement() -> None:
    clock = FixedClock(RETIRED + 60)
    before = token("demo-rsa-2025", RETIRED - 1)
    tokens.verify_access_token(before, clock=clock)  # no exception: still within its exp
    for iat in (RETIRED, RETIRED + 30):
        with pytest.raises(tokens.TokenRejected, match="retired"):
            tokens.verify_access_token(token("demo-rsa-2025", iat), clock=clock)
    tokens.verify_access_token(token("demo-rsa-2026", RETIRED + 30), clock=clock)


def test_over_http_the_retired_key_is_refused_with_a_challenge() -> None:
    clock = FixedClock(RETIRED + 60)
    client = tokens.create_app(clock=clock).test_client()
    ok = client.get("/me", headers={"Authorization": "Bearer " + token("demo-rsa-2025",
                                                                      RETIRED - 1)})
    assert ok.status_code == 200
    refused = client.get("/me", headers={"Authorization": "Bearer " + token("demo-rsa-2025",
                                                                           RETIRED + 1)})
    assert_json_error(refused, 401, "invalid_token", field="error_description",
                      challenge='Bearer realm="tokens", error="invalid_token"')


def test_a_fetched_jwks_verifies_through_pyjwkset() -> None:
    client = tokens.create_app(clock=FixedClock(RETIRED + 60)).test_client()
    keys = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").get_json())
    claims = tokens.verify_access_token(token("demo-rsa-2026", RETIRED + 30),
                                        keys=keys, clock=FixedClock(RETIRED + 60))
    assert claims["sub"] == "alice"
    later = FixedClock(RETIRED + tokens.ACCESS_TTL)  # the retired key has left the JWKS
    client = tokens.create_app(clock=later).test_client()
    keys = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").get_json())
    with pytest.raises(tokens.TokenRejected, match="kid"):
        tokens.verify_access_token(token("demo-rsa-2025", RETIRED - 10), keys=keys, clock=later)


def test_keys_from_jwks_keeps_rsa_keys_by_kid() -> None:
    jwks = tokens.public_jwks(now=RETIRED - 1, max_token_lifetime=tokens.ACCESS_TTL)
    keys = tokens.keys_from_jwks(jwks)
    assert set(keys) == {"demo-rsa-2026", "demo-rsa-2025"}
    mine = tokens.public_keys()["demo-rsa-2026"]
    assert keys["demo-rsa-2026"].public_numbers() == mine.public_numbers()
