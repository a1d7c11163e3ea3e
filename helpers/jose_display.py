"""Reading JWTs without a key, for display in the notebooks.

Notebook 04 teaches base64url and the three parts of a JWT in plain sight; once that
lesson is done, later notebooks read headers and payloads with these helpers instead
of copying the same few lines again. Nothing here verifies anything: a payload read
this way is *untrusted* until a verifier has checked the signature.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2, RFC 4648 §5), as text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode base64url that lacks its ``=`` padding, as every JWT part does."""
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def header_of(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWS, read without any key (untrusted)."""
    return json.loads(b64url_decode(token.split(".")[0]))


def payload_of(token: str) -> dict[str, Any]:
    """The claims of a compact JWS, read without any key (untrusted)."""
    return json.loads(b64url_decode(token.split(".")[1]))


def is_numeric_date(value: object) -> bool:
    """True for a JSON number usable as a NumericDate (RFC 7519 §2).

    ``bool`` is excluded because Python counts it as an ``int``; NaN and infinities
    are excluded because JSON has no such numbers.
    """
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def elide(token: str, keep: int = 24) -> str:
    """A long token shortened for printing: its first and last ``keep`` characters.

    The length is kept in the text, so the reader still sees how big the token is.
    """
    if len(token) <= 2 * keep + 10:
        return token
    return f"{token[:keep]}…{token[-keep:]} ({len(token)} characters)"
