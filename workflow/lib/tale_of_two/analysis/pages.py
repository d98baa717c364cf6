"""The HTML pages of the report (summary, API table, code, then and now): one shell, one style sheet."""

from __future__ import annotations

import html
import re

STYLE = (
    "body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
    "th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}"
    "thead th{background:#f3f3f3}tbody th{background:#fafafa;white-space:nowrap}code{font-size:.9em}"
)


def page(title: str, body: str, style: str = "") -> str:
    """A standalone page: `title` as its title and first heading, then `body` (HTML); `style` adds CSS."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}{style}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def inline_code(text: str) -> str:
    """Plain text to HTML, what is in `backticks` as code."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text, quote=False))
