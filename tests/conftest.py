"""Fixtures shared by the tests: demo servers started through the CLI, as a black box."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_LINE = re.compile(r"^Serving (?P<name>[a-z0-9_-]+) on (?P<url>http://(?:127\.0\.0\.1|localhost):(?P<port>\d+))$")
START_TIMEOUT = 20.0
T = TypeVar("T")


def run_concurrently(work: Callable[[int], T], count: int, timeout: float = 60.0) -> list[T]:
    """Call ``work(0)`` … ``work(count - 1)`` on ``count`` threads at once; the results in that order.

    The first exception a worker raised is raised again here, on the test's own thread, so
    an assertion that fails inside a worker fails the test (a bare Thread only prints it).
    """
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(work, range(count), timeout=timeout))


@dataclass
class CliServer:
    """A demo server running as ``python -m helpers serve NAME`` in its own process."""

    name: str
    process: subprocess.Popen[str]
    url: str
    first_line: str

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        finally:
            for stream in (self.process.stdout, self.process.stderr):
                if stream:
                    stream.close()


def start_cli_server(name: str, *args: str, env: dict[str, str] | None = None) -> CliServer:
    """Start a demo server through the CLI and wait for its first line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers", "serve", name, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert process.stdout is not None
    first = process.stdout.readline().rstrip("\n")
    match = FIRST_LINE.match(first)
    if not match:
        process.kill()
        _, err = process.communicate(timeout=5)
        raise AssertionError(f"unexpected first line {first!r}; stderr: {err[-2000:]}")
    return CliServer(name=name, process=process, url=match["url"], first_line=first)


@pytest.fixture
def cli_server() -> Iterator[Callable[..., CliServer]]:
    """Factory fixture: ``cli_server("sessions", "--db", path)``; every server is stopped after."""
    started: list[CliServer] = []

    def start(name: str, *args: str, env: dict[str, str] | None = None) -> CliServer:
        server = start_cli_server(name, *args, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL if server.process.poll() is None else signal.SIGTERM)
