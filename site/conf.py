"""Sphinx configuration of the published course (``make site``; see tools/build_site.py).

The sources Sphinx reads are staged by tools/build_site.py into build/site-src: an index made
from README.md and a copy of every notebook. This folder holds only what does not change per
build: this file, the small extension in _ext/ and the static files (the pinned Mermaid).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "Cookies, Sessions and Tokens"
author = "the course authors"
copyright = "the course authors; MIT licence"  # noqa: A001 (Sphinx's name for it)
language = "en"

# Where the site will be published. A placeholder until it is: set COURSE_SITE_BASEURL (or edit
# this line) to the real address, e.g. https://example.org/cookies-sessions-tokens/. Sphinx uses
# it for each page's <link rel="canonical">.
html_baseurl = os.environ.get("COURSE_SITE_BASEURL", "https://course.example.invalid/")

extensions = [
    "myst_nb",                 # reads .ipynb (and .md) with MyST; brings myst_parser along
    "sphinxcontrib.mermaid",   # ```mermaid fences become diagrams
    # _ext/course_site.py: JupyterLab heading ids, <a id> anchors, Mermaid
    "course_site",
]

root_doc = "index"
exclude_patterns = ["**.ipynb_checkpoints"]

# --- notebooks: shown with their stored outputs, never executed here -------------------------
nb_execution_mode = "off"
nb_merge_streams = True          # consecutive stdout writes read as one block, as in JupyterLab
nb_output_stderr = "show"
# Markdown that a cell displays (a verdict table built in code, for one) is read as MyST, as the
# notebooks' own markdown is, so its links to other notebooks and their headings resolve to pages.
nb_render_markdown_format = "myst"
nb_code_prompt_show = "Show {type}"   # the toggle on collapsed solution cells
nb_code_prompt_hide = "Hide {type}"

# --- MyST: the markdown the notebooks use in JupyterLab -------------------------------------
myst_fence_as_directive = ["mermaid"]   # a plain ```mermaid fence, as JupyterLab renders it
myst_heading_anchors = 6
myst_heading_slug_func = "course_site.jupyterlab_heading_id"  # the ids JupyterLab gives headings
myst_enable_extensions = ["strikethrough"]

# --- Mermaid: the pinned copy in _static/mermaid, never a CDN --------------------------------
mermaid_use_local = "mermaid/mermaid-module.js"   # hands over globalThis.mermaid (see the file)
mermaid_include_elk = False
mermaid_include_zenuml = False
mermaid_d3_zoom = False
mermaid_init_config = {"startOnLoad": False, "securityLevel": "strict"}
mermaid_height = "auto"
mermaid_fullscreen_button = "⤢"   # the default, U+26F6, is not in DejaVu Sans: it showed as a box

# --- HTML ------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "Cookies, Sessions and Tokens"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"   # without one, browsers ask for /favicon.ico and log a 404
html_css_files = ["course.css"]
html_js_files = ["course.js"]    # makes the visible sidebar buttons work (see the file)
html_copy_source = True          # the download button offers each notebook as .ipynb
html_show_sourcelink = False
# Sphinx has no Korean search language (sphinx/search/ has none); the English one indexes each
# run of word characters (\w+, Hangul included) as a term, so the glossary's Korean names are found
# as whole words. tests/test_site.py searches for one.
html_search_language = "en"
# pydata-sphinx-theme reads its colour mode from the page context; left unset, its script logs
# "Got invalid theme mode" as a console error on a first visit.
html_context = {"default_mode": "auto"}
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "use_issues_button": False,
    "use_edit_page_button": False,
    "navigation_with_keys": False,
}
