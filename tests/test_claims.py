"""Every claim of the notes: quoted exactly, judged by one rule, one verdict line in its notebook.

data/claims.json is the single record. Each notebook states a claim's verdict in a markdown
cell, in exactly this form (the anchor lets other pages link to it):

    <a id="verdict-c21"></a>**Verdict C21: imprecise.** why, with the RFC section

and the verdict word there must be the one claims.json gives.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = json.loads((ROOT / "data" / "claims.json").read_text(encoding="utf-8"))
RULE: dict[str, str] = CLAIMS["rule"]
BY_ID = {claim["id"]: claim for claim in CLAIMS["claims"]}
FIELDS = {"id", "notebook", "quote_ko", "claim_en", "verdict", "why", "sources"}
NOTES_NAME = "cookies-sessions-tokens.ko.md"
#: the notes sit beside the repository (../shared/source-notes/); COURSE_SOURCE_NOTES overrides
NOTES_CANDIDATES = [
    Path(os.environ["COURSE_SOURCE_NOTES"]) if os.environ.get("COURSE_SOURCE_NOTES") else None,
    ROOT.parent / "shared" / "source-notes" / NOTES_NAME,
    ROOT.parent.parent / "shared" / "source-notes" / NOTES_NAME,
]

#: the one accepted form of a verdict line
VERDICT_LINE = re.compile(
    r'<a id="verdict-(?P<anchor>c\d\d)"></a>\*\*Verdict (?P<id>C\d\d): (?P<verdict>[a-z ]+)\.\*\*'
)
#: anything that looks like a verdict, in any form, so that a line in an old form is caught
ANY_VERDICT = re.compile(r"\*\*Verdict (C\d\d)\b")


def markdown_of(notebook: Path) -> str:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MARKDOWN = {nb.name: markdown_of(nb) for nb in NOTEBOOKS}


def verdict_lines(claim_id: str) -> list[tuple[str, str, str]]:
    """(notebook, anchor, verdict word) of every verdict line for ``claim_id`` in the course."""
    return [
        (name, m["anchor"], m["verdict"])
        for name, text in MARKDOWN.items()
        for m in VERDICT_LINE.finditer(text)
        if m["id"] == claim_id
    ]


def notebook_for(prefix: str) -> Path | None:
    found = sorted((ROOT / "notebooks").glob(f"{prefix}_*.ipynb"))
    return found[0] if found else None


def test_the_rule_is_written_once_with_the_four_verdicts() -> None:
    assert list(RULE) == ["true", "partly true", "imprecise", "false"]
    assert all(len(text) > 10 for text in RULE.values())
    assert CLAIMS.get("verdicts", list(RULE)) == list(RULE)


def test_claim_ids_are_unique_and_numbered_without_gaps() -> None:
    ids = [claim["id"] for claim in CLAIMS["claims"]]
    assert ids == [f"C{n:02d}" for n in range(1, len(ids) + 1)]


@pytest.mark.parametrize("claim", CLAIMS["claims"], ids=lambda c: c["id"])
def test_claim_record_is_complete(claim: dict) -> None:
    assert FIELDS <= set(claim), f"{claim['id']} lacks {sorted(FIELDS - set(claim))}"
    assert set(claim) <= FIELDS | {"moves_to"}, f"{claim['id']} has unknown fields"
    assert claim["verdict"] in RULE, f"{claim['id']}: {claim['verdict']!r} is not in the rule"
    assert re.fullmatch(r"\d\d", claim["notebook"])
    assert re.fullmatch(r"\d\d", claim.get("moves_to", "00"))
    assert claim["quote_ko"].strip() and claim["claim_en"].strip() and claim["why"].strip()
    assert claim["sources"] and all(isinstance(s, str) and s.strip() for s in claim["sources"])


@pytest.mark.parametrize("claim", CLAIMS["claims"], ids=lambda c: c["id"])
def test_claim_has_one_verdict_line_in_its_notebook_with_its_word(claim: dict) -> None:
    notebook = notebook_for(claim["notebook"])
    assert notebook is not None, f"notebook {claim['notebook']} is missing"
    lines = verdict_lines(claim["id"])
    assert [name for name, _, _ in lines] == [notebook.name], (
        f"{claim['id']} needs exactly one verdict line, in {notebook.name}; found in {lines}"
    )
    _, anchor, word = lines[0]
    assert anchor == claim["id"].lower(), f"anchor verdict-{anchor} for {claim['id']}"
    assert word == claim["verdict"], (
        f"{notebook.name} says {word!r}, claims.json says {claim['verdict']!r}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_verdict_in_another_form_or_for_an_unknown_claim(notebook: Path) -> None:
    text = MARKDOWN[notebook.name]
    every = ANY_VERDICT.findall(text)
    proper = [m["id"] for m in VERDICT_LINE.finditer(text)]
    assert sorted(every) == sorted(proper), (
        f"verdicts not in the form <a id=\"verdict-cNN\"></a>**Verdict CNN: word.**: "
        f"{sorted(set(every) - set(proper))}"
    )
    assert set(proper) <= set(BY_ID), f"unknown claims {sorted(set(proper) - set(BY_ID))}"


def notes_text() -> str:
    for path in NOTES_CANDIDATES:
        if path is not None and path.is_file():
            return path.read_text(encoding="utf-8")
    pytest.skip(f"the source notes ({NOTES_NAME}) are not beside the repository")


def test_every_quote_is_the_notes_own_words() -> None:
    notes = notes_text()
    missing = [claim["id"] for claim in CLAIMS["claims"] if claim["quote_ko"] not in notes]
    assert not missing, f"quote_ko not found verbatim in the notes: {missing}"
