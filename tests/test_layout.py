"""The shape of ``helpers/``: no import cycle, plumbing apart from lessons, no runtime asserts.

Read from the source with ``ast`` (nothing is imported), so a cycle fails here even where
Python's import order happens to hide it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support import ROOT

HELPERS = ROOT / "helpers"
#: Import paths of the old flat layout; they are gone, and nothing may import them again.
OLD_PATHS = {"helpers.course_clock", "helpers.errors", "helpers.exercises", "helpers.live_server",
             "helpers.redis_server", "helpers.redis_store", "helpers.round_robin",
             "helpers.session_store"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The helpers modules ``path`` imports at module level or in functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    modules = {module_name(p) for p in HELPERS.rglob("*.py")}
    return {m for m in found if m in modules and m != name}


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in HELPERS.rglob("*.py")}


def test_no_import_cycle() -> None:
    edges = graph()
    # the reader sees the edges it must (relative and absolute imports alike)
    assert "helpers.stores.sessions" in edges["helpers.stores.memory_sessions"]
    assert "helpers.http" in edges["helpers.servers.tokens.app"]
    # a package's __init__ re-exporting its own modules is not a cycle through them
    done: set[str] = set()

    def visit(node: str, trail: list[str]) -> None:
        if node in trail:
            cycle = trail[trail.index(node):] + [node]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for target in edges.get(node, ()):
            if not node.startswith(target + "."):  # importing one's own package is fine
                visit(target, [*trail, node])
        done.add(node)

    for start in edges:
        visit(start, [])


def test_new_code_never_imports_an_old_path() -> None:
    for name, targets in graph().items():
        if name not in OLD_PATHS and name != "helpers":
            assert not targets & OLD_PATHS, (name, targets & OLD_PATHS)


def test_the_old_flat_modules_are_gone_and_nothing_names_them() -> None:
    for old in OLD_PATHS:
        assert not (ROOT / (old.replace(".", "/") + ".py")).exists(), old
    sources = [*ROOT.glob("tests/**/*.py"), *ROOT.glob("tools/*.py"), *HELPERS.rglob("*.py"),
               *ROOT.glob("notebooks/*.ipynb")]
    pattern = re.compile(r"\b(" + "|".join(re.escape(o) for o in sorted(OLD_PATHS)) + r")\b")
    for path in sources:
        if path.name == "test_layout.py":
            continue
        found = pattern.findall(path.read_text(encoding="utf-8"))
        assert not found, (path.relative_to(ROOT), sorted(set(found)))


def test_notebook_plumbing_and_stores_do_not_import_the_servers() -> None:
    for name, targets in graph().items():
        if name.startswith(("helpers.notebook", "helpers.stores", "helpers.http")):
            assert not any(t.startswith("helpers.servers") for t in targets), (name, targets)


def test_no_assert_statements_in_helpers() -> None:
    """``python -O`` drops asserts: a runtime check must be an ``if`` and an exception."""
    for path in HELPERS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        asserts = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert)]
        assert not asserts, (str(path.relative_to(ROOT)), asserts)


def test_lab_code_lives_in_helpers_labs_and_nothing_below_depends_on_it() -> None:
    """Naive twins are lesson material: a server, store or plumbing module never imports them."""
    edges = graph()
    assert "helpers.labs.oauth" in edges  # the oauth labs live under helpers/labs/
    assert not (HELPERS / "oauth_labs.py").exists()
    for name, targets in edges.items():
        if not name.startswith("helpers.labs"):
            assert not any(t.startswith("helpers.labs") for t in targets), (name, targets)
