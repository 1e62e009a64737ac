"""Report text from jinja2 templates: every paragraph a report shows is a template next to the
code that fills it; Python hands it numbers and small records.

``render(folder, name, **fields)`` renders ``folder/name`` with this folder's templates
(``pipeline/core/templates``: the verdict rule and the prose macros) also in reach. Missing
fields fail (``StrictUndefined``); ``*.html.j2`` is autoescaped. Markdown templates (``*.md.j2``)
are written as prose is: a line break inside a paragraph is a space, a blank line separates
paragraphs, and a line that starts with ``- ``, ``#`` or ``|`` (a table row) starts a new line. The filter
``f(spec)`` formats a number as ``format(value, spec)`` does (``'+.4f'``, ``','``, ``'.0%'``); ``num``, ``pct``, ``signed``, ``claimed`` and ``interval`` are
``core/numbers.py``'s, the way every page prints a number.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2

from pipeline.core import numbers

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _html(name: str | None) -> bool:
    return bool(name) and name.endswith((".html.j2", ".html"))


def _format(value, spec: str) -> str:
    """The ``f`` filter: ``format(value, spec)``; a missing field fails as any other does."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return format(value, spec)


@functools.cache
def environment(folder: Path) -> jinja2.Environment:
    """The jinja2 environment of a stage family's ``templates`` folder (and this one's)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader([str(folder), str(TEMPLATES)]), autoescape=_html,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["f"] = _format
    env.filters.update(numbers.FILTERS)  # num, pct, signed, claimed, interval: one way to print a number
    return env


def paragraphs(text: str) -> str:
    """Markdown prose as written in a template, laid out: lines of a paragraph joined by one
    space, paragraphs separated by one blank line, list items, headings and table rows on lines of
    their own."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        lines: list[str] = []
        for line in block.splitlines():
            line = " ".join(line.split())
            if not line:
                continue
            if lines and not line.startswith(("- ", "#", "|")):
                lines[-1] += " " + line
            else:
                lines.append(line)
        if lines:
            out.append("\n".join(lines))
    return "\n\n".join(out)


def render(folder: Path, name: str, **fields) -> str:
    """``folder/name`` rendered with ``fields``; Markdown laid out by ``paragraphs``."""
    text = environment(folder).get_template(name).render(**fields)
    return text if _html(name) else paragraphs(text)
