"""The two HTML pages of the ``oauth`` server: the sign-in-and-consent form and the error page.

The error page is for the one case where the server must *not* redirect: when it
cannot trust the ``client_id`` or the ``redirect_uri``, sending the browser there would
make the server an open redirector (RFC 6749 section 4.1.2.1, RFC 9700 section 4.11).
Jinja escapes every value, and the pages may not be framed (clickjacking, RFC 9700 §4.16).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, render_template_string

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    ),
}

_STYLE = (
    "<style>body{font-family:sans-serif;max-width:32em;margin:2em auto}"
    "label{display:block;margin:.5em 0}</style>"
)

SIGN_IN = (
    """<!doctype html>
<title>Sign in to the course provider</title>"""
    + _STYLE
    + """
<h1>Sign in</h1>
<p><strong>{{ client_name }}</strong> (<code>{{ client_id }}</code>) asks for: {{ scope }}</p>
{% if error %}<p role="alert" style="color:#b00">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <label>Username <input name="username" autocomplete="username" required></label>
  <label>Password
    <input name="password" type="password" autocomplete="current-password" required></label>
  <button name="consent" value="allow">Allow</button>
  <button name="consent" value="deny" formnovalidate>Deny</button>
</form>
"""
)

ERROR = (
    """<!doctype html>
<title>Authorization request refused</title>"""
    + _STYLE
    + """
<h1>This authorization request cannot be answered</h1>
<p>{{ message }}</p>
<p>The provider does not send you back to the application, because it cannot trust where it
would send you.</p>
"""
)


def sign_in_page(
    *, client_id: str, client_name: str, scope: str, action: str, redirect_uri: str,
    error: str | None = None,
) -> Response:
    """The form; ``action`` is ``/authorize?<the same query string>``.

    Browsers apply ``form-action`` to the redirects that follow a form submission too
    (Chromium does), so the client's registered redirect URI, already checked, is allowed.
    """
    html = render_template_string(
        SIGN_IN,
        client_id=client_id,
        client_name=client_name,
        scope=scope,
        action=action,
        error=error,
    )
    parts = urlsplit(redirect_uri)
    csp = PAGE_HEADERS["Content-Security-Policy"].replace(
        "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")
    return Response(html, 200, {**PAGE_HEADERS, "Content-Security-Policy": csp},
                    mimetype="text/html")


def error_page(message: str, status: int = 400) -> Response:
    return Response(
        render_template_string(ERROR, message=message), status, PAGE_HEADERS, mimetype="text/html"
    )
