"""Print an HTTP exchange the way it looks on the wire.

The course's point is that the reader *sees* every header, cookie and token, so a
response is printed as raw HTTP/1.1 messages: request line, headers, body, then
status line, headers, body. Text that changes on every run and teaches nothing
(``Date``, ``Server``, the ephemeral port in ``Host``) is left out or normalised so
that stored outputs stay stable for nbval.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from http.cookiejar import CookieJar
from urllib.parse import urlsplit

import requests

#: Request headers requests adds to every call; shown only when asked for.
CLIENT_NOISE = ("User-Agent", "Accept-Encoding", "Accept", "Connection")
#: Response headers that vary per run and carry no lesson.
SERVER_NOISE = ("Date", "Server")
PORT_PLACEHOLDER = "PORT"


def _normalise_host(netloc: str) -> str:
    host, _, port = netloc.rpartition(":")
    if host and port.isdigit():
        return f"{host}:{PORT_PLACEHOLDER}"
    return netloc


def _format_body(body: bytes | str | None, content_type: str, max_body: int) -> str:
    if body is None or body == b"" or body == "":
        return ""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(body)} bytes of binary data>"
    else:
        text = body
    if "json" in content_type:
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    if len(text) > max_body:
        text = text[:max_body] + f"\n... ({len(text) - max_body} more characters)"
    return text


def format_request(request: requests.PreparedRequest, *, hide: Iterable[str] = CLIENT_NOISE,
                   max_body: int = 800) -> str:
    """The request as HTTP/1.1 text. ``Host`` is added the way urllib3 sends it."""
    hidden = {h.lower() for h in hide}
    url = urlsplit(request.url or "")
    lines = [f"{request.method} {request.path_url} HTTP/1.1",
             f"Host: {_normalise_host(url.netloc)}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in hidden]
    body = _format_body(request.body, request.headers.get("Content-Type", ""), max_body)
    return "\n".join(lines) + "\n" + (f"\n{body}" if body else "")


def response_headers(response: requests.Response) -> list[tuple[str, str]]:
    """Every response header in order, repeated ones (``Set-Cookie``) kept apart."""
    raw = getattr(response.raw, "headers", None)
    if raw is not None and hasattr(raw, "items"):
        return list(raw.items())
    return list(response.headers.items())


def format_response(response: requests.Response, *, hide: Iterable[str] = SERVER_NOISE,
                    max_body: int = 800) -> str:
    """The response as HTTP/1.1 text: status line, headers, body."""
    hidden = {h.lower() for h in hide}
    version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(getattr(response.raw, "version", 11), "HTTP/1.1")
    lines = [f"{version} {response.status_code} {response.reason}"]
    lines += [f"{k}: {v}" for k, v in response_headers(response) if k.lower() not in hidden]
    body = _format_body(response.content, response.headers.get("Content-Type", ""), max_body)
    return "\n".join(lines) + "\n" + (f"\n{body}" if body else "")


def show_exchange(response: requests.Response, *, request_hide: Iterable[str] = CLIENT_NOISE,
                  response_hide: Iterable[str] = SERVER_NOISE, max_body: int = 800,
                  history: bool = True) -> None:
    """Print request and response (and any redirects before them) as raw HTTP."""
    steps = [*response.history, response] if history else [response]
    for n, step in enumerate(steps):
        if n:
            print("-" * 60)
        print(format_request(step.request, hide=request_hide, max_body=max_body))
        print(format_response(step, hide=response_hide, max_body=max_body))


def show_cookie_jar(jar: CookieJar) -> None:
    """Print what a client's cookie jar holds, one cookie a line, with its attributes."""
    cookies = sorted(jar, key=lambda c: (c.domain, c.path, c.name))
    if not cookies:
        print("(the cookie jar is empty)")
        return
    for c in cookies:
        flags = []
        if c.expires is not None:
            flags.append("expires")
        if c.secure:
            flags.append("Secure")
        if c.has_nonstandard_attr("HttpOnly"):
            flags.append("HttpOnly")
        for key in ("SameSite", "samesite"):
            if c.has_nonstandard_attr(key):
                flags.append(f"SameSite={c.get_nonstandard_attr(key)}")
        value = c.value if c.value is None or len(c.value) <= 60 else c.value[:57] + "..."
        print(f"{c.name}={value}  domain={c.domain} path={c.path} {' '.join(flags)}".rstrip())
