"""Checks a request passes before Authlib sees it, each answering in its RFC's error format.

Authlib assumes well-formed input in a few places; a hostile request there would be a
500. These guards turn such input into the error the RFC asks for:

* the ``Host`` must be a loopback name (a foreign Host would make Authlib's own HTTPS
  check raise, and this server is for 127.0.0.1 only anyway);
* ``/token``, ``/revoke`` and ``/introspect`` take ``application/x-www-form-urlencoded``
  bodies (RFC 6749 section 4.1.3, RFC 7009 section 2.1, RFC 7662 section 2.1), no
  parameters in the query, none repeated (RFC 6749 section 3.1), no value over 4 KiB;
* at ``/authorize`` the ``client_id`` and ``redirect_uri`` must be single, known and
  registered *before* anything else, because until they are, no error may be sent to the
  redirect URI (RFC 6749 section 4.1.2.1): the answer is an HTML 400 page.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from helpers.http import oauth_error

from .clients import Client
from .pages import error_page

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
FORM = "application/x-www-form-urlencoded"
MAX_VALUE = 4096
#: Longest username or password the sign-in form reads.
MAX_FIELD = 1024


def loopback_host() -> Response | None:
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    if host.lower() not in LOOPBACK_HOSTS:
        return oauth_error(
            400, "invalid_request", "This server answers only on 127.0.0.1 or localhost."
        )
    return None


def read_form() -> Response | None:
    """Parse the body now, so that a body over the cap is an RFC-shaped 413, not a bare one."""
    try:
        request.form  # noqa: B018 - parsing is the point
    except RequestEntityTooLarge:
        return oauth_error(413, "invalid_request", "The request body is too large.")
    return None


def utf8_form() -> Response | None:
    """RFC 6749 Appendix B: the form is ASCII on the wire and UTF-8 once percent-decoded.

    werkzeug drops or replaces what does not decode, so that a client's parameters
    would silently vanish (``invalid_client`` for a client that did name itself); it is
    refused here as the malformed request it is. The body stays cached for the form parser.
    """
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return oauth_error(413, "invalid_request", "The request body is too large.")
    try:
        parse_qsl(data.decode("ascii"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        return oauth_error(
            400, "invalid_request", "The body is not UTF-8, percent-encoded (RFC 6749 Appendix B)."
        )
    return None


def form_endpoint() -> Response | None:
    """The checks shared by /token, /revoke and /introspect."""
    if request.query_string:
        return oauth_error(
            400, "invalid_request", "Send the parameters in the request body, not in the URL."
        )
    if request.mimetype != FORM:
        return oauth_error(400, "invalid_request", f"The body must be {FORM}.")
    if (refused := utf8_form() or read_form()) is not None:
        return refused
    for name in request.form:
        values = request.form.getlist(name)
        if len(values) > 1:
            return oauth_error(
                400, "invalid_request", "A parameter is repeated (RFC 6749 section 3.1)."
            )
        if len(values[0]) > MAX_VALUE:
            return oauth_error(400, "invalid_request", "A parameter value is too long.")
    return None


def token_endpoint() -> Response | None:
    """The form checks, and a ``grant_type`` (RFC 6749 section 4.1.3: REQUIRED)."""
    refused = form_endpoint()
    if refused is None and not request.form.get("grant_type"):
        refused = oauth_error(400, "invalid_request", "The grant_type parameter is missing.")
    return refused


def authorization_client(clients: dict[str, Client]) -> tuple[Client | None, Response | None]:
    """The client of an authorization request whose redirect URI is registered, or an error page."""
    ids, uris = request.args.getlist("client_id"), request.args.getlist("redirect_uri")
    if len(ids) != 1 or ids[0] not in clients:
        return None, error_page(
            "The request names no client, several, or one this provider does not know."
        )
    client = clients[ids[0]]
    if len(uris) != 1 or not client.check_redirect_uri(uris[0]):
        return None, error_page(
            "The redirect_uri is missing, repeated, or not one the client registered."
        )
    return client, None


def sign_in_fields() -> tuple[str, str, str] | None:
    """``(username, password, consent)`` from the sign-in form, or None if missing or too long."""
    fields = tuple(request.form.get(name, "") for name in ("username", "password", "consent"))
    if any(len(value) > MAX_FIELD for value in fields):
        return None
    return fields  # type: ignore[return-value]


def access_token_in_uri_or_body() -> bool:
    """Does the request also carry ``access_token`` in the URI or a form body (RFC 6750 2.2-2.3)?

    A body over the cap is not read: it cannot count as a second method.
    """
    if "access_token" in request.args:
        return True
    if request.method != "POST" or request.mimetype != FORM:
        return False
    try:
        return "access_token" in request.form
    except RequestEntityTooLarge:
        return False
