"""Sphinx glue that makes the notebooks' own links and diagrams work on the static site.

The notebooks are written for JupyterLab, and the site must not need them changed:

- JupyterLab gives every heading the id ``textContent.replace(/ /g, "-")`` (its
  ``createHeaderId``), so ``[…](#Attack-1:-alg-none)`` works there. The same rule is MyST's
  heading slug function here (``jupyterlab_heading_id``), so those links resolve on the site.
- A verdict is anchored by raw HTML in markdown, ``<a id="verdict-c21"></a>``. The tag reaches
  the page unchanged, but MyST only resolves ``NN_name.ipynb#verdict-c21`` to ids it knows of;
  ``RegisterHtmlAnchors`` tells it about them.
- Mermaid: ``mermaid.min.js`` (committed, pinned) is added as a classic script to each page
  that has a diagram, before sphinxcontrib-mermaid's module imports it through
  ``_static/mermaid/mermaid-module.js``.
"""

from __future__ import annotations

import re
from typing import Any

from docutils import nodes
from docutils.transforms import Transform
from sphinx.application import Sphinx

#: ``<a id="x">`` or ``<a name="x">`` as the start of a raw HTML fragment in markdown.
HTML_ANCHOR = re.compile(r"""<a\s+(?:[^>]*\s)?(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
MERMAID_JS = "mermaid/mermaid.min.js"


def jupyterlab_heading_id(title: str) -> str:
    """The id JupyterLab 4 gives a heading: its text with each space replaced by ``-``."""
    return title.replace(" ", "-")


def anchor_title(anchor: str) -> str:
    """Link text for an anchor a link names without text: ``verdict-c21`` -> ``Verdict C21``."""
    if anchor.lower().startswith("verdict-"):
        return "Verdict " + anchor.split("-", 1)[1].upper()
    return anchor


class RegisterHtmlAnchors(Transform):
    """Record raw-HTML anchor ids as MyST targets, so links to them resolve, here and across pages.

    Runs after MyST's heading slugs exist and before its ``ResolveAnchorIds`` (879) reads
    them for ``[…](#id)``; the same mapping is stored in the environment, where MyST looks
    up ``[…](other.ipynb#id)``.
    """

    default_priority = 870

    def apply(self, **kwargs: Any) -> None:
        env = getattr(self.document.settings, "env", None)
        slugs = getattr(self.document, "myst_slugs", None)
        if slugs is None:
            slugs = {}
        found = False
        for raw in self.document.findall(nodes.raw):
            if "html" not in raw.get("format", "").split():
                continue
            for anchor in HTML_ANCHOR.findall(raw.astext()):
                if anchor not in slugs:
                    slugs[anchor] = (raw.line, anchor, anchor_title(anchor))
                    found = True
        if not found:
            return
        self.document.myst_slugs = slugs
        if env is not None:
            env.metadata[env.docname]["myst_slugs"] = slugs


def add_mermaid_script(app: Sphinx, pagename: str, templatename: str, context: dict,
                       doctree: nodes.document | None) -> None:
    """Load the pinned Mermaid build (3.5 MB) wherever sphinxcontrib-mermaid imports it.

    That is every page with a diagram, and the pages Sphinx makes without a doctree (search,
    index), where the extension's module runs all the same.
    """
    from sphinxcontrib.mermaid import mermaid

    if doctree is None or doctree.next_node(mermaid) is not None:
        # below sphinxcontrib-mermaid's priority, so this classic script runs before its module
        app.add_js_file(MERMAID_JS, priority=app.config.mermaid_js_priority - 100)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_transform(RegisterHtmlAnchors)
    app.connect("html-page-context", add_mermaid_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
