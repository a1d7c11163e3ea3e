"""Build the published course: a static site of every notebook with its stored outputs.

    python tools/build_site.py            # = make site; writes build/site/index.html

Nothing is executed. The sources are staged fresh in build/site-src on every run, so the site
never drifts from the repository:

- index.md is README.md (the course's story and map) plus a hidden table of contents listing
  every notebook, in course order, which gives each page its previous and next;
- notebooks/ holds a copy of each notebooks/NN_*.ipynb, whose solution cells (collapsed in
  JupyterLab through ``jupyter.source_hidden``) get myst-nb's ``hide-input``/``hide-output``
  tags, so the site keeps them collapsed too (behind "Show the solution" where tagged ``solution``).

Sphinx then builds with warnings as errors (``-W --keep-going``) using site/conf.py.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = ROOT / "site"
STAGE = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site"
DOCTREES = ROOT / "build" / "site-doctrees"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"

#: a markdown link whose target is relative (no scheme, no leading # or /)
RELATIVE_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]+)\]"
                           r"\((?P<target>(?![a-z][a-z0-9+.-]*:|#|/)[^)\s]+)\)")


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook of the course, in course order (their NN_ prefixes)."""
    return sorted((root / "notebooks").glob(NOTEBOOK_GLOB))


def index_markdown(readme: str, notebooks: list[Path]) -> str:
    """The landing page: the README, its links to notebooks kept, other repository links as text.

    A README link such as ``[x](notebooks/03_sessions.ipynb)`` resolves to that page on the site.
    A link to a repository file that is not a page (``data/claims.json``) keeps its text only,
    since the site does not carry the file.
    """

    def keep_pages(match: re.Match[str]) -> str:
        path = match["target"].split("#", 1)[0]
        return match[0] if path.endswith((".ipynb", ".md")) else match["text"]

    body = RELATIVE_LINK.sub(keep_pages, readme)
    entries = "\n".join(f"notebooks/{nb.stem}" for nb in notebooks)
    return f"{body.rstrip()}\n\n```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{entries}\n```\n"


def staged_notebook(source: Path) -> str:
    """The notebook's JSON for the site: solution cells collapsed the way myst-nb knows."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        hidden = cell.get("metadata", {}).get("jupyter", {})
        tags = list(cell.get("metadata", {}).get("tags", []))
        if hidden.get("source_hidden") and "hide-input" not in tags:
            tags.append("hide-input")
        if hidden.get("outputs_hidden") and "hide-output" not in tags:
            tags.append("hide-output")
        if tags:
            cell.setdefault("metadata", {})["tags"] = tags
        if "solution" in tags:  # the toggle says what it hides
            cell["metadata"]["mystnb"] = {"code_prompt_show": "Show the solution",
                                          "code_prompt_hide": "Hide the solution"}
    return json.dumps(notebook, ensure_ascii=False, indent=1) + "\n"


def stage(root: Path = ROOT, stage_dir: Path = STAGE) -> list[Path]:
    """Write the Sphinx sources of the course in ``root`` into ``stage_dir`` afresh.

    Returns the notebooks staged.
    """
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    (stage_dir / "notebooks").mkdir(parents=True)
    notebooks = course_notebooks(root)
    if not notebooks:
        raise SystemExit(f"no notebooks match {root / 'notebooks' / NOTEBOOK_GLOB}")
    for nb in notebooks:
        (stage_dir / "notebooks" / nb.name).write_text(staged_notebook(nb), encoding="utf-8")
    readme = (root / "README.md").read_text(encoding="utf-8")
    (stage_dir / "index.md").write_text(index_markdown(readme, notebooks), encoding="utf-8")
    return notebooks


def build(root: Path = ROOT, out: Path = OUT, work: Path | None = None, quiet: bool = True) -> int:
    """Stage the course in ``root`` and run Sphinx on it, warnings as errors.

    ``work`` holds the staged sources and Sphinx's doctrees (default: build/). The output
    folder is emptied first, so every build reports every warning. Returns Sphinx's exit code.
    """
    stage_dir, doctrees = (STAGE, DOCTREES) if work is None else (work / "src", work / "doctrees")
    stage(root, stage_dir)
    for stale in (out, doctrees):
        if stale.exists():
            shutil.rmtree(stale)
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going",
               "-c", str(CONF_DIR), "-d", str(doctrees), str(stage_dir), str(out)]
    if quiet:
        command.append("-q")
    code = subprocess.call(command, cwd=ROOT)
    if code == 0:  # the download button offers the notebook exactly as the repository has it
        for nb in course_notebooks(root):
            shutil.copyfile(nb, out / "_sources" / "notebooks" / nb.name)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default build/site)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress lines")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    out = args.out.resolve()
    code = build(out=out, quiet=not args.verbose)
    took = time.perf_counter() - started
    if code == 0:
        count = len(course_notebooks())
        print(f"site: {count} notebooks -> {out / 'index.html'} ({took:.1f} s)")
    else:
        print(f"site: Sphinx failed (exit {code}) after {took:.1f} s", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
