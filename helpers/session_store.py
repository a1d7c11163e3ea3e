"""Old import path, kept for notebooks that use it: see :mod:`helpers.stores`."""

from helpers.stores import *  # noqa: F403 - every public name, under the old path
from helpers.stores import open_session_store as open_store  # noqa: F401 - the old name
from helpers.stores.memory_sessions import *  # noqa: F403
from helpers.stores.sessions import *  # noqa: F403
from helpers.stores.sqlite_sessions import *  # noqa: F403
