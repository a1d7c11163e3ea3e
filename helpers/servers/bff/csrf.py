"""Which requests may change state: the BFF's CSRF rule, in one function.

A state-changing call (any method but GET, HEAD, OPTIONS) must carry the header
``X-CSRF: 1`` (the convention Duende's BFF uses). A page on another origin cannot add a
custom header to a cross-origin request without a CORS preflight (Fetch standard, "CORS
protocol"), and this server answers no preflight, so the header proves the request came
from a page on this origin; a plain HTML form cannot send it at all. When the browser
sends ``Origin`` (RFC 6454 section 7; Fetch sends it on every POST), it must be this
server's own origin. Clients that send no ``Origin`` (curl, ``requests``) still need the
header. SameSite=Lax on the cookie is a second layer, not the rule.
"""

from __future__ import annotations

from flask import Request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "X-CSRF"


def csrf_refusal(request: Request, own_origin: str) -> str | None:
    """Why ``request`` may not change state, or None if it may."""
    if request.method in SAFE_METHODS:
        return None
    if request.headers.getlist(HEADER) != ["1"]:
        return f"A state-changing request needs the header {HEADER}: 1."
    origins = request.headers.getlist("Origin")
    if origins and origins != [own_origin]:
        return "The request comes from another origin."
    return None
