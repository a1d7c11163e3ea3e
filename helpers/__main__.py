"""``python -m helpers serve NAME [--port PORT] [--db PATH]``: a demo server outside a notebook.

The contract (course-design.md): bind 127.0.0.1 only; print exactly
``Serving NAME on http://127.0.0.1:PORT`` as the first line, flushed at once; serve
until SIGINT or SIGTERM and then exit 0; an unknown NAME exits 2 and lists the names.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from . import servers
from .live_server import HOST, POLL_INTERVAL, PortUnavailable, make_quiet_server

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run one demo server on 127.0.0.1")
    serve.add_argument("name", metavar="NAME", help="which demo server")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default 0: a free port)")
    serve.add_argument("--db", metavar="PATH", default=None, help="where the server keeps its data")
    return parser


def serve(name: str, port: int = 0, db: str | None = None) -> int:
    """Run the demo server ``name`` in the foreground; return the process exit code."""
    if name not in servers.names():
        known = ", ".join(servers.names()) or "(none yet)"
        print(f"unknown server {name!r}; available servers: {known}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= port <= 65535:
        print(f"port must be between 0 and 65535, not {port}", file=sys.stderr)
        return EXIT_USAGE
    try:
        app = servers.factory(name)(db=db)
    except Exception as exc:  # a bad --db path, an unreadable key file: one clear line, no traceback
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
    print(f"Serving {name} on http://{HOST}:{server.server_port}", flush=True)
    for line in getattr(app, "extensions", {}).get("serve_banner", ()):  # e.g. bff: "Provider on URL"
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
        return serve(args.name, args.port, args.db)
    return EXIT_USAGE  # pragma: no cover - argparse rejects other commands


if __name__ == "__main__":
    sys.exit(main())
