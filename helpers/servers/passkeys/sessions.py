"""The session that follows a passkey sign-in: chapter 03's server-side session, unchanged.

A passkey proves who you are once, at sign-in. What keeps you signed in afterwards is
the same thing as after a password: a fresh random id in an HttpOnly cookie, and a row
on the server that the id names. Idle and absolute expiry run on the course clock.
"""

from __future__ import annotations

import re
import secrets

from flask import Response

from .store import PasskeyStore, Session

COOKIE = "sid"
#: What ``secrets.token_urlsafe(32)`` makes: 43 characters of base64url (256 random bits).
SID_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
IDLE_TIMEOUT = 1800.0  # 30 minutes without a request
ABSOLUTE_TIMEOUT = 8 * 3600.0  # 8 hours after sign-in, however active
MAX_USER_AGENT = 200


def start_session(store: PasskeyStore, username: str, now: float, user_agent: str) -> str:
    """A fresh id from the OS's CSPRNG, never one the client sent, and its row on the server."""
    sid = secrets.token_urlsafe(32)
    store.add_session(Session(sid, username, now, now, user_agent[:MAX_USER_AGENT]))
    return sid


def set_session_cookie(response: Response, sid: str) -> None:
    """Scripts cannot read it (HttpOnly); other sites' POSTs do not carry it (SameSite=Lax)."""
    response.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", path="/")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Lax")


def is_expired(session: Session, now: float, idle_timeout: float, absolute_timeout: float) -> bool:
    """Idle too long since the last request, or alive too long since sign-in?"""
    return now - session.last_seen > idle_timeout or now - session.created > absolute_timeout
