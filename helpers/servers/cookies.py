"""``cookies``: a cookie lab to open in a real browser.

``POST /set`` sets one cookie of each kind (or one kind: ``?kind=httponly``), and the
page at ``/`` shows side by side which cookies the *server received* with this request
and which ones the page's *JavaScript can see* in ``document.cookie``. Only a real
browser enforces ``HttpOnly``, ``Path``, ``SameSite`` and ``Secure``, so this is where
those attributes can be watched at work. ``/lab`` is the same page under another path.

``GET /verify`` checks the signed cookie: edit it in the browser's developer tools
and the signature no longer matches.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import Flask, Response, jsonify, redirect, render_template_string, request
from itsdangerous import BadSignature, Signer

from helpers.http import guard_cookie_size, install_json_errors, json_error
from helpers.pages import page_head

NAME = "cookies"

#: DEMO ONLY: this key is public, so anyone can forge this cookie. Never reuse it.
DEMO_SIGNING_KEY = b"DEMO ONLY - cookie lab signing key - public, never use for real"
SIGNED_COOKIE = "lab_signed"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Kind:
    """One kind of cookie the lab sets: its name, value, attributes and what to expect."""

    key: str
    name: str
    value: str
    attributes: dict[str, object]
    expect: str

    @property
    def header_attributes(self) -> str:
        """The attributes as they appear in the Set-Cookie header."""
        parts = []
        for attr, value in self.attributes.items():
            parts.append(attr if value is True else f"{attr}={value}")
        return "; ".join(parts) or "(none)"


def signer() -> Signer:
    return Signer(DEMO_SIGNING_KEY, salt="cookie-lab")


KINDS = [
    Kind("plain", "lab_plain", "hello", {},
         "No attributes: a session cookie (gone when the browser closes), sent only to this "
         "host, with a Path that defaults to the directory of the URL that set it (/ for /set)."),
    Kind("max_age", "lab_max_age", "two-minutes", {"Max-Age": 120, "Path": "/"},
         "Kept for 120 seconds, then the browser forgets it by itself (the server is not asked)."),
    Kind("path", "lab_path", "only-under-lab", {"Path": "/lab"},
         "Sent only to /lab and paths below it; invisible to scripts of the page at /."),
    Kind("httponly", "lab_httponly", "hidden-from-js", {"HttpOnly": True, "Path": "/"},
         "Sent with every request, but missing from document.cookie: scripts (and XSS) cannot"
         " read it."),
    Kind("strict", "lab_strict", "strict", {"SameSite": "Strict", "Path": "/"},
         "Never sent on requests that start on another site, not even when you follow a link"
         " here."),
    Kind("lax", "lab_lax", "lax", {"SameSite": "Lax", "Path": "/"},
         "Sent on top-level navigations from other sites with a safe method (a link, a GET "
         "form) but not on their POSTs, images or fetches. Chromium treats a cookie with no "
         "SameSite as Lax, except that for two minutes after it is set it also goes on a "
         "cross-site top-level POST."),
    Kind("none", "lab_none", "none", {"SameSite": "None", "Secure": True, "Path": "/"},
         "Allowed on cross-site requests too, where the browser's third-party cookie settings "
         "let it go (many block it inside another site's page). Browsers accept SameSite=None "
         "only together with Secure, and a Secure cookie only from a secure origin: https, or "
         "http://127.0.0.1 and http://localhost, which Chromium counts as secure. From any "
         "other plain-http site it is dropped."),
    Kind("signed", SIGNED_COOKIE, "", {"Path": "/"},
         "value.signature made with a DEMO ONLY key: still readable by anyone, but an edit "
         "breaks the signature (try it, then open /verify)."),
]
KINDS_BY_KEY = {kind.key: kind for kind in KINDS}


def create_app() -> Flask:
    """The cookie lab. It keeps no state and reads no clock: browsers keep cookie time."""
    app = Flask(__name__)
    install_json_errors(app)
    guard_cookie_size(app)

    @app.get("/")
    @app.get("/lab")
    def page() -> Response:
        nonce = secrets.token_urlsafe(16)
        html = render_template_string(
            PAGE,
            kinds=KINDS,
            received=sorted(request.cookies.items(multi=True)),
            path=request.path,
            nonce=nonce,
        )
        headers = {
            "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}';"
            " style-src 'unsafe-inline'; connect-src 'self'; form-action 'self';"
            " frame-ancestors 'none'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        }
        return Response(html, content_type="text/html; charset=utf-8", headers=headers)

    @app.post("/set")
    def set_cookies() -> Response:
        wanted = request.args.get("kind", "all")
        if wanted != "all" and wanted not in KINDS_BY_KEY:
            names = ", ".join(["all", *KINDS_BY_KEY])
            return json_error(400, "unknown_kind", f"kind must be one of: {names}.")
        chosen = KINDS if wanted == "all" else [KINDS_BY_KEY[wanted]]
        response = after_post({"set": [kind.name for kind in chosen]})
        for kind in chosen:
            set_one(response, kind)
        return response

    @app.post("/clear")
    def clear_cookies() -> Response:
        response = after_post({"cleared": [kind.name for kind in KINDS]})
        for kind in KINDS:
            response.delete_cookie(
                kind.name,
                path=str(kind.attributes.get("Path", "/")),
                secure=bool(kind.attributes.get("Secure")),
                samesite=(str(kind.attributes["SameSite"]) if "SameSite" in kind.attributes
                          else None),
            )
        return response

    @app.get("/verify")
    def verify() -> Response:
        values = request.cookies.getlist(SIGNED_COOKIE)
        if len(values) != 1:
            verdict = "missing" if not values else "ambiguous"
            return jsonify(cookie=SIGNED_COOKIE, valid=False, verdict=verdict, value=None)
        try:
            value = signer().unsign(values[0]).decode("utf-8")
        except (BadSignature, UnicodeDecodeError):
            return jsonify(cookie=SIGNED_COOKIE, valid=False, verdict="tampered", value=None)
        return jsonify(cookie=SIGNED_COOKIE, valid=True, verdict="valid", value=value)

    return app


def after_post(body: dict[str, list[str]]) -> Response:
    """A form in the browser goes back to the page it came from; other clients get JSON."""
    if request.mimetype in FORM_TYPES:
        back = "/lab" if request.form.get("back") == "/lab" else "/"
        return redirect(back, 303)
    return jsonify(body)


def set_one(response: Response, kind: Kind) -> None:
    """Write one lab cookie into ``response`` with exactly the kind's attributes."""
    value = kind.value
    if kind.key == "signed":
        value = signer().sign(b"user").decode("ascii")
    a = kind.attributes
    response.set_cookie(
        kind.name,
        value,
        max_age=a.get("Max-Age"),
        path=a.get("Path"),
        secure=bool(a.get("Secure")),
        httponly=bool(a.get("HttpOnly")),
        samesite=a.get("SameSite"),
    )


PAGE = page_head("cookie lab", "62em", "1.4", """\
 table { border-collapse: collapse }
 td, th { border: 1px solid #ccc; padding: .3em .5em; vertical-align: top }
 code { background: #eee; padding: 0 .2em } .yes { color: #060 } .no { color: #a00 }
 form { display: inline }
""") + """\
<h1>Cookie lab <small>(page at <code>{{ path }}</code>)</small></h1>
<p>
<form method="post" action="/set"><input type="hidden" name="back" value="{{ path }}">
 <button id="set-all" type="submit">Set one cookie of each kind</button></form>
<form method="post" action="/clear"><input type="hidden" name="back" value="{{ path }}">
 <button id="clear-all" type="submit">Clear them</button></form>
 · <a href="/">/</a> · <a href="/lab">/lab</a>
 · <a href="/verify">/verify</a> (checks the signed cookie)
</p>

<h2>What the server received with this request</h2>
{% if received %}
<table id="received">
<tr><th>name</th><th>value</th></tr>
{% for name, value in received %}
<tr><td><code>{{ name }}</code></td><td><code>{{ value }}</code></td></tr>
{% endfor %}</table>
{% else %}<p id="received">No cookies.</p>{% endif %}

<h2>What this page's JavaScript sees</h2>
<p><code>document.cookie</code> = <code id="document-cookie">(scripts are off)</code></p>

<h2>The kinds</h2>
<table id="kinds">
<tr><th>cookie</th><th>attributes</th><th>server got it here</th><th>JavaScript sees it</th>
 <th>what to expect</th></tr>
{% for kind in kinds %}<tr data-name="{{ kind.name }}">
 <td><code>{{ kind.name }}</code></td><td><code>{{ kind.header_attributes }}</code></td>
 {% set got = kind.name in received|map('first')|list %}
 <td class="{{ 'yes' if got else 'no' }}">{{ 'yes' if got else 'no' }}</td>
 <td class="js">?</td><td>{{ kind.expect }}</td></tr>
{% endfor %}</table>
<p>The browser, not the server, enforces these rules: a plain HTTP client such as Python's
<code>requests</code> stores the attributes but does not apply HttpOnly or SameSite.</p>

<script nonce="{{ nonce }}">
  const names = document.cookie.split(";").map((c) => c.split("=")[0].trim()).filter(Boolean);
  document.getElementById("document-cookie").textContent = JSON.stringify(document.cookie);
  for (const row of document.querySelectorAll("#kinds tr[data-name]")) {
    const seen = names.includes(row.dataset.name);
    const cell = row.querySelector("td.js");
    cell.textContent = seen ? "yes" : "no";
    cell.className = "js " + (seen ? "yes" : "no");
  }
</script>
</body>
</html>
"""
