"""TeX in a report's markdown, turned into MathML when the page is built.

Browsers render MathML natively, so a page needs no MathJax (2.1 MB per page before): the
``MathMLPreprocessor`` rewrites ``$…$`` and ``$$…$$`` in markdown cells and in markdown
outputs (``display(Markdown(…))``) with `latex2mathml`, before nbconvert turns the markdown
into HTML. Code spans and fenced code are left as they are, and so is an escaped ``\\$``.
"""

from __future__ import annotations

import re

from latex2mathml.converter import convert
from nbconvert.preprocessors import Preprocessor

from pipeline.core.errors import PipelineError


class MathError(PipelineError, ValueError):
    """A TeX expression that latex2mathml cannot convert; the message quotes it."""


# Fenced blocks and code spans first (kept), then display math, then inline math. Inline math
# as in Jupyter: no space just inside the dollars, no dollar inside, on one line.
_PARTS = re.compile(
    r"(?P<code>```.*?```|~~~.*?~~~|`[^`\n]*`)"
    r"|(?<!\\)\$\$(?P<display>.+?)(?<!\\)\$\$"
    r"|(?<![\\$])\$(?P<inline>[^\s$](?:[^$\n]*?[^\s\\$])?)\$(?!\d)",
    re.DOTALL,
)


def to_mathml(tex: str, *, display: bool = False) -> str:
    """One TeX expression as a ``<math>`` element (block-level when ``display``)."""
    try:
        mathml = convert(tex.strip(), display="block" if display else "inline")
    except Exception as err:  # latex2mathml raises its own exception types and plain ones
        why = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise MathError(f"cannot convert the TeX {tex.strip()!r} to MathML ({why})") from None
    # the source text, for screen readers that speak TeX and for copying; a block formula wider
    # than a phone scrolls sideways (report.css), so the keyboard must reach it (axe-core:
    # scrollable-region-focusable)
    focus = 'tabindex="0" ' if display else ""
    return mathml.replace("<math ", f'<math alttext="{_attr(tex.strip())}" {focus}', 1)


def _attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_with_mathml(text: str) -> str:
    """``text`` (Markdown) with every ``$…$`` and ``$$…$$`` outside code replaced by MathML."""

    def replace(m: re.Match) -> str:
        if m.group("code") is not None:
            return m.group("code")
        if m.group("display") is not None:
            return to_mathml(m.group("display"), display=True)
        return to_mathml(m.group("inline"))

    return _PARTS.sub(replace, text)


class MathMLPreprocessor(Preprocessor):
    """Markdown cells and markdown outputs with their TeX as MathML (the page needs no script)."""

    def preprocess_cell(self, cell, resources, index):
        try:
            if cell.cell_type == "markdown":
                cell.source = markdown_with_mathml(cell.source)
            elif cell.cell_type == "code":
                for out in cell.get("outputs", []):
                    data = out.get("data", {})
                    if "text/markdown" in data:
                        data["text/markdown"] = markdown_with_mathml(data["text/markdown"])
        except MathError as err:
            raise MathError(f"{cell.cell_type} cell {index + 1}: {err}") from None
        return cell, resources
