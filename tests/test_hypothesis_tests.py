"""pipeline.core.hypothesis_tests on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from pipeline.core import hypothesis_tests as ht


def test_holm_on_the_textbook_example():
    # sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06
    adjusted, rejected = ht.holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert rejected.tolist() == [True, False, False, True]


def test_holm_caps_at_one_and_counts_an_untestable_member_as_p_one():
    adjusted, rejected = ht.holm([0.5, 0.4, math.nan])
    # sorted 0.4·3 = 1.2 → 1, 0.5·2 = 1.0, NaN → 1·1
    assert adjusted.tolist() == [1.0, 1.0, 1.0] and not rejected.any()
    assert ht.holm([]) [0].size == 0
    one, _ = ht.holm([0.02])
    assert one.tolist() == [0.02]


def test_bonferroni_level():
    assert ht.bonferroni_level(0.05, 20) == pytest.approx(0.0025)
    with pytest.raises(ValueError):
        ht.bonferroni_level(0.05, 0)


def test_t_quantiles():
    assert ht.t_quantile(0.975, 2) == pytest.approx(4.302653, abs=1e-6)
    assert ht.t_quantile(0.975, 4) == pytest.approx(2.776445, abs=1e-6)


def test_paired_t_by_hand():
    # d = 1, 2, 3: mean 2, sd 1, t = 2·√3; with df = 2, P(|T| > t) = 1 − t/√(2 + t²) = 1 − √(6/7)
    p = ht.paired_t([1.0, 2.0, 3.0], level=0.05)
    assert (p.n, p.mean, p.std) == (3, 2.0, 1.0)
    assert p.t == pytest.approx(2 * math.sqrt(3))
    assert p.p_value == pytest.approx(1 - math.sqrt(6 / 7))
    assert p.half_width == pytest.approx(4.302652729911275 / math.sqrt(3))
    assert p.low == pytest.approx(2 - p.half_width) and not p.excludes_zero  # p > 0.05 ⇔ 0 inside


def test_paired_t_degenerate_cases():
    zero = ht.paired_t([0.0, 0.0, 0.0])
    assert (zero.p_value, zero.half_width, zero.excludes_zero) == (1.0, 0.0, False)
    shifted = ht.paired_t([0.001, 0.001])  # no spread: the exact sign-flip test, p = 2 / 2**2
    assert (shifted.p_value, shifted.half_width, shifted.excludes_zero) == (0.5, 0.0, False)
    three = ht.paired_t([-0.002, -0.002, -0.002])
    assert three.p_value == 0.25 and three.high == -0.002 and not three.excludes_zero
    assert ht.holm([three.p_value, 0.9])[1].tolist() == [False, False]  # never 'significant' by a p of 0
    many = ht.paired_t([0.001] * 7, level=0.05)  # 2 / 2**7 = 0.015625 < 0.05: significant
    assert many.p_value == pytest.approx(0.015625) and many.excludes_zero
    assert not ht.paired_t([0.001] * 7, level=0.01).excludes_zero
    assert [ht.sign_flip_p(n) for n in (1, 2, 3)] == [1.0, 0.5, 0.25]
    single = ht.paired_t([0.3])
    assert math.isnan(single.p_value) and single.half_width == math.inf and not single.excludes_zero
    with pytest.raises(ValueError):
        ht.paired_t([])


def test_the_t_detectable_difference_is_the_boundary_of_significance():
    d = np.array([0.002, -0.001, 0.0005])
    level = 0.05 / 20
    p = ht.paired_t(d, level)
    assert p.half_width == pytest.approx(ht.t_quantile(1 - level / 2, 2) * d.std(ddof=1) / math.sqrt(3))
    # shift the differences so that their mean sits just beyond / just inside the half-width
    beyond = ht.paired_t(d - d.mean() + 1.0001 * p.half_width, level)
    inside = ht.paired_t(d - d.mean() + 0.9999 * p.half_width, level)
    assert beyond.p_value < level < inside.p_value


def test_t_power():
    std, n, level = 0.001, 3, 0.05
    assert ht.paired_t_power(0.0, std, n, level) == pytest.approx(level)  # no difference: the test's level
    half = ht.paired_t(np.array([-1.0, 0.0, 1.0]) * std, level).half_width
    # at the detectable difference, the upper tail is P(Z > c·(S − 1)) with S = √(χ²₂ / 2):
    # E[Φ(c·(1 − S))] by quadrature; the lower tail P(T < −c) is negligible here
    crit = ht.t_quantile(1 - level / 2, 2)
    by_hand = integrate.quad(lambda s: stats.norm.cdf(crit * (1 - s)) * stats.chi.pdf(s * math.sqrt(2), 2)
                             * math.sqrt(2), 0, np.inf)[0]
    assert ht.paired_t_power(half, std, n, level) == pytest.approx(by_hand, abs=1e-4)
    assert 0.5 < by_hand < 0.65  # "about half the time" (more than half with so few seeds)
    many = ht.paired_t(np.linspace(-1, 1, 101) * std, level)
    assert ht.paired_t_power(many.half_width, many.std, 101, level) == pytest.approx(0.5, abs=0.01)
    d80 = ht.t_difference_at_power(std, n, level, 0.8)
    assert d80 > half and ht.paired_t_power(d80, std, n, level) == pytest.approx(0.8, abs=1e-6)
    assert ht.t_difference_at_power(0.0, 3, level) == 0.0 and ht.t_difference_at_power(std, 1, level) == math.inf


def test_mcnemar_exact_by_hand():
    # b = 10, c = 2: 2·P(X ≤ 2 | n = 12, 1/2) = 2·(1 + 12 + 66)/4096 = 158/4096
    assert ht.mcnemar_exact(10, 2) == pytest.approx(158 / 4096)
    assert ht.mcnemar_exact(2, 10) == ht.mcnemar_exact(10, 2)
    assert ht.mcnemar_exact(9, 3) == pytest.approx(2 * 299 / 4096)  # 1 + 12 + 66 + 220 = 299
    assert ht.mcnemar_exact(0, 0) == 1.0 and ht.mcnemar_exact(5, 5) == 1.0


def test_mcnemar_detectable_difference_at_the_boundary():
    # 12 discordant pairs at 0.05: min(b, c) = 2 is rejected (p = 0.0386), 3 is not (p = 0.146)
    assert ht.mcnemar_critical(12, 0.05) == 2 and ht.mcnemar_detectable(12, 0.05) == 8
    assert ht.mcnemar_exact(10, 2) <= 0.05 < ht.mcnemar_exact(9, 3)
    # 5 discordant pairs can never be significant at 0.05 (2/32 = 0.0625), 6 can (2/64)
    assert ht.mcnemar_detectable(5, 0.05) is None and ht.mcnemar_detectable(6, 0.05) == 6
    assert ht.mcnemar_detectable(0, 0.05) is None


@pytest.mark.parametrize("level", [0.05, 0.05 / 33, 1e-4])
def test_mcnemar_detectable_matches_brute_force(level):
    for n in range(1, 400, 7):
        rejected = [n - 2 * c for c in range(n // 2 + 1) if ht.mcnemar_exact(n - c, c) <= level]
        expected = min(rejected) if rejected else None
        assert ht.mcnemar_detectable(n, level) == expected, n
        k = ht.mcnemar_detectable(n, level)
        if k is not None and k + 2 <= n:
            c = (n - k) // 2  # the boundary: |b − c| = k rejected, one pair moved (k − 2) not
            assert ht.mcnemar_exact(n - c, c) <= level
            if c + 1 <= n - c - 1:
                assert ht.mcnemar_exact(n - c - 1, c + 1) > level


def _power_by_brute_force(share: float, n: int, level: float) -> float:
    """Σ over every outcome b = 0..n of Binomial(n, share) of P(b) · [the exact two-sided test
    of (b, n − b) rejects at ``level``], its p-value summed from the binomial coefficients."""
    from fractions import Fraction

    total = 0.0
    for b in range(n + 1):
        k = min(b, n - b)
        p_value = min(Fraction(1), 2 * Fraction(sum(math.comb(n, i) for i in range(k + 1)), 2 ** n))
        if p_value <= Fraction(level):
            total += math.comb(n, b) * share ** b * (1 - share) ** (n - b)
    return total


@pytest.mark.parametrize("n, level", [(200, 0.05 / 33), (12, 0.05), (40, 0.01), (4, 0.05)])
def test_mcnemar_power_equals_the_brute_force_sum(n, level):
    for share in (0.5, 0.55, 0.6, 0.7, 0.85, 0.97):
        assert ht.mcnemar_power(share, n, level) == pytest.approx(_power_by_brute_force(share, n, level),
                                                                   rel=1e-9, abs=1e-12), share


def test_mcnemar_power():
    n, level = 200, 0.05 / 33
    assert _power_by_brute_force(0.5, n, level) <= level  # no difference: at most the test's level
    at_80 = ht.mcnemar_detectable_at_power(n, level, 0.8)
    share = (1 + at_80 / n) / 2
    assert _power_by_brute_force(share, n, level) == pytest.approx(0.8, abs=1e-6)
    assert at_80 > ht.mcnemar_detectable(n, level)
    half = ht.mcnemar_detectable_at_power(n, level, 0.5)
    assert _power_by_brute_force((1 + half / n) / 2, n, level) == pytest.approx(0.5, abs=1e-6)
    assert abs(half - ht.mcnemar_detectable(n, level)) <= 4  # the 50 % size ≈ the boundary
    assert ht.mcnemar_detectable_at_power(4, 0.05) is None and _power_by_brute_force(0.9, 4, 0.05) == 0.0
