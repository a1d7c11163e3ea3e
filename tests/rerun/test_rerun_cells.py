"""Every code cell can be run twice in a row, and the notebook still passes to the end.

A learner presses Shift+Enter twice; the course promises that this does no harm. For each
notebook, in ONE kernel, this runs c0 c0 c1 c1 c2 c2 …: every code cell twice, then the next.
It fails on any error, in either run, and it compares each second run's outputs with the
stored ones, sanitised exactly as nbval is with tests/nbval_sanitize.cfg: a cell whose second
run prints something else does not "pass again". Cells are judged as nbval judges them
(NBVAL_SKIP, NBVAL_IGNORE_OUTPUT, NBVAL_RAISES_EXCEPTION and the matching tags). After a
failure the run goes on, so one report lists every cell that breaks.

Run it with `make rerun` (it is not part of `make test`: it doubles the notebook time).
Notebooks run in parallel under pytest-xdist, one notebook per test.
"""

from __future__ import annotations

import copy
import importlib.util
import re
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbval.plugin import (
    coalesce_streams,
    find_comment_markers,
    find_metadata_tags,
    get_sanitize_patterns,
    transform_streams_for_comparison,
)

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SANITIZE = get_sanitize_patterns(
    (ROOT / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8"))
#: what nbval leaves out of a comparison (nbval.plugin.IPyNbFile.skip_compare, images included)
SKIP_COMPARE = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}
CELL_TIMEOUT = 120
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _root_conftest() -> Any:
    """conftest.py at the top: its NEEDS_BINARY and REQUIRE_SYSTEM_DEPS decide skips here too."""
    spec = importlib.util.spec_from_file_location("course_collection_rules", ROOT / "conftest.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RULES = _root_conftest()


def sanitize(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    for regex, replace in SANITIZE:
        value = re.sub(regex, replace, value)
    return value


def comparable(outputs: list) -> dict[str, list]:
    """Outputs flattened as nbval compares them: a stream name or MIME type -> its values."""
    flat: dict[str, list] = defaultdict(list)
    for output in transform_streams_for_comparison(coalesce_streams(copy.deepcopy(outputs))):
        for key, value in output.items():
            if key in SKIP_COMPARE:
                continue
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIP_COMPARE:
                        flat[mime].append(sanitize(data))
            else:
                flat[key].append(sanitize(value))
    return dict(flat)


def first_difference(stored: dict[str, list], got: dict[str, list]) -> str | None:
    if set(stored) != set(got):
        return f"output kinds differ: stored {sorted(stored)}, got {sorted(got)}"
    for key in stored:
        if stored[key] != got[key]:
            old = "\n".join(str(v) for v in stored[key]).splitlines()
            new = "\n".join(str(v) for v in got[key]).splitlines()
            for n, (a, b) in enumerate(zip(old, new, strict=False)):
                if a != b:
                    return f"{key}, line {n + 1}:\n    stored: {a[:160]}\n    got:    {b[:160]}"
            return f"{key}: stored {len(old)} lines, got {len(new)}"
    return None


def options_of(cell: Any) -> dict[str, bool]:
    options: dict[str, bool] = defaultdict(bool, find_metadata_tags(cell.metadata))
    options.update(dict(find_comment_markers(cell.source)))
    options.setdefault("check", True)  # strict nbval: compare unless NBVAL_IGNORE_OUTPUT
    return options


def head(text: str, lines: int) -> str:
    return "\n".join("    " + line for line in text.splitlines()[:lines])


def error_of(cell: Any) -> str | None:
    for output in cell.outputs:
        if output.output_type == "error":
            tb = ANSI.sub("", "\n".join(output.get("traceback", [])))
            return "\n".join(tb.splitlines()[-6:]) or f"{output.ename}: {output.evalue}"
    return None


def run_cell_twice(client: NotebookClient, cell: Any, index: int, where: str) -> list[str]:
    """Run one stored cell twice in a row; what went wrong (an empty list: it passed again)."""
    options = options_of(cell)
    for run in (1, 2):
        attempt = copy.deepcopy(cell)
        try:
            client.execute_cell(attempt, index)
        except CellExecutionError:
            pass  # reported below, from the cell's own error output
        except CellTimeoutError:
            return [f"{where} (run {run}) did not finish within {CELL_TIMEOUT} s:\n"
                    f"{head(cell.source, 3)}"]
        error = error_of(attempt)
        if error and not options["check_exception"]:
            when = "on its first run" if run == 1 else "when run a second time in a row"
            return [f"{where} fails {when}:\n{head(cell.source, 3)}\n"
                    f"  traceback (last lines):\n{head(error, 6)}"]
    # nbval compares a stored output unless told not to, or unless the cell was never run
    if options["check"] and cell.execution_count is not None:
        diff = first_difference(comparable(cell.outputs), comparable(attempt.outputs))
        if diff:
            return [f"{where} does not pass again: its second run's output differs from "
                    f"the stored one ({diff})\n{head(cell.source, 3)}"]
    return []


def run_twice_each(path: Path) -> list[str]:
    """Run every code cell of ``path`` twice in a row in one kernel; the problems found."""
    nb = nbformat.read(path, as_version=4)
    sockets = tempfile.mkdtemp(prefix="rerun-")
    # IPC sockets, as tools/execute_notebooks.py: the kernel is private to this process
    kernel = KernelManager(kernel_name="python3", transport="ipc",
                           ip=str(Path(sockets) / "kernel"))
    client = NotebookClient(nb, km=kernel, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            record_timing=False)
    problems: list[str] = []
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    try:
        with client.setup_kernel():
            for number, (index, cell) in enumerate(code_cells):
                if options_of(cell)["skip"]:
                    continue
                where = f"cell {index} (code cell {number})"
                try:
                    problems += run_cell_twice(client, cell, index, where)
                except DeadKernelError:
                    problems.append(f"{where}: the kernel died\n{head(cell.source, 3)}")
                    break
    finally:
        if kernel.has_kernel:
            kernel.shutdown_kernel(now=True)
        shutil.rmtree(sockets, ignore_errors=True)
    return problems


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_cell_runs_twice_and_the_notebook_still_passes(notebook: Path) -> None:
    for prefix, (binary, package) in RULES.NEEDS_BINARY.items():
        if notebook.name.startswith(prefix) and shutil.which(binary) is None:
            reason = f"{notebook.name} needs a real {binary}: install the '{package}' package"
            if RULES.REQUIRE_SYSTEM_DEPS:
                pytest.fail(reason)
            pytest.skip(reason)
    problems = run_twice_each(notebook)
    if problems:
        pytest.fail(f"{notebook.name}: {len(problems)} cell(s) break when run twice in a row:\n\n"
                    + "\n\n".join(problems), pytrace=False)
