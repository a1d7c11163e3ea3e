"""The small single-page app at ``/``: plain JavaScript that calls the BFF's API with its cookie.

It holds no token and needs none: ``fetch`` sends the session cookie by itself
(same-origin requests carry cookies by default), and every state-changing call adds
``X-CSRF: 1``. The notes are shown with ``textContent``, never ``innerHTML``.
A Content-Security-Policy with a fresh nonce per response lets only this page's own
script run (CSP Level 3, nonce sources), a second layer against injected scripts.
"""

from __future__ import annotations

import secrets

from flask import Response

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>Course notes (BFF)</title>
<style>body{font-family:sans-serif;max-width:36em;margin:2em auto}</style>
<h1>Course notes</h1>
<p id="status">Loading…</p>
<p><a id="login" href="/login" hidden>Sign in</a> <button id="logout" hidden>Sign out</button></p>
<form id="note-form" hidden><input id="note" maxlength="500" required>
<button>Add note</button></form>
<ul id="notes"></ul>
<script nonce="NONCE">
const api = (path, options = {}) => fetch(path, {...options,
  headers: {"Content-Type": "application/json", "X-CSRF": "1", ...(options.headers || {})}});
async function refresh() {
  const me = await fetch("/api/me");
  const signedIn = me.status === 200;
  document.getElementById("login").hidden = signedIn;
  document.getElementById("logout").hidden = !signedIn;
  document.getElementById("note-form").hidden = !signedIn;
  const status = document.getElementById("status");
  if (!signedIn) { status.textContent = "Not signed in."; return; }
  const who = await me.json();
  status.textContent = "Signed in as " + who.preferred_username + ".";
  const list = document.getElementById("notes");
  list.replaceChildren();
  for (const note of (await (await fetch("/api/notes")).json()).notes) {
    const item = document.createElement("li"); item.textContent = note.text; list.append(item);
  }
}
document.getElementById("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = document.getElementById("note");
  await api("/api/notes", {method: "POST", body: JSON.stringify({text: field.value})});
  field.value = ""; refresh();
});
document.getElementById("logout").addEventListener("click", async () => {
  await api("/logout", {method: "POST"}); refresh();
});
refresh();
</script>
"""


def spa_page() -> Response:
    nonce = secrets.token_urlsafe(16)
    response = Response(PAGE.replace("NONCE", nonce), 200,
                        {"Content-Type": "text/html; charset=utf-8"})
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'self'")
    response.headers["Cache-Control"] = "no-store"
    return response
