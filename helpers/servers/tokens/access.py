"""Access tokens: JWTs in the RFC 9068 profile, issued and verified.

Issue: header ``{"alg": "RS256", "kid": ..., "typ": "at+jwt"}``; claims ``iss``, ``aud``,
``sub``, ``client_id``, ``iat``, ``exp``, ``jti`` and ``sid`` (the login it belongs to).

Verify, in this order, each check before anything that relies on it: the token's shape,
the header (RS256 only, ``typ`` at+jwt, no ``crit``), the key named by ``kid`` from the
server's own key set, the signature, then the claims (all required, NumericDates JSON
numbers, ``exp``/``nbf``/``iat`` against the course clock, ``iss``, ``aud``), the key's
retirement, and finally the denylist.

The reasons are precise because the course reads them. In production they would be a
probing oracle (an attacker learns which check a forgery passed): a production server
answers ``error="invalid_token"`` tersely and logs the detail instead.
"""

from __future__ import annotations

import binascii
import json
import math
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.utils import base64url_decode

from helpers.http import MalformedAuthorization, parse_authorization
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.course_clock import clock as course_clock

from .keys import ALGORITHM, RETIRED_AT, SIGNING_KID, demo_keys, public_keys

#: ``iss`` of every access token this server issues, and the only one it accepts.
ISSUER = "urn:course:tokens"
#: ``aud``: the API the access tokens are meant for (this server's /me).
AUDIENCE = "urn:course:api"
#: ``client_id`` claim (RFC 9068 section 2.2 requires one); the course has a single client.
CLIENT_ID = "course-notebooks"
#: JOSE header ``typ`` of an access token (RFC 9068 section 2.1).
ACCESS_TOKEN_TYP = "at+jwt"
#: Claims every access token must carry (RFC 9068 section 2.2, plus the login's ``sid``).
REQUIRED_CLAIMS = ("iss", "aud", "sub", "client_id", "iat", "exp", "jti", "sid")
#: Largest NumericDate accepted: beyond 2**53 - 1 a JSON number is not portable (RFC 7493 I-JSON).
MAX_SAFE_INTEGER = 2**53 - 1
#: Access-token lifetime: 5 minutes of course-clock time.
ACCESS_TTL = 300
#: Allowed clock skew in the exp/nbf/iat checks. 0: the course clock is the only clock.
LEEWAY = 0
#: Longest token the server reads (the access tokens it issues are under 1 KB).
MAX_TOKEN_LENGTH = 8192
#: A compact JWS: three base64url parts joined by dots (an Unsecured JWT has an empty third).
JWS_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

Keys = Mapping[str, RSAPublicKey] | jwt.PyJWKSet


class TokenRejected(Exception):
    """An access token (or the Authorization header carrying it) was refused.

    ``reason`` is a short sentence saying why; ``error`` is the RFC 6750 section 3.1 code:
    ``"invalid_token"``, or ``"invalid_request"`` for a malformed Authorization header.
    """

    def __init__(self, reason: str, error: str = "invalid_token") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


# -- issue ------------------------------------------------------------------------------------
def new_jti() -> str:
    """A unique JWT ID: 128 random bits, hex."""
    return secrets.token_hex(16)


def access_token_claims(sub: str, *, now: float, sid: str | None = None, ttl: float = ACCESS_TTL,
                        jti: str | None = None, client_id: str = CLIENT_ID) -> dict[str, Any]:
    """The claims of a new access token. NumericDates are whole seconds, as JSON numbers.

    ``sid`` names the login (the refresh family); without one the token belongs to no
    login the server knows, so only its own jti can be denied.
    """
    iat = int(now)
    return {
        "iss": ISSUER,
        "sub": sub,
        "aud": AUDIENCE,
        "client_id": client_id,
        "iat": iat,
        "exp": iat + int(ttl),
        "jti": jti or new_jti(),
        "sid": sid or secrets.token_urlsafe(16),
    }


def sign_access_token(claims: Mapping[str, Any], *, kid: str = SIGNING_KID) -> str:
    """Sign ``claims`` with the demo private key ``kid``; the header names the key and the type."""
    private_key = demo_keys()[kid].private_key
    return jwt.encode(dict(claims), private_key, algorithm=ALGORITHM,
                      headers={"kid": kid, "typ": ACCESS_TOKEN_TYP})


# -- verify -------------------------------------------------------------------------------------
def bearer_token(authorization: str | None) -> str | None:
    """The token in an ``Authorization: Bearer <token>`` header (RFC 6750 section 2.1).

    None when the request has no bearer credentials (no header, or another scheme such
    as Basic); :class:`TokenRejected` with ``error="invalid_request"`` when it is malformed.
    """
    try:
        credentials = parse_authorization([] if authorization is None else [authorization])
    except MalformedAuthorization as exc:
        raise TokenRejected(str(exc), "invalid_request") from None
    if credentials is None or credentials.scheme != "bearer":
        return None
    return credentials.token


def check_token_shape(token: object) -> str:
    """A compact JWS of reasonable size, or :class:`TokenRejected`."""
    if not isinstance(token, str):
        raise TokenRejected("the token is not a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenRejected(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    if not JWS_SHAPE.fullmatch(token):
        raise TokenRejected(
            "the token is not a signed JWT (JWS): three base64url parts joined by dots")
    return token


def read_header(token: str) -> dict[str, Any]:
    """The JOSE header, checked before any key is touched: alg RS256, typ at+jwt, no crit."""
    try:
        header = json.loads(base64url_decode(token.split(".", 1)[0]))
    except (ValueError, binascii.Error, RecursionError):
        raise TokenRejected("the token header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise TokenRejected("the token header is not a JSON object")
    alg = header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        # RFC 7519 section 6: an Unsecured JWT is a JWT, but not a signed one
        raise TokenRejected("the token is not a signed JWT (JWS): its alg is none")
    if alg != ALGORITHM:
        raise TokenRejected(f"the token must be signed with {ALGORITHM}")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in (ACCESS_TOKEN_TYP,
                                                       "application/" + ACCESS_TOKEN_TYP):
        raise TokenRejected(f"the token is not an access token (typ must be {ACCESS_TOKEN_TYP})")
    if "crit" in header or "b64" in header:
        raise TokenRejected("the token uses header extensions this server does not support")
    return header


def pick_key(header: Mapping[str, Any], keys: Keys) -> RSAPublicKey:
    """The verification key named by ``kid``, from the server's own key set only.

    ``keys`` is ``{kid: public key}`` or a ``jwt.PyJWKSet`` (a fetched JWKS). ``jku``,
    ``jwk``, ``x5u`` and ``x5c`` are never read: a token must not choose the key that
    verifies it.
    """
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise TokenRejected("the token header has no kid (a string)")
    try:
        key = keys[kid]
    except KeyError:
        raise TokenRejected("the token names a key (kid) this server does not have") from None
    key = key.key if isinstance(key, jwt.PyJWK) else key
    if not isinstance(key, RSAPublicKey):
        raise TokenRejected("the key the token names is not an RSA public key")
    return key


def check_signature(token: str, key: RSAPublicKey) -> dict[str, Any]:
    """Verify the RS256 signature and return the claims. Time and claim checks are ours, below."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={
            "verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_iss": False,
            "verify_aud": False, "verify_sub": False, "verify_jti": False})
    except jwt.InvalidSignatureError:
        raise TokenRejected("the signature does not verify") from None
    except (jwt.PyJWTError, RecursionError):
        raise TokenRejected("the token payload is not a base64url JSON object") from None
    if not isinstance(claims, dict):
        raise TokenRejected("the token payload is not a JSON object")
    return claims


def numeric_date(claims: Mapping[str, Any], name: str) -> float:
    """A NumericDate claim: a JSON number, integer or not (RFC 7519 section 2).

    Not a numeric string (PyJWT alone would convert one), not true/false, not NaN or huge.
    """
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenRejected(f"{name} must be a JSON number (NumericDate)")
    if isinstance(value, float) and not math.isfinite(value):
        raise TokenRejected(f"{name} must be a finite number")
    if abs(value) > MAX_SAFE_INTEGER:
        raise TokenRejected(f"{name} is out of range")
    return value


def check_claims(claims: Mapping[str, Any], *, now: float, issuer: str = ISSUER,
                 audience: str = AUDIENCE, check_exp: bool = True) -> None:
    """Required claims present; exp (unless ``check_exp`` is false), nbf and iat against ``now``;
    then iss, aud, and string-valued sub, client_id, jti and sid."""
    missing = [name for name in REQUIRED_CLAIMS if name not in claims]
    if missing:
        raise TokenRejected(f"the token lacks required claims: {', '.join(missing)}")
    exp, iat = numeric_date(claims, "exp"), numeric_date(claims, "iat")
    nbf = numeric_date(claims, "nbf") if "nbf" in claims else None
    if check_exp and now >= exp + LEEWAY:
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
    for name in ("sub", "client_id", "jti", "sid"):
        if not isinstance(claims[name], str) or not claims[name]:
            raise TokenRejected(f"{name} must be a non-empty string")


def check_key_in_service(kid: str, iat: float, retired: Mapping[str, float]) -> None:
    """A retired key verifies only tokens issued before its retirement."""
    retired_at = retired.get(kid)
    if retired_at is not None and iat >= retired_at:
        raise TokenRejected(f"the key {kid} was retired before this token was issued (iat)")


def verify_access_token(
    token: str,
    *,
    keys: Keys | None = None,
    clock: CourseClock = course_clock,
    is_denied: Callable[[str], bool] | None = None,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    retired: Mapping[str, float] = RETIRED_AT,
    check_exp: bool = True,
) -> dict[str, Any]:
    """Return the claims of a valid access token, or raise :class:`TokenRejected` saying why.

    ``keys`` maps kid -> public key (default: this server's demo keys; a service that
    fetched the JWKS passes ``jwt.PyJWKSet.from_dict(jwks)``). ``retired`` maps a kid to
    its retirement time. ``is_denied(jti)`` is the revocation check (the server passes
    its denylist). ``check_exp=False`` is for logout, which accepts an expired token.
    """
    check_token_shape(token)
    header = read_header(token)
    key = pick_key(header, public_keys() if keys is None else keys)
    claims = check_signature(token, key)
    check_claims(claims, now=clock.time(), issuer=issuer, audience=audience, check_exp=check_exp)
    check_key_in_service(header["kid"], claims["iat"], retired)
    if is_denied is not None and is_denied(claims["jti"]):
        raise TokenRejected("the token has been revoked")
    return claims
