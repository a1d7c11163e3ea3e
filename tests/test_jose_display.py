import base64
import json
import math

import jwt
import pytest

from helpers import b64url_decode, b64url_encode, elide, header_of, is_numeric_date, payload_of


@pytest.mark.parametrize("data", [b"", b"a", b"ab", b"abc", bytes(range(256))])
def test_base64url_round_trips_without_padding(data):
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data == b64url_decode(text.encode())
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_header_and_payload_are_read_without_a_key():
    token = jwt.encode({"sub": "alice", "iat": 1}, b"k" * 32, algorithm="HS256",
                       headers={"kid": "x"})
    assert header_of(token) == {"alg": "HS256", "kid": "x", "typ": "JWT"}
    assert payload_of(token) == {"sub": "alice", "iat": 1}


@pytest.mark.parametrize("value, ok", [
    (1767225600, True), (1.5, True), (0, True), ("1767225600", False),
    (True, False), (None, False), (math.inf, False), (math.nan, False),
])
def test_numeric_date_is_a_json_number(value, ok):
    assert is_numeric_date(value) is ok


def test_elide_keeps_both_ends_and_the_length():
    token = "a" * 30 + "b" * 400 + "c" * 30
    short = elide(token)
    assert short.startswith("a" * 24) and short.endswith(f"{'c' * 24} ({len(token)} characters)")
    assert "b" * 30 not in short
    assert elide("short.token.here") == "short.token.here"
    assert json.dumps(elide(token))  # printable
