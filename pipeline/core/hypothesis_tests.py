"""Generic hypothesis tests, each with the smallest difference it could have detected.

- Holm's step-down procedure: adjusted p-values that keep the family-wise error rate (the
  probability of one or more false "significant" in a family of tests) at most ``alpha``.
- The paired t-test over seeds (df = n − 1), its interval at a chosen level, and its
  detectable difference: the interval's half-width t_{1−level/2, n−1}·sd/√n, the smallest
  mean difference the test would call significant at that level.
- McNemar's exact test on the discordant pairs of two classifiers (b: only A right, c: only B
  right), and the smallest |b − c| the test would reject at a level, given b + c.

Detectable differences are given at a *fixed* level: for a family under Holm, the Bonferroni
level alpha / m, the strictest step of Holm's procedure. A difference beyond it is rejected
by Holm whatever the other p-values of the family are. A true difference of exactly the
detectable size is detected about half the time (power ≈ 50 %); ``*_difference_at_power``
gives the size detected with a chosen power (e.g. 80 %), with the observed spread taken as
the true one (a plug-in estimate).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05  # the family-wise error rate of every family of tests in the reports


# --------------------------------------------------------------------------- multiple comparisons


def holm(p_values, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down procedure: (adjusted p-values, rejected) in the order given.

    Sorted ascending, the j-th smallest p-value (j = 1…m) is multiplied by m − j + 1; the
    adjusted values are made non-decreasing (running maximum) and capped at 1. A hypothesis
    is rejected when its adjusted p-value is ≤ ``alpha``. A NaN p-value (a test that could
    not be made) counts as a member of the family with p = 1: it is never rejected.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    p = np.where(np.isnan(p), 1.0, p)
    m = len(p)
    if m == 0:
        return np.array([]), np.array([], dtype=bool)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (m - np.arange(m))
    adjusted_sorted = np.minimum(np.maximum.accumulate(scaled), 1.0)
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    return adjusted, adjusted <= alpha


def bonferroni_level(alpha: float, m: int) -> float:
    """The per-test level alpha / m (Holm's first and strictest step)."""
    if m < 1:
        raise ValueError("a family needs at least one test")
    return alpha / m


# --------------------------------------------------------------------------- paired t over seeds


def t_quantile(q: float, df: int) -> float:
    """The q-quantile of Student's t distribution with ``df`` degrees of freedom."""
    return float(stats.t.ppf(q, df))


@dataclasses.dataclass(frozen=True)
class PairedT:
    """A paired t-test of the mean difference against 0, with an interval at ``level``.

    ``low``/``high``: mean ± half_width, half_width = t_{1−level/2, n−1}·std/√n (the
    detectable difference at ``level``); ``p_value``: two-sided, unadjusted.
    """

    n: int
    mean: float
    std: float
    t: float
    p_value: float
    level: float
    half_width: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    @property
    def excludes_zero(self) -> bool:
        """Significant at ``level``: the interval lies on one side of 0 and, where every
        difference is the same (std 0, an interval of width 0), the exact sign-flip p-value is
        below ``level`` too."""
        if self.n < 2 or not (self.low > 0 or self.high < 0):
            return False
        return self.std > 0 or self.p_value < self.level


def sign_flip_p(n: int) -> float:
    """The exact two-sided sign-flip (permutation) p-value of n differences that all have the
    same sign and size: of the 2**n sign patterns, 2 are as extreme, so 2 / 2**n (0.25 at
    n = 3), capped at 1. It is also the smallest p that test can give over n pairs."""
    if n < 1:
        raise ValueError("a sign-flip test needs at least one difference")
    return min(1.0, 2.0 / 2.0 ** n)


def paired_t(differences, level: float = ALPHA) -> PairedT:
    """Paired t-test on per-seed differences (a − b of the same seed), df = n − 1.

    With a single difference no test is possible (p NaN, infinite interval). When every
    difference is the same (std 0) the interval has width 0 and the t statistic is undefined:
    p is 1 if they are all 0, else the exact sign-flip p-value ``sign_flip_p(n)``.
    """
    d = np.asarray(differences, dtype=np.float64).ravel()
    n = len(d)
    if n == 0:
        raise ValueError("no differences to test")
    mean = float(d.mean())
    if n < 2:
        return PairedT(n, mean, 0.0, math.nan, math.nan, level, math.inf)
    std = float(d.std(ddof=1))
    half = t_quantile(1 - level / 2, n - 1) * std / math.sqrt(n)
    if std == 0.0:
        return PairedT(n, mean, 0.0, math.nan if mean == 0 else math.copysign(math.inf, mean),
                       1.0 if mean == 0 else sign_flip_p(n), level, 0.0)
    t = mean / (std / math.sqrt(n))
    p = float(2 * stats.t.sf(abs(t), n - 1))
    return PairedT(n, mean, std, float(t), p, level, half)


def paired_t_power(difference: float, std: float, n: int, level: float) -> float:
    """Probability that the two-sided paired t-test at ``level`` rejects when the true mean
    difference is ``difference`` and the true spread ``std`` (noncentral t, df = n − 1)."""
    if n < 2:
        return math.nan
    if std == 0.0:
        return 1.0 if difference != 0 else level
    crit = t_quantile(1 - level / 2, n - 1)
    nc = abs(difference) * math.sqrt(n) / std
    upper = float(stats.nct.sf(crit, n - 1, nc))
    lower = float(stats.nct.sf(crit, n - 1, -nc))  # P(T < −crit) by symmetry; below level / 2
    return upper + (0.0 if math.isnan(lower) else lower)


def t_difference_at_power(std: float, n: int, level: float, power: float = 0.8) -> float:
    """The true mean difference that the paired t-test at ``level`` detects with ``power``
    (the observed ``std`` taken as the true one); inf if n < 2, 0 if std is 0."""
    if n < 2:
        return math.inf
    if std == 0.0:
        return 0.0
    high = t_quantile(1 - level / 2, n - 1) * std / math.sqrt(n)
    while paired_t_power(high, std, n, level) < power:
        high *= 2
    return float(optimize.brentq(lambda x: paired_t_power(x, std, n, level) - power, 0.0, high, xtol=1e-12 * high))


# --------------------------------------------------------------------------- McNemar


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: 2·P(X ≤ min(b, c)) for X ~ Binomial(b + c, 1/2),
    capped at 1 (1 when there are no discordant pairs)."""
    n = b + c
    if n == 0:
        return 1.0
    return float(min(1.0, 2 * stats.binom.cdf(min(b, c), n, 0.5)))


def mcnemar_critical(discordant: int, level: float) -> int | None:
    """The largest min(b, c) that the exact test rejects at ``level`` given b + c =
    ``discordant``; None when even min(b, c) = 0 is not rejected (too few discordant pairs)."""
    if discordant <= 0 or mcnemar_exact(discordant, 0) > level:
        return None
    low, high = 0, discordant // 2  # p grows with min(b, c): bisect for the last rejected value
    while low < high:
        mid = (low + high + 1) // 2
        if mcnemar_exact(discordant - mid, mid) <= level:
            low = mid
        else:
            high = mid - 1
    return low


def mcnemar_detectable(discordant: int, level: float) -> int | None:
    """The smallest |b − c| that the exact test rejects at ``level`` given b + c (None: no
    split of so few discordant pairs is significant). Moving one pair from the larger to the
    smaller count lowers |b − c| by 2 and makes it not significant."""
    c = mcnemar_critical(discordant, level)
    return None if c is None else discordant - 2 * c


def mcnemar_power(share: float, discordant: int, level: float) -> float:
    """Probability that the exact test at ``level`` rejects, given b + c = ``discordant``,
    when each discordant pair is "only A right" with probability ``share`` (b ~ Binomial)."""
    c = mcnemar_critical(discordant, level)
    if c is None:
        return 0.0
    return float(stats.binom.cdf(c, discordant, share) + stats.binom.sf(discordant - c - 1, discordant, share))


def mcnemar_detectable_at_power(discordant: int, level: float, power: float = 0.8) -> float | None:
    """The expected |b − c| = (b + c)(2·share − 1) at which the exact test at ``level`` rejects
    with ``power``, given b + c (None where nothing is detectable)."""
    if mcnemar_critical(discordant, level) is None:
        return None
    share = optimize.brentq(lambda s: mcnemar_power(s, discordant, level) - power, 0.5, 1.0, xtol=1e-12)
    return float(discordant * (2 * share - 1))


def sigma_ratio_range(df: int, confidence: float = 0.95) -> tuple[float, float]:
    """How many times the observed sample std the true σ may be, at ``confidence``, from
    (n − 1)s²/σ² ~ χ²(df): at df = 2, 0.52–6.28. A power computed with s as σ is that rough."""
    if df < 1:
        raise ValueError(f"a spread needs at least 1 degree of freedom, got {df}")
    tail = (1 - confidence) / 2
    return (math.sqrt(df / stats.chi2.ppf(1 - tail, df)), math.sqrt(df / stats.chi2.ppf(tail, df)))
