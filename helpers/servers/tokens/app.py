"""The ``tokens`` server's routes: each reads the request, calls one step, writes the answer.

Status codes:

* ``/login``, ``/refresh`` and ``/logout`` answer errors as a token endpoint does
  (RFC 6749 section 5.2): 400
  ``{"error": "invalid_request" | "invalid_grant", "error_description"}``
  (413 for a body over 64 KiB); 401 ``invalid_client`` with a ``Basic`` challenge only
  when a client tries HTTP Basic client authentication (this server has one public
  client and no client authentication, so every such try fails);
* ``/me`` follows RFC 6750 section 3.1: no credentials or another scheme -> 401 with
  challenges that carry no error code, ``Bearer realm="tokens", DPoP algs="..."``; a
  malformed Bearer header -> 400
  ``invalid_request``; a bad, expired or revoked token -> 401 ``error="invalid_token"``;
* ``/logout`` ends a login named by either token, or answers the error for what it
  was given: nothing -> 400 ``invalid_request``; a bad Bearer token -> 401
  ``invalid_token``; an unknown, spent or revoked refresh token -> 400 ``invalid_grant``;
* ``/logout-everywhere`` (a valid access token as Bearer) ends every login of the user
  and sets the user's cut-off (:mod:`.cutoff`): 204; errors as at ``/me``. When the
  cut-off store (Redis with ``--redis``) cannot be reached, every route that reads it
  answers 503 ``store_unavailable`` (fail closed).

DPoP (RFC 9449, :mod:`.dpop`): a ``DPoP`` proof at ``/login`` or ``/refresh`` binds the
pair to the proof's key (``token_type: DPoP``, ``cnf.jkt``); a bad proof there is 400
``invalid_dpop_proof`` (section 5), a bound refresh token without its key's proof 400
``invalid_grant``. ``/me`` and ``/logout`` take ``Authorization: DPoP <token>`` with a
proof; proof problems are 401 ``WWW-Authenticate: DPoP error="invalid_dpop_proof"``,
token problems (and a bound token sent as Bearer) ``error="invalid_token"``, each with
``algs``. With ``dpop_nonce`` (``--dpop-nonce``) every proof must carry the server's
nonce: without it, ``use_dpop_nonce`` and a ``DPoP-Nonce`` header (sections 8 and 9).
A request with no credentials is told both schemes, ``Bearer realm="tokens", DPoP
algs="..."`` (RFC 9449 section 7.2).

Every 401 carries a ``WWW-Authenticate`` challenge (RFC 9110 section 15.5.2).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from helpers.http import (
    NO_STORE,
    BadBody,
    MalformedAuthorization,
    challenge,
    challenges,
    install_json_errors,
    json_error,
    no_content,
    oauth_error,
    parse_authorization,
    read_json_object,
    string_field,
)
from helpers.notebook.course_clock import CourseClock
from helpers.notebook.course_clock import clock as course_clock
from helpers.stores.cutoffs import CutoffStore, open_cutoffs
from helpers.stores.sessions import StoreUnavailable
from helpers.stores.tokens import UNKNOWN, TokenStore
from helpers.users import check_credentials, load_users

from .access import ACCESS_TTL, LEEWAY, TokenRejected, verify_access_token
from .cutoff import log_out_everywhere, refuse_refresh_if_cut_off
from .dpop import (
    ALGORITHMS,
    USE_DPOP_NONCE,
    NonceSource,
    Proof,
    ProofRejected,
    ReplayCache,
    ReplayCacheFull,
    request_urls,
    verify_proof,
)
from .keys import public_jwks, public_keys
from .refresh import (
    FAMILY_LIFETIME,
    REFRESH_TTL,
    Lifetimes,
    RefreshRefused,
    TokenPair,
    issue_token_pair,
    log_out_with_access_token,
    log_out_with_refresh_token,
    rotate_refresh_token,
)

NAME = "tokens"
#: ``realm`` in the WWW-Authenticate challenges.
REALM = "tokens"
#: ``algs`` in every DPoP challenge: the proof algorithms accepted (RFC 9449 section 7.1).
DPOP_ALGS = " ".join(ALGORITHMS)
#: At most this many DPoP proofs are remembered at once (see :class:`.dpop.ReplayCache`).
REPLAY_CAP = 100_000


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """``Bearer realm="tokens"``, with the RFC 6750 error attributes when a token was refused."""
    return challenge("Bearer", realm=REALM, error=error, error_description=description)


def dpop_challenge(error: str | None = None, description: str | None = None) -> str:
    """``DPoP error="...", error_description="...", algs="ES256 ..."`` (RFC 9449 section 7.1).

    Written by :func:`helpers.http.challenge`: werkzeug's ``WWWAuthenticate`` would spell
    the scheme ``Dpop``."""
    return challenge("DPoP", error=error, error_description=description, algs=DPOP_ALGS)


def token_rejected(rejected: TokenRejected) -> Response:
    """RFC 6750 section 3.1: 400 for a malformed request, 401 for a refused token; the
    challenge in the scheme the token came (or is bound) in."""
    status = 400 if rejected.error == "invalid_request" else 401
    write = dpop_challenge if rejected.scheme.lower() == "dpop" else bearer_challenge
    return oauth_error(status, rejected.error, rejected.reason,
                       {"WWW-Authenticate": write(rejected.error, rejected.reason)})


def no_credentials() -> Response:
    """RFC 6750 section 3.1: a request with no credentials gets challenges with no error code.

    Both schemes the resource takes are listed, ``Bearer realm="tokens", DPoP algs="..."``
    (RFC 9449 section 7.2, whose Figure 16 shows this; RFC 9110 section 11.6.1 allows
    several challenges in one field): a client that has sent nothing yet learns that DPoP
    is accepted and with which algorithms.
    """
    header = challenges(bearer_challenge(), challenge("DPoP", algs=DPOP_ALGS))
    message = ("send an access token: Authorization: Bearer <token>, or"
               " Authorization: DPoP <token> with its DPoP proof")
    return oauth_error(401, "missing_token", message, {"WWW-Authenticate": header})


def at_token_endpoint() -> bool:
    """Whether the request is answered as a token endpoint (400s) rather than a resource (401s):
    /login, /refresh, and a /logout that carries no access token."""
    return request.endpoint in ("login", "refresh") or (
        request.endpoint == "logout" and "Authorization" not in request.headers)


def temporary_db() -> tuple[str, str]:
    """A fresh temporary directory and the SQLite path in it: ``(directory, path)``."""
    directory = tempfile.mkdtemp(prefix="course-tokens-")
    return directory, str(Path(directory) / "tokens.db")


def _release(store: TokenStore, directory: str | None, cutoffs: Any = None) -> None:
    """Close the stores; remove the temporary directory if there was one."""
    store.close()
    if cutoffs is not None:
        cutoffs.close()
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)


def create_app(
    db: str | None = None,
    *,
    clock: CourseClock = course_clock,
    access_ttl: int = ACCESS_TTL,
    refresh_ttl: float = REFRESH_TTL,
    family_lifetime: float = FAMILY_LIFETIME,
    dpop_nonce: bool = False,
    dpop_replay_cap: int = REPLAY_CAP,
    redis: str | None = None,
    cutoffs: CutoffStore | None = None,
) -> Flask:
    """The ``tokens`` server. ``db`` is the SQLite file (default: a temporary one).

    ``dpop_nonce`` makes every DPoP proof carry a server nonce (RFC 9449 sections 8-9);
    ``dpop_replay_cap`` bounds the DPoP replay cache (``app.extensions["dpop_replays"]``).
    The users' cut-offs (log out everywhere) live in ``cutoffs`` if given (it stays the
    caller's), else in the Redis at ``redis`` (shared by every instance), else in ``db``.

    Lifetimes are course-clock seconds. The store is ``app.extensions["token_store"]``.
    The store is closed, and a temporary database removed, when the app is garbage
    collected or the interpreter exits (``weakref.finalize``: one hook per app, not a
    new ``atexit`` handler per call), so re-running a notebook cell leaks nothing.
    """
    app = Flask(__name__)
    install_json_errors(app)
    directory, path = temporary_db() if db is None else (None, db)
    store = TokenStore(path)
    own_cutoffs = None if cutoffs is not None else open_cutoffs(path, redis)
    cutoffs = cutoffs if cutoffs is not None else own_cutoffs
    weakref.finalize(app, _release, store, directory, own_cutoffs)
    app.extensions["token_store"] = store
    app.extensions["token_cutoffs"] = cutoffs
    app.config["TOKENS_DB"] = path
    lifetimes = Lifetimes(access=int(access_ttl), refresh=refresh_ttl, family=family_lifetime)
    users = load_users()
    keys = public_keys()
    replays = ReplayCache(cap=dpop_replay_cap)
    nonces = NonceSource() if dpop_nonce else None
    app.extensions["dpop_replays"] = replays

    def dpop_proof(access_token: str | None = None, *, required: bool = False) -> Proof | None:
        """The request's verified DPoP proof; None when it sent none and none is required."""
        values = request.headers.getlist("DPoP")
        if not values and not required:
            return None
        return verify_proof(values, method=request.method,
                            urls=request_urls(request.environ, request.path),
                            now=clock.time(), access_token=access_token, nonces=nonces)

    def spend(proof: Proof) -> None:
        """Use the proof up (its jti), last of all checks, so only a request that would
        otherwise succeed fills the replay cache."""
        if not replays.claim(proof, now=clock.time()):
            raise ProofRejected("this DPoP proof was used before (replayed jti)")

    def access_claims(*, for_logout: bool = False) -> tuple[dict[str, Any], Proof | None] | None:
        """The verified claims of the request's access token and its DPoP proof (None for a
        Bearer token); None if the request sent no Bearer or DPoP token.

        The one place that reads the Authorization scheme and verifies the token.
        Logout accepts an expired or denied token (it checks signature, iss, aud and
        typ, and the store says whether the login is still live).
        """
        try:
            credentials = parse_authorization(request.headers.getlist("Authorization"))
        except MalformedAuthorization as exc:
            scheme = "DPoP" if exc.scheme == "dpop" else "Bearer"
            raise TokenRejected(str(exc), "invalid_request", scheme) from None
        if credentials is None or credentials.token is None:
            return None  # the URI query method (RFC 6750 section 2.3) is not supported here
        if "access_token" in request.args:
            raise TokenRejected("send the access token one way only, not also in the URI",
                                "invalid_request")  # RFC 6750 section 3.1

        def verify(token: str) -> dict[str, Any]:
            return verify_access_token(
                token, keys=keys, clock=clock,
                is_denied=None if for_logout else store.is_jti_denied, check_exp=not for_logout,
                cutoff_of=None if for_logout else cutoffs.cutoff_of)

        if credentials.scheme == "bearer":
            claims = verify(credentials.token)
            if "cnf" in claims:  # RFC 9449 section 7.2: never accept a bound token as Bearer
                raise TokenRejected("this token is bound to a DPoP key (cnf.jkt): send it as"
                                    " Authorization: DPoP with a DPoP proof", scheme="DPoP")
            return claims, None
        proof = dpop_proof(credentials.token, required=True)
        try:
            claims = verify(credentials.token)
        except TokenRejected as rejected:
            rejected.scheme = "DPoP"
            raise
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if not isinstance(jkt, str):
            raise TokenRejected("this token is not bound to a key (no cnf.jkt): send it as"
                                " Bearer", scheme="DPoP")
        if proof is None or jkt != proof.jkt:
            raise TokenRejected("the DPoP proof is signed by another key than the one this"
                                " token is bound to (cnf.jkt)", scheme="DPoP")
        spend(proof)
        return claims, proof

    def token_response(pair: TokenPair) -> Response:
        response = jsonify(pair.as_json())
        response.headers.update(NO_STORE)  # RFC 6749 section 5.1
        return response

    @app.before_request
    def purge() -> None:
        store.purge_if_due(now=clock.time())

    @app.before_request
    def no_client_authentication() -> Response | None:
        """RFC 6749 section 5.2: a client that authenticates (HTTP Basic, section 2.3.1) and
        fails gets 401 invalid_client with a challenge; this server has no confidential
        client, so every such attempt fails."""
        if request.endpoint not in ("login", "refresh"):
            return None
        try:
            credentials = parse_authorization(request.headers.getlist("Authorization"))
        except MalformedAuthorization:
            credentials = None
        if credentials is not None and credentials.scheme == "basic":
            return oauth_error(401, "invalid_client",
                               "this server has no client authentication: send no Basic header",
                               {"WWW-Authenticate": challenge("Basic", realm=REALM)})
        return None

    @app.errorhandler(BadBody)
    def bad_body(exc: BadBody) -> Response:
        if request.endpoint in ("login", "refresh", "logout"):
            return oauth_error(exc.oauth_status, "invalid_request", exc.message)
        return json_error(exc.status, exc.code, exc.message)

    app.register_error_handler(TokenRejected, token_rejected)

    @app.errorhandler(ProofRejected)
    def proof_rejected(rejected: ProofRejected) -> Response:
        headers = {}
        if rejected.error == USE_DPOP_NONCE and nonces is not None:
            headers["DPoP-Nonce"] = nonces.current(now=clock.time())
        if at_token_endpoint():  # RFC 9449 sections 5 and 8: a 400 token-endpoint error
            return oauth_error(400, rejected.error, rejected.reason, headers)
        headers["WWW-Authenticate"] = dpop_challenge(rejected.error, rejected.reason)
        return oauth_error(401, rejected.error, rejected.reason, headers)

    @app.errorhandler(ReplayCacheFull)
    def replay_cache_full(full: ReplayCacheFull) -> Response:
        # fail closed: refusing a proof is safe, forgetting a used one would allow its replay
        return oauth_error(503, "temporarily_unavailable", str(full),
                           {"Retry-After": str(full.retry_after)})

    @app.after_request
    def fresh_nonce(response: Response) -> Response:
        # RFC 9449 section 8.2: the server may hand the next nonce on any response
        if nonces is not None and "DPoP" in request.headers:
            response.headers.setdefault("DPoP-Nonce", nonces.current(now=clock.time()))
        return response

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable) -> Response:
        app.logger.warning("cut-off store unavailable: %s", exc)
        return oauth_error(503, "store_unavailable", "the token state cannot be checked"
                           " now; try again shortly", {"Retry-After": "1"})

    @app.errorhandler(RefreshRefused)
    def refresh_refused(refused: RefreshRefused) -> Response:
        return oauth_error(400, refused.error, refused.reason)

    @app.get("/")
    def index() -> Response:
        return jsonify(name=NAME, endpoints=["POST /login", "GET /me", "POST /refresh",
                                             "POST /logout", "POST /logout-everywhere",
                                             "GET /.well-known/jwks.json"])

    @app.post("/login")
    def login() -> Response:
        body = read_json_object()
        username, password = string_field(body, "username"), string_field(body, "password")
        proof = dpop_proof()
        user = check_credentials(users, username, password)
        if user is None:
            return oauth_error(400, "invalid_grant", "wrong username or password")
        if proof is not None:
            spend(proof)
        return token_response(issue_token_pair(store, user.username, now=clock.time(),
                                               lifetimes=lifetimes,
                                               jkt=None if proof is None else proof.jkt))

    @app.get("/me")
    def me() -> Response:
        authenticated = access_claims()
        if authenticated is None:
            return no_credentials()
        claims, _ = authenticated
        response = jsonify(sub=claims["sub"])
        response.headers.update(NO_STORE)
        return response

    @app.post("/refresh")
    def refresh() -> Response:
        presented = string_field(read_json_object(), "refresh_token")
        refuse_refresh_if_cut_off(store, cutoffs, presented, now=clock.time())
        proof = dpop_proof()
        if proof is not None:
            if not store.is_known_refresh_token(presented):
                raise RefreshRefused(UNKNOWN)
            spend(proof)
        return token_response(rotate_refresh_token(store, presented, now=clock.time(),
                                                   lifetimes=lifetimes,
                                                   jkt=None if proof is None else proof.jkt))

    @app.post("/logout")
    def logout() -> Response:
        """204 when a login was ended; otherwise the error for what the request carried."""
        refresh_token = string_field(read_json_object(allow_empty=True), "refresh_token",
                                     required=False)
        # checked first: a bad one ends nothing
        claims, token_proof = access_claims(for_logout=True) or (None, None)
        proof = token_proof
        if refresh_token is None and claims is None:
            return oauth_error(400, "invalid_request", "send the refresh token in the JSON body,"
                               " the access token as Bearer, or both")
        if refresh_token is not None and proof is None:
            proof = dpop_proof()  # a DPoP-bound login logs out with a proof of its key
            if proof is not None:
                if not store.is_known_refresh_token(refresh_token):
                    raise RefreshRefused(UNKNOWN)
                spend(proof)
        now, ended = clock.time(), None
        if refresh_token is not None:
            ended = log_out_with_refresh_token(store, refresh_token, now=now,
                                               jkt=None if proof is None else proof.jkt)
        if claims is not None and claims["sid"] != ended:
            try:
                log_out_with_access_token(store, claims, now=now)
            except TokenRejected as rejected:
                if token_proof is not None:  # the token came as DPoP: so does the challenge
                    rejected.scheme = "DPoP"
                raise
        return no_content()

    @app.post("/logout-everywhere")
    def logout_everywhere() -> Response:
        """204: every login of the token's user ended, every earlier token cut off."""
        authenticated = access_claims()
        if authenticated is None:
            return no_credentials()
        claims, _ = authenticated  # a DPoP-bound token's proof was checked and spent
        log_out_everywhere(store, cutoffs, claims, now=clock.time(),
                           keep_for=max(lifetimes.family, lifetimes.access + LEEWAY))
        return no_content()

    @app.get("/.well-known/jwks.json")
    def jwks() -> Response:
        response = jsonify(public_jwks(now=clock.time(), max_token_lifetime=lifetimes.access))
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return app
