"""``python -m helpers serve NAME``: first line, exit codes, signals and ``--clock``, as the
contract says, for every server."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from helpers.servers import accepted_options, available
from tests.support import ROOT, TIMEOUT, CliServer, assert_json_error, start_cli_server

SERVER_NAMES = list(available())


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


def test_unknown_name_exits_2_and_lists_the_names() -> None:
    result = run_cli("serve", "no-such-server")
    assert result.returncode == 2
    assert "no-such-server" in result.stderr
    for name in SERVER_NAMES:
        assert name in result.stderr
    assert result.stdout == ""


def test_missing_name_is_a_usage_error() -> None:
    assert run_cli("serve").returncode == 2
    assert run_cli().returncode == 2


def test_every_server_is_registered() -> None:
    assert {"cookies", "sessions", "tokens"} <= set(SERVER_NAMES)


# every server with SIGTERM, and Ctrl-C (SIGINT) once: the handler is shared by all of them
SIGNAL_CASES = ([(name, signal.SIGTERM) for name in SERVER_NAMES]
                + [(n, signal.SIGINT) for n in SERVER_NAMES[:1]])


@pytest.mark.parametrize(("name", "sig"), SIGNAL_CASES)
def test_first_line_then_serves_until_signal_and_exits_0(name: str, sig: int, tmp_path) -> None:
    options = accepted_options(available()[name])
    extra = ["--db", str(tmp_path / f"{name}.db")] if "db" in options else []
    server = start_cli_server(name, *extra)
    assert server.first_line == f"Serving {name} on {server.url}"
    assert_json_error(requests.get(server.url + "/definitely-not-a-route", timeout=TIMEOUT), 404)
    # without --clock the clock route does not exist
    no_clock = requests.post(f"{server.url}/_clock", json={"advance": 60}, timeout=TIMEOUT)
    assert_json_error(no_clock, 404)
    assert server.stop(sig) == 0
    assert server.process.stdout is None or server.process.stdout.closed


def test_port_option_is_honoured() -> None:
    if not SERVER_NAMES:
        pytest.skip("no server registered")
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    server = start_cli_server(SERVER_NAMES[0], "--port", str(port))
    try:
        assert server.url == f"http://127.0.0.1:{port}"
        # bound to loopback only
        assert server.first_line.endswith(f"127.0.0.1:{port}")
    finally:
        assert server.stop() == 0


def test_port_in_use_is_a_clear_error() -> None:
    if not SERVER_NAMES:
        pytest.skip("no server registered")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_cli("serve", SERVER_NAMES[0], "--port", str(taken.getsockname()[1]))
    assert result.returncode == 1
    assert "cannot listen" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", [n for n in SERVER_NAMES if n in {"sessions", "tokens"}])
def test_a_db_path_that_cannot_be_opened_is_one_clear_line(name: str, tmp_path) -> None:
    result = run_cli("serve", name, "--db", str(tmp_path / "no-such-dir" / "x.db"))
    assert result.returncode == 1
    assert result.stderr.startswith(f"cannot start {name}:")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_every_server_module_follows_the_naming_rule() -> None:
    """``python -m helpers serve NAME`` imports only helpers/servers/NAME(.py or /), so the
    factory must come from there."""
    for name, create_app in available().items():
        module = create_app.__module__
        assert module == f"helpers.servers.{name}" or module.startswith(f"helpers.servers.{name}.")


def test_a_package_is_a_server_too() -> None:
    assert available()["tokens"].__module__ == "helpers.servers.tokens.app"


@pytest.mark.parametrize(("name", "option", "value"), [
    ("cookies", "--db", "x.db"), ("tokens", "--redis", "redis://127.0.0.1:1/0"),
])
def test_an_option_the_server_does_not_take_exits_2_with_one_line(name: str, option: str,
                                                                 value: str) -> None:
    result = run_cli("serve", name, option, value)
    assert result.returncode == 2
    assert result.stderr.strip() == f"server {name!r} does not support {option}"
    assert result.stdout == ""


# -- --clock: one server process for all the checks of the route ------------------------------
@pytest.fixture(scope="module")
def clocked() -> Iterator[CliServer]:
    running = start_cli_server("cookies", "--clock")
    yield running
    running.stop_cleanly()


def test_the_clock_route_moves_the_servers_clock(clocked: CliServer) -> None:
    first = clocked.advance(0)
    later = clocked.advance(3600)
    assert 3600 <= later - first < 3660
    assert abs(first - time.time()) < 3600 * 24 * 365 * 20  # the course clock, in epoch seconds


@pytest.mark.parametrize("body", [
    b'{"advance": -1}', b'{"advance": "60"}', b'{"advance": true}', b'{"advance": null}',
    b'{"advance": [60]}', b'{"advance": 1e400}', b'{"advance": NaN}', b'{"advance": 1e12}',
    b"{}", b"[60]", b"60", b"not json", b"", b'{"advance": 1, "advance": 2}',
    b'{"advance": ' + b"9" * 5000 + b"}", b"[" * 50000 + b"]" * 50000,
], ids=["negative", "string", "bool", "null", "list", "overflow", "nan", "huge", "no-advance",
        "array", "number", "garbage", "empty", "repeated", "giant-number", "deep"])
def test_bad_clock_requests_are_400_json(clocked: CliServer, body: bytes) -> None:
    before = clocked.advance(0)
    answer = requests.post(f"{clocked.url}/_clock", data=body, timeout=TIMEOUT,
                           headers={"Content-Type": "application/json"})
    assert_json_error(answer, 400 if len(body) <= 64 * 1024 else 413)
    assert clocked.advance(0) - before < 60  # and the clock did not move


def test_the_clock_route_wants_json_and_post(clocked: CliServer) -> None:
    as_form = requests.post(f"{clocked.url}/_clock", data={"advance": "1"}, timeout=TIMEOUT)
    assert_json_error(as_form, 415)
    assert_json_error(requests.get(f"{clocked.url}/_clock", timeout=TIMEOUT), 405)
    big = requests.post(f"{clocked.url}/_clock", data=b"{" + b" " * 70_000 + b"}",
                        headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    assert_json_error(big, 413)
    assert clocked.process.poll() is None
