"""How numbers are printed, written once: every report, table and the front page use these
(also as the jinja2 filters ``num``, ``pct``, ``signed``, ``claimed`` and ``interval``, see
``core/prose.py``), so the same number reads the same everywhere.

- a fraction (accuracy, loss, a difference of accuracies) has 4 decimals: ``0.9781``;
- a percentage has 2 decimals and a space before the sign: ``97.81 %``;
- a number the source printed is shown as the source printed it: ``0.91``, not ``91.00 %``;
- an interval is two fractions with an en dash, cut at a floor where the quantity cannot go
  below it (a cross-entropy loss is never negative);
- a zero never carries a sign (``0.0000``, ``0.00 %``: never ``-0.0000`` or ``-0.0 %``).
"""

from __future__ import annotations

import math
import re

DIGITS = 4  # decimals of a fraction
PERCENT_DIGITS = 2  # decimals of a percentage


def _check(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"a number was expected, got {value!r}")
    return float(value)


def unsigned_zero(text: str) -> str:
    """``-0.0000`` → ``0.0000``: a value that rounds to zero has no sign."""
    if text.startswith(("-", "+")) and not any(ch in "123456789" for ch in text):
        return text[1:]
    return text


def num(value, digits: int = DIGITS) -> str:
    """A fraction: ``0.9781`` (``digits`` decimals)."""
    x = _check(value)
    if math.isnan(x):
        return "n/a"
    return unsigned_zero(f"{x:.{digits}f}")


def signed(value, digits: int = DIGITS) -> str:
    """A difference: ``+0.0012``, ``-0.0030``, and ``0.0000`` (no sign) when it rounds to 0."""
    x = _check(value)
    return unsigned_zero(f"{x:+.{digits}f}")


def pct(value, digits: int = PERCENT_DIGITS) -> str:
    """A fraction as a percentage: ``0.97812`` → ``97.81 %``."""
    x = _check(value)
    return unsigned_zero(f"{100 * x:.{digits}f}") + " %"


def mean_std(mean, std, percent: bool = False, digits: int = DIGITS) -> str:
    """``0.9781 ± 0.0012``, or with ``percent`` ``97.81 ± 0.12 %`` (``digits - 2`` decimals)."""
    if percent:
        d = max(digits - 2, 0)
        return f"{pct(mean, d)[:-2]} ± {pct(std, d)}"
    return f"{num(mean, digits)} ± {num(std, digits)}"


class Printed(float):
    """A number as a source printed it: the float, and ``text``, the digits it was printed with
    (``Printed("0.980")`` is 0.98 and keeps its last zero; from a float, the shortest text that
    reads back as it). params.yaml's claims are read as these (``core/params/schema.py``)."""

    text: str

    def __new__(cls, value) -> Printed:
        if isinstance(value, Printed):
            return value
        if isinstance(value, str):
            text = value.strip()
            if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
                raise ValueError(f"a printed number is digits with an optional decimal point, such as "
                                 f"\"0.980\", got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"a number or its printed text (such as \"0.980\") was expected, got {value!r}")
        elif not math.isfinite(value):
            raise ValueError(f"a printed number must be finite, got {value!r}")
        else:
            text = repr(float(value))
            text = text[:-2] if text.endswith(".0") else text
        number = super().__new__(cls, float(text))
        number.text = text
        return number

    def __reduce__(self):
        return (Printed, (self.text,))

    @property
    def resolution(self) -> float:
        """Half a unit of the last printed digit: ``0.980`` → 0.0005, ``0.98`` → 0.005; 0 for a
        text in exponent form (no printed digit to speak of)."""
        if "e" in self.text.lower():
            return 0.0
        decimals = len(self.text.split(".")[1]) if "." in self.text else 0
        return 0.5 * 10.0 ** (-decimals)


def claimed(value) -> str:
    """A number as the source printed it: its printed text where it carries one (``Printed``:
    ``0.980``), else the shortest text that reads back as the same float (``0.91``, ``0.9996``,
    ``0.0713``), never rescaled to a percentage."""
    if isinstance(value, Printed):
        return value.text
    x = _check(value)
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


def interval(low, high, floor: float | None = None, digits: int = DIGITS) -> str:
    """``0.9712–0.9838``; with ``floor`` (0 for a loss) a lower end below it is printed as the
    floor (``0.0000–0.3028``): ``interval_cut`` says whether that happened."""
    low, high = _check(low), _check(high)
    if low > high:
        raise ValueError(f"an interval's low end {low} is above its high end {high}")
    if floor is not None:
        low, high = max(low, floor), max(high, floor)
    return f"{num(low, digits)}–{num(high, digits)}"


def interval_cut(low, floor: float | None) -> bool:
    """Whether ``interval`` cut the lower end ``low`` at ``floor``."""
    return floor is not None and _check(low) < floor


def floor_of(quantity: str) -> float | None:
    """The lowest value a quantity can take, where it has one below which an interval means
    nothing: 0 for a loss (cross-entropy ≥ 0); accuracies are left as measured."""
    return 0.0 if "loss" in quantity else None


FILTERS = {"num": num, "signed": signed, "pct": pct, "claimed": claimed, "interval": interval}
