"""The course's demo servers, each a module here with a ``create_app`` factory.

A module in this package that defines ``NAME`` and ``create_app(db=None)`` is a
server that ``python -m helpers serve NAME`` can start, so a chapter adds its server
by adding its module: nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Protocol


class AppFactory(Protocol):
    def __call__(self, db: str | None = None) -> Any: ...


def available() -> dict[str, AppFactory]:
    """``{name: create_app}`` for every server module in this package."""
    found: dict[str, AppFactory] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(module, "NAME", None)
        factory = getattr(module, "create_app", None)
        if name and callable(factory):
            found[name] = factory
    return dict(sorted(found.items()))
