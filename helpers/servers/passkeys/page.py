"""The ``GET /`` page: two buttons and the few lines of browser code behind them.

The page speaks WebAuthn Level 3's JSON forms, so it needs no base64url code of its own:
``PublicKeyCredential.parseCreationOptionsFromJSON`` / ``parseRequestOptionsFromJSON``
turn the server's options into what ``navigator.credentials`` takes, and
``credential.toJSON()`` turns the answer back into JSON for the server.
The same functions are on ``window.passkeys`` for tests and notebooks to call.
"""

from __future__ import annotations

import secrets

from flask import Response

from helpers.pages import page_head

SCRIPT = """
async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body)});
  const text = await r.text();
  return {status: r.status, body: text ? JSON.parse(text) : null};
}
async function createPasskey(username) {
  const options = await post("/register/options", {username});
  if (options.status !== 200) return options;
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.body);
  const credential = await navigator.credentials.create({publicKey});
  return post("/register/verify", {username, credential: credential.toJSON()});
}
async function signIn() {
  const options = await post("/login/options", {});
  if (options.status !== 200) return options;
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.body);
  const credential = await navigator.credentials.get({publicKey});
  const result = await post("/login/verify", {credential: credential.toJSON()});
  return {...result, credential: credential.toJSON()};
}
function show(result) {
  document.getElementById("status").textContent = JSON.stringify(result.body);
}
async function run(action) {
  try { show(await action()); }
  catch (err) { document.getElementById("status").textContent = err.name + ": " + err.message; }
}
document.getElementById("create").addEventListener("click",
  () => run(() => createPasskey(document.getElementById("username").value)));
document.getElementById("signin").addEventListener("click", () => run(signIn));
window.passkeys = {post, createPasskey, signIn};
if (location.hostname !== "localhost") {  // e.g. opened as http://127.0.0.1:PORT
  document.getElementById("status").textContent =
    "Open this page at http://localhost:" + location.port +
    "/ : WebAuthn refuses IP-address origins.";
}
"""

HEAD = page_head("passkeys demo", "40em", "1.5", """\
 code { background: #eee; padding: 0 .2em } button { margin: .3em .3em .3em 0 }
""")
#: The rest of the page, a ``str.format`` template (the nonce and the script go in).
BODY = """\
<h1>Passkeys</h1>
<p><label>Username <input id="username" autocomplete="username webauthn"></label></p>
<p><button id="create" type="button">create a passkey</button>
<button id="signin" type="button">sign in with a passkey</button></p>
<p>Result: <output id="status">nothing yet</output></p>
<p>JSON: <code>POST /register/options</code>, <code>POST /register/verify</code>,
<code>POST /login/options</code>, <code>POST /login/verify</code>, <code>GET /me</code>,
<code>GET /devices</code>, <code>POST /logout</code>, <code>POST /logout-everywhere</code>.</p>
<script nonce="{nonce}">{script}</script>
</body>
</html>
"""


def page_response() -> Response:
    """The page, with a fresh CSP nonce so that only this inline script may run."""
    nonce = secrets.token_urlsafe(16)
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return Response(HEAD + BODY.format(nonce=nonce, script=SCRIPT),
                    content_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff"})
