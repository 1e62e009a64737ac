"""Tables as a reader sees them: human headers, formatted numbers, yes/no for flags."""

from __future__ import annotations

import pandas as pd


def readable(frame: pd.DataFrame, columns: dict[str, tuple[str, str]], index: str | None = None) -> pd.DataFrame:
    """The ``columns`` of ``frame`` (name → (header, format)), formatted as text and renamed.

    A format is a ``str.format`` spec such as ``"{:+.4f}"``; ``"yes/no"`` prints a flag. Columns
    not named are left out; ``index`` renames the index.
    """
    out = pd.DataFrame(index=frame.index)
    for name, (header, fmt) in columns.items():
        values = frame[name]
        out[header] = [("yes" if v else "no") if fmt == "yes/no" else fmt.format(v) for v in values]
    if index:
        out.index.name = index
    return out
