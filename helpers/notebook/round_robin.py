"""A tiny load balancer: one address in front of several app instances.

It is a WSGI app, so a notebook serves it like any other app. For each request it
picks an instance, forwards the request there over HTTP, and passes the answer
back unchanged:

* plain **round robin**: the next instance in turn, for every request;
* **sticky** (``sticky_cookie="lb"``): the first answer also sets a cookie naming the
  instance, and later requests carrying that cookie go back to the same instance,
  the way HAProxy's ``cookie ... insert`` or a cloud balancer's affinity cookie works.

An instance that refuses the connection is skipped and the next one tried. Only a
refused connection is retried: the request never reached that instance, so even a
POST is safe to send elsewhere. If no instance answers, the balancer says 502.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

#: Headers that describe one connection, not the message: never forwarded (RFC 9110 7.6.1).
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "host",
}
TIMEOUT = 5.0


class RoundRobin:
    """A WSGI app that spreads requests over ``backends`` (``{name: "http://127.0.0.1:PORT"}``)."""

    def __init__(self, backends: dict[str, str], *, sticky_cookie: str | None = None) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        self.backends = dict(backends)
        self.names = list(self.backends)
        self.sticky_cookie = sticky_cookie
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def order(self, sticky_to: str | None = None) -> list[str]:
        """The instances to try for one request: the sticky one first, else the next in turn."""
        if sticky_to in self.backends:
            start = self.names.index(sticky_to)
        else:
            with self._lock:
                start = next(self._turn) % len(self.names)
        return self.names[start:] + self.names[:start]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        sticky_to = self._sticky_choice(environ)
        for name in self.order(sticky_to):
            try:
                status, headers, body = self._forward(self.backends[name], environ)
            except ConnectionRefusedError:
                continue  # that instance is down: the request never reached it
            except (OSError, http.client.HTTPException):
                break  # it may have seen the request: retrying elsewhere could do it twice
            if self.sticky_cookie and name != sticky_to:
                headers.append(("Set-Cookie",
                                f"{self.sticky_cookie}={name}; Path=/; HttpOnly; SameSite=Lax"))
            start_response(status, headers)
            return [body]
        body = json.dumps({"error": "bad_gateway", "message": "No app instance answered."}).encode()
        start_response("502 Bad Gateway", [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(body)))])
        return [body]

    def _sticky_choice(self, environ: dict[str, Any]) -> str | None:
        if not self.sticky_cookie:
            return None
        try:
            jar = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        except CookieError:
            return None
        morsel = jar.get(self.sticky_cookie)
        return morsel.value if morsel is not None else None

    @staticmethod
    def _forward(base_url: str,
                 environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """Send the request in ``environ`` to ``base_url``; return status, headers, body."""
        target = urlsplit(base_url)
        path = environ.get("PATH_INFO", "/") or "/"
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in HOP_BY_HOP
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").title()] = environ[key]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else None
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=TIMEOUT)
        try:
            conn.request(environ["REQUEST_METHOD"], path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders()
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"]
            kept.append(("Content-Length", str(len(data))))
            return f"{response.status} {response.reason}", kept, data
        finally:
            conn.close()
