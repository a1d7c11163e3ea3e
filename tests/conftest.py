"""pytest configuration. The shared helpers themselves are in tests/support.py.

Every server a test builds, in this process or through the CLI (``--users``, added by
:func:`tests.support.start_cli_server`), serves the demo users of ``tests/data/users.json``:
the same accounts and passwords as ``data/users.json``, hashed at scrypt N=2**10 instead of
2**15, as the suite logs in hundreds of times. The notebooks, which nbval runs in kernels of
their own, keep the course's file; ``tests/test_users.py`` holds the two files together.
"""

from helpers import users
from tests.support import TEST_USERS

users.USERS_FILE = TEST_USERS
