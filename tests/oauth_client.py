"""A small hand-written OAuth 2.0 / OpenID Connect client for the ``oauth`` server tests.

It follows no redirect (``allow_redirects=False``): every step is one request whose
answer the tests read, as a browser and a client app would see them.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests

TIMEOUT = 10
REDIRECT_URI = "http://127.0.0.1:8765/callback"
WEB_SECRET = "course-web-secret"
PASSWORDS = {"alice": "wonderland", "bob": "builder"}


def s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def basic(client_id: str = "course-web", secret: str = WEB_SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class AuthRequest:
    """One authorization request: its parameters and the secrets the client keeps."""

    client_id: str = "course-spa"
    scope: str = "openid profile"
    redirect_uri: str = REDIRECT_URI
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def params(self, **override: Any) -> dict[str, Any]:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": s256(self.verifier),
            "code_challenge_method": "S256",
        }
        params.update(override)
        return {k: v for k, v in params.items() if v is not None}


def query_of(location: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), location
    return {k: v[0] for k, v in parsed.items()}


def authorize(
    url: str,
    auth: AuthRequest,
    username: str = "alice",
    password: str | None = None,
    consent: str = "allow",
    **override: Any,
) -> requests.Response:
    """POST the sign-in form for ``auth`` (the query string carries the authorization request)."""
    form = {
        "username": username,
        "password": PASSWORDS.get(username, "") if password is None else password,
        "consent": consent,
    }
    return requests.post(
        f"{url}/authorize?{urlencode(auth.params(**override))}",
        data=form,
        allow_redirects=False,
        timeout=TIMEOUT,
    )


def get_code(url: str, auth: AuthRequest, username: str = "alice") -> str:
    response = authorize(url, auth, username)
    assert response.status_code == 302, response.text[:500]
    query = query_of(response.headers["Location"])
    assert query["state"] == auth.state and query["iss"] == url
    return query["code"]


def token_request(
    url: str, data: dict[str, Any], client_id: str = "course-spa", **kwargs: Any
) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if client_id == "course-web":
        headers.setdefault("Authorization", basic())
    elif client_id is not None:
        data = {"client_id": client_id, **data}
    return requests.post(f"{url}/token", data=data, headers=headers, timeout=TIMEOUT, **kwargs)


def redeem(url: str, auth: AuthRequest, code: str, **override: Any) -> requests.Response:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": auth.redirect_uri,
        "code_verifier": auth.verifier,
        **override,
    }
    return token_request(url, {k: v for k, v in data.items() if v is not None}, auth.client_id)


def sign_in(
    url: str, client_id: str = "course-spa", username: str = "alice", scope: str = "openid profile"
) -> tuple[AuthRequest, dict[str, Any]]:
    """The whole flow: authorization request, sign-in, code, token request; the token response."""
    auth = AuthRequest(client_id=client_id, scope=scope)
    response = redeem(url, auth, get_code(url, auth, username))
    assert response.status_code == 200, response.text
    return auth, response.json()


def refresh(url: str, refresh_token: str, client_id: str = "course-spa") -> requests.Response:
    return token_request(
        url, {"grant_type": "refresh_token", "refresh_token": refresh_token}, client_id
    )


def userinfo(url: str, access_token: str) -> requests.Response:
    return requests.get(
        f"{url}/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT
    )


def introspect(url: str, token: str, authorization: str | None = None) -> requests.Response:
    return requests.post(
        f"{url}/introspect",
        data={"token": token},
        headers={"Authorization": authorization or basic()},
        timeout=TIMEOUT,
    )


def revoke(url: str, token: str, client_id: str = "course-spa", **extra: str) -> requests.Response:
    data = {"token": token, **extra}
    if client_id == "course-web":
        return requests.post(
            f"{url}/revoke", data=data, headers={"Authorization": basic()}, timeout=TIMEOUT
        )
    return requests.post(f"{url}/revoke", data={"client_id": client_id, **data}, timeout=TIMEOUT)


def jwks_keys(url: str) -> dict[str, Any]:
    """``{kid: key}`` from the provider's jwks_uri, found through discovery."""
    config = requests.get(f"{url}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    jwks = requests.get(config["jwks_uri"], timeout=TIMEOUT).json()
    return {k["kid"]: jwt.PyJWK(k).key for k in jwks["keys"]}


def validate_id_token(
    url: str, id_token: str, auth: AuthRequest, now: float | None = None
) -> dict[str, Any]:
    """OIDC Core section 3.1.3.7: signature with the jwks_uri key, iss, aud, exp, iat, nonce."""
    header = jwt.get_unverified_header(id_token)
    key = jwks_keys(url)[header["kid"]]
    options = {"require": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce"]}
    claims = jwt.decode(
        id_token, key, algorithms=["RS256"], audience=auth.client_id, issuer=url, options=options
    )
    assert claims["nonce"] == auth.nonce
    return claims


def validate_access_token(url: str, access_token: str) -> dict[str, Any]:
    """RFC 9068 section 4, done locally by a resource server: typ, signature, iss, aud, exp."""
    header = jwt.get_unverified_header(access_token)
    assert header["typ"] == "at+jwt"
    key = jwks_keys(url)[header["kid"]]
    options = {"require": ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]}
    return jwt.decode(
        access_token,
        key,
        algorithms=["RS256"],
        audience="urn:course:api",
        issuer=url,
        options=options,
    )
