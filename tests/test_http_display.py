"""Raw HTTP display: stable text, every Set-Cookie kept, noise hidden."""

from __future__ import annotations

import pytest
import requests
from flask import Flask, Response

from helpers import LiveServer, format_request, format_response, show_cookie_jar, show_exchange
from helpers.notebook.http_display import elide_long_tokens


@pytest.fixture(scope="module")
def server():
    app = Flask(__name__)

    @app.get("/token")
    def token() -> Response:
        return Response('{"access_token": "eyJ' + "a" * 300 + '.eyJ' + "b" * 300 + '.' + "c" * 300
                        + '"}', content_type="application/json")

    @app.post("/login")
    def login() -> Response:
        response = Response('{"ok": true}', content_type="application/json")
        response.set_cookie("a", "1", httponly=True, samesite="Lax")
        response.set_cookie("b", "2", max_age=60)
        return response

    with LiveServer(app, name="display") as live:
        yield live


def test_request_and_response_print_as_raw_http(server, capsys) -> None:
    response = requests.post(server.url + "/login", json={"user": "alice"}, timeout=5)
    show_exchange(response)
    out = capsys.readouterr().out
    assert out.startswith("POST /login HTTP/1.1\nHost: 127.0.0.1:PORT\n")
    assert "Content-Type: application/json" in out
    assert '"user": "alice"' in out
    assert "HTTP/1.1 200 OK" in out
    assert out.count("Set-Cookie:") == 2  # repeated headers are not merged
    assert "User-Agent" not in out and "\nDate:" not in out and "\nServer:" not in out
    assert str(server.port) not in out


def test_hidden_headers_can_be_shown(server) -> None:
    response = requests.get(server.url + "/nothing", timeout=5)
    assert "User-Agent: python-requests" in format_request(response.request, hide=())
    assert "\nDate: " in format_response(response, hide=())


def test_cookie_jar_lists_attributes(server, capsys) -> None:
    client = requests.Session()
    client.post(server.url + "/login", timeout=5)
    show_cookie_jar(client.cookies)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("a=1  domain=127.0.0.1 path=/") and "HttpOnly" in out[0]
    assert "SameSite=Lax" in out[0]
    assert out[1].startswith("b=2") and "expires" in out[1]
    show_cookie_jar(requests.Session().cookies)
    assert "empty" in capsys.readouterr().out


def test_tokens_can_be_printed_elided(server, capsys) -> None:
    bearer = "eyJ" + "h" * 40 + ".eyJ" + "p" * 400 + ".s" + "9" * 300
    response = requests.get(server.url + "/token", headers={"Authorization": "Bearer " + bearer},
                            timeout=5)
    show_exchange(response, request_hide=())
    out = capsys.readouterr().out
    assert f"Authorization: Bearer {bearer[:24]}…{bearer[-24:]} ({len(bearer)} characters)" in out
    assert '"access_token": "eyJaaaa' in out and "(908 characters)" in out
    assert "p" * 100 not in out and "b" * 100 not in out
    show_exchange(response, elide_tokens=False)
    assert bearer in capsys.readouterr().out  # whole when asked


def test_long_tokens_are_elided_in_the_middle() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9." + "a" * 300 + ".sig-END123"
    short = elide_long_tokens(f"Authorization: Bearer {token}\nSet-Cookie: sid={'b' * 43}")
    assert short == (f"Authorization: Bearer {token[:24]}…{token[-24:]} ({len(token)} characters)"
                     "\nSet-Cookie: sid=" + "b" * 43)
    assert elide_long_tokens("no tokens here") == "no tokens here"


def test_the_client_connection_header_can_be_shown(server) -> None:
    with requests.Session() as client:
        response = client.get(server.url + "/nothing", timeout=5)
    assert "Connection: keep-alive" in format_request(response.request, show_connection=True)
    assert "Connection" not in format_request(response.request)


def test_the_nbval_sanitizer_knows_the_elided_form() -> None:
    """Elided tokens end in random characters; tests/nbval_sanitize.cfg must replace them whole."""
    import configparser
    import re
    from pathlib import Path

    config = configparser.ConfigParser(interpolation=None)
    config.read(Path(__file__).with_name("nbval_sanitize.cfg"), encoding="utf-8")
    patterns = [re.compile(config[s]["regex"]) for s in config.sections() if "elided" in s]
    assert len(patterns) == 1
    shown = elide_long_tokens("Bearer eyJhbGciOiJSUzI1NiJ9." + "Q" * 300 + ".abcdef")
    assert patterns[0].sub("X", shown) == "Bearer X"
