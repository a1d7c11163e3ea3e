"""The demo users, loaded from ``data/users.json``, and the one password check every server uses.

The file stores password *hashes* only (werkzeug's scrypt format), never the passwords.
A password changed on a server lives in that server's store, never in the file:
:func:`check_credentials` takes the store's lookup as ``changed_hash``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from .paths import DATA_DIR

#: The demo users' file. :func:`load_users` looks it up at call time, so one process can point
#: every server it builds at another file (``python -m helpers serve NAME --users PATH``).
USERS_FILE = DATA_DIR / "users.json"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password_hash: str
    role: str


def load_users(path: Path | None = None) -> dict[str, DemoUser]:
    """Read the demo users (``path``, else :data:`USERS_FILE`) into ``{username: DemoUser}``."""
    raw = json.loads(Path(path or USERS_FILE).read_text(encoding="utf-8"))
    return {
        name: DemoUser(username=name, password_hash=entry["password_hash"], role=entry["role"])
        for name, entry in raw["users"].items()
    }


#: werkzeug's scrypt with the cost data/users.json uses (N=2**15, r=8, p=1).
PASSWORD_METHOD = "scrypt:32768:8:1"


def hash_password(password: str) -> str:
    """A new password's hash, in the same scrypt format and cost as the demo users'."""
    return generate_password_hash(password, method=PASSWORD_METHOD)


def check_credentials(users: Mapping[str, DemoUser], username: str, password: str,
                      changed_hash: Callable[[str], str | None] | None = None,
                      ) -> DemoUser | None:
    """The user if ``password`` is theirs, else None (unknown name or wrong password alike).

    ``changed_hash(username)`` is the server's store of changed passwords: when it has a
    hash for the user, that hash is the one checked (the file's is the old password).
    """
    user = users.get(username)
    # An unknown name still costs one hash check (against a real user's hash, so with the
    # same scrypt cost): it answers as slowly as a wrong password and timing tells nothing.
    password_hash = user.password_hash if user else next(iter(users.values())).password_hash
    if user is not None and changed_hash is not None:
        password_hash = changed_hash(user.username) or password_hash
    password_ok = check_password_hash(password_hash, password)
    return user if user is not None and password_ok else None
