"""The demo users, loaded from ``data/users.json``.

The file stores password *hashes* only (werkzeug's scrypt format), never the
passwords. The check itself, ``check_password_hash(user.password_hash, password)``,
belongs in the notebooks and the demo servers where the reader can see it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
