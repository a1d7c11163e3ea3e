"""``python -m helpers serve NAME``: first line, exit codes and signals, as the contract says."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest
import requests

from helpers.servers import available

from .conftest import ROOT, start_cli_server

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
SIGNAL_CASES = [(name, signal.SIGTERM) for name in SERVER_NAMES] + [(n, signal.SIGINT) for n in SERVER_NAMES[:1]]


@pytest.mark.parametrize(("name", "sig"), SIGNAL_CASES)
def test_first_line_then_serves_until_signal_and_exits_0(name: str, sig: int, tmp_path) -> None:
    server = start_cli_server(name, "--db", str(tmp_path / f"{name}.db"))
    assert server.first_line == f"Serving {name} on {server.url}"
    response = requests.get(server.url + "/definitely-not-a-route", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"error", "message"}
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
    """``python -m helpers serve NAME`` imports only helpers/servers/NAME(.py or package), so NAME must match."""
    for name, create_app in available().items():
        module = create_app.__module__
        assert module == f"helpers.servers.{name}" or module.startswith(f"helpers.servers.{name}."), module
