"""DPoP (RFC 9449): the proof JWT checked, the key's RFC 7638 thumbprint, ``ath``, replays, nonces.

A DPoP proof is a JWT the client signs, for one request, with a key pair it keeps. Its
header carries the public key (``jwk``); its claims name the request (``htm`` the method,
``htu`` the URL), when it was made (``iat``), a unique id (``jti``) and, at a resource,
the hash of the access token it accompanies (``ath``). The server binds the tokens it
issues to the key's thumbprint (``cnf.jkt``), so a stolen token is useless without the key.

:func:`verify_proof` follows the checks of RFC 9449 section 4.3 in order. It is pure: it
reads nothing but its arguments. Two pieces of state sit beside it:

* :class:`ReplayCache` remembers the proofs already used (RFC 9449 section 11.1), in
  memory under a lock, bounded in time (an entry lives as long as its proof's ``iat`` is
  inside the window) and in memory (a cap; at the cap it refuses, it never forgets early);
* :class:`NonceSource` makes and checks server nonces (RFC 9449 section 8 and 9),
  stateless: an HMAC of the course-clock time slot.

Both are per process, also where a server keeps its other state in Redis (``--redis``):
a proof lives one minute, and the course runs DPoP on one ``tokens`` process. Several
instances would need a shared replay cache and a shared nonce secret (see
:class:`ReplayCache`).

Authlib has no DPoP support, so this is the course's own code, on PyJWT and cryptography.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import json
import math
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import jwt
from jwt.algorithms import get_default_algorithms

#: The proof algorithms accepted: asymmetric only (RFC 9449 section 4.3 step 5; never
#: ``none``, never a MAC such as HS256, whose secret the server would need to know).
ALGORITHMS = ("ES256", "ES384", "PS256", "RS256", "EdDSA")
#: The key type (and curve) each algorithm needs: ``alg`` and ``jwk`` must agree.
KEY_TYPES: dict[str, tuple[str, str | None]] = {
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"),
    "PS256": ("RSA", None), "RS256": ("RSA", None), "EdDSA": ("OKP", "Ed25519"),
}
#: The JOSE ``typ`` of a proof (RFC 9449 section 4.2).
PROOF_TYP = "dpop+jwt"
#: A proof is accepted while its ``iat`` is at most this many seconds from the server's
#: course clock, either way (RFC 9449 section 11.1 leaves the window to the server).
IAT_WINDOW = 60
#: Longest proof read (an ES256 proof is about 600 characters; RSA 4096 about 2300).
MAX_PROOF_LENGTH = 4096
#: Longest ``jti``, ``htu`` and ``nonce`` read.
MAX_JTI_LENGTH, MAX_HTU_LENGTH, MAX_NONCE_LENGTH = 256, 2048, 256
#: RSA proof keys: at least 2048 bits (NIST SP 800-131A), at most 4096 (verify cost).
RSA_BITS = (2048, 4096)
#: JWK members that belong to a private or symmetric key; a proof's ``jwk`` has none.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: RFC 7638 section 3.2: the required members hashed into the thumbprint, per key type.
THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                      "OKP": ("crv", "kty", "x")}
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
#: What a client must send to be told "use a nonce" (RFC 9449 section 8).
USE_DPOP_NONCE = "use_dpop_nonce"
INVALID_DPOP_PROOF = "invalid_dpop_proof"


class ProofRejected(Exception):
    """A DPoP proof was refused. ``error`` is ``invalid_dpop_proof`` or ``use_dpop_nonce``."""

    def __init__(self, reason: str, error: str = INVALID_DPOP_PROOF) -> None:
        super().__init__(reason)
        self.reason, self.error = reason, error


@dataclass(frozen=True)
class Proof:
    """A verified proof: the key's thumbprint (``jkt``) and the claims the server keeps."""

    jkt: str
    jti: str
    htm: str
    htu: str
    iat: float
    jwk: dict[str, str]


# -- small pieces --------------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The inverse of :func:`b64url`; ``binascii.Error`` or ValueError when it is not one."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: base64url SHA-256 of the key's required members, sorted, no whitespace.

    Only the required members count (section 3.2), so ``alg``, ``kid`` or ``use`` in the
    JWK do not change the thumbprint. ValueError when a required member is missing or not
    a string.
    """
    kty = jwk.get("kty")
    if kty not in THUMBPRINT_MEMBERS:
        raise ValueError(f"unsupported key type {kty!r}")
    members = {}
    for name in THUMBPRINT_MEMBERS[kty]:
        if not isinstance(jwk.get(name), str):
            raise ValueError(f"the JWK lacks {name!r} (a string)")
        members[name] = jwk[name]
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url SHA-256 of the access token's ASCII bytes (RFC 9449 section 4.2)."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())


# RFC 3986 section 2.3: characters that never need percent-encoding
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _normalize_path(path: str) -> str:
    """Percent-encoding normalised (RFC 3986 sections 6.2.2.1-2), dot segments removed (5.2.4)."""
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    path = re.sub(r"%([0-9A-Fa-f]{2})", fix, path)
    output: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.split("/")[-1] in (".", ".."):
        output.append("")
    return "/" + "/".join(output)


def normalize_htu(uri: str) -> str:
    """The URI without query and fragment, normalised as RFC 3986 section 6 says.

    RFC 9449 section 4.3 step 9 compares ``htu`` with the request's URI "without query and
    fragment parts", after syntax-based and scheme-based normalisation (RFC 3986 sections
    6.2.2 and 6.2.3): scheme and host lower-cased, the default port dropped, an empty path
    made ``/``, percent-encodings of unreserved characters decoded, dot segments removed.
    ValueError when it is not an absolute http(s) URI.
    """
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an absolute http or https URI")
    port = parts.port  # ValueError for a port that is not a number in range
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{parts.netloc.rsplit('@', 1)[0]}@{netloc}"  # kept, so it cannot match
    return f"{scheme}://{netloc}{_normalize_path(parts.path or '/')}"


def request_urls(environ: Mapping[str, Any], path: str) -> set[str]:
    """The normalised URLs under which this server received the request, for ``htu``.

    Built from the socket the server listens on (``SERVER_NAME``/``SERVER_PORT``, which
    werkzeug's server sets from its bound address), never from the client's ``Host``
    header: a proof made for another server's URL must not pass because whoever relays it
    also sends that server's name as Host. The server binds the loopback address, which
    the names ``127.0.0.1`` and ``localhost`` both reach, so both are accepted.
    """
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    name, port = str(environ.get("SERVER_NAME", "")), str(environ.get("SERVER_PORT", ""))
    names = {"127.0.0.1", "localhost"} if name in ("127.0.0.1", "localhost") else {name}
    quoted = quote(unquote(path), safe="/!$&'()*+,;=:@")
    return {normalize_htu(f"{scheme}://{host}:{port}{quoted}") for host in names}


def _number(claims: Mapping[str, Any], name: str) -> float:
    """A NumericDate: a JSON number, not a string or a boolean, finite and below 2**53."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProofRejected(f"the proof's {name} must be a JSON number (NumericDate)")
    if not (isinstance(value, int) or math.isfinite(value)) or abs(value) > 2**53 - 1:
        raise ProofRejected(f"the proof's {name} is out of range")
    return float(value)


def _string(claims: Mapping[str, Any], name: str, max_length: int) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise ProofRejected(f"the proof lacks {name} (a non-empty string)")
    if len(value) > max_length:
        raise ProofRejected(f"the proof's {name} is longer than {max_length} characters")
    return value


# -- the proof ---------------------------------------------------------------------------------
def read_proof_header(proof: str) -> dict[str, Any]:
    """The proof's JOSE header, checked before any signature work (RFC 9449 section 4.3, 2-7):
    ``typ`` dpop+jwt, an asymmetric ``alg`` this server accepts, a public ``jwk`` that fits
    the ``alg``, no ``crit``."""
    try:
        header = json.loads(b64url_decode(proof.split(".", 1)[0]).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise ProofRejected("the proof header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise ProofRejected("the proof header is not a JSON object")
    typ = header.get("typ")
    # RFC 7515 section 4.1.9: typ is a media type, so case-insensitive, "application/" optional
    if not isinstance(typ, str) or typ.lower() not in (PROOF_TYP, "application/" + PROOF_TYP):
        raise ProofRejected(f"the proof's typ must be {PROOF_TYP}")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise ProofRejected(f"the proof's alg must be one of {' '.join(ALGORITHMS)}"
                            " (asymmetric; never none or HS*)")
    if "crit" in header or "b64" in header:
        raise ProofRejected("the proof uses header extensions this server does not support")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise ProofRejected("the proof header lacks jwk (the public key, a JSON object)")
    if PRIVATE_MEMBERS & set(jwk):
        raise ProofRejected("the proof's jwk holds a private or symmetric key; send the public"
                            " key only")
    kty, crv = KEY_TYPES[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise ProofRejected(f"alg {alg} needs a {kty} key" + (f" on {crv}" if crv else ""))
    return header


_P = 2**255 - 19  # Ed25519's field (RFC 8032 section 5.1)
_D = -121665 * pow(121666, -1, _P) % _P


def ed25519_weak(raw: bytes) -> bool:
    """True if the 32-byte Ed25519 public key is not a point, or one of small order.

    A key of small order (the identity, or a point of order 2, 4 or 8) lets anyone make a
    "signature" that verifies, without any private key; OpenSSL's Ed25519 check accepts
    such keys. The point is decoded (RFC 8032 section 5.1.3) and multiplied by the
    cofactor 8 with the twisted Edwards addition law: small order means 8P is the identity.
    """
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    if len(raw) != 32 or y >= _P:
        return True
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    if v * x * x % _P == (-u) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if v * x * x % _P != u:
        return True  # no square root: not a point on the curve

    def add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        t = _D * a[0] * b[0] * a[1] * b[1] % _P
        return ((a[0] * b[1] + a[1] * b[0]) * pow(1 + t, -1, _P) % _P,
                (a[1] * b[1] + a[0] * b[0]) * pow(1 - t, -1, _P) % _P)

    point = (x, y)
    for _ in range(3):
        point = add(point, point)
    return point == (0, 1)


def public_key(header: Mapping[str, Any]) -> Any:
    """The ``jwk`` header as a cryptography public key (RSA keys within :data:`RSA_BITS`)."""
    alg, jwk = header["alg"], header["jwk"]
    try:
        key = get_default_algorithms()[alg].from_jwk(dict(jwk))
    except (jwt.PyJWTError, ValueError, TypeError, KeyError, binascii.Error, OverflowError):
        raise ProofRejected("the proof's jwk is not a valid public key") from None
    if jwk["kty"] == "OKP" and ed25519_weak(b64url_decode(jwk["x"])):
        raise ProofRejected("the proof's jwk is not a usable Ed25519 key (a point of small order)")
    bits = getattr(key, "key_size", None)
    if jwk["kty"] == "RSA" and (bits is None or not RSA_BITS[0] <= bits <= RSA_BITS[1]):
        raise ProofRejected(f"RSA proof keys must have {RSA_BITS[0]} to {RSA_BITS[1]} bits")
    return key


def verify_proof(
    values: list[str],
    *,
    method: str,
    urls: set[str],
    now: float,
    access_token: str | None = None,
    nonces: NonceSource | None = None,
) -> Proof:
    """Check the request's ``DPoP`` header values as RFC 9449 section 4.3 says; the proof.

    ``values`` is ``request.headers.getlist("DPoP")``; ``urls`` the normalised URLs the
    request reached (:func:`request_urls`); ``access_token`` the token it carries at a
    resource (then ``ath`` is required and checked); ``nonces`` the server's nonce source
    when it requires nonces. The ``jti`` replay check is the caller's, once everything
    else has passed (:class:`ReplayCache`). Raises :class:`ProofRejected`.
    """
    if not values:
        raise ProofRejected("the request has no DPoP proof header")
    if len(values) > 1:
        raise ProofRejected("the request has more than one DPoP header")
    proof = values[0].strip(" \t")
    if "," in proof:  # repeated fields arrive joined by commas (RFC 9110 section 5.3)
        raise ProofRejected("the request has more than one DPoP proof (several DPoP headers,"
                            " or a list)")
    if len(proof) > MAX_PROOF_LENGTH:
        raise ProofRejected(f"the proof is longer than {MAX_PROOF_LENGTH} characters")
    if not COMPACT_JWS.fullmatch(proof):
        raise ProofRejected("the proof is not a signed JWT: three base64url parts joined by dots")
    header = read_proof_header(proof)
    key = public_key(header)
    try:
        claims = jwt.decode(proof, key, algorithms=[header["alg"]],
                            options={"verify_signature": True, "verify_exp": False,
                                     "verify_nbf": False, "verify_iat": False,
                                     "verify_aud": False, "verify_iss": False,
                                     "verify_sub": False, "verify_jti": False})
    except jwt.InvalidSignatureError:
        raise ProofRejected("the proof's signature does not verify with its jwk") from None
    except (jwt.PyJWTError, ValueError, RecursionError):
        raise ProofRejected("the proof's payload or signature is not base64url (or the payload"
                            " not a JSON object)") from None
    if not isinstance(claims, dict):
        raise ProofRejected("the proof payload is not a JSON object")
    jti = _string(claims, "jti", MAX_JTI_LENGTH)
    htm = _string(claims, "htm", 16)
    htu = _string(claims, "htu", MAX_HTU_LENGTH)
    iat = _number(claims, "iat")
    if htm != method:
        raise ProofRejected(f"the proof is for another method (htm is not {method})")
    try:
        normalized = normalize_htu(htu)
    except ValueError:
        raise ProofRejected("the proof's htu is not an absolute http(s) URI") from None
    if normalized not in urls:
        raise ProofRejected("the proof is for another URL (htu)")
    if nonces is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonces.is_valid(nonce, now=now):
            raise ProofRejected("this server requires a fresh nonce in the DPoP proof",
                                USE_DPOP_NONCE)
    if abs(iat - now) > IAT_WINDOW:
        raise ProofRejected(f"the proof's iat is more than {IAT_WINDOW} s from the server's time")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
                ath.encode("utf-8", "replace"), access_token_hash(access_token).encode()):
            raise ProofRejected("the proof's ath is not the hash of this access token")
    jwk = {name: header["jwk"][name] for name in THUMBPRINT_MEMBERS[header["jwk"]["kty"]]}
    return Proof(jwk_thumbprint(jwk), jti, htm, htu, iat, jwk)


# -- replays ---------------------------------------------------------------------------------------
class ReplayCacheFull(Exception):
    """The replay cache is at its cap: the proof is refused rather than an old entry forgotten."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many DPoP proofs in the last minute; retry later")
        self.retry_after = max(1, math.ceil(retry_after))


class ReplayCache:
    """The ``jti`` of every proof used, until its ``iat`` leaves the window (RFC 9449 section 11.1).

    * bounded in time: an entry expires at ``iat + IAT_WINDOW``, when the proof would be
      refused as stale anyway; expired entries are dropped on each :meth:`claim`;
    * bounded in memory: at most ``cap`` entries, each a 32-byte digest and a float (about
      200 bytes with the dict and heap slots, measured with tracemalloc: 100 000 entries,
      the default cap, are about 20 MB). At the cap, with nothing expired, :meth:`claim`
      raises :class:`ReplayCacheFull`: the server answers 503 rather than forget a live
      entry, which would let that proof be replayed (fail closed);
    * atomic: :meth:`claim` checks and records under one lock, so of N concurrent uses of
      one proof exactly one gets True.

    In memory, per process, on purpose: an entry lives one minute, so a database write per
    request would buy nothing the lock does not already give within the one server process.
    The price: a restart forgets the cache, so a proof made in the minute before a restart
    could be used once more after it (server nonces close that too).
    Several instances behind a balancer would each keep their own cache, so a proof could
    be replayed once per instance inside the window; they would share one (Redis
    ``SET key 1 NX EX 60``) or require nonces (RFC 9449 section 8).
    """

    def __init__(self, cap: int = 100_000, window: float = IAT_WINDOW) -> None:
        self.cap, self.window = cap, window
        self._expiry: dict[bytes, float] = {}
        self._heap: list[tuple[float, bytes]] = []
        self._lock = threading.Lock()

    @staticmethod
    def key(proof: Proof) -> bytes:
        """The entry: a digest of the key, the URL and the jti (a jti is unique per key and URL)."""
        return hashlib.sha256(json.dumps([proof.jkt, normalize_htu(proof.htu), proof.jti])
                              .encode("utf-8", "surrogatepass")).digest()

    def claim(self, proof: Proof, *, now: float) -> bool:
        """Record ``proof``; True the first time, False for a replay. :class:`ReplayCacheFull`."""
        key, expires = self.key(proof), proof.iat + self.window
        with self._lock:
            while self._heap and self._heap[0][0] < now:
                _, old = heapq.heappop(self._heap)
                if self._expiry.get(old, math.inf) < now:
                    del self._expiry[old]
            if key in self._expiry:
                return False
            if len(self._expiry) >= self.cap:
                raise ReplayCacheFull(self._heap[0][0] - now if self._heap else self.window)
            self._expiry[key] = expires
            heapq.heappush(self._heap, (expires, key))
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)


# -- nonces ----------------------------------------------------------------------------------------
class NonceSource:
    """Server nonces (RFC 9449 section 8): an HMAC of the course-clock time slot.

    Stateless: the nonce is base64url(slot number, 8 bytes || HMAC-SHA256(secret, slot)
    cut to 16 bytes), where the slot counts ``lifetime``-second steps of the course clock;
    a nonce of the current or the previous slot is accepted, so one lives between
    ``lifetime`` and twice that. A client that sends an old one, or none, is told
    ``use_dpop_nonce`` with the current one in a ``DPoP-Nonce`` header. The secret is
    per process: another instance would not accept this one's nonces.
    """

    def __init__(self, lifetime: int = 300, secret: bytes | None = None) -> None:
        self.lifetime = lifetime
        self._secret = secret or secrets.token_bytes(32)

    def _for_slot(self, slot: int) -> str:
        counter = slot.to_bytes(8, "big")
        mac = hmac.new(self._secret, counter, hashlib.sha256).digest()[:16]
        return b64url(counter + mac)

    def current(self, *, now: float) -> str:
        """The nonce to hand out now."""
        return self._for_slot(int(now // self.lifetime))

    def is_valid(self, nonce: str, *, now: float) -> bool:
        """True for the nonce of this slot or the previous one."""
        if len(nonce) > MAX_NONCE_LENGTH:
            return False
        slot = int(now // self.lifetime)
        return any(hmac.compare_digest(nonce.encode("utf-8", "replace"),
                                       self._for_slot(s).encode()) for s in (slot, slot - 1))
