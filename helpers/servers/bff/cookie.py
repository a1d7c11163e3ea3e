"""The one cookie the browser holds: a random session id, and nothing else.

``__Host-`` (draft-ietf-httpbis-rfc6265bis section 4.1.3.2): the browser keeps it only if
it is Secure, has ``Path=/`` and no ``Domain``, so it is bound to this exact host and no
sibling host can set or overwrite it. ``HttpOnly``: no script in the page can read it.
``SameSite=Lax``: cross-site subresource requests and cross-site POSTs go without it.
``Secure`` works on ``http://127.0.0.1`` because browsers treat loopback as a secure
context (W3C Secure Contexts: loopback is "potentially trustworthy"; Chromium keeps Secure
cookies there).
"""

from __future__ import annotations

import re
import secrets

from flask import Request, Response

NAME = "__Host-bff"
#: What ``secrets.token_urlsafe(32)`` makes: 43 base64url characters (256 random bits).
SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
#: Largest Cookie header read (browsers keep each cookie under 4096 bytes).
MAX_COOKIE_HEADER = 8192


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_id(request: Request) -> str | None:
    """The well-formed session id the request carries, or None (none, several, or a made-up one)."""
    values = request.cookies.getlist(NAME)
    return values[0] if len(values) == 1 and SHAPE.fullmatch(values[0]) else None


def set_session_cookie(response: Response, sid: str) -> None:
    response.set_cookie(NAME, sid, secure=True, httponly=True, samesite="Lax", path="/")


def clear_session_cookie(response: Response) -> None:
    # the deleting cookie must meet the __Host- rules too, or the browser ignores it
    response.set_cookie(NAME, "", max_age=0, expires=0, secure=True, httponly=True,
                        samesite="Lax", path="/")
