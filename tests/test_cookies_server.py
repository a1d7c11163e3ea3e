"""The `cookies` lab server, driven as a black box through ``python -m helpers serve cookies``."""

from __future__ import annotations

import http.client
import re
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

import pytest
import requests

from tests.support import TIMEOUT, CliServer, assert_json_error, module_server

NAMES = ["lab_plain", "lab_max_age", "lab_path", "lab_httponly", "lab_strict", "lab_lax",
         "lab_none", "lab_signed"]


server = module_server("cookies")


@pytest.fixture(scope="module")
def url(server: CliServer) -> str:
    return server.url


def set_cookie_headers(response: requests.Response) -> dict[str, str]:
    """{cookie name: its whole Set-Cookie line}, from the raw headers."""
    lines = response.raw.headers.getlist("Set-Cookie")
    return {line.split("=", 1)[0]: line for line in lines}


def attributes(line: str) -> dict[str, str]:
    """The attributes of one Set-Cookie line, lower-cased names -> values ('' for flags)."""
    found = {}
    for part in line.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        found[name.lower()] = value
    return found


def test_the_page_lists_what_it_received_escaped(url: str) -> None:
    page = requests.get(url + "/", cookies={"flavour": "<b>oat</b>"}, timeout=TIMEOUT)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "&lt;b&gt;oat&lt;/b&gt;" in page.text and "<b>oat</b>" not in page.text
    assert "<code>flavour</code>" in page.text
    assert "document.cookie" in page.text  # the inline script that shows what JS sees


def test_the_inline_script_is_allowed_by_a_nonce_and_nothing_else(url: str) -> None:
    page = requests.get(url + "/", timeout=TIMEOUT)
    policy = page.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)'", policy)
    assert nonce and f'<script nonce="{nonce[1]}">' in page.text
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    again = requests.get(url + "/", timeout=TIMEOUT).headers["Content-Security-Policy"]
    assert again != policy  # a fresh nonce per response


def test_set_makes_one_cookie_of_each_kind_with_its_attributes(url: str) -> None:
    answer = requests.post(url + "/set", timeout=TIMEOUT)
    assert answer.status_code == 200 and answer.json() == {"set": NAMES}
    lines = set_cookie_headers(answer)
    assert sorted(lines) == sorted(NAMES)
    a = {name: attributes(line) for name, line in lines.items()}
    assert a["lab_plain"] == {}
    assert a["lab_max_age"]["max-age"] == "120" and "expires" in a["lab_max_age"]
    assert a["lab_path"]["path"] == "/lab"
    assert "httponly" in a["lab_httponly"]
    assert a["lab_strict"]["samesite"] == "Strict"
    assert a["lab_lax"]["samesite"] == "Lax"
    # RFC 6265bis: SameSite=None is only accepted together with Secure
    assert a["lab_none"]["samesite"] == "None" and "secure" in a["lab_none"]
    for name in NAMES:
        if name not in ("lab_httponly",):
            assert "httponly" not in a[name], name


def test_a_form_post_goes_back_to_the_page(url: str) -> None:
    for back in ("/", "/lab"):
        answer = requests.post(url + "/set", data={"back": back}, allow_redirects=False,
                               timeout=TIMEOUT)
        assert answer.status_code == 303 and answer.headers["Location"] == back
    odd = requests.post(url + "/set", data={"back": "https://evil.example/"}, allow_redirects=False,
                        timeout=TIMEOUT)
    assert odd.headers["Location"] == "/"  # never an open redirect


def test_one_kind_at_a_time(url: str) -> None:
    answer = requests.post(url + "/set?kind=httponly", timeout=TIMEOUT)
    assert answer.json() == {"set": ["lab_httponly"]}
    assert list(set_cookie_headers(answer)) == ["lab_httponly"]
    assert_json_error(requests.post(url + "/set?kind=nope", timeout=TIMEOUT), 400)


def test_the_page_reports_what_the_server_received(url: str) -> None:
    client = requests.Session()
    client.post(url + "/set", timeout=TIMEOUT)
    # requests keeps every cookie (it does not enforce HttpOnly or SameSite) but it does
    # honour Path and withhold Secure ones from plain http
    html = client.get(url + "/", timeout=TIMEOUT).text
    received = set(re.findall(r"<tr><td><code>(lab_\w+)</code></td><td>", html))
    assert received == set(NAMES) - {"lab_path", "lab_none"}
    at_lab = client.get(url + "/lab", timeout=TIMEOUT).text
    assert "<tr><td><code>lab_path</code></td>" in at_lab


def test_clear_expires_every_lab_cookie_on_its_own_path(url: str) -> None:
    answer = requests.post(url + "/clear", timeout=TIMEOUT)
    lines = set_cookie_headers(answer)
    assert sorted(lines) == sorted(NAMES)
    for line in lines.values():
        assert "Max-Age=0" in line, line
    assert attributes(lines["lab_path"])["path"] == "/lab"
    assert "secure" in attributes(lines["lab_none"])


def test_verify_a_signed_cookie_valid_then_tampered(url: str) -> None:
    answer = requests.post(url + "/set?kind=signed", timeout=TIMEOUT)
    signed = SimpleCookie(answer.headers["Set-Cookie"])["lab_signed"].value
    value, _, signature = signed.rpartition(".")
    assert value == "user" and len(signature) >= 22  # readable by anyone: signing is not hiding
    good = requests.get(url + "/verify", cookies={"lab_signed": signed}, timeout=TIMEOUT).json()
    assert good == {"cookie": "lab_signed", "valid": True, "verdict": "valid", "value": "user"}
    for forged in (f"admin.{signature}", signed[:-1] + ("A" if signed[-1] != "A" else "B"), "admin",
                   "", "...", "user." + "x" * 500):
        bad = requests.get(url + "/verify", cookies={"lab_signed": forged}, timeout=TIMEOUT)
        assert bad.status_code == 200
        assert bad.json()["valid"] is False and bad.json()["verdict"] == "tampered", forged
    missing = requests.get(url + "/verify", timeout=TIMEOUT).json()
    assert missing["valid"] is False and missing["verdict"] == "missing"


@pytest.mark.parametrize("cookie", [b"\xff\xfe=\x80", b";;;==", b"a=" + b"\x00" * 10,
                                    "이름=값".encode(),
                                    b'lab_signed="unterminated', b"lab_signed=a; lab_signed=b"])
def test_odd_cookie_headers_never_500(url: str, cookie: bytes) -> None:
    parts = urlsplit(url)
    for path in ("/", "/lab", "/verify"):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
        conn.putrequest("GET", path)
        conn.putheader("Cookie", cookie)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        conn.close()
        assert response.status == 200, (path, cookie)


def test_a_huge_cookie_header_is_431_json(url: str) -> None:
    answer = requests.get(url + "/", headers={"Cookie": "x=" + "a" * 9000}, timeout=TIMEOUT)
    assert_json_error(answer, 431)


@pytest.mark.parametrize("method, path", [("GET", "/set"), ("DELETE", "/"), ("POST", "/verify"),
                                          ("GET", "/clear")])
def test_wrong_method_is_405_json(url: str, method: str, path: str) -> None:
    assert_json_error(requests.request(method, url + path, timeout=TIMEOUT), 405)


def test_unknown_path_and_huge_body_are_json_errors(url: str) -> None:
    assert_json_error(requests.get(url + "/nothing-here", timeout=TIMEOUT), 404)
    assert_json_error(requests.post(url + "/set", data=b"x" * 70_000,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                                    timeout=TIMEOUT), 413)


def test_the_server_survived_all_of_it(server: CliServer) -> None:
    assert server.process.poll() is None
    assert requests.get(server.url + "/", timeout=TIMEOUT).status_code == 200
