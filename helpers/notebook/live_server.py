"""Run a WSGI app in a background thread on 127.0.0.1, the way every notebook does.

Why a module of its own: a server inside a notebook has to survive what readers do
to cells. Re-running a cell must not fail with "address already in use" or leave a
second server behind; stopping must be quick; and nothing may print from the server
threads, because nbval compares every output (werkzeug's access log would put a
timestamped line on stderr for each request).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from helpers.http import error_code

from .registry import NamedRegistry

HOST = "127.0.0.1"
#: ``serve_forever`` checks for shutdown this often; werkzeug's default (0.5 s) makes stop slow.
POLL_INTERVAL = 0.02


class PortUnavailable(Exception):
    """The port could not be bound (already in use, or not allowed).

    Deliberately not an OSError: werkzeug turns an OSError during bind into sys.exit(1).
    """

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {HOST}:{port}: {reason}")
        self.port = port
        self.reason = reason


class QuietRequestHandler(WSGIRequestHandler):
    """A request handler with no access log, and JSON even for errors found before the app runs.

    http.server answers a request line or header that is too long (414, 431) or
    malformed (400) itself, with an HTML page. The contract wants JSON for every error,
    so :meth:`send_error` writes the same ``{"error", "message"}`` body the apps use.
    """

    protocol_version = "HTTP/1.1"

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """No access-log line per request (nbval would see it on stderr)."""

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        """Malformed client input is answered with a JSON error; it is not a server fault."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        try:
            status = HTTPStatus(code)
            short, long = status.phrase, status.description
        except ValueError:
            short, long = "Error", "The request could not be handled."
        body = json.dumps({"error": error_code(short), "message": message or long}).encode()
        self.close_connection = True
        self.send_response(code, short)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


class _TrackingServer(ThreadedWSGIServer):
    """A threaded werkzeug server that knows its open connections, so stop() can close them.

    Without this, a keep-alive connection left open by a ``requests.Session`` keeps a
    handler thread blocked on ``recv`` after the server has stopped: a leaked thread.
    """

    def __init__(self, host: str, port: int, app: Any, name: str) -> None:
        super().__init__(host, port, app, handler=QuietRequestHandler)
        self.name = name
        self._open: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        self._track_lock = threading.Lock()

    def server_bind(self) -> None:
        # werkzeug answers a failed bind by printing and calling sys.exit(1), which would end
        # a notebook kernel's cell or hide the reason from the CLI; raise a clear error instead.
        try:
            super().server_bind()
        except OSError as exc:
            self.socket.close()
            raise PortUnavailable(self.server_address[1], exc.strerror or str(exc)) from None

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{self.name}-request",
            daemon=True,
        )
        with self._track_lock:
            self._open.add(request)
            self._handler_threads = {t for t in self._handler_threads if t.is_alive()}
            self._handler_threads.add(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._track_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self, timeout: float) -> None:
        """Hang up every open connection and wait for the handler threads to finish."""
        with self._track_lock:
            sockets, threads = list(self._open), list(self._handler_threads)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(timeout)


def make_quiet_server(app: Any, port: int = 0, name: str = "server") -> _TrackingServer:
    """Bind ``app`` to 127.0.0.1:``port`` (0 picks a free port) without starting it."""
    return _TrackingServer(HOST, port, app, name)


class LiveServer:
    """A WSGI app served from a daemon thread on 127.0.0.1.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Most
    notebooks use :func:`serve`, which also replaces an older server of the same name.
    """

    def __init__(self, app: Any, *, name: str = "server", port: int = 0) -> None:
        self.app = app
        self.name = name
        self._requested_port = port
        self._server: _TrackingServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"server {self.name!r} is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, with no trailing slash."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> LiveServer:
        if self.running:
            return self
        self._server = make_quiet_server(self.app, self._requested_port, self.name)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"{self.name}-serve",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, hang up open connections, and join every thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join(timeout)
        server.close_connections(timeout)
        server.server_close()
        self._thread = None
        _servers.forget(self.name, self)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<LiveServer {self.name!r} {where}>"


#: The servers started by :func:`serve`, by name.
_servers: NamedRegistry[LiveServer] = NamedRegistry()


def serve(app: Any, name: str = "server", port: int = 0) -> LiveServer:
    """Start ``app`` as the live server called ``name``, first stopping any older one.

    This is what makes re-running a notebook cell safe: the old server is stopped and
    its port released before the new one starts.
    """
    return serve_started(name, lambda: LiveServer(app, name=name, port=port).start())


def serve_started(name: str, start: Callable[[], LiveServer]) -> LiveServer:
    """:func:`serve`'s rule for a server ``start()`` builds (such as one speaking HTTPS):
    the older server called ``name`` is stopped first, and the new one is remembered."""
    return _servers.replace(name, start)


def running_servers() -> dict[str, LiveServer]:
    """The servers started by :func:`serve` that are still running, by name."""
    return _servers.running()


def stop_servers(names: Iterable[str]) -> None:
    """Stop the running servers (started by :func:`serve`) with these names, all at once.

    Each stop waits for its server's poll loop, so stopping ten servers one by one
    costs ten waits; in parallel it costs one.
    """
    _servers.stop(list(names))


def stop_all() -> None:
    """Stop every server started by :func:`serve` (also run at interpreter exit)."""
    _servers.stop_all()
