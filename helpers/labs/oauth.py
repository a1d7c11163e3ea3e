"""Chapter 10's attack labs: a correct piece and a naive twin that differs from it by ONE flaw.

Each attack in the chapter runs first against a naive lab, then against the course's
correct piece. So that a lab teaches exactly one lesson, each is the correct piece with
one rule changed (tests/test_oauth_labs.py proves that the rest still holds):

* servers (the course ``oauth`` server, one rule changed through ``create_app``):
  :func:`prefix_redirect_app` matches redirect URIs by prefix, :func:`optional_pkce_app`
  lets a client skip PKCE, :func:`plain_pkce_app` accepts ``code_challenge_method=plain``,
  :func:`replayable_code_app` lets a code be redeemed more than once;
* a client: :class:`WebClient`, the back end of a client (``course-web`` by default), and
  three twins: ``check_state=False`` (no state check), ``use_pkce=False`` (no PKCE) and
  ``check_iss=False`` (no RFC 9207 ``iss`` check, open to a mix-up);
* an attacker's provider for the mix-up, :func:`mix_up_provider` (not a lab: Mallory's);
* a resource server's token check: :func:`verify_for_api` and :func:`naive_verify_for_api`,
  which forgets ``aud`` and ``typ``.

The notebook shows each of them with ``inspect.getsource``: the code is the lesson.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, redirect, request

from helpers.http import install_json_errors, oauth_error
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.course_clock import clock as course_clock
from helpers.servers.oauth import create_app
from helpers.servers.oauth.clients import Client, load_clients
from helpers.servers.oauth.grants import S256Required
from helpers.servers.oauth.storage import OAuthStore

API_AUDIENCE = "urn:course:api"
WEB_SECRET = "course-web-secret"  # DEMO ONLY: data/oauth_clients.json stores its SHA-256


# -- three naive authorization servers ----------------------------------------------------
@dataclass(frozen=True, eq=False)
class PrefixMatchClient(Client):
    """Flaw: a redirect URI is accepted if it merely *starts with* the registered host."""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri.startswith("http://127.0.0.1")


def prefix_redirect_app(clock: CourseClock = course_clock) -> Flask:
    clients = {cid: PrefixMatchClient(**vars(c)) for cid, c in load_clients().items()}
    return create_app(clock=clock, clients=clients)


class OptionalPKCE(S256Required):
    """Flaw: PKCE (S256) is checked when a client sends it, but a client may leave it out."""

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge") or data.get("code_challenge_method"):
            super().validate_code_challenge(grant, redirect_uri)


def optional_pkce_app(clock: CourseClock = course_clock) -> Flask:
    return create_app(clock=clock, pkce=OptionalPKCE(required=False))


class PlainAllowed(S256Required):
    """Flaw: PKCE is required, but ``plain`` (verifier == challenge) is accepted too."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["plain", "S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if data.get("code_challenge_method") == "plain" and data.get("code_challenge"):
            return CodeChallenge.validate_code_challenge(
                self, grant, redirect_uri
            )  # Authlib's own check
        super().validate_code_challenge(grant, redirect_uri)


def plain_pkce_app(clock: CourseClock = course_clock) -> Flask:
    return create_app(clock=clock, pkce=PlainAllowed(required=True))


class ReusableCodes(OAuthStore):
    """Flaw: a code is never marked spent, so the same token request works again and again."""

    def spend_code(self, code_hash: str) -> bool:
        return True


def replayable_code_app(clock: CourseClock = course_clock) -> Flask:
    return create_app(clock=clock, store=ReusableCodes())


# -- a client's back end, and its naive twins ---------------------------------------------
class CallbackRefused(Exception):
    """The client refused what came back to its redirect URI."""


def s256(verifier: str) -> str:
    """RFC 7636 section 4.2: BASE64URL(SHA256(verifier)), no padding."""
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest())
        .rstrip(b"=")
        .decode()
    )


@dataclass
class WebClient:
    """``course-web``'s back end. ``session`` is the dict it keeps per browser (behind a cookie).

    Three naive twins, one flaw each: ``check_state=False`` does not tie the callback to a
    sign-in this browser started, so it uses whatever pending sign-in the session has, or
    none; ``use_pkce=False`` sends no code challenge (it relies on its client secret alone);
    ``check_iss=False`` does not compare the response's ``iss`` with the provider the
    sign-in was started at. ``client_secret=None`` makes it a public client (``course-spa``).
    ``start(session, provider=...)`` signs in at another provider than the default one: a
    client that offers several providers remembers, per sign-in, which one the user chose.
    """

    provider: str
    redirect_uri: str = "http://127.0.0.1:8765/callback"
    check_state: bool = True
    use_pkce: bool = True
    check_iss: bool = True
    client_id: str = "course-web"
    client_secret: str | None = WEB_SECRET

    def start(self, session: dict[str, Any], provider: str | None = None) -> str:
        """Begin a sign-in: remember provider, state, nonce and verifier; return where to send
        the browser."""
        provider = provider or self.provider
        pending = {
            "provider": provider,
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
        }
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile",
            "state": pending["state"],
            "nonce": pending["nonce"],
        }
        if self.use_pkce:
            pending["verifier"] = secrets.token_urlsafe(48)
            query.update(code_challenge=s256(pending["verifier"]), code_challenge_method="S256")
        session["pending"] = pending
        return f"{provider}/authorize?{urlencode(query)}"

    def callback(self, session: dict[str, Any], location: str) -> str:
        """Handle the browser's return to the redirect URI; sign the session in; return the user."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        pending = session.pop("pending", None)
        if self.check_state and (pending is None or query.get("state") != pending["state"]):
            raise CallbackRefused("state does not match a sign-in this browser started")
        pending = pending or {}
        provider = pending.get("provider", self.provider)
        if self.check_iss and query.get("iss") != provider:  # RFC 9207 section 2.4
            raise CallbackRefused("iss is not the provider this sign-in was started at")
        if "code" not in query:
            raise CallbackRefused(f"the provider said {query.get('error')}")
        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": self.redirect_uri,
        }
        if "verifier" in pending:
            form["code_verifier"] = pending["verifier"]
        if self.client_secret is None:  # a public client names itself
            form["client_id"] = self.client_id
        auth = None if self.client_secret is None else (self.client_id, self.client_secret)
        response = requests.post(f"{provider}/token", data=form, auth=auth, timeout=10)
        if response.status_code != 200:
            raise CallbackRefused(f"the token endpoint said {response.json()['error']}")
        claims = check_id_token(
            response.json()["id_token"], provider, self.client_id, pending.get("nonce")
        )
        session["user"] = claims["sub"]
        return claims["sub"]


def mix_up_provider(honest: str) -> Flask:
    """Mallory's provider, which a client also offers: it sends every sign-in on to ``honest``.

    ``/authorize`` redirects the browser to the honest provider's ``/authorize`` with the
    same request, so the user signs in *there* and the honest code comes back to the
    client's redirect URI; ``/token`` keeps whatever the client sends (code, verifier) in
    ``app.extensions["captured"]`` (RFC 9700 section 4.4.1).
    """
    app = install_json_errors(Flask("mix-up-provider"))
    captured: list[dict[str, str]] = []
    app.extensions["captured"] = captured

    @app.get("/authorize")
    def authorize() -> Response:
        return redirect(f"{honest}/authorize?{request.query_string.decode('ascii', 'replace')}")

    @app.post("/token")
    def token() -> Response:
        captured.append(dict(request.form))
        return oauth_error(400, "invalid_grant", "Nothing to see here.")

    return app


def provider_keys(issuer: str) -> dict[str, Any]:
    """``{kid: public key}`` from the provider's jwks_uri, found through discovery."""
    config = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    return {
        k["kid"]: jwt.PyJWK(k).key
        for k in requests.get(config["jwks_uri"], timeout=10).json()["keys"]
    }


def check_id_token(id_token: str, issuer: str, client_id: str, nonce: str | None) -> dict[str, Any]:
    """OIDC Core section 3.1.3.7: signature (jwks_uri), iss, aud, exp, and the nonce if sent."""
    key = provider_keys(issuer)[jwt.get_unverified_header(id_token)["kid"]]
    claims = jwt.decode(
        id_token,
        key,
        algorithms=["RS256"],
        issuer=issuer,
        audience=client_id,
        options={"require": ["iss", "sub", "aud", "exp", "iat"], "verify_iat": False},
    )
    if nonce is not None and claims.get("nonce") != nonce:
        raise CallbackRefused("the ID token's nonce is not the one this sign-in sent")
    return claims


# -- a resource server's token check, and its naive twin ---------------------------------
class TokenRefused(Exception):
    """The resource server refuses the token (it would answer 401 invalid_token)."""


def verify_for_api(token: str, keys: dict[str, Any], issuer: str, now: float) -> dict[str, Any]:
    """RFC 9068 section 4: typ at+jwt, RS256 with the issuer's key, iss, aud = this API, and exp
    (on the course clock)."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "at+jwt":
            raise TokenRefused("not an access token (typ is not at+jwt)")
        claims = jwt.decode(
            token,
            keys[header["kid"]],
            algorithms=["RS256"],
            issuer=issuer,
            audience=API_AUDIENCE,
            options={
                "require": ["iss", "sub", "aud", "exp", "iat", "client_id"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except (jwt.InvalidTokenError, KeyError) as exc:
        raise TokenRefused(f"{type(exc).__name__}: {exc}") from None
    if not now < claims["exp"]:
        raise TokenRefused("expired")
    return claims


def naive_verify_for_api(
    token: str, keys: dict[str, Any], issuer: str, now: float
) -> dict[str, Any]:
    """Flaw: checks the signature, iss and exp, but neither typ nor aud."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(
            token,
            keys[header["kid"]],
            algorithms=["RS256"],
            issuer=issuer,
            options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
        )
    except (jwt.InvalidTokenError, KeyError) as exc:
        raise TokenRefused(f"{type(exc).__name__}: {exc}") from None
    if not now < claims["exp"]:
        raise TokenRefused("expired")
    return claims
