"""``bff``: a backend-for-frontend, the browser's side of OAuth done on the server.

The pattern of "OAuth 2.0 for Browser-Based Apps" (draft-ietf-oauth-browser-based-apps,
section 6.1): the BFF is a confidential OAuth client (``course-web`` of the ``oauth``
server). It runs the authorization-code flow with PKCE itself, keeps the access,
refresh and ID tokens in its own session store, and gives the browser one thing: a
``__Host-`` session cookie that is HttpOnly, Secure and SameSite=Lax. The page calls
``/api/...`` with that cookie; the BFF calls the provider with the token. No token ever
reaches JavaScript, so a script injected into the page has none to steal (it can still
*use* the session while it runs: the BFF cannot tell it from the page).

Routes: ``GET /`` (the page), ``GET /login``, ``GET /callback``, ``GET /api/me``,
``GET|POST /api/notes``, ``POST /logout``. State-changing calls need ``X-CSRF: 1`` and,
when ``Origin`` is sent, this server's own origin. Modules: ``store`` (SQLite),
``cookie``, ``csrf``, ``provider_client`` (Authlib's OAuth2Session), ``spa`` (the page),
``app`` (routes).
"""

from __future__ import annotations

from flask import Flask

from helpers.http import install_json_errors
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.course_clock import clock as course_clock

from .app import register_routes
from .provider_client import ProviderClient
from .store import BffStore

NAME = "bff"
#: Name of the in-process provider a BFF starts when it is given none.
PROVIDER_SERVER = "bff-provider"


def start_provider() -> str:
    """Start the ``oauth`` server in this process (a background thread) and return its URL."""
    from helpers.notebook.live_server import serve
    from helpers.servers import oauth

    return serve(oauth.create_app(), PROVIDER_SERVER).url


def create_app(db: str | None = None, *, provider_url: str | None = None,
               clock: CourseClock = course_clock,
               provider: ProviderClient | None = None) -> Flask:
    """The ``bff`` server. ``db``: SQLite file for its sessions (default: in memory).

    ``provider_url``: the ``oauth`` server to use (for example a notebook's LiveServer);
    without one, the BFF starts its own and the CLI prints ``Provider on URL``.
    The store is at ``app.extensions["bff_store"]``, the client at
    ``app.extensions["bff_provider"]``.
    """
    app = Flask(__name__)
    install_json_errors(app)
    store = BffStore(db)
    banner: list[str] = []
    if provider is None:
        if provider_url is None:
            provider_url = start_provider()
            banner.append(f"Provider on {provider_url}")
        provider = ProviderClient(provider_url)
    app.extensions.update(bff_store=store, bff_provider=provider, serve_banner=banner)
    register_routes(app, store=store, provider=provider, clock=clock)
    return app


__all__ = ["NAME", "create_app"]
