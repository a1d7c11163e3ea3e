"""Every notebook pictures its flows in Mermaid, and every Mermaid block is well formed.

A small structural check, fast enough for the warm suite: the first line names a diagram type
Mermaid knows, blocks opened by a keyword (``loop``, ``alt``, ``subgraph`` …) are closed by
``end``, and each line of a sequence diagram is a statement Mermaid's sequence grammar has.
The real renderer runs in the site's browser test (tests/test_site.py), which fails on
Mermaid's error picture.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: diagram types of Mermaid 11 (the first word of a diagram)
DIAGRAM_TYPES = {
    "sequenceDiagram", "flowchart", "graph", "classDiagram", "stateDiagram", "stateDiagram-v2",
    "erDiagram", "journey", "gantt", "pie", "gitGraph", "mindmap", "timeline", "quadrantChart",
    "requirementDiagram", "C4Context", "C4Container", "C4Component", "C4Dynamic", "C4Deployment",
    "sankey-beta", "xychart-beta", "block-beta", "packet-beta", "architecture-beta", "kanban",
    "radar-beta", "treemap-beta",
}
FENCE = re.compile(r"^(?P<fence>```|~~~)\s*mermaid\s*\n(?P<code>.*?)^(?P=fence)\s*$",
                   re.MULTILINE | re.DOTALL)
#: Mermaid's entity codes (#59; for ';', #35; for '#', #quot;), which are text, not separators
ENTITY = re.compile(r"#(?:\d+|[a-zA-Z]+);")
GANTT_KEYWORDS = {"title", "dateFormat", "axisFormat", "tickInterval", "section", "excludes",
                  "includes", "todayMarker", "weekday", "inclusiveEndDates", "topAxis", "accTitle",
                  "accDescr", "click"}
SEQUENCE_OPENERS = {"loop", "alt", "opt", "par", "critical", "break", "rect", "box"}
#: keyword -> the block it may appear in
SEQUENCE_MIDDLES = {"else": "alt", "and": "par", "option": "critical"}
ARROW = r"(?:<<)?(?:-{1,2}(?:>>|>|x|\)|))"
ACTOR = r"[^\s:;+\-<>][^:;]*?"
SEQUENCE_LINE = re.compile(
    rf"""^(?:
        (?:participant|actor)\s+\S.*                                 # a party, maybe 'as' an alias
      | create\s+(?:participant|actor)\s+\S.* | destroy\s+\S.*
      | {ACTOR}\s*{ARROW}[+\-]?\s*{ACTOR}\s*:.*                          # A->>B: message
      | [Nn]ote\s+(?:over|left\s+of|right\s+of)\s+[^:]+:.*
      | (?:activate|deactivate)\s+\S.*
      | autonumber(?:\s.*)? | title\s.* | accTitle\s*:.* | accDescr\s*:.*
      | links?\s+\S.*
    )$""", re.VERBOSE)


def mermaid_blocks(notebook: Path) -> list[tuple[int, str]]:
    """(cell index, diagram source) for every ```mermaid fence in the notebook's markdown cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    blocks = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            blocks += [(index, match["code"]) for match in FENCE.finditer(source)]
    return blocks


def statements(code: str) -> list[str]:
    """The diagram's lines without blank lines, %% comments, front matter or %%{init}%%."""
    lines = code.splitlines()
    if lines and lines[0].strip() == "---":  # YAML front matter (title, config)
        closing = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
        lines = lines[closing + 1:] if closing else lines
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("%%")]


def mermaid_problems(code: str) -> list[str]:
    """What is wrong with a Mermaid diagram's source; an empty list if nothing is found."""
    lines = statements(code)
    if not lines:
        return ["the diagram is empty"]
    kind = lines[0].split()[0]
    if kind not in DIAGRAM_TYPES:
        return [f"unknown diagram type {kind!r} on the first line"]
    problems: list[str] = []
    open_blocks: list[str] = []
    for number, line in enumerate(lines[1:], 2):
        word = re.split(r"[\s:]", line, maxsplit=1)[0]
        if kind == "sequenceDiagram":
            if word in SEQUENCE_OPENERS:
                open_blocks.append(word)
            elif word in SEQUENCE_MIDDLES:
                if not open_blocks or open_blocks[-1] != SEQUENCE_MIDDLES[word]:
                    problems.append(
                        f"line {number}: {word!r} outside a {SEQUENCE_MIDDLES[word]!r} block")
            elif word == "end":
                if not open_blocks:
                    problems.append(f"line {number}: 'end' closes no block")
                else:
                    open_blocks.pop()
            elif not SEQUENCE_LINE.match(line):
                problems.append(f"line {number}: not a sequence-diagram statement: {line!r}")
            if ";" in ENTITY.sub("", line):
                problems.append(f"line {number}: ';' ends a statement in Mermaid; write #59; "
                                f"for a semicolon in text: {line!r}")
        elif kind in {"flowchart", "graph"}:
            if word == "subgraph":
                open_blocks.append(word)
            elif word == "end":
                if not open_blocks:
                    problems.append(f"line {number}: 'end' closes no subgraph")
                else:
                    open_blocks.pop()
            unquoted = re.sub(r'"[^"]*"', '""', line)
            for opening, closing in ("[]", "()", "{}"):
                if unquoted.count(opening) != unquoted.count(closing):
                    problems.append(f"line {number}: unbalanced {opening}{closing}: {line!r}")
        elif kind == "gantt" and ":" in line and word not in GANTT_KEYWORDS:
            name, data = line.split(":", 1)
            if re.search(r"\s:", data):  # 'before 00:00 :2025-…' splits at the name's own colon
                problems.append(f"line {number}: a ':' in the task name {name.strip()!r}: {line!r}")
        elif kind.startswith("stateDiagram") and line.endswith("{"):
            open_blocks.append("state")
        elif kind.startswith("stateDiagram") and line == "}":
            if open_blocks:
                open_blocks.pop()
            else:
                problems.append(f"line {number}: '}}' closes no state")
    problems += [f"{block!r} is never closed" for block in open_blocks]
    return problems


# --- the checker itself, so that a passing course means something -----------------------------

GOOD_SEQUENCE = """sequenceDiagram
    participant C as Client
    participant S as Server
    %% a comment
    C->>S: POST /login (alice)
    alt password ok
        S-->>C: 200 Set-Cookie: sid=…
    else wrong password
        S-->>C: 401 {"error": "invalid_credentials"}
    end
    Note over C,S: the cookie goes back on every request
    C-)S: GET /me
"""


def test_checker_accepts_a_well_formed_sequence_and_flowchart() -> None:
    assert mermaid_problems(GOOD_SEQUENCE) == []
    assert mermaid_problems("flowchart LR\n  A[Browser] -->|Cookie| B(Server)\n  subgraph store\n"
                            "  B --> R[(Redis)]\n  end\n") == []
    assert mermaid_problems("---\ntitle: Login\n---\nsequenceDiagram\n  A->>B: hi\n") == []
    assert mermaid_problems("sequenceDiagram\n  S-->>C: Set-Cookie: sid=1#59; HttpOnly\n") == []
    assert mermaid_problems("gantt\n  dateFormat YYYY-MM-DD HH:mm\n  axisFormat %H:%M\n"
                            "  section keys\n  signs tokens :2025-12-31 23:50, 10m\n") == []


@pytest.mark.parametrize(("code", "problem"), [
    ("sequenceDiagramm\n  A->>B: x", "unknown diagram type"),
    ("sequenceDiagram\n  alt ok\n  A->>B: x", "'alt' is never closed"),
    ("sequenceDiagram\n  A->>B: x\n  end", "'end' closes no block"),
    ("sequenceDiagram\n  else nope\n  A->>B: x", "outside a 'alt' block"),
    ("sequenceDiagram\n  A->>B x", "not a sequence-diagram statement"),
    ("sequenceDiagram\n  A=>B: x", "not a sequence-diagram statement"),
    ("sequenceDiagram\n  S-->>C: Set-Cookie: sid=1; HttpOnly", "';' ends a statement"),
    ("flowchart LR\n  A[Browser --> B", "unbalanced []"),
    ("gantt\n  dateFormat YYYY-MM-DD HH:mm\n  issued before 00:00 :2025-12-31 23:50, 25m",
     "a ':' in the task name"),
    ("flowchart LR\n  subgraph x\n  A --> B", "'subgraph' is never closed"),
    ("", "the diagram is empty"),
])
def test_checker_finds_what_mermaid_would_reject(code: str, problem: str) -> None:
    assert any(problem in found for found in mermaid_problems(code)), mermaid_problems(code)


def test_fences_are_found_in_markdown_cells_only(tmp_path: Path) -> None:
    cells = [{"cell_type": "markdown", "metadata": {},
              "source": ["Text\n", "```mermaid\n", "graph LR\n", "  A --> B\n", "```\n"]},
             {"cell_type": "code", "metadata": {}, "source": ["```mermaid\ngraph LR\n```"],
              "outputs": [], "execution_count": None}]
    path = tmp_path / "00_x.ipynb"
    notebook = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))
    assert mermaid_blocks(path) == [(0, "graph LR\n  A --> B\n")]


# --- the course ---------------------------------------------------------------------------------

def test_every_mermaid_block_parses() -> None:
    problems = {f"{nb.name} cell {cell}": found for nb in NOTEBOOKS
                for cell, code in mermaid_blocks(nb) if (found := mermaid_problems(code))}
    assert problems == {}


def test_every_notebook_has_a_diagram() -> None:
    lacking = [nb.name for nb in NOTEBOOKS if not mermaid_blocks(nb)]
    assert lacking == [], f"notebooks without a Mermaid diagram: {', '.join(lacking)}"
