"""Old import path, kept for notebooks that use it: see :mod:`helpers.notebook.round_robin`.

``stop_servers`` lives with the live server now (:mod:`helpers.notebook.live_server`).
"""

from helpers.notebook.live_server import stop_servers  # noqa: F401
from helpers.notebook.round_robin import *  # noqa: F403 - every public name, under the old path
