"""Text a notebook prints about the course's own code and tokens.

Two small needs of the notebooks that show the ``sessions`` server and JWTs:

* the source of a function defined *inside* another (the routes and request
  helpers that ``create_app`` wires up), read from the file with :mod:`ast`, so a
  notebook shows the real code without digging it out of a closure;
* a long token printed with its middle elided, so a 700-character JWT does not
  fill the page while its start (the header) and its end stay visible.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any


def inner_source(outer: Callable[..., Any], name: str) -> str:
    """The source text of the function ``name`` defined inside ``outer`` (dedented).

    Raises ``LookupError`` if ``outer`` defines no such function, so a renamed
    function fails the notebook loudly instead of printing nothing.
    """
    source = textwrap.dedent(inspect.getsource(outer))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines = source.splitlines()[first - 1:node.end_lineno]
            return textwrap.dedent("\n".join(lines)) + "\n"
    raise LookupError(f"{outer.__qualname__} defines no function {name!r}")


def elided(text: str, keep: int = 24) -> str:
    """``text`` with its middle replaced by ``…(N chars)…`` when it is longer than 3 * keep."""
    if len(text) <= 3 * keep:
        return text
    return f"{text[:keep]}…({len(text) - 2 * keep} chars)…{text[-keep:]}"
