"""Tables as a reader sees them: human headers, formatted numbers (``core/numbers.py``), yes/no
for flags, and one header row (an index's name would add a second, empty one)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from pipeline.core import numbers

_PERCENT = re.compile(r"^\{:\.(\d+)%\}$")


def yes_no(value) -> str:
    """A flag as a reader reads it."""
    return "yes" if value else "no"


def cell(value, fmt: str) -> str:
    """``value`` printed by ``fmt``: a ``str.format`` spec such as ``"{:+.4f}"``, ``"{:.2%}"``
    (a percentage as ``numbers.pct`` prints it: ``97.50 %``) or ``"yes/no"`` for a flag. A number
    that rounds to zero is printed without a sign (``0.0000``, never ``-0.0000``)."""
    if fmt == "yes/no":
        return yes_no(value)
    percent = _PERCENT.match(fmt)
    if percent:
        return numbers.pct(value, int(percent.group(1)))
    return numbers.unsigned_zero(fmt.format(value))


def readable(frame: pd.DataFrame, columns: dict[str, tuple[str, str]], index: str | None = None) -> pd.DataFrame:
    """The ``columns`` of ``frame`` (name → (header, format)), formatted as text and renamed.

    A format is as ``cell`` takes it. Columns not named are left out; ``index`` renames the index.
    """
    out = pd.DataFrame(index=frame.index)
    for name, (header, fmt) in columns.items():
        out[header] = [cell(v, fmt) for v in frame[name]]
    if index:
        out.index.name = index
    return out


def _flag_words(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean columns as yes/no (a reader reads words, not ``True``/``False``)."""
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == bool or (out[name].dtype == object and len(out[name])
                                       and all(isinstance(v, (bool, np.bool_)) for v in out[name])):
            out[name] = [yes_no(v) for v in out[name]]
    return out


def show(frame: pd.DataFrame, formats: dict | None = None, index: str = "name") -> Styler:
    """``frame`` as a reader's table: one header row (the index becomes the first columns, named
    by the index's names, or ``index`` where it has none; several column levels are joined with
    " · "), flags as yes/no, and ``formats`` (column → ``str.format`` spec or callable) applied as
    ``cell`` applies them; other numbers as ``numbers`` prints them (4 decimals, 1,234)."""
    out = frame.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [" · ".join(str(x) for x in col if str(x)) for col in out.columns]
    if not isinstance(out.index, pd.RangeIndex) or any(n is not None for n in out.index.names):
        if out.index.nlevels == 1 and out.index.name is None:
            out.index.name = index
        out = out.reset_index()
    out.columns = [str(c) for c in out.columns]
    out = _flag_words(out)
    formats = formats or {}
    for name in out.columns:
        fmt = formats.get(name)
        if fmt is not None:
            out[name] = [fmt(v) if callable(fmt) else cell(v, fmt) for v in out[name]]
        elif out[name].dtype.kind in "fiu":
            out[name] = [_plain(v) for v in out[name]]
    return out.style.hide(axis="index")


def key_values(facts: dict, header: tuple[str, str] = ("quantity", "value")) -> Styler:
    """A mapping (nested mappings flattened to "outer · inner") as a two-column table, numbers
    printed by ``numbers`` (whole numbers with thousands separators): never a Python repr."""
    rows = []

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix} · {k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple)):
            rows.append((prefix.replace("_", " "), ", ".join(_plain(v) for v in value)))
        else:
            rows.append((prefix.replace("_", " "), _plain(value)))

    walk("", facts)
    return show(pd.DataFrame(rows, columns=list(header)))


def _plain(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return yes_no(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return "—" if np.isnan(value) else numbers.num(value)
    return str(value)
