"""The registered clients of the ``oauth`` server, from ``data/oauth_clients.json`` (DEMO ONLY).

Two clients, the two kinds RFC 6749 section 2.1 names:

* ``course-spa``, a **public** client: it runs where it cannot keep a secret (a browser
  app), so it sends only its ``client_id`` (auth method ``none``) and relies on PKCE;
* ``course-web``, a **confidential** client: a server that keeps ``course-web-secret``
  and authenticates with HTTP Basic (``client_secret_basic``, RFC 6749 section 2.3.1).

Both are registered with ``http://127.0.0.1/callback``. RFC 8252 section 7.3 lets a
loopback redirect URI match on any port, because a native app gets a fresh port from
the OS each time; RFC 8252 is written for native apps, and the course applies that rule
to its demo clients as a simplification (RFC 9700 section 2.1 asks for exact string
matching otherwise). Everything else about the URI must match exactly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin

from helpers.paths import DATA_DIR

CLIENTS_FILE = DATA_DIR / "oauth_clients.json"
#: The scopes this server knows. ``openid`` asks for an ID token, ``profile`` for a name.
SCOPES = ("openid", "profile")
#: The scope a request gets when it names none (RFC 6749 section 3.3 allows a default).
DEFAULT_SCOPE = "openid"

#: ``http://127.0.0.1[:port]/callback``: the registered URI, with any port 1-65535 (RFC 8252 §7.3).
_LOOPBACK = re.compile(r"http://127\.0\.0\.1(?::(?P<port>[1-9][0-9]{0,4}))?(?P<path>/[^?#]*)")


def loopback_match(registered: str, presented: str) -> bool:
    """True if ``presented`` is ``registered`` with perhaps another port, and otherwise identical.

    No query, no fragment (RFC 6749 section 3.1.2), no user info, no other host: only
    ``127.0.0.1`` itself (RFC 8252 section 8.3 advises against the name ``localhost``).
    """
    want, got = _LOOPBACK.fullmatch(registered), _LOOPBACK.fullmatch(presented)
    if want is None or got is None:
        return False
    port = got.group("port")
    return got.group("path") == want.group("path") and (port is None or int(port) <= 65535)


@dataclass(frozen=True, eq=False)
class Client(ClientMixin):
    """One registered client, in the shape Authlib's grants ask of it (``ClientMixin``)."""

    client_id: str
    client_name: str
    token_endpoint_auth_method: str
    redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    response_types: tuple[str, ...]
    scope: str
    client_secret_sha256: str | None = None
    #: what Authlib's userinfo endpoint reads (no signed userinfo here)
    client_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # the port varies, so every request must name its redirect_uri

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in a fixed order; the default if none."""
        allowed = self.scope.split()
        requested = (scope or "").split() or DEFAULT_SCOPE.split()
        return " ".join(s for s in allowed if s in requested)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(loopback_match(registered, redirect_uri) for registered in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        """Compare SHA-256 digests in constant time. A fast hash suits a real client secret,
        which is long and random; this demo one is a memorable string, and DEMO ONLY."""
        if self.client_secret_sha256 is None:
            return False
        presented = hashlib.sha256(client_secret.encode("utf-8", "surrogatepass")).hexdigest()
        return hmac.compare_digest(presented, self.client_secret_sha256)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "introspection":  # only a confidential client may ask (RFC 7662 §2.1)
            return not self.is_public and method == "client_secret_basic"
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def load_clients(path: Path = CLIENTS_FILE) -> dict[str, Client]:
    """``{client_id: Client}`` from the DEMO ONLY registration file."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        client_id: Client(
            client_id=client_id,
            client_name=entry["client_name"],
            token_endpoint_auth_method=entry["token_endpoint_auth_method"],
            redirect_uris=tuple(entry["redirect_uris"]),
            grant_types=tuple(entry["grant_types"]),
            response_types=tuple(entry["response_types"]),
            scope=entry["scope"],
            client_secret_sha256=entry.get("client_secret_sha256"),
        )
        for client_id, entry in raw["clients"].items()
    }
