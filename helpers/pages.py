"""The head every demo server's HTML page opens with, written once.

The servers' pages differ in their title, width and a few style rules; the rest (doctype,
language, UTF-8, the body font) is the same everywhere. The head is plain text with no
template syntax, so a Jinja template and a ``str.format`` template can both start with it.
"""

from __future__ import annotations


def page_head(title: str, width: str, line_height: str, css: str = "") -> str:
    """``<!doctype html>`` up to ``<body>``: the title, the body's width and line height,
    and ``css`` (the page's own style rules, one per line, each starting with a space)."""
    return ('<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{title}</title>\n<style>\n"
            f" body {{ font-family: system-ui, sans-serif; max-width: {width}; margin: 2em auto;"
            f" line-height: {line_height} }}\n{css}</style>\n</head>\n<body>\n")
