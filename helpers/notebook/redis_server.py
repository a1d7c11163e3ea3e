"""A real ``redis-server`` on 127.0.0.1, started and stopped from Python.

Notebook 09 and its tests need a genuine shared session store, not a fake one, so
this module runs the ``redis-server`` program as a child process:

* on a free TCP port found first (``--port 0`` does *not* pick a free port: it turns
  TCP off), bound to 127.0.0.1 only;
* with its own temporary ``--dir`` and no persistence (``--save ''``,
  ``--appendonly no``), so nothing is written anywhere else;
* in the foreground (no daemonizing), so the child is ours to stop;
* waiting, for a bounded time, until it answers ``PING``; a failure raises an error
  that quotes the server's own output.

:meth:`RedisServer.stop` followed by :meth:`RedisServer.start` brings the server back
on the *same* port, which is how the tests show a store going down and coming back.
"""

from __future__ import annotations

import atexit
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .registry import NamedRegistry

HOST = "127.0.0.1"
#: Debian/Ubuntu and conda-forge both call the package that brings the program ``redis-server``.
PACKAGE = "redis-server"
#: How long :meth:`RedisServer.start` waits for the first PONG.
START_TIMEOUT = 10.0


class RedisServerMissing(RuntimeError):
    """The ``redis-server`` program is not installed (or not on PATH)."""


class RedisServerError(RuntimeError):
    """``redis-server`` did not start, or did not answer PING in time."""


def redis_server_path() -> str:
    """The full path of the ``redis-server`` program, or a clear :class:`RedisServerMissing`."""
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerMissing(
            "the redis-server program was not found on PATH: install the Debian/Ubuntu "
            f"package '{PACKAGE}' (sudo apt-get install {PACKAGE}) or, with conda, the "
            f"conda-forge package '{PACKAGE}' (conda install -c conda-forge {PACKAGE})"
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def ping(port: int, timeout: float = 0.5) -> bool:
    """True if a Redis server on 127.0.0.1:``port`` answers ``PING``."""
    client = redis.Redis(host=HOST, port=port, socket_timeout=timeout,
                         socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False
    finally:
        client.close()


def _load_prctl():
    """libc's ``prctl``, looked up once in the parent (never between fork and exec)."""
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    """Ask Linux to send SIGTERM to the child when its parent goes away (a killed kernel)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


class RedisServer:
    """A ``redis-server`` child process on 127.0.0.1.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`::

        with RedisServer() as redis_server:
            store = RedisSessionStore.from_url(redis_server.url)

    ``port=None`` (the default) picks a free port at the first start; every later
    :meth:`start` reuses it.
    """

    def __init__(self, port: int | None = None, *, start_timeout: float = START_TIMEOUT) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError("port must be between 1 and 65535 (redis-server reads 0 as 'no TCP')")
        self._port = port
        self._fixed_port = port is not None
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None
        self._lock = threading.Lock()

    # -- what callers use -------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the Redis server has not been started yet, so it has no port")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``: database 0 of this server."""
        return f"redis://{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def directory(self) -> Path | None:
        """The server's own working directory while it runs (removed by :meth:`stop`)."""
        return self._dir

    def command(self) -> list[str]:
        """The exact command line :meth:`start` runs."""
        return [
            redis_server_path(),
            "--port", str(self.port),
            "--bind", HOST,
            "--dir", str(self._dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", "",
            "--loglevel", "warning",
        ]

    def start(self) -> RedisServer:
        """Start the server (on the same port as before, if it ran before) and wait for PONG."""
        with self._lock:
            if self.running:
                return self
            redis_server_path()  # a clear error before anything else happens
            attempts = 1 if (self._fixed_port or self._port is not None) else 3
            for attempt in range(attempts):
                if self._port is None:
                    self._port = free_port()
                try:
                    self._launch()
                    break
                except RedisServerError:
                    # Another program may have taken the free port in the meantime: the
                    # first start may try another one; a restart must keep its port.
                    if attempt == attempts - 1:
                        raise
                    self._port = None
            _started.add(self)
            return self

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server, wait for it, and remove its directory. Safe to call twice."""
        with self._lock:
            process, self._process = self._process, None
            if process is not None:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout)
                if process.stdout is not None:
                    process.stdout.close()
            self._remove_dir()
            _started.discard(self)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<RedisServer {where}>"

    # -- plumbing ---------------------------------------------------------------------
    def _launch(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="course-redis-"))
        log_path = self._dir / "redis-server.log"
        log = open(log_path, "wb")  # noqa: SIM115 - the child writes to it; closed below
        try:
            main_thread = threading.current_thread() is threading.main_thread()
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._dir,
                # PR_SET_PDEATHSIG follows the *thread* that started the child, so only
                # ask for it from the main thread (a notebook kernel, a test process).
                preexec_fn=_die_with_parent if (_PRCTL is not None and main_thread) else None,
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if ping(self.port):
                return
            time.sleep(0.02)
        output = log_path.read_text(errors="replace").strip() if log_path.exists() else ""
        exited = self._process.poll()
        if exited is None:
            self._process.kill()
            self._process.wait(5)
        self._process = None
        self._remove_dir()
        why = f"exited with code {exited}" if exited is not None else (
            f"did not answer PING within {self.start_timeout:g} s")
        raise RedisServerError(
            f"redis-server on {HOST}:{self._port} {why}. Its output:\n{output or '(nothing)'}"
        )

    def _remove_dir(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


#: Servers started and not yet stopped: stopped at interpreter exit.
_started: set[RedisServer] = set()
#: The servers started by :func:`serve_redis`, by name.
_named: NamedRegistry[RedisServer] = NamedRegistry()


def serve_redis(name: str = "redis") -> RedisServer:
    """Start a Redis server called ``name``, first stopping an older one of the same name.

    This is what a notebook cell calls: running the cell again replaces the server
    instead of leaving a second ``redis-server`` process behind.
    """
    return _named.replace(name, lambda: RedisServer().start())


def stop_all_redis() -> None:
    """Stop every Redis server this process started."""
    _named.stop_all()
    for server in list(_started):
        server.stop()


atexit.register(stop_all_redis)
