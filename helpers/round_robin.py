"""Old import path, kept for notebooks that use it: see the module it re-exports."""

from helpers.notebook.live_server import stop_servers  # noqa: F401
from helpers.notebook.round_robin import RoundRobin  # noqa: F401
