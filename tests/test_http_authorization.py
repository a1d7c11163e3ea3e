"""The one Authorization parser of helpers/http.py: RFC 6750's 400/401 split and Basic."""

from __future__ import annotations

import base64

import pytest

from helpers.http import MalformedAuthorization, basic_credentials, parse_authorization


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + b64(b"course-web:course-web-secret"), ("course-web", "course-web-secret")),
        ("basic " + b64(b"a%3Ab:s%20t"), ("a:b", "s t")),  # RFC 6749 2.3.1 form-encoding
        ("Basic " + b64(b"web:"), ("web", "")),
        ("Basic " + b64("ü:ß".encode()), ("ü", "ß")),
        ("Basic " + b64(b"no-colon"), None),
        ("Basic " + b64(b":secret"), None),
        ("Basic " + b64(b"\xff:\xfe"), None),  # not UTF-8
        ("Basic !!!", None),
        ("Basic", None),
        ("Bearer abc", None),
        ("Digest username=x", None),
    ],
)
def test_basic_credentials(header: str, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(parse_authorization([header])) == expected


def test_basic_credentials_of_no_header_is_none() -> None:
    assert basic_credentials(parse_authorization([])) is None


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer ä", "\x01"])
def test_a_malformed_header_raises(header: str) -> None:
    with pytest.raises(MalformedAuthorization):
        parse_authorization([header])
