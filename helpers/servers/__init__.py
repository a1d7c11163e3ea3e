"""The course's demo servers, each a module or a package here with a ``create_app`` factory.

A module ``NAME.py`` or a package ``NAME/`` in this package that defines ``NAME`` and a
``create_app`` is a server that ``python -m helpers serve NAME`` can start, so a chapter
adds its server by adding its module or package: nothing else needs editing. The CLI
passes a factory only the options its signature names (``db``, ``redis``, ``clock``, ...).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any, Protocol


class AppFactory(Protocol):
    def __call__(self, **options: Any) -> Any: ...


def names() -> list[str]:
    """The server names, found without importing any server (the CLI starts one of them)."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__)
                  if not info.name.startswith("_"))


def factory(name: str) -> AppFactory:
    """Import the server module or package ``name`` and return its ``create_app``."""
    if name not in names():
        raise KeyError(name)
    module = importlib.import_module(f"{__name__}.{name}")
    if getattr(module, "NAME", None) != name or not callable(getattr(module, "create_app", None)):
        raise TypeError(f"{module.__name__} must define NAME = {name!r} and create_app()")
    return module.create_app


def accepted_options(create_app: AppFactory) -> set[str]:
    """The keyword arguments ``create_app`` takes (every name, if it takes ``**kwargs``)."""
    parameters = inspect.signature(create_app).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return {"*"}
    return {p.name for p in parameters
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


def available() -> dict[str, AppFactory]:
    """``{name: create_app}`` for every server in this package (imports them all)."""
    return {name: factory(name) for name in names()}
