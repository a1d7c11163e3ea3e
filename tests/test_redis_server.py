"""The Redis launcher: a real redis-server on 127.0.0.1, started, stopped and restarted."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from helpers.notebook import redis_server as redis_server_module
from helpers.notebook.redis_server import (
    RedisServer,
    RedisServerMissing,
    ping,
    redis_server_path,
    serve_redis,
)
from tests.support import need_redis_server


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    need_redis_server()
    with RedisServer() as running:
        yield running


# --- the launcher ----------------------------------------------------------------------


def test_server_listens_on_loopback_with_its_own_dir_and_no_persistence(
        server: RedisServer) -> None:
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    assert server.port > 0 and ping(server.port)
    command = server.command()
    assert command[command.index("--port") + 1] == str(server.port) != "0"
    assert command[command.index("--bind") + 1] == "127.0.0.1"
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert server.directory is not None and server.directory.is_dir()
    assert command[command.index("--dir") + 1] == str(server.directory)


def test_stop_removes_the_dir_and_start_comes_back_on_the_same_port() -> None:
    need_redis_server()
    redis_server = RedisServer().start()
    try:
        port, directory = redis_server.port, redis_server.directory
        redis_server.stop()
        assert not redis_server.running and not ping(port)
        assert directory is not None and not directory.exists()
        redis_server.stop()  # twice is harmless
        redis_server.start()
        assert redis_server.port == port and ping(port)
    finally:
        redis_server.stop()


def test_a_busy_fixed_port_fails_fast_with_the_servers_own_output() -> None:
    need_redis_server()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(redis_server_module.RedisServerError, match=str(port)) as info:
            RedisServer(port).start()
        assert time.monotonic() - started < 5
    assert "output" in str(info.value)


def test_port_zero_is_refused_because_redis_reads_it_as_no_tcp() -> None:
    with pytest.raises(ValueError, match="no TCP"):
        RedisServer(0)


def test_missing_binary_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RedisServerMissing) as info:
        redis_server_path()
    message = str(info.value)
    assert "'redis-server'" in message and "apt-get install redis-server" in message
    assert "conda-forge" in message
    with pytest.raises(RedisServerMissing):
        RedisServer().start()




def test_serve_redis_replaces_the_server_of_the_same_name() -> None:
    need_redis_server()
    first = serve_redis("test-replace")
    second = serve_redis("test-replace")  # a notebook cell run twice
    try:
        assert not first.running and second.running
        assert ping(second.port) and not ping(first.port)
    finally:
        second.stop()
