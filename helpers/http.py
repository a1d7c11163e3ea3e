"""The HTTP contract of every demo server, written once.

* :func:`json_error`: the one error body. Plain API endpoints answer
  ``{"error": "<short_code>", "message": "<sentence>"}``; endpoints whose RFC sets the
  error format (RFC 6749 section 5.2 token endpoints, RFC 6750 resource errors) pass
  ``field=ERROR_DESCRIPTION`` and answer ``{"error", "error_description"}``.
* :func:`install_json_errors`: every HTTP error of an app as that JSON body, bodies capped
  at :data:`MAX_BODY_BYTES`, and a genuine bug a logged JSON 500.
* :func:`read_json_object` and :func:`string_field`: the one request-body reader
  (size cap, content type, JSON syntax, duplicate member names, an object at the top).
* :func:`parse_authorization` and :func:`challenge`: the ``Authorization`` header read
  and a ``WWW-Authenticate`` challenge written, for RFC 6750's 400/401 split.
* :func:`guard_cookie_size`: the one cookie-size guard (431 for a huge Cookie header).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge
from werkzeug.http import quote_header_value

#: Largest request body a demo server reads. Anything bigger gets a JSON 413.
MAX_BODY_BYTES = 64 * 1024
#: Largest Cookie header a server reads; bigger gets 431 (browsers keep a cookie <= 4096 bytes).
MAX_COOKIE_HEADER = 8192
#: Longest string field (username, password, token) a JSON endpoint reads.
MAX_FIELD = 1024
#: The two names the error sentence goes under.
MESSAGE = "message"
ERROR_DESCRIPTION = "error_description"
#: RFC 6749 section 5.1: token responses (and their errors) must not be cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def error_code(name: str) -> str:
    """``"Request Entity Too Large"`` -> ``"request_entity_too_large"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def json_error(
    status: int,
    error: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    field: str = MESSAGE,
) -> Response:
    """The contract's error response: ``{"error": error, field: message}`` with ``status``."""
    response = jsonify({"error": error, field: message})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def no_content() -> Response:
    """A 204 with no body and so no Content-Type (Flask would otherwise label it text/html)."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def install_json_errors(app: Flask, *, max_body: int = MAX_BODY_BYTES) -> Flask:
    """Make every error of ``app`` a JSON body and cap request bodies at ``max_body`` bytes.

    :class:`BadBody` (from :func:`read_json_object`) becomes ``{"error", "message"}``; an
    app whose endpoints speak an RFC's format registers its own handler for it.
    """
    app.config["MAX_CONTENT_LENGTH"] = max_body
    app.config["MAX_FORM_MEMORY_SIZE"] = max_body

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        response = json_error(exc.code or 500, error_code(exc.name), exc.description or exc.name)
        # keep headers the error carries, such as Allow on a 405
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                response.headers[key] = value
        return response

    @app.errorhandler(BadBody)
    def _bad_body(exc: BadBody) -> Response:
        return json_error(exc.status, exc.code, exc.message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return json_error(500, "internal_error", InternalServerError.description)

    return app


# -- the request body ----------------------------------------------------------------------
class BadBody(Exception):
    """The request body is not what the endpoint reads.

    ``status`` and ``code`` are for a plain API endpoint (400/413/415 and a short code);
    an RFC 6749 endpoint answers every one of them as ``invalid_request`` (see
    :attr:`oauth_status`).
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    @property
    def oauth_status(self) -> int:
        """RFC 6749 section 5.2 answers 400 "unless specified otherwise"; 413 stays 413."""
        return 413 if self.status == 413 else 400


def _no_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 section 4: names SHOULD be unique, and parsers disagree on which one wins;
    # a repeated name is refused rather than guessed at (RFC 7493 I-JSON section 2.3).
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise BadBody(400, "invalid_json", "the JSON object repeats a member name")
    return dict(pairs)


def parse_json(data: bytes) -> Any:
    """Parse a JSON body strictly: UTF-8, no repeated names, no NaN/Infinity, bounded depth."""
    try:
        text = data.decode("utf-8")
        return json.loads(text, object_pairs_hook=_no_duplicate_members,
                          parse_constant=_refuse_constant)
    except BadBody:
        raise
    except (ValueError, RecursionError):
        raise BadBody(400, "invalid_json", "the body is not valid JSON") from None


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity; JSON (RFC 8259 section 6) has neither
    raise ValueError(f"{name} is not JSON")


def read_json_object(*, allow_empty: bool = False,
                     accepted: str = "a JSON body with Content-Type: application/json",
                     ) -> dict[str, Any]:
    """The request body as a JSON object, or :class:`BadBody` saying what is wrong with it.

    ``accepted`` names, in the 415 answer, what the endpoint does read.
    """
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise BadBody(413, "request_entity_too_large",
                      f"the body is larger than {MAX_BODY_BYTES // 1024} KiB") from None
    if not data and allow_empty:
        return {}
    if not request.is_json:
        raise BadBody(415, "unsupported_media_type", f"send {accepted}")
    body = parse_json(data)
    if not isinstance(body, dict):
        raise BadBody(400, "invalid_request", "the body must be a JSON object")
    return body


def string_field(body: Mapping[str, Any], name: str, *, required: bool = True,
                 max_length: int = MAX_FIELD) -> str | None:
    """``body[name]`` as a non-empty string of at most ``max_length`` characters.

    :class:`BadBody` when it is not one.

    A missing field is None when ``required`` is false.
    """
    value = body.get(name)
    if value is None and not required:
        return None
    if value is None or value == "":
        raise BadBody(400, "invalid_request", f"the field {name!r} is required")
    if not isinstance(value, str):
        raise BadBody(400, "invalid_request", f"the field {name!r} must be a string")
    if len(value) > max_length:
        raise BadBody(400, "invalid_request",
                      f"the field {name!r} is longer than {max_length} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: "\ud800" is valid JSON but not Unicode text
        raise BadBody(400, "invalid_request",
                      f"the field {name!r} is not valid Unicode text") from None
    return value


# -- Authorization and WWW-Authenticate ---------------------------------------------------------
# werkzeug's ``Authorization.from_header`` reads ``Bearer a b`` as the one token "a b" and a
# bare ``Bearer`` as an empty token, so it cannot tell RFC 6750's malformed request (400)
# from a bad token (401); this small parser follows RFC 9110 section 11.6.2 instead.
#: RFC 9110 section 11.6.2: ``credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]``
CREDENTIALS = re.compile(r"(?P<scheme>[!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(?P<rest>.*))?", re.DOTALL)
#: RFC 6750 section 2.1: ``b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="``
B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")


class MalformedAuthorization(ValueError):
    """The Authorization header is there but is not valid credentials (RFC 6750: 400)."""


@dataclass(frozen=True)
class Credentials:
    """One Authorization header, split: ``scheme`` lower-cased, ``token`` the b64token or None."""

    scheme: str
    token: str | None
    raw: str


def parse_authorization(values: list[str]) -> Credentials | None:
    """The request's credentials (``request.headers.getlist("Authorization")``).

    None when no Authorization header was sent. :class:`MalformedAuthorization` when it
    was sent more than once, is not ``scheme [credentials]``, or, for the token schemes
    ``Bearer`` and ``DPoP``, has no single b64token after the scheme (RFC 6750 section 2.1,
    RFC 9449 section 7.1). Other schemes come back with ``token=None``: this server does
    not read them, which is the same as no credentials at all.
    """
    if not values:
        return None
    if len(values) > 1:
        raise MalformedAuthorization("the request has more than one Authorization header")
    raw = values[0]
    parsed = CREDENTIALS.fullmatch(raw.strip(" "))
    if parsed is None:
        raise MalformedAuthorization("the Authorization header is not '<scheme> <credentials>'")
    scheme, rest = parsed.group("scheme").lower(), parsed.group("rest")
    if scheme not in ("bearer", "dpop"):
        return Credentials(scheme, None, raw)
    if not rest:
        raise MalformedAuthorization(f"no token after {parsed.group('scheme')}")
    if not B64TOKEN.fullmatch(rest):
        raise MalformedAuthorization(
            "the Authorization header must carry exactly one token of b64token characters")
    return Credentials(scheme, rest, raw)


def challenge(scheme: str, **params: str | None) -> str:
    """A ``WWW-Authenticate`` challenge: ``Scheme name="value", ...`` (None values left out).

    Every value is written as a quoted-string (RFC 9110 section 11.2) with werkzeug's
    ``quote_header_value``; the challenge is not built with werkzeug's ``WWWAuthenticate``,
    which (werkzeug 3.1) writes ``realm`` unquoted and the scheme ``DPoP`` as ``Dpop``.
    Characters a quoted-string cannot hold (controls, non-ASCII) become ``?``.
    """
    parts = []
    for name, value in params.items():
        if value is not None:
            safe = re.sub(r"[^\x20-\x7e]", "?", value)
            parts.append(f"{name}={quote_header_value(safe, allow_token=False)}")
    return f"{scheme} {', '.join(parts)}" if parts else scheme


# -- cookies --------------------------------------------------------------------------------------
def guard_cookie_size(app: Flask, limit: int = MAX_COOKIE_HEADER) -> None:
    """Answer a request whose Cookie header is over ``limit`` bytes with a JSON 431.

    RFC 6265 section 6.1 asks browsers to keep cookies of at least 4096 bytes each; a
    header far beyond what such cookies add up to is refused before any view reads it.
    """

    @app.before_request
    def _cookie_size() -> Response | None:
        if len(request.headers.get("Cookie", "")) > limit:
            return json_error(431, "cookie_too_large", f"The Cookie header is over {limit} bytes.")
        return None
