"""Old import path, kept for existing notebooks: the code lives in :mod:`helpers.notebook.round_robin`."""

from helpers.notebook.live_server import stop_servers  # noqa: F401
from helpers.notebook.round_robin import RoundRobin  # noqa: F401
