"""``python -m helpers serve NAME [--port PORT] [--db PATH] [--redis URL] [--clock] [...]``.

Runs a demo server outside a notebook: bound to 127.0.0.1 only; the first line on stdout,
flushed at once, is exactly ``Serving NAME on http://127.0.0.1:PORT`` (``passkeys`` prints
``http://localhost:PORT``: WebAuthn refuses IP-address origins); it serves until SIGINT or
SIGTERM and then exits 0. An unknown NAME, or an option that server does not take, exits 2
with one line saying so. ``--clock`` adds ``POST /_clock {"advance": SECONDS}``
(see :mod:`helpers.clock_route`) to any server. ``--dpop-nonce`` (the ``tokens``
server) makes every DPoP proof carry a server nonce (RFC 9449 section 8). ``--users PATH``
serves the users of another file in the format of ``data/users.json`` (the test suite's copy
hashes the same demo passwords at a lower scrypt cost, as its tests log in hundreds of times).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from . import servers, users
from .clock_route import ClockRoute
from .notebook.course_clock import clock
from .notebook.live_server import HOST, POLL_INTERVAL, PortUnavailable, make_quiet_server

EXIT_USAGE = 2
#: Options passed to a server's ``create_app`` under the parameter name, when given.
SERVER_OPTIONS = {"db": "--db", "redis": "--redis", "dpop_nonce": "--dpop-nonce"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers",
                                     description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run one demo server on 127.0.0.1")
    serve.add_argument("name", metavar="NAME", help="which demo server")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default 0: a free port)")
    serve.add_argument("--db", metavar="PATH", default=None, help="where the server keeps its data")
    serve.add_argument("--redis", metavar="URL", default=None,
                       help="keep shared state in this Redis (redis://127.0.0.1:PORT/0)")
    serve.add_argument("--clock", action="store_true",
                       help="add POST /_clock to move the server's course clock")
    # default None, not False: an option left out is not passed to the server at all
    serve.add_argument("--dpop-nonce", action="store_true", default=None,
                       help="require a server nonce in every DPoP proof (RFC 9449 section 8)")
    serve.add_argument("--users", metavar="PATH", default=None,
                       help="the demo users' file (default data/users.json)")
    return parser


class UnsupportedOption(Exception):
    """The user gave an option the chosen server does not take (exit 2)."""


def build_app(name: str, options: dict[str, Any], with_clock: bool) -> Any:
    """The WSGI app: ``create_app`` with the options it takes, wrapped for ``--clock``.

    Raises :class:`UnsupportedOption` naming an option the server does not take.
    """
    create_app = servers.factory(name)
    accepted = servers.accepted_options(create_app)
    given = {key: value for key, value in options.items() if value is not None}
    for key in given:
        if key not in accepted and "*" not in accepted:
            raise UnsupportedOption(f"server {name!r} does not support {SERVER_OPTIONS[key]}")
    if "clock" in accepted:
        given["clock"] = clock
    app = create_app(**given)
    return ClockRoute(app, clock) if with_clock else app


def serve(name: str, port: int = 0, *, with_clock: bool = False, **options: Any) -> int:
    """Run the demo server ``name`` in the foreground; return the process exit code."""
    if name not in servers.names():
        known = ", ".join(servers.names()) or "(none yet)"
        print(f"unknown server {name!r}; available servers: {known}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= port <= 65535:
        print(f"port must be between 0 and 65535, not {port}", file=sys.stderr)
        return EXIT_USAGE
    try:
        app = build_app(name, options, with_clock)
    except UnsupportedOption as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bad --db path, an unreadable key file: one clear line
        print(f"cannot start {name}: {exc}", file=sys.stderr)
        return 1
    try:
        server = make_quiet_server(app, port, name)
    except PortUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever() to return, so it cannot run on this thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # a server may name the host its URL must use (passkeys: "localhost", as WebAuthn refuses
    # IP-address origins); it still listens on 127.0.0.1 only
    shown_host = getattr(app, "config", {}).get("PUBLIC_HOST", HOST)
    print(f"Serving {name} on http://{shown_host}:{server.server_port}", flush=True)
    for line in getattr(app, "extensions", {}).get("serve_banner", ()):  # bff: "Provider on URL"
        print(line, flush=True)
    try:
        server.serve_forever(poll_interval=POLL_INTERVAL)
    finally:
        server.close_connections(timeout=2.0)
        server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        if args.users is not None:  # read by load_users() when the server is built
            users.USERS_FILE = Path(args.users)
        return serve(args.name, args.port, with_clock=args.clock, db=args.db, redis=args.redis,
                     dpop_nonce=args.dpop_nonce)
    return EXIT_USAGE  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    sys.exit(main())
