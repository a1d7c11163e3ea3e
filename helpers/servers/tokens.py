"""``tokens``: JWT access tokens (RS256) and rotating refresh tokens.

The whole idea:

* ``POST /login`` checks the password once and hands out a pair: a short-lived
  **access token** (a signed JWT the server can verify with no lookup) and a long-lived
  opaque **refresh token** (a random string the server remembers, as a SHA-256 hash).
* ``GET /me`` reads ``Authorization: Bearer <access token>`` and verifies it: signature
  (RS256 only, key picked by ``kid`` from the server's own keys), then ``exp``/``nbf``/``iat``
  against the course clock, ``iss`` and ``aud``, and finally the jti denylist.
* ``POST /refresh`` spends the refresh token and returns a new pair (rotation). A spent
  token presented again means it was copied: the whole family (every token descended
  from that login) is revoked.
* ``POST /logout`` ends the login: its family is revoked and the access token denied.
* ``GET /.well-known/jwks.json`` publishes the public keys, so anyone can verify.

The keys in ``data/keys`` are DEMO ONLY: public on purpose, never for anything real.

Module-level pieces a notebook can import and show: :func:`issue_access_token`,
:func:`verify_access_token` (raises :class:`TokenRejected`), :func:`bearer_token`,
:func:`public_jwks`, :func:`keys_from_jwks`, :func:`issue_token_pair`,
:func:`rotate_refresh_token` (raises :class:`RefreshRefused`) and :func:`log_out`.
"""

from __future__ import annotations

import atexit
import binascii
import functools
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from flask import Flask, Response, jsonify, request
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_decode
from werkzeug.security import check_password_hash

from helpers.course_clock import CourseClock
from helpers.course_clock import clock as course_clock
from helpers.errors import install_json_errors, json_error, no_content
from helpers.paths import DATA_DIR
from helpers.token_store import (
    EXPIRED,
    FAMILY_EXPIRED,
    REUSED,
    REVOKED,
    UNKNOWN,
    TokenStore,
    hash_refresh_token,
    new_refresh_token,
)
from helpers.users import load_users

NAME = "tokens"

#: ``iss`` of every access token this server issues, and the only one it accepts.
ISSUER = "urn:course:tokens"
#: ``aud``: the API the access tokens are meant for (this server's /me).
AUDIENCE = "urn:course:api"
#: ``client_id`` claim (RFC 9068 asks for one); the course has a single client.
CLIENT_ID = "course-notebooks"
#: JOSE header ``typ`` of an access token (RFC 9068 section 2.1).
ACCESS_TOKEN_TYP = "at+jwt"
#: The one signature algorithm issued and accepted.
ALGORITHM = "RS256"
#: Largest NumericDate accepted: beyond 2**53 - 1 a JSON number is not portable (RFC 7493 I-JSON).
MAX_SAFE_INTEGER = 2**53 - 1
#: Claims every access token must carry.
REQUIRED_CLAIMS = ("iss", "sub", "aud", "iat", "exp", "jti")

#: Access-token lifetime: 5 minutes of course-clock time.
ACCESS_TTL = 300
#: Each refresh token expires 1 day after it was issued unless it is used (idle lifetime).
REFRESH_TTL = 24 * 3600
#: A login's refresh tokens all stop working 7 days after the login (absolute lifetime).
FAMILY_LIFETIME = 7 * 24 * 3600
#: Allowed clock skew in the exp/nbf/iat checks. 0: the course clock is the only clock.
LEEWAY = 0

#: Where the DEMO ONLY keys live, their ids, and which one signs (the newest).
KEYS_DIR = DATA_DIR / "keys"
KIDS = ("demo-rsa-2026", "demo-rsa-2025")
SIGNING_KID = "demo-rsa-2026"

#: ``realm`` in the WWW-Authenticate challenge.
REALM = "tokens"
#: Longest token the server reads (the access tokens it issues are under 1 KB).
MAX_TOKEN_LENGTH = 8192
#: Longest username, password or refresh token the JSON endpoints read.
MAX_FIELD = 1024

#: A compact JWS: three base64url parts separated by dots.
JWS_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: RFC 6750 section 2.1: ``b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="``
B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")
#: RFC 7235 section 2.1: ``credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]``
CREDENTIALS = re.compile(r"(?P<scheme>[!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(?P<rest>.*))?", re.DOTALL)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# ---------------------------------------------------------------------------------------
# Keys (DEMO ONLY)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoKey:
    """One demo RSA key pair and its key id (``kid``)."""

    kid: str
    private_key: RSAPrivateKey
    public_key: RSAPublicKey


@functools.cache
def demo_keys() -> dict[str, DemoKey]:
    """``{kid: DemoKey}`` for the demo keys in ``data/keys`` (DEMO ONLY, public on purpose)."""
    keys = {}
    for kid in KIDS:
        private = serialization.load_pem_private_key((KEYS_DIR / f"{kid}-private.pem").read_bytes(), None)
        public = serialization.load_pem_public_key((KEYS_DIR / f"{kid}-public.pem").read_bytes())
        assert isinstance(private, RSAPrivateKey) and isinstance(public, RSAPublicKey)
        keys[kid] = DemoKey(kid, private, public)
    return keys


def public_keys() -> dict[str, RSAPublicKey]:
    """``{kid: public key}``: the server's own key set, which verification picks from."""
    return {kid: key.public_key for kid, key in demo_keys().items()}


def public_jwks() -> dict[str, list[dict[str, str]]]:
    """The JWK Set served at ``/.well-known/jwks.json``: public parts only (kty, n, e)."""
    entries = []
    for kid, public in public_keys().items():
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        entries.append({"kid": kid, "kty": jwk["kty"], "alg": ALGORITHM, "use": "sig",
                        "n": jwk["n"], "e": jwk["e"]})
    return {"keys": entries}


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """Turn a JWK Set (e.g. fetched from the server) into the ``keys`` that
    :func:`verify_access_token` takes. Only RSA signing keys meant for RS256 are kept."""
    keys = {}
    for jwk in jwks.get("keys", []):
        if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
            continue
        public = RSAAlgorithm.from_jwk(jwk)
        if isinstance(public, RSAPublicKey) and isinstance(jwk.get("kid"), str):
            keys[jwk["kid"]] = public
    return keys


# ---------------------------------------------------------------------------------------
# Access tokens: issue
# ---------------------------------------------------------------------------------------
def new_jti() -> str:
    """A unique JWT ID: 128 random bits, hex."""
    return secrets.token_hex(16)


def access_token_claims(sub: str, *, now: float, ttl: int = ACCESS_TTL, jti: str | None = None) -> dict[str, Any]:
    """The claims of a new access token. NumericDates are whole seconds, as JSON numbers."""
    iat = int(now)
    return {
        "iss": ISSUER,
        "sub": sub,
        "aud": AUDIENCE,
        "client_id": CLIENT_ID,
        "iat": iat,
        "exp": iat + int(ttl),
        "jti": jti or new_jti(),
    }


def sign_access_token(claims: Mapping[str, Any], *, kid: str = SIGNING_KID) -> str:
    """Sign ``claims`` with the demo private key ``kid``; the header names the key and the type."""
    private_key = demo_keys()[kid].private_key
    return jwt.encode(dict(claims), private_key, algorithm=ALGORITHM,
                      headers={"kid": kid, "typ": ACCESS_TOKEN_TYP})


def issue_access_token(
    sub: str,
    *,
    clock: CourseClock = course_clock,
    ttl: int = ACCESS_TTL,
    kid: str = SIGNING_KID,
    jti: str | None = None,
) -> str:
    """A signed access token for ``sub``, issued now by ``clock``, valid ``ttl`` seconds.

    Nothing is recorded server-side: a token made here verifies but its family is
    unknown, so only its own jti can be denied.
    """
    return sign_access_token(access_token_claims(sub, now=clock.time(), ttl=ttl, jti=jti), kid=kid)


# ---------------------------------------------------------------------------------------
# Access tokens: verify
# ---------------------------------------------------------------------------------------
class TokenRejected(Exception):
    """An access token (or the Authorization header carrying it) was refused.

    ``reason`` is a short sentence saying why; ``error`` is the RFC 6750 error code:
    ``"invalid_token"``, or ``"invalid_request"`` for a malformed Authorization header.
    """

    def __init__(self, reason: str, error: str = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


def bearer_token(authorization: str | None) -> str | None:
    """The token in an ``Authorization: Bearer <token>`` header (RFC 6750 section 2.1).

    None when the request has no bearer credentials at all (no header, or another
    scheme such as Basic); :class:`TokenRejected` with ``error="invalid_request"``
    when the header is malformed.
    """
    if authorization is None:
        return None
    parsed = CREDENTIALS.fullmatch(authorization.strip(" "))
    if parsed is None:
        raise TokenRejected("the Authorization header is not '<scheme> <credentials>'", "invalid_request")
    scheme, token = parsed.group("scheme"), parsed.group("rest")
    if scheme.lower() != "bearer":
        return None  # another scheme: not bearer credentials
    if not token:
        raise TokenRejected("no token after Bearer", "invalid_request")
    if not B64TOKEN.fullmatch(token):
        raise TokenRejected("the bearer token has characters a token cannot have", "invalid_request")
    return token


def check_token_shape(token: object) -> str:
    """A compact JWS of reasonable size, or :class:`TokenRejected`."""
    if not isinstance(token, str):
        raise TokenRejected("the token is not a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRejected(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    if not JWS_SHAPE.fullmatch(token):
        raise TokenRejected("the token is not a JWT (three base64url parts joined by dots)")
    return token


def read_header(token: str) -> dict[str, Any]:
    """The JOSE header, checked before any key is touched: alg RS256, typ at+jwt, no crit."""
    try:
        header = json.loads(base64url_decode(token.split(".", 1)[0]))
    except (ValueError, binascii.Error, RecursionError):
        raise TokenRejected("the token header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise TokenRejected("the token header is not a JSON object")
    if header.get("alg") != ALGORITHM:
        raise TokenRejected(f"the token must be signed with {ALGORITHM}")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in (ACCESS_TOKEN_TYP, "application/" + ACCESS_TOKEN_TYP):
        raise TokenRejected(f"the token is not an access token (typ must be {ACCESS_TOKEN_TYP})")
    if "crit" in header or "b64" in header:
        raise TokenRejected("the token uses header extensions this server does not support")
    return header


def pick_key(header: Mapping[str, Any], keys: Mapping[str, RSAPublicKey]) -> RSAPublicKey:
    """The verification key named by ``kid``, from the server's own key set only.

    ``jku``, ``jwk``, ``x5u`` and ``x5c`` are never read: a token must not choose the
    key that verifies it.
    """
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenRejected("the token header has no kid (a string)")
    if kid not in keys:
        raise TokenRejected("the token names a key (kid) this server does not have")
    return keys[kid]


def check_signature(token: str, key: RSAPublicKey) -> dict[str, Any]:
    """Verify the RS256 signature and return the claims. Time and claim checks are ours, below."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                     "verify_iss": False, "verify_aud": False, "verify_sub": False, "verify_jti": False},
        )
    except jwt.InvalidSignatureError:
        raise TokenRejected("the signature does not verify") from None
    except jwt.PyJWTError:
        raise TokenRejected("the token payload is not a base64url JSON object") from None


def numeric_date(claims: Mapping[str, Any], name: str) -> float:
    """A NumericDate claim: a JSON number (not a numeric string, not true/false, not NaN or huge)."""
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenRejected(f"{name} must be a JSON number (NumericDate)")
    if isinstance(value, float) and not math.isfinite(value):
        raise TokenRejected(f"{name} must be a finite number")
    if abs(value) > MAX_SAFE_INTEGER:
        raise TokenRejected(f"{name} is out of range")
    return value


def check_claims(claims: Mapping[str, Any], *, now: float, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
    """Required claims present; exp, nbf and iat against ``now``; then iss, aud, sub and jti."""
    missing = [name for name in REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise TokenRejected(f"the token lacks required claims: {', '.join(missing)}")
    exp, iat = numeric_date(claims, "exp"), numeric_date(claims, "iat")
    nbf = numeric_date(claims, "nbf") if "nbf" in claims else None
    if now >= exp + LEEWAY:
        raise TokenRejected("the token has expired")
    if nbf is not None and now < nbf - LEEWAY:
        raise TokenRejected("the token is not valid yet (nbf)")
    if iat > now + LEEWAY:
        raise TokenRejected("the token claims to be issued in the future (iat)")
    if claims["iss"] != issuer:
        raise TokenRejected("the token comes from another issuer (iss)")
    aud = claims["aud"]
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise TokenRejected("the token is meant for another audience (aud)")
    for name in ("sub", "jti"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise TokenRejected(f"{name} must be a non-empty string")


def verify_access_token(
    token: str,
    *,
    keys: Mapping[str, RSAPublicKey] | None = None,
    clock: CourseClock = course_clock,
    is_denied: Callable[[str], bool] | None = None,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
) -> dict[str, Any]:
    """Return the claims of a valid access token, or raise :class:`TokenRejected` saying why.

    ``keys`` maps kid -> public key (default: this server's demo keys; a service that
    fetched the JWKS passes ``keys_from_jwks(jwks)``). ``is_denied(jti)`` is the
    revocation check (the server passes its denylist).
    """
    check_token_shape(token)
    header = read_header(token)
    key = pick_key(header, public_keys() if keys is None else keys)
    claims = check_signature(token, key)
    check_claims(claims, now=clock.time(), issuer=issuer, audience=audience)
    if is_denied is not None and is_denied(claims["jti"]):
        raise TokenRejected("the token has been revoked")
    return claims


# ---------------------------------------------------------------------------------------
# Token pairs: login, rotation, logout
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lifetimes:
    """How long things live, in course-clock seconds."""

    access: int = ACCESS_TTL
    refresh: float = REFRESH_TTL
    family: float = FAMILY_LIFETIME


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_json(self) -> dict[str, Any]:
        """The body of a successful /login or /refresh (RFC 6749 section 5.1 names)."""
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "token_type": "Bearer", "expires_in": self.expires_in}


class RefreshRefused(Exception):
    """A refresh token was not accepted. ``outcome`` is a :mod:`helpers.token_store` outcome
    (``"unknown"``, ``"reused"``, ``"revoked"``, ``"expired"``, ``"family_expired"``)."""

    MESSAGES = {
        UNKNOWN: "unknown refresh token",
        REUSED: "this refresh token was already used, so its whole family is now revoked; log in again",
        REVOKED: "this refresh token belongs to a revoked login (logout or reuse); log in again",
        EXPIRED: "this refresh token has expired; log in again",
        FAMILY_EXPIRED: "the login this refresh token comes from is too old; log in again",
    }

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.reason = self.MESSAGES.get(outcome, "refresh token refused")
        super().__init__(self.reason)


def issue_token_pair(store: TokenStore, sub: str, *, now: float, lifetimes: Lifetimes = Lifetimes()) -> TokenPair:
    """After a successful login: start a family with its first refresh token, and an access token.

    The store gets the refresh token's SHA-256 hash, never the token itself.
    """
    refresh_token = new_refresh_token()
    claims = access_token_claims(sub, now=now, ttl=lifetimes.access)
    store.start_family(sub, hash_refresh_token(refresh_token), now=now,
                       refresh_ttl=lifetimes.refresh, family_lifetime=lifetimes.family,
                       access_jti=claims["jti"], access_expires_at=claims["exp"] + LEEWAY)
    return TokenPair(sign_access_token(claims), refresh_token, lifetimes.access)


def rotate_refresh_token(
    store: TokenStore, presented: str, *, now: float, lifetimes: Lifetimes = Lifetimes()
) -> TokenPair:
    """Spend ``presented`` and return a new pair from the same family, or raise :class:`RefreshRefused`.

    The store does the check-and-spend in one transaction, so of several concurrent
    calls with the same token one wins. Reusing a spent token revokes the family: its
    other refresh tokens stop working and its unexpired access tokens are denied by
    jti at once (they do not stay valid until their exp). No grace window.
    """
    refresh_token = new_refresh_token()
    jti, exp = new_jti(), int(now) + lifetimes.access
    rotation = store.rotate(hash_refresh_token(presented), hash_refresh_token(refresh_token), now=now,
                            refresh_ttl=lifetimes.refresh, access_jti=jti, access_expires_at=exp + LEEWAY)
    if not rotation.ok:
        raise RefreshRefused(rotation.outcome)
    assert rotation.sub is not None
    claims = access_token_claims(rotation.sub, now=now, ttl=lifetimes.access, jti=jti)
    return TokenPair(sign_access_token(claims), refresh_token, lifetimes.access)


def log_out(
    store: TokenStore,
    *,
    now: float,
    refresh_token: str | None = None,
    access_claims: Mapping[str, Any] | None = None,
) -> None:
    """End a login. Idempotent: unknown or already revoked tokens are not an error.

    The refresh token's family is revoked (which also denies its unexpired access
    tokens); the verified access token's jti is denied until its exp, and the family
    that issued it is revoked too, so either credential alone ends the whole login.
    """
    if refresh_token is not None:
        store.revoke_family_of_refresh_token(hash_refresh_token(refresh_token), now=now, reason="logout")
    if access_claims is not None:
        store.deny_jti(access_claims["jti"], access_claims["exp"] + LEEWAY, now=now, reason="logout")
        store.revoke_family_of_access_token(access_claims["jti"], now=now, reason="logout")


# ---------------------------------------------------------------------------------------
# The Flask app
# ---------------------------------------------------------------------------------------
class BadRequestBody(Exception):
    """The request body is not what the endpoint reads (400) or not JSON at all (415)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def read_json_object(*, allow_empty: bool = False) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`BadRequestBody`."""
    data = request.get_data(cache=True)  # a body over the cap is a JSON 413 here
    if not data and allow_empty:
        return {}
    if not request.is_json:
        raise BadRequestBody(415, "unsupported_media_type", "send a JSON body with Content-Type: application/json")
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise BadRequestBody(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequestBody(400, "invalid_request", "the body must be a JSON object")
    return body


def string_field(body: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """``body[name]`` as a string of at most :data:`MAX_FIELD` characters, or :class:`BadRequestBody`."""
    value = body.get(name)
    if value is None and not required:
        return None
    if value is None:
        raise BadRequestBody(400, "invalid_request", f"the field {name!r} is required")
    if not isinstance(value, str):
        raise BadRequestBody(400, "invalid_request", f"the field {name!r} must be a string")
    if len(value) > MAX_FIELD:
        raise BadRequestBody(400, "invalid_request", f"the field {name!r} is longer than {MAX_FIELD} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequestBody(400, "invalid_request", f"the field {name!r} is not valid Unicode text") from None
    return value


def bearer_challenge(rejected: TokenRejected | None) -> Response:
    """A 401 with the RFC 6750 section 3 challenge. No error attribute when no token was sent."""
    challenge = f'Bearer realm="{REALM}"'
    if rejected is None:
        response = json_error(401, "missing_token", "send an access token: Authorization: Bearer <token>")
    else:
        description = re.sub(r'[^\x20-\x7e]|["\\]', "?", rejected.reason)
        challenge += f', error="{rejected.error}", error_description="{description}"'
        response = json_error(401, rejected.error, rejected.reason)
    response.headers["WWW-Authenticate"] = challenge
    response.headers.update(NO_STORE)
    return response


def default_db_path() -> str:
    """A fresh temporary SQLite file, removed when the interpreter exits."""
    directory = tempfile.mkdtemp(prefix="course-tokens-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return os.path.join(directory, "tokens.db")


def create_app(
    db: str | None = None,
    *,
    clock: CourseClock = course_clock,
    access_ttl: int = ACCESS_TTL,
    refresh_ttl: float = REFRESH_TTL,
    family_lifetime: float = FAMILY_LIFETIME,
) -> Flask:
    """The ``tokens`` server. ``db`` is the SQLite file (default: a temporary one).

    Lifetimes are course-clock seconds. The store is ``app.extensions["token_store"]``.

    Status codes: 200/204 on success; 400 for a malformed JSON body, 415 for a body that
    is not JSON; 401 for bad credentials, for every refused access token (with
    ``WWW-Authenticate``; also for a malformed Authorization header, where RFC 6750
    recommends 400, so a client has one status to react to) and for a refused refresh
    token (``invalid_grant``; not an OAuth token endpoint, so 401 like every refused
    credential here, where RFC 6749 would say 400). Only /me sends a challenge: the
    401s of /login and /refresh refuse a password or a refresh token in the body, for
    which no HTTP authentication scheme exists.
    """
    app = Flask(__name__)
    install_json_errors(app)
    path = db if db is not None else default_db_path()
    store = TokenStore(path)
    atexit.register(store.close)
    app.extensions["token_store"] = store
    app.config["TOKENS_DB"] = path
    lifetimes = Lifetimes(access=int(access_ttl), refresh=refresh_ttl, family=family_lifetime)
    users = load_users()
    # an unknown username still costs one hash check, so its answer takes as long as a wrong password
    decoy_hash = next(iter(users.values())).password_hash
    keys = public_keys()

    @app.errorhandler(BadRequestBody)
    def _bad_body(exc: BadRequestBody) -> Response:
        return json_error(exc.status, exc.code, exc.message, NO_STORE)

    def token_response(pair: TokenPair) -> Response:
        response = jsonify(pair.as_json())
        response.headers.update(NO_STORE)  # RFC 6749 section 5.1
        return response

    def verified_claims_or_none() -> dict[str, Any] | None:
        """The bearer token's claims if it verifies, else None (for lenient logout)."""
        try:
            token = bearer_token(request.headers.get("Authorization"))
            if token is None:
                return None
            return verify_access_token(token, keys=keys, clock=clock, is_denied=store.is_jti_denied)
        except TokenRejected:
            return None

    @app.get("/")
    def index() -> Response:
        return jsonify(
            name=NAME,
            endpoints=["POST /login", "GET /me", "POST /refresh", "POST /logout", "GET /.well-known/jwks.json"],
        )

    @app.post("/login")
    def login() -> Response:
        body = read_json_object()
        username = string_field(body, "username")
        password = string_field(body, "password")
        user = users.get(username)
        password_ok = check_password_hash(user.password_hash if user else decoy_hash, password)
        if user is None or not password_ok:
            return json_error(401, "invalid_credentials", "wrong username or password", NO_STORE)
        now = clock.time()
        store.purge_expired(now=now)
        return token_response(issue_token_pair(store, user.username, now=now, lifetimes=lifetimes))

    @app.get("/me")
    def me() -> Response:
        try:
            token = bearer_token(request.headers.get("Authorization"))
            if token is None:
                return bearer_challenge(None)
            claims = verify_access_token(token, keys=keys, clock=clock, is_denied=store.is_jti_denied)
        except TokenRejected as rejected:
            return bearer_challenge(rejected)
        response = jsonify(sub=claims["sub"])
        response.headers.update(NO_STORE)
        return response

    @app.post("/refresh")
    def refresh() -> Response:
        presented = string_field(read_json_object(), "refresh_token")
        try:
            pair = rotate_refresh_token(store, presented, now=clock.time(), lifetimes=lifetimes)
        except RefreshRefused as refused:
            return json_error(401, "invalid_grant", refused.reason, NO_STORE)
        return token_response(pair)

    @app.post("/logout")
    def logout() -> Response:
        """204 whenever the request names something to end, even if it is unknown or already
        over; 400 for a malformed body or when it carries neither a refresh token nor an
        Authorization header. An access token that does not verify is ignored."""
        refresh_token = string_field(read_json_object(allow_empty=True), "refresh_token", required=False)
        if refresh_token is None and "Authorization" not in request.headers:
            return json_error(400, "invalid_request",
                              "send the refresh token in the JSON body, the access token as Bearer, or both")
        log_out(store, now=clock.time(), refresh_token=refresh_token, access_claims=verified_claims_or_none())
        return no_content()

    @app.get("/.well-known/jwks.json")
    def jwks() -> Response:
        response = jsonify(public_jwks())
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return app
