"""Hostile input against every demo server, through the CLI: never a 500, never a dead server.

Each server runs once for the module, with ``--clock`` (which every server takes).
Every route of each server (read from its own URL map, so a new route is covered the day it
is added), its ``/_clock`` and three paths it does not have, get the same battery: wrong
methods, oversized and malformed bodies, wrong content types, repeated parameters and garbage
headers. Every answer must be below 500; every error from a JSON endpoint must be JSON with
an ``error`` code; every 401 must carry a challenge; and afterwards each server still answers
and has logged no traceback.
"""

from __future__ import annotations

import functools
import http.client
import re
from collections.abc import Iterator

import pytest

from helpers.servers import accepted_options, factory, names
from tests.support import TIMEOUT, CliServer, start_cli_server

# an end-to-end sweep through six server processes: `make e2e` (CI runs it after `make test`)
pytestmark = pytest.mark.e2e

#: Paths no server has (tried with GET and POST); every server also gets /_clock (POST), the
#: CLI's --clock route.
NOT_ROUTES = {"/_clock": {"POST"}, "/no-such-path": {"GET", "POST"}, "/%00": {"GET", "POST"},
              "/..%2f..%2fetc/passwd": {"GET", "POST"}}
BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@functools.cache
def routes_of(name: str) -> dict[str, frozenset[str]]:
    """``{path: methods it takes}`` for every route of the server ``name`` (a path parameter
    filled in), then NOT_ROUTES. HEAD and OPTIONS, which werkzeug answers itself, are left out."""
    create_app = factory(name)
    # the bff would start a provider of its own to list its routes: give it an address instead
    app = create_app(**({"provider_url": "http://127.0.0.1:9"}
                        if "provider_url" in accepted_options(create_app) else {}))
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            path = re.sub(r"<[^>]+>", "AAAAAAAA", rule.rule)
            routes.setdefault(path, set()).update((rule.methods or set()) - {"HEAD", "OPTIONS"})
    routes.update(NOT_ROUTES)
    return {path: frozenset(methods) for path, methods in sorted(routes.items())}


BODIES: dict[str, tuple[str, bytes]] = {
    "huge JSON": ("application/json", b'{"username": "' + b"a" * 70_000 + b'"}'),
    "deep JSON": ("application/json", b"[" * 40_000 + b"]" * 40_000),
    "not JSON": ("application/json", b"\xff\xfe{{{"),
    "repeated names": ("application/json", b'{"username": "a", "username": "b", "advance": 1,'
                                           b' "advance": 2, "refresh_token": "x"}'),
    "wrong types": ("application/json", b'{"username": [], "password": {}, "refresh_token": 7,'
                                        b' "advance": "soon"}'),
    "repeated form fields": ("application/x-www-form-urlencoded",
                             b"username=a&username=b&password=x&password=y&kind=all&kind=plain"),
    "multipart garbage": ("multipart/form-data; boundary=x", b"--x\r\nnonsense\r\n--x--"),
    "multipart no boundary": ("multipart/form-data", b"a=b"),
    "text": ("text/plain", b"hello"),
    "no content type": ("", b'{"username": "alice"}'),
}
HEADERS: dict[str, list[tuple[str, bytes]]] = {
    "binary authorization": [("Authorization", b"Bearer \xff\xfe\x00")],
    "two authorizations": [("Authorization", b"Bearer a.b.c"), ("Authorization", b"Basic eA==")],
    "huge authorization": [("Authorization", b"Bearer " + b"A" * 20_000)],
    "garbage cookie": [("Cookie", b"sid=\x00\x01; =; ;;; lab_signed=\xff")],
    "many cookies": [("Cookie", b"; ".join(b"c%d=%d" % (i, i) for i in range(300)))],
    "huge cookie": [("Cookie", b"sid=" + b"a" * 10_000)],
    "odd origin": [("Origin", b"\xff://\x00"), ("Sec-Fetch-Site", b"\xff")],
    "repeated query": [],  # sent with ?kind=all&kind=plain&kind=x below
}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, CliServer]]:
    started = {name: start_cli_server(name, "--clock") for name in names()}
    yield started
    for server in started.values():
        server.stop_cleanly()


def send(url: str, method: str, path: str, headers: list[tuple[str, bytes]],
         body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body or None)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def check(status: int, headers: dict[str, str], body: bytes, what: str) -> None:
    assert status < 500, (what, status, body[:300])
    if status == 401:
        assert headers.get("www-authenticate"), (what, "a 401 without a challenge")
    if status >= 400 and headers.get("content-type", "").startswith("application/json"):
        assert b'"error"' in body, (what, body[:300])


@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize("kind", list(BODIES))
def test_hostile_bodies_on_every_route(servers: dict[str, CliServer], name: str,
                                       kind: str) -> None:
    """Each body with every method of each route that reads one (POST where none does)."""
    content_type, body = BODIES[kind]
    headers = [("Content-Type", content_type.encode())] if content_type else []
    for path, methods in routes_of(name).items():
        for method in sorted(methods & BODY_METHODS) or ["POST"]:
            check(*send(servers[name].url, method, path, headers, body), f"{method} {path} {kind}")


@pytest.mark.parametrize("name", names())
@pytest.mark.parametrize("kind", list(HEADERS))
def test_garbage_headers_on_every_route(servers: dict[str, CliServer], name: str,
                                        kind: str) -> None:
    """Each set of garbage headers with every method of each route."""
    for path, methods in routes_of(name).items():
        query = ("?kind=all&kind=plain&kind=x&advance=1&advance=2"
                 if kind == "repeated query" else "")
        for method in sorted(methods):
            answer = send(servers[name].url, method, path + query, HEADERS[kind])
            check(*answer, f"{method} {path} {kind}")


@pytest.mark.parametrize("name", names())
def test_a_method_a_route_does_not_take_with_garbage_everywhere(servers: dict[str, CliServer],
                                                                name: str) -> None:
    """The methods each route refuses (PUT, DELETE and the rest), each once, with the largest
    body, a binary Authorization and a garbage cookie: a clear 404 or 405, never a 500. (Not
    the oversized cookies, which get 431, nor a foreign Origin, which gets 403, before any
    routing: the other tests send those.)"""
    garbage = [*HEADERS["binary authorization"], *HEADERS["garbage cookie"]]
    content_type, body = BODIES["huge JSON"]
    for path, methods in routes_of(name).items():
        for method in sorted({"GET", "POST", "PUT", "PATCH", "DELETE"} - methods):
            answer = send(servers[name].url, method, path,
                          [("Content-Type", content_type.encode()), *garbage], body)
            check(*answer, f"{method} {path} (a method it does not take)")
            assert answer[0] in (404, 405), (method, path, answer[0])


@pytest.mark.parametrize("name", names())
def test_every_server_is_alive_and_well_afterwards(servers: dict[str, CliServer],
                                                   name: str) -> None:
    server = servers[name]
    assert server.process.poll() is None
    status, _, _ = send(server.url, "GET", "/", [])
    assert status == 200
    before = server.advance(0)  # every server takes --clock, and its clock still moves
    assert server.advance(60) - before >= 60
