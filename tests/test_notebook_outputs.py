"""Every notebook's stored outputs come from one clean run, and every notebook meets the standards.

nbval trusts the stored outputs: a cell stored without an execution count is silently
skipped, and a stored error or access-log line would be "expected" forever. These
checks make such a notebook fail instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks")
                   .glob("[0-9][0-9]_*.ipynb"))
ACCESS_LOG = re.compile(r'"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) \S* HTTP/1\.[01]" \d{3}')
SLEEP = re.compile(r"time\.sleep\(\s*([0-9.]+)")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def may_raise(cell: dict) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return "raises-exception" in tags or "NBVAL_RAISES_EXCEPTION" in "".join(cell["source"])


def test_the_notebooks_are_the_course_map() -> None:
    """The README's map links exactly the notebooks on disk, each number once, from 00."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(notebooks/(\d\d_\w+\.ipynb)\)", readme))
    assert linked == {path.name for path in NOTEBOOKS}
    numbers = [path.name[:2] for path in NOTEBOOKS]
    assert numbers[0] == "00" and len(set(numbers)) == len(numbers) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_come_from_one_top_to_bottom_run(path: Path) -> None:
    cells = code_cells(load(path))
    assert cells, "a notebook with no code"
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), \
        f"execution counts {counts}: run `make notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_stored_errors_or_server_logs(path: Path) -> None:
    for n, cell in enumerate(code_cells(load(path)), start=1):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error":
                assert may_raise(cell), f"cell {n} stores an error: {output.get('ename')}"
            text = "".join(output.get("text", ""))
            assert not ACCESS_LOG.search(text), f"cell {n} stores an access-log line"
            assert "WARNING: This is a development server" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_cell_waits_on_the_wall_clock(path: Path) -> None:
    for cell in code_cells(load(path)):
        for match in SLEEP.finditer("".join(cell["source"])):
            assert float(match[1]) <= 0.2, "move the course clock instead of sleeping"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_course_standards(path: Path) -> None:
    nb = load(path)
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    first, text = markdown[0], "\n".join(markdown)
    assert first.startswith("# "), "the first cell is the title"
    assert re.search(r"learning goals", first, re.I), "the first cell lists learning goals"
    assert re.search(r"^#+ .*summary", text, re.I | re.M), "a summary section"
    assert HANGUL.search(text), "key terms carry their Korean names"
    index = NOTEBOOKS.index(path)
    neighbours = NOTEBOOKS[max(index - 1, 0): index] + NOTEBOOKS[index + 1: index + 2]
    for other in neighbours:
        assert f"]({other.name})" in markdown[-1], f"the last cell links to {other.name}"
    if index > 0:
        assert re.search(r"^#+ .*exercises?", text, re.I | re.M), "an exercises section"
        hidden = [c for c in nb["cells"] if c["cell_type"] == "code"
                  and c.get("metadata", {}).get("jupyter", {}).get("source_hidden")]
        assert hidden, "exercise solutions sit in collapsed cells"
