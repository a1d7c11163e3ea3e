"""The in-notebook server: starts, answers, restarts under one name, stops fast, leaks nothing."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests
from flask import Flask

from helpers import LiveServer, running_servers, serve, stop_all
from helpers.notebook.live_server import PortUnavailable


def make_app(tag: str = "one") -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> dict[str, str]:
        return {"tag": tag}

    return app


def threads_named(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]


def test_context_manager_serves_on_loopback_and_stops() -> None:
    with LiveServer(make_app(), name="ctx") as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.port > 0
        assert requests.get(server.url + "/", timeout=5).json() == {"tag": "one"}
    assert not server.running
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url.rsplit(":", 1)[0] + f":{server.port}/", timeout=2)


def test_serve_same_name_replaces_the_old_server() -> None:
    first = serve(make_app("one"), name="replace-me")
    second = serve(make_app("two"), name="replace-me")
    try:
        assert not first.running
        assert running_servers()["replace-me"] is second
        assert requests.get(second.url + "/", timeout=5).json() == {"tag": "two"}
    finally:
        second.stop()
    assert "replace-me" not in running_servers()


def test_rerunning_on_a_fixed_port_never_says_address_in_use() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    for tag in ("a", "b", "c"):
        server = serve(make_app(tag), name="fixed-port", port=port)
        assert requests.get(server.url + "/", timeout=5).json() == {"tag": tag}
    server.stop()


def test_open_idle_connections_do_not_leak_threads() -> None:
    """A client that connects and sends nothing holds a handler thread; stop() must free it."""
    server = serve(make_app(), name="leak-check")
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
    deadline = time.monotonic() + 5
    while len(threads_named("leak-check-request")) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(threads_named("leak-check-request")) == 3, "each idle connection holds a thread"
    assert requests.get(server.url + "/", timeout=5).status_code == 200
    server.stop()
    try:
        assert threads_named("leak-check") == []
    finally:
        for sock in idle:
            sock.close()


def test_stop_is_fast() -> None:
    server = serve(make_app(), name="fast-stop")
    requests.get(server.url + "/", timeout=5)
    started = time.perf_counter()
    server.stop()
    # werkzeug's default poll interval alone would cost up to 0.5 s
    assert time.perf_counter() - started < 0.3


def test_stop_all_stops_every_named_server() -> None:
    servers = [serve(make_app(), name=f"many-{n}") for n in range(3)]
    stop_all()
    assert not any(s.running for s in servers)
    assert not any(name.startswith("many-") for name in running_servers())


def test_no_access_log_on_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    with LiveServer(make_app(), name="quiet") as server:
        for _ in range(3):
            requests.get(server.url + "/", timeout=5)
            requests.get(server.url + "/missing", timeout=5)
    out, err = capfd.readouterr()
    assert "GET /" not in out + err
    assert "HTTP/1.1" not in out + err


def test_errors_before_the_app_are_json() -> None:
    """A header line too long for http.server is refused with the contract's JSON, not HTML."""
    with LiveServer(make_app(), name="early-errors") as server:
        response = requests.get(server.url + "/", headers={"X-Big": "a" * 70_000}, timeout=5)
        assert response.status_code == 431
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert body["error"] == "request_header_fields_too_large"
        assert body["message"]
        # and the server is still up
        assert requests.get(server.url + "/", timeout=5).status_code == 200


def test_a_taken_port_raises_a_clear_error_not_system_exit() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortUnavailable, match=f"127.0.0.1:{port}"):
            LiveServer(make_app(), name="taken", port=port).start()
    assert threads_named("taken") == []
