"""The demo users, loaded from ``data/users.json``, and the one password check every server uses.

The file stores password *hashes* only (werkzeug's scrypt format), never the passwords.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash

from .paths import DATA_DIR

USERS_FILE = DATA_DIR / "users.json"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password_hash: str
    role: str


def load_users(path: Path = USERS_FILE) -> dict[str, DemoUser]:
    """Read the demo users into a ``{username: DemoUser}`` dict."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        name: DemoUser(username=name, password_hash=entry["password_hash"], role=entry["role"])
        for name, entry in raw["users"].items()
    }


def check_credentials(users: Mapping[str, DemoUser], username: str,
                      password: str) -> DemoUser | None:
    """The user if ``password`` is theirs, else None (unknown name or wrong password alike)."""
    user = users.get(username)
    # An unknown name still costs one hash check (against a real user's hash, so with the
    # same scrypt cost): it answers as slowly as a wrong password and timing tells nothing.
    password_hash = user.password_hash if user else next(iter(users.values())).password_hash
    password_ok = check_password_hash(password_hash, password)
    return user if user is not None and password_ok else None
