"""Statistics over repeats, written once: sample standard deviation, mean ± std, and how
they are printed (every report, metrics file and the front page use these)."""

from __future__ import annotations

import numpy as np

from pipeline.core import numbers


def sample_std(values, axis: int | None = None):
    """Sample standard deviation (ddof = 1), and 0 where there is a single value.

    With ``axis`` (an array of per-repeat rows), the std of each column over the repeats.
    """
    a = np.asarray(values, dtype=np.float64)
    n = a.size if axis is None else a.shape[axis]
    if n == 0:
        raise ValueError("sample_std of no values")
    if n == 1:
        return 0.0 if axis is None else np.zeros(np.delete(a.shape, axis))
    out = a.std(ddof=1, axis=axis)
    return float(out) if axis is None else out


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    a = np.asarray(list(values), dtype=np.float64)
    if a.size == 0:
        raise ValueError("mean_std of no values")
    return float(a.mean()), sample_std(a)


def fmt_pm(mean: float, std: float, digits: int = 4, percent: bool = False) -> str:
    """``0.9781 ± 0.0012``, or with ``percent`` ``97.81 ± 0.12 %``: ``core/numbers.py``'s ``mean_std``."""
    return numbers.mean_std(mean, std, percent=percent, digits=digits)


def fmt_mean_std(values, digits: int = 4, percent: bool = False) -> str:
    """``fmt_pm`` of the mean and sample std of ``values``."""
    return fmt_pm(*mean_std(values), digits=digits, percent=percent)


def rounded_stat(values, ndigits: int = 6) -> dict[str, float]:
    """``{"mean": …, "std": …}`` rounded for a metrics file (deterministic text)."""
    m, s = mean_std(values)
    return {"mean": round(m, ndigits), "std": round(s, ndigits)}


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: rows are the true class, columns the predicted class."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))


# --------------------------------------------------------------------------- one new run


def t_quantile(probability: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (t_{0.975, 2} = 4.3027)."""
    from scipy import stats as sps

    return float(sps.t.ppf(probability, df))


def prediction_half_width(std: float, n: int, confidence: float = 0.95) -> float:
    """Half-width of the ``confidence`` prediction interval for ONE new value, from ``n`` values
    with sample std ``std``: t_{(1+c)/2, n-1} · s · √(1 + 1/n). Infinite for n < 2 (no spread known)."""
    if n < 2:
        return float("inf")
    return t_quantile(0.5 + confidence / 2, n - 1) * std * (1.0 + 1.0 / n) ** 0.5


def seeds_to_reach(std: float, width: float, confidence: float = 0.95, most: int = 1000) -> int | None:
    """The fewest values (≥ 2) whose prediction half-width, at this ``std``, is at most ``width``;
    None when even ``most`` values are not enough (the half-width never falls below
    z_{(1+c)/2} · s, the spread of one run itself)."""
    if std == 0:
        return 2
    for n in range(2, most + 1):
        if prediction_half_width(std, n, confidence) <= width:
            return n
    return None
