"""Every claim of the source notes gets exactly one verdict, in the notebook that tests it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = json.loads((ROOT / "data" / "claims.json").read_text(encoding="utf-8"))
VERDICT = re.compile(r"\*\*Verdict (C\d\d): (" + "|".join(CLAIMS["verdicts"]) + r")\.\*\*")


def verdicts_in(notebook: Path) -> list[str]:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return [m[1] for m in VERDICT.finditer(text)]


def notebook_for(prefix: str) -> Path | None:
    found = sorted((ROOT / "notebooks").glob(f"{prefix}_*.ipynb"))
    return found[0] if found else None


@pytest.mark.parametrize("claim", CLAIMS["claims"], ids=lambda c: c["id"])
def test_claim_has_one_verdict_in_its_notebook(claim: dict) -> None:
    notebook = notebook_for(claim["notebook"])
    assert notebook is not None, f"notebook {claim['notebook']} is missing"
    assert verdicts_in(notebook).count(claim["id"]) == 1, \
        f"{claim['id']} needs one verdict in {notebook.name}"


def test_no_verdict_for_an_unknown_claim() -> None:
    known = {c["id"] for c in CLAIMS["claims"]}
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert set(verdicts_in(notebook)) <= known, notebook.name
