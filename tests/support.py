"""What the tests share: the CLI server starter, the login/me calls, and the error assertions.

Every demo server is tested as a black box where it can be: ``python -m helpers serve NAME``
in its own process, driven over HTTP. :func:`assert_json_error` is the contract's error
rule in one place: the status, a JSON body with exactly ``error`` and its sentence
(``message``, or ``error_description`` where an RFC sets the format), the error code,
and on every 401 a ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from helpers import b64url_encode

ROOT = Path(__file__).resolve().parent.parent
#: Seconds any test waits for one HTTP answer.
TIMEOUT = 10
FIRST_LINE = re.compile(
    r"^Serving (?P<name>[a-z0-9_-]+) on (?P<url>http://(?:127\.0\.0\.1|localhost):(?P<port>\d+))$")
DEMO_PASSWORDS = {"alice": "wonderland", "bob": "builder"}
#: The demo users at a lower scrypt cost, served by every server the tests build (conftest.py).
TEST_USERS = ROOT / "tests" / "data" / "users.json"
#: The challenge every 401 of a cookie-session server carries (a course convention).
COOKIE_CHALLENGE = 'Cookie realm="sessions", form="/login"'
T = TypeVar("T")


def run_concurrently(work: Callable[[int], T], count: int, timeout: float = 60.0) -> list[T]:
    """Call ``work(0)`` … ``work(count - 1)`` on ``count`` threads at once; the results in order.

    The first exception a worker raised is raised again here, on the test's own thread, so
    an assertion that fails inside a worker fails the test (a bare Thread only prints it).
    """
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count), timeout=timeout))


class FrozenClock:
    """A course clock that stands still unless the test moves it (no wall-clock drift).

    In-process tests of expiry compare whole seconds: a real clock ticking on a busy
    machine could push a "one second before expiry" step past it.
    """

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


# -- the CLI server -----------------------------------------------------------------------------
@dataclass
class CliServer:
    """A demo server running as ``python -m helpers serve NAME`` in its own process."""

    name: str
    process: subprocess.Popen[str]
    url: str
    first_line: str

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Send ``sig``, wait, close the pipes; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream:
                    stream.close()

    def stop_cleanly(self, sig: int = signal.SIGTERM) -> None:
        """Stop with ``sig``: exit code 0 and no traceback on stderr (a 500 would log one)."""
        self.process.send_signal(sig)
        assert self.process.wait(10) == 0
        errors = self.process.stderr.read() if self.process.stderr else ""
        self.stop()
        assert "Traceback" not in errors and "unhandled error" not in errors, errors[-3000:]

    def advance(self, seconds: float) -> float:
        """Move the server's course clock (it must run with ``--clock``); the new time."""
        answer = requests.post(f"{self.url}/_clock", json={"advance": seconds}, timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        return answer.json()["now"]


def start_cli_server(name: str, *args: str, env: dict[str, str] | None = None) -> CliServer:
    """Start a demo server through the CLI and wait for its first line.

    It serves :data:`TEST_USERS` unless ``args`` name another ``--users`` file.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers", "serve", name, *args,
         *([] if "--users" in args else ["--users", str(TEST_USERS)])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    if process.stdout is None:
        raise RuntimeError("no stdout pipe")
    first = process.stdout.readline().rstrip("\n")
    match = FIRST_LINE.match(first)
    if not match:
        process.kill()
        _, err = process.communicate(timeout=5)
        raise AssertionError(f"unexpected first line {first!r}; stderr: {err[-2000:]}")
    return CliServer(name=name, process=process, url=match["url"], first_line=first)


def module_server(name: str, *args: str, db: bool = False) -> Callable[..., Any]:
    """A module-scoped fixture: one CLI server for all the tests of a module, stopped cleanly.

    ``db=True`` adds ``--db`` with a fresh file in the module's temporary directory.
    """

    @pytest.fixture(scope="module")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliServer]:
        extra = ["--db", str(tmp_path_factory.mktemp(name) / f"{name}.db")] if db else []
        running = start_cli_server(name, *args, *extra)
        yield running
        running.stop_cleanly()

    return server


# -- the calls ----------------------------------------------------------------------
def login(url: str, username: str = "alice", password: str | None = None,
          http: Any = requests) -> requests.Response:
    """``POST /login`` with a JSON body (the demo user's password unless one is given)."""
    password = DEMO_PASSWORDS.get(username, "x") if password is None else password
    return http.post(f"{url}/login", json={"username": username, "password": password},
                     timeout=TIMEOUT)


def me(url: str, authorization: str | bytes | None = None, *, sid: str | None = None,
       http: Any = requests) -> requests.Response:
    """``GET /me`` with an Authorization header, or a ``sid`` cookie, or nothing."""
    headers: dict[str, Any] = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    if sid is not None:
        headers["Cookie"] = f"sid={sid}"
    return http.get(f"{url}/me", headers=headers, timeout=TIMEOUT)


# -- the error rule ----------------------------------------------------------------------
def assert_json_error(response: Any, status: int, error: str | None = None, *,
                      field: str = "message", challenge: str | None = None) -> dict[str, Any]:
    """The contract's error answer: status, JSON ``{"error", field}``, the code, a 401's challenge.

    Works on a ``requests`` response and on a Flask test-client response. ``challenge``
    is what the ``WWW-Authenticate`` header must start with (any challenge on a 401 if None).
    Returns the body.
    """
    body = response.json() if callable(response.json) else response.json
    assert response.status_code == status, (response.status_code, body)
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(body, dict) and set(body) == {"error", field}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body[field], str) and body[field]
    if error is not None:
        assert body["error"] == error, body
    header = response.headers.get("WWW-Authenticate")
    if status == 401:
        assert header, "a 401 must carry a WWW-Authenticate challenge (RFC 9110 section 15.5.2)"
    if challenge is not None:
        assert header is not None and header.startswith(challenge), header
    return body


def b64url(data: bytes | str | dict[str, Any] | list[Any]) -> str:
    """base64url without padding of bytes, text, or JSON (compact, as a JWS part is built)."""
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":"))
    if isinstance(data, str):
        data = data.encode()
    return b64url_encode(data)


# -- system programs ------------------------------------------------------------------------------
REQUIRE_SYSTEM_DEPS = os.environ.get("COURSE_REQUIRE_SYSTEM_DEPS") == "1"


def need_redis_server() -> None:
    """Skip with a reason when redis-server is missing; fail where it is required (CI)."""
    import shutil

    if shutil.which("redis-server") is None:
        missing = "needs a real redis-server: install the Debian package 'redis-server'"
        if REQUIRE_SYSTEM_DEPS:
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[Any]:
    """One real redis-server for the module (a test module takes it in by name:
    ``from tests.support import redis_server``); skipped, or failed under CI, without one."""
    need_redis_server()
    from helpers.notebook.redis_server import RedisServer  # only the Redis tests need it

    with RedisServer() as running:
        yield running
