"""The course's demo servers, each a module (or a package) here with a ``create_app`` factory.

A module ``NAME.py`` or a package ``NAME/`` in this package that defines (or, for a
package, exports from its ``__init__``) ``NAME`` and ``create_app(db=None)`` is a server that ``python -m helpers serve NAME`` can start, so a chapter adds its
server by adding its module: nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Protocol


class AppFactory(Protocol):
    def __call__(self, db: str | None = None) -> Any: ...


def names() -> list[str]:
    """The server names, found without importing any server (the CLI starts one of them)."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def factory(name: str) -> AppFactory:
    """Import the server module ``name`` and return its ``create_app``."""
    if name not in names():
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{name}")
    if getattr(module, "NAME", None) != name or not callable(getattr(module, "create_app", None)):
        raise TypeError(f"{module.__name__} must define NAME = {name!r} and create_app(db=None)")
    return module.create_app


def available() -> dict[str, AppFactory]:
    """``{name: create_app}`` for every server module in this package (imports them all)."""
    return {name: factory(name) for name in names()}
