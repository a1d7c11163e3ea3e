"""A client that walks the ``bff`` sign-in the way a browser does, for the bff tests.

``requests`` is not a browser: it withholds Secure cookies from http://127.0.0.1 (see the
design's pitfalls), so this client keeps the one ``__Host-bff`` cookie itself and sends
it as a ``Cookie`` header. It follows no redirect: every step is one request whose
answer the tests read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

TIMEOUT = 10
COOKIE = "__Host-bff"
PASSWORDS = {"alice": "wonderland", "bob": "builder"}


def query_of(location: str) -> dict[str, str]:
    parsed = parse_qs(urlsplit(location).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), location
    return {k: v[0] for k, v in parsed.items()}


def set_cookie_of(response: requests.Response) -> SimpleCookie | None:
    headers = response.raw.headers.getlist("Set-Cookie")
    if not headers:
        return None
    assert len(headers) == 1, headers  # one cookie, never more
    jar: SimpleCookie = SimpleCookie()
    jar.load(headers[0])
    return jar


@dataclass
class BffBrowser:
    """One browser's worth of BFF state: the session cookie, nothing else."""

    url: str
    sid: str | None = None
    seen: list[requests.Response] = field(default_factory=list)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Cookie": f"{COOKIE}={self.sid}"} if self.sid else {}
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.url + path
        response = requests.request(method, url, headers=self.headers(headers),
                                    allow_redirects=False, timeout=TIMEOUT, **kwargs)
        self.seen.append(response)
        jar = set_cookie_of(response) if url.startswith(self.url) else None
        if jar is not None and COOKIE in jar:
            self.sid = jar[COOKIE].value or None
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def start_login(self) -> str:
        """``GET /login``: the authorization URL the BFF sends the browser to."""
        response = self.get("/login")
        assert response.status_code == 302, response.text
        return response.headers["Location"]

    def consent(self, authorize_url: str, username: str = "alice", consent: str = "allow") -> str:
        """The provider's sign-in form, filled in: the callback URL it redirects to."""
        form = {"username": username, "password": PASSWORDS[username], "consent": consent}
        response = requests.post(authorize_url, data=form, allow_redirects=False, timeout=TIMEOUT)
        self.seen.append(response)
        assert response.status_code == 302, response.text[:300]
        return response.headers["Location"]

    def sign_in(self, username: str = "alice") -> requests.Response:
        callback = self.consent(self.start_login(), username)
        response = self.get(callback)
        assert response.status_code == 303, response.text
        return response

    def csrf_post(self, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-CSRF": "1", **kwargs.pop("headers", {})}
        return self.post(path, headers=headers, **kwargs)
