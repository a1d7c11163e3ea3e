"""``passkeys``: WebAuthn sign-in (py_webauthn), then a server-side session.

A passkey is a key pair made by an authenticator for one RP ID (here ``localhost``); the
server keeps only the public key. Registration and sign-in are each two calls, options then
verify (``ceremonies``); what the server keeps is in ``store``; the routes are in ``app``;
after sign-in the browser holds chapter 03's session cookie (``sessions``).

WebAuthn refuses IP-address origins, so the CLI prints ``Serving passkeys on
http://localhost:PORT`` (it still binds 127.0.0.1), and the origin the server expects is
``http://localhost:PORT`` with the port it really got.
"""

from __future__ import annotations

from flask import Flask

from helpers.notebook.course_clock import CourseClock
from helpers.notebook.course_clock import clock as course_clock

from .app import ABSOLUTE_TIMEOUT, CHALLENGE_TTL, IDLE_TIMEOUT, RP_ID, build_app

NAME = "passkeys"


def create_app(db: str | None = None, *, clock: CourseClock = course_clock,
               origin: str | None = None,
               rp_id: str = RP_ID, idle_timeout: float = IDLE_TIMEOUT,
               absolute_timeout: float = ABSOLUTE_TIMEOUT,
               challenge_ttl: float = CHALLENGE_TTL) -> Flask:
    """The ``passkeys`` server: SQLite at ``db`` (default: a fresh in-memory database).

    ``origin`` pins the expected origin (default ``http://localhost:<bound port>``). The
    store is at ``app.extensions["passkey_store"]``, for a notebook to look into.
    """
    return build_app(db, clock=clock, origin=origin, rp_id=rp_id, idle_timeout=idle_timeout,
                     absolute_timeout=absolute_timeout, challenge_ttl=challenge_ttl)
