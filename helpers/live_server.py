"""Old import path, kept for existing notebooks: the code lives in :mod:`helpers.notebook.live_server`."""

from helpers.notebook.live_server import LiveServer, running_servers, serve, stop_all, stop_servers  # noqa: F401
