"""Old import path, kept for notebooks that use it: see the module it re-exports."""

from helpers.notebook.live_server import LiveServer, running_servers, serve, stop_all, stop_servers  # noqa: F401
