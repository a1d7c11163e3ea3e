"""``oauth``: an OAuth 2.0 authorization server and OpenID provider, built on Authlib.

The protocol is the lesson; the server is a well-kept library (Authlib 1.9), configured
to the course contract:

* discovery at ``/.well-known/openid-configuration`` and
  ``/.well-known/oauth-authorization-server``;
* ``GET /authorize`` (sign-in-and-consent form) and ``POST /authorize`` (-> 302 with
  ``code``, ``state`` and ``iss``); PKCE with S256 required of every client;
* ``POST /token``: authorization code (single use, at most 60 s) and refresh token
  (rotation with reuse detection), RFC 9068 JWT access tokens, ID tokens with a nonce;
* ``GET /userinfo``, ``POST /revoke`` (RFC 7009), ``POST /introspect`` (RFC 7662);
* the public key at ``/.well-known/jwks.json``.

Simplifications, said once: the provider keeps no sign-in session of its own, so it
asks for the password on every authorization request; the issuer is the URL the server
listens on (``http://127.0.0.1:PORT``), where a real one is an ``https`` URL (RFC 8414
section 2). Modules: ``clients`` (registrations), ``storage`` (SQLite), ``grants``,
``access_tokens``, ``endpoints``, ``provider`` (the Authlib server), ``guards`` (input
checks), ``pages`` (HTML), ``app`` (routes).
"""

from __future__ import annotations

from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, request

from helpers.notebook.course_clock import CourseClock
from helpers.notebook.course_clock import clock as course_clock
from helpers.users import load_users

from .app import install
from .clients import Client, load_clients
from .grants import S256Required
from .provider import CourseAuthorizationServer, register_parts
from .storage import OAuthStore

NAME = "oauth"
#: A code works once, and only for this long (RFC 6749 section 4.1.2 advises at most 10 minutes).
CODE_TTL = 60
#: Access-token and ID-token lifetimes, in course-clock seconds.
ACCESS_TTL = 300
ID_TOKEN_TTL = 300


def listening_url() -> str:
    """``http://HOST:PORT`` of the socket the request came in on (never the client's Host)."""
    return f"http://{request.environ['SERVER_NAME']}:{request.environ['SERVER_PORT']}"


def create_app(
    db: str | None = None,
    *,
    clock: CourseClock = course_clock,
    issuer: str | None = None,
    code_ttl: float = CODE_TTL,
    access_ttl: int = ACCESS_TTL,
    id_token_ttl: int = ID_TOKEN_TTL,
    clients: dict[str, Client] | None = None,
    pkce: CodeChallenge | None = None,
    store: OAuthStore | None = None,
) -> Flask:
    """The ``oauth`` server. ``db``: SQLite file (default: a fresh in-memory database).

    ``issuer`` defaults to the URL the server listens on. ``clients`` (default: the
    registrations in ``data/oauth_clients.json``), ``pkce`` (default: S256 required of
    every client) and ``store`` (default: ``OAuthStore(db)``) exist so that chapter 10's
    naive labs can change exactly one rule. The store is at ``app.extensions["oauth_store"]``,
    the Authlib server at ``app.extensions["oauth_server"]``.
    """
    app = Flask(__name__)
    store = store if store is not None else OAuthStore(db)
    clients = clients if clients is not None else load_clients()
    issuer_of = (lambda: issuer) if issuer is not None else listening_url
    server = CourseAuthorizationServer(
        store=store, clock=clock, clients=clients, users=load_users(), issuer=issuer_of,
        code_ttl=code_ttl,
    )
    iss = register_parts(
        server, access_ttl=access_ttl, id_token_ttl=id_token_ttl,
        pkce=pkce if pkce is not None else S256Required(required=True),
    )
    app.extensions["oauth_store"] = store
    app.extensions["oauth_server"] = server
    return install(app, server=server, iss=iss, clients=clients, clock=clock, issuer=issuer_of)


__all__ = ["NAME", "create_app"]
