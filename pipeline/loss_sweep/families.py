"""Statistics of the loss sweep, in three families of tests, each under Holm's step-down
control of the family-wise error rate (``hypothesis_tests.ALPHA`` = 0.05):

- family A (one per loss, notebook 04): every variant against the baseline, for test
  accuracy and test loss: a paired t-test over the shared seeds (df = n − 1) per
  (variant, metric), 10 variants × 2 metrics = 20 tests with R4's sweep;
- family B (notebook 05): categorical minus sparse test accuracy per variant, a paired t-test
  over the seeds (11 tests);
- family C (notebook 05): McNemar's exact test per variant *and seed* on the test images,
  (11 variants × the seeds tests): the two runs of a seed share its validation split and
  initial weights; pooling the seeds would count the same test image several times as
  independent pairs.

Every test comes with the smallest difference it could have detected at the Bonferroni
level alpha / m of its family (which Holm rejects whatever the other p-values), so that no
"no difference" is printed without it. Intervals are simultaneous at level 1 − alpha / m.
``identity`` compares the two losses' runs of each (variant, seed) at full precision.
The findings (the end of this module) are the numbers that the reports' sentences state
(``sweep_text``).
"""

from __future__ import annotations

import dataclasses
import math
import typing

import numpy as np
import pandas as pd

from pipeline.core import hypothesis_tests as ht
from pipeline.core.params.schema import LOSS_LABEL, Loss, SweepParams

ALPHA = ht.ALPHA
METRICS = ("test_accuracy", "test_loss")
METRIC_LABEL = {"test_accuracy": "test accuracy", "test_loss": "test loss"}
R4_STEP = 0.001  # the differences in test accuracy by which R4 ranked its variants
POWER = 0.8  # the power of the second detectable difference ("detected 4 times in 5")


# --------------------------------------------------------------------------- single tests


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = ALPHA) -> ht.PairedT:
    """Paired t-test of a − b over the seeds present in both (seed → value); its interval
    is at confidence 1 − ``level``."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("no shared seeds to pair")
    return ht.paired_t([a[s] - b[s] for s in seeds], level)


@dataclasses.dataclass(frozen=True)
class McNemar:
    """Exact McNemar test on paired predictions: b = only A right, c = only B right."""

    only_a: int
    only_b: int
    p_value: float


def mcnemar(pred_a: np.ndarray, pred_b: np.ndarray, y: np.ndarray) -> McNemar:
    """McNemar's exact test of two classifiers' predictions of the same images ``y``."""
    ra, rb = pred_a == y, pred_b == y
    b, c = int((ra & ~rb).sum()), int((~ra & rb).sum())
    return McNemar(b, c, ht.mcnemar_exact(b, c))


# --------------------------------------------------------------------------- families


@dataclasses.dataclass(frozen=True)
class Family:
    """A family of tests, one row each, with Holm-adjusted p-values (``p_holm``) and the
    verdict ``significant`` (p_holm ≤ alpha)."""

    name: str
    what: str  # what is compared, e.g. "each variant against the baseline …"
    members: str  # how the tests are counted, e.g. "10 variants × 2 metrics"
    test: str  # "paired t" or "McNemar"
    table: pd.DataFrame
    alpha: float = ALPHA

    @property
    def m(self) -> int:
        return len(self.table)

    @property
    def level(self) -> float:
        """The Bonferroni level alpha / m: intervals and detectable differences use it."""
        return ht.bonferroni_level(self.alpha, max(self.m, 1))

    @property
    def has_spread(self) -> bool:
        """Paired t tests of which some have a spread (std > 0): their power at the detectable
        difference is worth stating."""
        return self.test == "paired t" and self.m > 0 and bool((self.table["std"] > 0).any())

    @property
    def seeds(self) -> int:
        """The fewest seeds a paired test of the family has (0 for other tests)."""
        return int(self.table["seeds"].min()) if self.test == "paired t" and self.m else 0

    @property
    def sigma_range(self) -> tuple[float, float] | None:
        """How far the true spread may lie from the observed one (``ht.sigma_ratio_range``)."""
        return ht.sigma_ratio_range(self.seeds - 1) if self.seeds > 1 else None

    @property
    def power_range(self) -> tuple[float, float] | None:
        """The power at the detectable difference, over the tests with a spread (``span``)."""
        return span(self.table.loc[self.table["std"] > 0, "detectable_power"]) if self.has_spread else None


def _n(count: int, noun: str) -> str:
    """'1 variant', '3 variants'."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _with_holm(rows: list[dict], alpha: float) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    adjusted, rejected = ht.holm(table["p"].to_numpy(), alpha)
    table["p_holm"], table["significant"] = adjusted, rejected
    return table


def _t_columns(differences: np.ndarray, level: float) -> dict:
    """The columns of one paired t-test at ``level``: difference, its interval, p and the
    detectable differences (half-width; with ``POWER``) and the power at the half-width."""
    p = ht.paired_t(differences, level)
    return {"difference": p.mean, "std": p.std, "seeds": p.n, "t": p.t, "p": p.p_value,
            "ci_low": p.low, "ci_high": p.high, "detectable": p.half_width,
            "detectable_power": ht.paired_t_power(p.half_width, p.std, p.n, level),
            "detectable_80": ht.t_difference_at_power(p.std, p.n, level, POWER)}


def _by_seed(runs: pd.DataFrame, loss: str, variant: str, metric: str) -> dict[int, float]:
    sub = runs[(runs["loss"] == loss) & (runs["variant"] == variant)]
    return dict(zip(sub["seed"].astype(int), sub[metric].astype(float)))


def _differences(a: dict[int, float], b: dict[int, float]) -> np.ndarray:
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("no shared seeds to pair")
    return np.array([a[s] - b[s] for s in seeds])


def versus_baseline(runs: pd.DataFrame, sweep: SweepParams, loss: str, alpha: float = ALPHA) -> Family:
    """Family A of ``loss``: each variant minus the baseline, per metric of ``METRICS``,
    paired over the shared seeds. ``better``: higher accuracy or lower loss."""
    base = next(iter(sweep.variants))
    present = set(runs.loc[runs["loss"] == loss, "variant"])
    pairs = [(name, metric) for name in sweep.variants if name != base and name in present for metric in METRICS]
    level = ht.bonferroni_level(alpha, max(len(pairs), 1))
    rows = []
    for name, metric in pairs:
        d = _differences(_by_seed(runs, loss, name, metric), _by_seed(runs, loss, base, metric))
        cols = _t_columns(d, level)
        rows.append({"variant": name, "description": sweep.variants[name].description, "metric": metric, **cols,
                     "better": cols["difference"] > 0 if metric == "test_accuracy" else cols["difference"] < 0})
    variants = len({n for n, _ in pairs})
    return Family("A", f"each variant against the baseline with {LOSS_LABEL[loss]}, a paired t-test over the shared "
                       "seeds", f"{_n(variants, 'variant')} × {_n(len(METRICS), 'metric')}", "paired t",
                  _with_holm(rows, alpha), alpha)


def loss_pair(sweep: SweepParams) -> tuple[str, str]:
    """The two losses that families B and C compare, categorical first (differences are
    categorical minus sparse); ValueError where ``sweep.losses`` names only one."""
    if len(sweep.losses) != 2:
        raise ValueError(f"the losses are compared only when sweep.losses names both; it names {sweep.losses}")
    a, b = sorted(sweep.losses, key=typing.get_args(Loss).index)
    return a, b


def _shared_seeds(runs: pd.DataFrame, variant: str, losses: tuple[str, str]) -> list[int]:
    mine = runs[runs["variant"] == variant]
    seeds = [set(mine.loc[mine["loss"] == loss, "seed"].astype(int)) for loss in losses]
    return sorted(set.intersection(*seeds))


def losses_paired(runs: pd.DataFrame, sweep: SweepParams, alpha: float = ALPHA) -> Family:
    """Family B: per variant, categorical minus sparse test accuracy, paired over the seeds."""
    a, b = loss_pair(sweep)
    names = [n for n in sweep.variants if _shared_seeds(runs, n, (a, b))]
    level = ht.bonferroni_level(alpha, max(len(names), 1))
    rows = []
    for name in names:
        acc_a, acc_b = (_by_seed(runs, loss, name, "test_accuracy") for loss in (a, b))
        rows.append({"variant": name, "description": sweep.variants[name].description,
                     "categorical": float(np.mean(list(acc_a.values()))),
                     "sparse": float(np.mean(list(acc_b.values()))),
                     **_t_columns(_differences(acc_a, acc_b), level)})
    return Family("B", "categorical minus sparse categorical cross-entropy, test accuracy per variant, a paired t-test "
                       "over the seeds", _n(len(names), "variant"), "paired t", _with_holm(rows, alpha), alpha)


def losses_mcnemar(runs: pd.DataFrame, predictions: dict[tuple[str, str, int], np.ndarray], y_test: np.ndarray,
                   sweep: SweepParams, alpha: float = ALPHA) -> Family:
    """Family C: McNemar's exact test per (variant, seed) between the two losses' runs, on the
    N test images. Detectable: the smallest |b − c| (and |b − c| / N in accuracy) the test
    rejects at alpha / m given that seed's b + c; NaN where no split of b + c is significant."""
    a, b = loss_pair(sweep)
    pairs = [(name, seed) for name in sweep.variants for seed in _shared_seeds(runs, name, (a, b))]
    level = ht.bonferroni_level(alpha, max(len(pairs), 1))
    n_images = len(y_test)
    rows = []
    for name, seed in pairs:
        m = mcnemar(predictions[(a, name, seed)], predictions[(b, name, seed)], y_test)
        n = m.only_a + m.only_b
        k = ht.mcnemar_detectable(n, level)
        k80 = ht.mcnemar_detectable_at_power(n, level, POWER)
        rows.append({"variant": name, "description": sweep.variants[name].description, "seed": seed,
                     "only_categorical_right": m.only_a, "only_sparse_right": m.only_b, "discordant": n,
                     "difference": (m.only_a - m.only_b) / n_images, "p": m.p_value,
                     "detectable_count": math.nan if k is None else k,
                     "detectable": math.nan if k is None else k / n_images,
                     "detectable_80": math.nan if k80 is None else k80 / n_images, "images": n_images})
    seeds = len({s for _, s in pairs})
    return Family("C", "McNemar's exact test between the two losses' runs of each variant and seed, on the test "
                       "images (the two runs of a seed share its validation split and initial weights)",
                  f"{_n(len({n for n, _ in pairs}), 'variant')} × {_n(seeds, 'seed')}", "McNemar",
                  _with_holm(rows, alpha), alpha)


# --------------------------------------------------------------------------- the two losses at full precision


def identity(probabilities: dict[tuple[str, str, int], np.ndarray], histories: dict[tuple[str, str, int], dict],
             sweep: SweepParams) -> pd.DataFrame:
    """Per (variant, seed) present for both losses: are the float32 test probabilities
    bit-identical, their largest absolute difference, on how many test images the predicted
    class is the same, and whether every per-epoch history value is exactly equal."""
    a, b = loss_pair(sweep)
    rows = []
    for name in sweep.variants:
        seeds = sorted({s for (loss, v, s) in probabilities if loss == a and v == name}
                       & {s for (loss, v, s) in probabilities if loss == b and v == name})
        for seed in seeds:
            pa, pb = probabilities[(a, name, seed)], probabilities[(b, name, seed)]
            ha, hb = histories[(a, name, seed)], histories[(b, name, seed)]
            same_shape = pa.shape == pb.shape and pa.dtype == pb.dtype
            gaps = [np.abs(np.asarray(ha[k], np.float64) - np.asarray(hb[k], np.float64)).max()
                    for k in sorted(set(ha) | set(hb)) if k in ha and k in hb and len(ha[k]) == len(hb[k])]
            rows.append({"variant": name, "description": sweep.variants[name].description, "seed": seed,
                         "images": len(pa),
                         "probabilities_identical": bool(same_shape and pa.tobytes() == pb.tobytes()),
                         "max_abs_difference": float(np.abs(pa.astype(np.float64) - pb.astype(np.float64)).max())
                         if same_shape else math.inf,
                         "same_class": int((pa.argmax(axis=1) == pb.argmax(axis=1)).sum()),
                         "histories_identical": bool(set(ha) == set(hb) and len(gaps) == len(ha)
                                                     and all(g == 0.0 for g in gaps)),
                         "max_history_gap": float(max(gaps)) if gaps else math.inf})
    return pd.DataFrame(rows)


@dataclasses.dataclass(frozen=True)
class LossComparison:
    """Everything notebook 05 shows: full-precision identity, families B and C."""

    identity: pd.DataFrame
    paired: Family
    mcnemar: Family


def compare_losses(runs: pd.DataFrame, probabilities: dict[tuple[str, str, int], np.ndarray],
                   histories: dict[tuple[str, str, int], dict], y_test: np.ndarray, sweep: SweepParams,
                   alpha: float = ALPHA) -> LossComparison:
    """The two losses compared: identity per (variant, seed), family B, family C."""
    predictions = {k: p.argmax(axis=1) for k, p in probabilities.items()}
    return LossComparison(identity(probabilities, histories, sweep), losses_paired(runs, sweep, alpha),
                          losses_mcnemar(runs, predictions, y_test, sweep, alpha))


def variant_summary(comparison: LossComparison) -> pd.DataFrame:
    """Per variant, in words a reader can scan: the paired t verdict (family B), in how many
    seeds McNemar is significant after Holm (family C), and the identity counts."""
    rows = []
    b = comparison.paired.table.set_index("variant") if comparison.paired.m else pd.DataFrame()
    for name, g in comparison.identity.groupby("variant", sort=False):
        c = comparison.mcnemar.table[comparison.mcnemar.table["variant"] == name]
        n = len(g)
        rows.append({"variant": name, "description": g["description"].iloc[0], "seeds": n,
                     "probabilities_identical": f"{int(g['probabilities_identical'].sum())} of {n}",
                     "histories_identical": f"{int(g['histories_identical'].sum())} of {n}",
                     "same_class_min": float((g["same_class"] / g["images"]).min()),
                     "paired_t": _verdict(b.loc[name]) if name in b.index else "—",
                     "mcnemar": f"significant in {int(c['significant'].sum())} of {len(c)} seeds"})
    return pd.DataFrame(rows)


def _verdict(row: pd.Series) -> str:
    if row["std"] == 0 and row["difference"] == 0:
        return "difference exactly 0 in every seed"
    if row["significant"]:
        return f"{row['difference']:+.4f} (Holm-adjusted p = {row['p_holm']:.2g})"
    return f"no difference detected (detectable ±{row['detectable']:.4f})"


# --------------------------------------------------------------------------- findings, for the words
# Each function returns the numbers that a paragraph of ``sweep_text`` (templates/*.md.j2) states.


def span(values) -> tuple[float, float] | None:
    """The smallest and largest finite value (None if there is none)."""
    v = [x for x in values if np.isfinite(x)]
    return (min(v), max(v)) if v else None


def identity_counts(table: pd.DataFrame) -> dict | None:
    """What is exactly identical between the two losses' runs, counted (None: no pairs)."""
    if table.empty:
        return None
    others = table[~table["probabilities_identical"]]
    return {"pairs": len(table), "images": int(table["images"].max()),
            "probabilities": int(table["probabilities_identical"].sum()),
            "classes": int((table["same_class"] == table["images"]).sum()),
            "histories": int(table["histories_identical"].sum()),
            "differing": len(others), "largest_difference": others["max_abs_difference"].max() if len(others) else None,
            "fewest_same": int(table["same_class"].min()),
            "largest_gap": table.loc[~table["histories_identical"], "max_history_gap"].max()
            if (~table["histories_identical"]).any() else None}


def no_difference(table: pd.DataFrame) -> dict:
    """The rows of ``table`` that are not significant: how many were tested with a spread, the
    range of what they could have detected (about half the time, and with ``POWER``), and how
    many differ by exactly 0 in every seed: never a 'no difference' without what could be seen."""
    quiet = table[~table["significant"]]
    exact = (quiet["std"] == 0) & (quiet["difference"] == 0)
    # the same non-zero difference in every seed: a t-test has no spread, the sign-flip test too few seeds
    constant = (quiet["std"] == 0) & (quiet["difference"] != 0)
    q = quiet[~exact & ~constant]
    spread = q[q["std"] > 0] if "detectable_power" in q else q.iloc[:0]
    seeds = int(q["seeds"].min()) if len(q) and "seeds" in q else 0
    flips = [ht.sign_flip_p(int(n)) for n in quiet.loc[constant, "seeds"]] if constant.any() else []
    return {"tested": len(q), "detectable": span(q["detectable"]), "detectable_80": span(q["detectable_80"]),
            "exact": int(exact.sum()), "power": span(spread["detectable_power"]) if len(spread) else None,
            "seeds": seeds, "sigma_range": ht.sigma_ratio_range(seeds - 1) if len(spread) and seeds > 1 else None,
            "constant": int(constant.sum()), "sign_flip_p": span(flips)}


def baseline_findings(family: Family, loss: str) -> dict:
    """Family A of ``loss``: which variants differ, how much could have been seen, and R4's
    ranking step against it."""
    t = family.table
    found = {"loss_label": LOSS_LABEL[loss], "m": family.m, "alpha": family.alpha, "power": POWER, "step": R4_STEP}
    if t.empty:
        return {**found, "empty": True}
    sig = t[t["significant"]]
    rows = lambda r: [{"description": d, "metric": METRIC_LABEL[m], "difference": x, "p_holm": p,  # noqa: E731
                       "no_spread": sd == 0, "sign_flip_p": ht.sign_flip_p(n)}  # its exact p
                      for d, m, x, p, sd, n in zip(r["description"], r["metric"], r["difference"], r["p_holm"],
                                                   r["std"], r["seeds"])]
    quiet = [(METRIC_LABEL[m], no_difference(t[t["metric"] == m])) for m in METRICS]
    acc = t[t["metric"] == "test_accuracy"]
    accuracy = None
    if len(acc):
        # the same non-zero difference in every seed: the sign-flip test detects nothing at so few seeds
        seen = acc["detectable"].where(~((acc["std"] == 0) & (acc["difference"] != 0)), np.inf)
        accuracy = {"tests": len(acc), "below": int((seen <= R4_STEP).sum()), "smallest": seen.min()}
    return {**found, "empty": False, "significant": len(sig), "better": rows(sig[sig["better"]]),
            "worse": rows(sig[~sig["better"]]), "quiet": [(m, q) for m, q in quiet if q["tested"] or q["exact"] or q["constant"]],
            "accuracy": accuracy}


def paired_findings(family: Family) -> dict | None:
    """Family B: the range of the differences, the significant variants, the others."""
    if not family.m:
        return None
    t = family.table
    sig = t[t["significant"]]
    zero = t[(t["std"] == 0) & (t["difference"] == 0)]
    return {"seeds": int(t["seeds"].min()), "low": t["difference"].min(), "high": t["difference"].max(),
            "m": family.m, "alpha": family.alpha, "power": POWER,
            "significant": list(zip(sig["description"], sig["difference"])), "all_zero": len(zero) == family.m,
            "quiet": no_difference(t)}


def mcnemar_findings(family: Family) -> dict | None:
    """Family C: significant tests per variant, what the others could have detected given
    their discordant images, and the pairs without any discordant image."""
    if not family.m:
        return None
    t = family.table
    sig = t[t["significant"]]
    testable = t[(t["discordant"] > 0) & ~t["significant"]]
    seen = testable[testable["detectable"].notna()]
    never = testable[testable["detectable"].isna()]
    return {"m": family.m, "alpha": family.alpha, "power": POWER, "significant": len(sig),
            "per_variant": [(d, int(k), int((t["description"] == d).sum()))
                            for d, k in sig.groupby("description", sort=False).size().items()],
            "testable": len(testable),
            "seen": {"tests": len(seen), "detectable": span(seen["detectable"]),
                     "power": span(ht.mcnemar_power((1 + k / n) / 2, n, family.level)
                                   for k, n in zip(seen["detectable_count"], seen["discordant"].astype(int))),
                     "discordant": span(seen["discordant"]), "detectable_80": span(seen["detectable_80"])},
            "never": {"tests": len(never), "discordant": span(never["discordant"])},
            "none": int((t["discordant"] == 0).sum())}
