"""The published course (`make site`), opened page by page in a real headless Chromium.

Run by `make site-test` (pytest -m site), after `make test`: the build and the browser take
longer than the warm suite allows. Each page is served over HTTP from 127.0.0.1, as a reader
would see it, and must load with no console error and no request leaving the machine; every
Mermaid block must become a diagram (not Mermaid's error picture); every link inside the site
must reach a page that exists and, with a #fragment, an element with that id; every image must
have loaded. A small course written here checks the parts today's notebooks may not use yet:
a verdict anchor linked from another page, a JupyterLab-style heading link, a diagram, an image.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import nbformat
import pytest

from tests import browser_support
from tests.test_diagrams import mermaid_blocks
from tools import build_site

pytestmark = pytest.mark.site

MERMAID_TIMEOUT_MS = 20_000
#: a 1x1 PNG, standing in for a stored plot
PIXEL_PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db400"
    "00000049454e44ae426082")).decode()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib's name)
        pass


@contextmanager
def served(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) for the duration; yields its base URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def build_into(root: Path, out: Path, work: Path) -> Path:
    code = build_site.build(root=root, out=out, work=work)
    assert code == 0, f"Sphinx failed (exit {code}) building {root}"
    assert (out / "index.html").is_file()
    return out


@pytest.fixture(scope="module")
def course_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built course: COURSE_SITE_DIR (make site-test passes build/site) or a fresh build."""
    given = os.environ.get("COURSE_SITE_DIR")
    if given:
        site = Path(given).resolve()
        assert (site / "index.html").is_file(), f"{site} holds no built site; run make site"
        return site
    work = tmp_path_factory.mktemp("course-site")
    return build_into(build_site.ROOT, work / "site", work / "work")


def notebook(cells: list, title: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), *cells]
    return nb


def write_small_course(root: Path, verdict_link: str = "01_beta.ipynb#verdict-c99") -> None:
    """Two notebooks and a README that use every kind of link and picture the course uses."""
    v4 = nbformat.v4
    md, code, output = v4.new_markdown_cell, v4.new_code_cell, v4.new_output
    (root / "notebooks").mkdir(parents=True)
    alpha = notebook([
        md(f"Stateless (무상태) servers. Next: [Beta](01_beta.ipynb), "
           f"its [verdict]({verdict_link}), "
           "[a heading there](01_beta.ipynb#A-heading:-with-a-colon), "
           "and [below](#Flow-of-a-login)."),
        md("## Flow of a login\n\n```mermaid\nsequenceDiagram\n    participant Client\n"
           "    participant Server\n    Client->>Server: POST /login\n"
           "    Server-->>Client: 200 Set-Cookie: sid=…\n```"),
        code("plot()", execution_count=1, outputs=[
            output("display_data", data={"image/png": PIXEL_PNG, "text/plain": "<Figure>"})]),
    ], "00 · Alpha")
    beta = notebook([
        md("## A heading: with a colon\n\nBack to [Alpha](00_alpha.ipynb)."),
        md('<a id="verdict-c99"></a>**Verdict C99: false.** See [this verdict](#verdict-c99).'),
        code("answer = 42", execution_count=1, outputs=[], metadata={
            "jupyter": {"source_hidden": True, "outputs_hidden": True}, "tags": ["solution"]}),
    ], "01 · Beta")
    nbformat.write(alpha, root / "notebooks" / "00_alpha.ipynb")
    nbformat.write(beta, root / "notebooks" / "01_beta.ipynb")
    (root / "README.md").write_text(
        "# A small course\n\nStart with [Alpha](notebooks/00_alpha.ipynb); "
        "the data is in [a file](data/claims.json).\n", encoding="utf-8")


@pytest.fixture(scope="module")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("small-site")
    write_small_course(work / "course")
    return build_into(work / "course", work / "site", work / "work")


browser = browser_support.browser  # the shared Chromium fixture


PAGE_FACTS = """() => ({
  ids: [...document.querySelectorAll('[id]')].map(e => e.id)
        .concat([...document.querySelectorAll('a[name]')].map(e => e.name)),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  images: [...document.querySelectorAll('img')].map(i => ({src: i.currentSrc || i.src,
           ok: i.complete && i.naturalWidth > 0})),
  mermaid: [...document.querySelectorAll('.mermaid')].map(m => {
      const svg = m.querySelector('svg');
      return svg === null ? 'no svg'
           : svg.getAttribute('aria-roledescription') === 'error' ? 'error svg' : 'ok';
  }),
})"""


ALL_MERMAID_DRAWN = ("[...document.querySelectorAll('.mermaid')]"
                     ".every(m => m.querySelector('svg'))")


def browse(browser, site: Path) -> dict[str, dict]:
    """Open every page of ``site``; returns, per page path, what the page showed and logged."""
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                   if not p.relative_to(site).parts[0].startswith("_"))
    seen: dict[str, dict] = {}
    with served(site) as base:
        context = browser.new_context()
        try:
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
                    if r.status >= 400 else None)

            def only_this_machine(route) -> None:
                if route.request.url.startswith(base):
                    route.continue_()
                else:
                    problems.append(f"request off the site: {route.request.url}")
                    route.abort()

            context.route("**/*", only_this_machine)
            for path in pages:
                problems.clear()
                page.goto(base + path, wait_until="load")
                if page.locator(".mermaid").count():
                    try:
                        page.wait_for_function(ALL_MERMAID_DRAWN, timeout=MERMAID_TIMEOUT_MS)
                    except Exception:  # the facts below say which block failed
                        pass
                facts = page.evaluate(PAGE_FACTS)
                facts["problems"] = list(problems)
                facts["links"] = [link for link in facts["links"] if link.startswith(base)]
                facts["links"] = [link[len(base):] for link in facts["links"]]
                seen[path] = facts
        finally:
            context.close()
    return seen


def broken_links(site: Path, seen: dict[str, dict]) -> list[str]:
    """Every internal link whose page is missing, or whose #fragment names no id on that page."""
    broken = []
    for source, facts in seen.items():
        for link in facts["links"]:
            target, fragment = urldefrag(link)
            path = unquote(urlsplit(target).path) or source
            if path.endswith("/"):
                path += "index.html"
            if not (site / path).is_file():
                broken.append(f"{source}: {link} (no such file)")
            elif fragment and path.endswith(".html"):
                ids = seen[path]["ids"] if path in seen else None
                if ids is None or unquote(fragment) not in ids:
                    broken.append(f"{source}: {link} (no id {unquote(fragment)!r} on {path})")
    return broken


@pytest.fixture(scope="module")
def course_pages(browser, course_site: Path) -> dict[str, dict]:
    return browse(browser, course_site)


def test_every_page_loads_without_errors(course_pages: dict[str, dict]) -> None:
    assert "index.html" in course_pages and len(course_pages) >= 3
    notebooks = {p for p in course_pages if p.startswith("notebooks/")}
    assert notebooks == {f"notebooks/{nb.stem}.html" for nb in build_site.course_notebooks()}
    failures = {page: facts["problems"] for page, facts in course_pages.items()
                if facts["problems"]}
    assert not failures


def test_every_mermaid_block_became_a_diagram(course_pages: dict[str, dict]) -> None:
    failures = {page: facts["mermaid"] for page, facts in course_pages.items()
                if any(state != "ok" for state in facts["mermaid"])}
    assert not failures


def test_every_internal_link_resolves(course_site: Path, course_pages: dict[str, dict]) -> None:
    assert sum(len(facts["links"]) for facts in course_pages.values()) > 0
    assert broken_links(course_site, course_pages) == []


def test_every_image_loaded(course_pages: dict[str, dict]) -> None:
    images = [img for facts in course_pages.values() for img in facts["images"]]
    assert images, "the course's stored plots should appear as images"
    assert [img["src"] for img in images if not img["ok"]] == []


def test_pages_follow_course_order_with_previous_and_next(course_site: Path) -> None:
    notebooks = build_site.course_notebooks()
    befores, afters = [None, *notebooks[:-1]], [*notebooks[1:], None]
    for before, page, after in zip(befores, notebooks, afters, strict=True):
        html = (course_site / "notebooks" / f"{page.stem}.html").read_text(encoding="utf-8")
        prev = re.search(r'class="left-prev"\s+href="([^"]+)"', html)
        after_link = re.search(r'class="right-next"\s+href="([^"]+)"', html)
        assert prev and prev[1] == (f"{before.stem}.html" if before else "../index.html"), page.name
        next_href = after_link[1] if after_link else None
        assert next_href == (f"{after.stem}.html" if after else None), page.name


def search_results(browser, site: Path, term: str) -> list[str]:
    """The pages Sphinx's own search lists for ``term``, as the reader's browser runs it."""
    with served(site) as base:
        page = browser.new_page()
        try:
            page.goto(f"{base}search.html?q={term}", wait_until="load")
            page.wait_for_function(
                "() => { const s = document.querySelector('#search-results .search-summary, "
                "#search-results p');  return s && s.textContent.trim().length > 0; }",
                timeout=15_000)
            hrefs = page.eval_on_selector_all("#search-results ul.search li a",
                                              "as => as.map(a => a.href)")
        finally:
            page.close()
    return sorted({urlsplit(h).path.lstrip("/") for h in hrefs})


def test_search_finds_a_korean_glossary_term(browser, course_site: Path) -> None:
    assert "notebooks/00_start_here.html" in search_results(browser, course_site, "무상태")


def test_search_does_not_find_what_the_course_never_says(browser, course_site: Path) -> None:
    assert search_results(browser, course_site, "양자컴퓨터") == []


# --- the small course: verdict anchors across pages, heading ids, diagrams, images -------------

def test_small_course_links_reach_verdicts_and_headings(browser, small_site: Path) -> None:
    seen = browse(browser, small_site)
    alpha = seen["notebooks/00_alpha.html"]
    assert "notebooks/01_beta.html#verdict-c99" in alpha["links"]
    assert "notebooks/01_beta.html#a-heading-with-a-colon" in alpha["links"]
    assert "notebooks/00_alpha.html#flow-of-a-login" in alpha["links"]
    assert "Flow-of-a-login" in alpha["ids"]   # JupyterLab's own heading id is there too
    assert "verdict-c99" in seen["notebooks/01_beta.html"]["ids"]
    assert "notebooks/00_alpha.html" in seen["index.html"]["links"]
    assert broken_links(small_site, seen) == []
    assert alpha["mermaid"] == ["ok"]
    assert [img["ok"] for img in alpha["images"]] == [True]
    problems = {path: facts["problems"] for path, facts in seen.items() if facts["problems"]}
    assert problems == {}


def test_small_course_solution_stays_collapsed(small_site: Path) -> None:
    html = (small_site / "notebooks" / "01_beta.html").read_text(encoding="utf-8")
    hidden = html.split("Show the solution", 1)
    assert len(hidden) == 2 and "<details" in hidden[0][-600:] and "answer" in hidden[1]


def test_a_link_to_a_missing_verdict_fails_the_build(tmp_path: Path) -> None:
    write_small_course(tmp_path / "course", verdict_link="01_beta.ipynb#verdict-c98")
    code = build_site.build(root=tmp_path / "course", out=tmp_path / "site",
                            work=tmp_path / "work")
    assert code != 0


def test_the_visible_menu_button_opens_navigation_on_a_phone(browser, course_site: Path) -> None:
    with served(course_site) as base:
        context = browser.new_context(viewport={"width": 390, "height": 800})
        try:
            page = context.new_page()
            page.goto(f"{base}notebooks/00_start_here.html", wait_until="load")
            page.locator(".primary-toggle:visible").first.click()
            page.wait_for_function("document.getElementById('pst-primary-sidebar-modal').open",
                                   timeout=5_000)
            link = "#pst-primary-sidebar-modal a[href='01_http_connections_and_state.html']"
            assert page.locator(link).is_visible()
        finally:
            context.close()


def test_the_download_button_offers_the_repository_notebook(course_site: Path) -> None:
    for nb in build_site.course_notebooks():
        offered = course_site / "_sources" / "notebooks" / nb.name
        assert offered.read_bytes() == nb.read_bytes(), nb.name


MERMAID_JS = build_site.CONF_DIR / "_static" / "mermaid" / "mermaid.min.js"
RENDER = """async ([id, code]) => {
  try { await mermaid.render(id, code); return null; } catch (e) { return String(e.message || e); }
}"""


def test_every_notebook_diagram_renders_with_the_pinned_mermaid(browser) -> None:
    """Each block, on its own, through mermaid.render: the failures name notebook and cell."""
    blocks = [(nb.name, cell, code) for nb in build_site.course_notebooks()
              for cell, code in mermaid_blocks(nb)]
    page = browser.new_page()
    try:
        page.set_content("<!doctype html><html><body></body></html>")
        page.add_script_tag(path=str(MERMAID_JS))
        page.evaluate("mermaid.initialize({startOnLoad: false, securityLevel: 'strict'})")
        failures = {f"{name} cell {cell}": error for n, (name, cell, code) in enumerate(blocks)
                    if (error := page.evaluate(RENDER, [f"diagram{n}", code]))}
    finally:
        page.close()
    assert failures == {}
