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
The conclusions are sentences computed from these numbers.
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

    def statement(self) -> str:
        """The family, its size and its error control, in words."""
        text = (f"Family {self.name}: {self.what}; {self.m} tests ({self.members}). Holm's step-down procedure "
                f"keeps the probability of any false 'significant' in the family at most {self.alpha:g}; "
                f"p-values are Holm-adjusted. ")
        if self.test == "paired t":
            text += (f"Intervals are simultaneous: each at confidence 1 − {self.alpha:g}/{self.m} = "
                     f"{1 - self.level:.4%} (Bonferroni), Student's t with n − 1 degrees of freedom. ")
        text += (f"The detectable difference is the smallest difference that the test would call significant at "
                 f"the level {self.alpha:g}/{self.m} = {self.level:.2g}, which Holm rejects whatever the other tests "
                 "give. A true difference of that size is found about half the time")
        spread = self.table[self.table["std"] > 0] if self.test == "paired t" and self.m else []
        if len(spread):
            text += (" (with the observed spread taken as the true one: "
                     f"{_span(spread['detectable_power'], '{:.0%}')} of the time with these few seeds)")
        return text + f"; the difference found with {POWER:.0%} power is given beside it."


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


def single_loss_note(sweep: SweepParams) -> str:
    """What the comparison says when the sweep trained one loss only."""
    return (f"**Nothing to compare:** this sweep trained with one loss only, {LOSS_LABEL[sweep.losses[0]]}. "
            f"The sections below need the runs of both losses; list both under the sweep's `losses` in "
            f"params.yaml to fill them.")


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
        return f"{row['difference']:+.4f} (p_Holm = {row['p_holm']:.2g})"
    return f"no difference detected (detectable ±{row['detectable']:.4f})"


# --------------------------------------------------------------------------- conclusions


def _span(values, fmt: str = "{:.4f}") -> str:
    v = [x for x in values if np.isfinite(x)]
    if not v:
        return "none"
    low, high = min(v), max(v)
    return fmt.format(low) if low == high else f"{fmt.format(low)}–{fmt.format(high)}"


def identity_sentences(table: pd.DataFrame) -> list[str]:
    """What is exactly identical between the two losses' runs, counted."""
    if table.empty:
        return []
    n, images = len(table), int(table["images"].max())
    same = int(table["probabilities_identical"].sum())
    classes = int((table["same_class"] == table["images"]).sum())
    hist = int(table["histories_identical"].sum())
    text = (f"Compared at full precision, pair by pair (same variant, same seed): the float32 test probabilities of "
            f"all {images:,} test images are bit-identical in {same} of {n} pairs")
    others = table[~table["probabilities_identical"]]
    if len(others):
        text += (f"; in the other {len(others)} the largest absolute difference is "
                 f"{others['max_abs_difference'].max():.3g}")
    text += f". The predicted classes are the same on every test image in {classes} of {n} pairs"
    if classes < n:
        text += f" (the fewest agreeing: {int(table['same_class'].min()):,} of {images:,})"
    text += (f". The per-epoch histories (loss, accuracy, val_loss, val_accuracy) are exactly equal in {hist} of "
             f"{n} pairs")
    if hist < n:
        gap = table.loc[~table["histories_identical"], "max_history_gap"].max()
        text += f"; the largest gap otherwise is {gap:.3g}"
    text += "."
    out = [text]
    if same == n and hist == n:
        out.append("With the same seed the two losses trained the same model, to the last bit of every test "
                   "probability: categorical cross-entropy on one-hot labels and sparse categorical cross-entropy "
                   "on integer labels are the same function of the weights, and here also the same computation.")
    else:
        out.append("The two losses are the same function of the weights; where runs differ, the likely cause is "
                   "that the two implementations round differently in float32 and training carries such last-bit "
                   "differences from step to step.")
    return out


def _n(count: int, noun: str) -> str:
    """'1 variant', '3 variants'."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _no_difference(table: pd.DataFrame, noun: str = "variant", where: str = "", fmt: str = "{:.4f}") -> str:
    """'no difference detected for N …; detectable …' for the rows of ``table`` that are not
    significant ('' if there are none): never a 'no difference' without what could be seen."""
    quiet = table[~table["significant"]]
    exact = (quiet["std"] == 0) & (quiet["difference"] == 0)
    parts = []
    if (~exact).any():
        q = quiet[~exact]
        parts.append(f"no difference was detected for {_n(len(q), noun)}{where}, where the test would have called "
                     f"a difference of {_span(q['detectable'], fmt)} significant (found about half the time; "
                     f"{_span(q['detectable_80'], fmt)} with {POWER:.0%} power)")
    if exact.any():
        parts.append(f"the difference is exactly 0 in every seed for {_n(int(exact.sum()), noun)}{where}")
    return "; ".join(parts)


def baseline_sentence(family: Family, loss: str) -> str:
    """Family A of ``loss`` in one paragraph: which variants differ, how much could have
    been seen, and R4's ranking step against it."""
    t = family.table
    if t.empty:
        return f"With {LOSS_LABEL[loss]}, no variant shares a seed with the baseline: nothing to compare."
    sig = t[t["significant"]]
    text = (f"With {LOSS_LABEL[loss]} (family A, {family.m} tests, Holm at {family.alpha:g}), {len(sig)} of "
            f"{family.m} comparisons with the baseline are significant")
    for label, rows in (("better", sig[sig["better"]]), ("worse", sig[~sig["better"]])):
        if len(rows):
            text += f"; {label}: " + ", ".join(f"{d} ({METRIC_LABEL[m]} {x:+.4f}, p_Holm = {p:.2g})" for d, m, x, p in
                                                zip(rows["description"], rows["metric"], rows["difference"],
                                                    rows["p_holm"]))
    acc = t[t["metric"] == "test_accuracy"]
    parts = [_no_difference(t[t["metric"] == m], "variant", f" in {METRIC_LABEL[m]}") for m in METRICS]
    joined = "; ".join(x for x in parts if x)
    text += f". {joined[:1].upper()}{joined[1:]}." if joined else "."
    if len(acc):
        below = int((acc["detectable"] <= R4_STEP).sum())
        smallest = acc["detectable"].min()
        ratio = f", {smallest / R4_STEP:.1f} times it" if smallest >= R4_STEP else ""
        text += (f" R4 ranked variants by differences of {R4_STEP:g} in accuracy: {below} of {len(acc)} accuracy "
                 f"comparisons could have detected a difference that small (the smallest detectable difference is "
                 f"{smallest:.4f}{ratio}).")
    return text


def losses_sentences(comparison: LossComparison) -> list[str]:
    """Families B and C in words."""
    out = []
    b, c = comparison.paired, comparison.mcnemar
    if b.m:
        t = b.table
        seeds = int(t["seeds"].min())
        sig = t[t["significant"]]
        zero = t[(t["std"] == 0) & (t["difference"] == 0)]
        text = (f"Categorical and sparse categorical cross-entropy, trained from the same {seeds} seeds: the accuracy "
                f"difference (categorical − sparse, mean over seeds) lies between {t['difference'].min():+.4f} and "
                f"{t['difference'].max():+.4f} across the {b.m} variants. Family B (paired t, Holm at {b.alpha:g}): "
                f"{len(sig)} of {b.m} variants significant"
                + (f" ({', '.join(f'{d} {x:+.4f}' for d, x in zip(sig['description'], sig['difference']))})"
                   if len(sig) else ""))
        if len(zero) == b.m:
            text += "; the difference is exactly 0 in every seed of every variant, so no test is needed to see it."
        else:
            rest = _no_difference(t)
            text += (f"; {rest}." if rest else ".")
        out.append(text)
    if c.m:
        t = c.table
        sig = t[t["significant"]]
        per_variant = sig.groupby("description", sort=False).size()
        text = (f"Family C (McNemar per variant and seed, Holm at {c.alpha:g}): {len(sig)} of {c.m} tests significant"
                + (" (" + ", ".join(f"{d}: {k} of {int((t['description'] == d).sum())} seeds"
                                    for d, k in per_variant.items()) + ")" if len(sig) else ""))
        none = t[t["discordant"] == 0]
        testable = t[(t["discordant"] > 0) & ~t["significant"]]
        if len(testable):
            text += f"; no difference was detected in the other {_n(len(testable), 'test')} with discordant images"
            seen = testable[testable["detectable"].notna()]
            never = testable[testable["detectable"].isna()]
            if len(seen):
                text += (f"; in {len(seen)} of them the test would have called |b − c| / N = "
                         f"{_span(seen['detectable'])} significant (given that seed's b + c = "
                         f"{_span(seen['discordant'], '{:.0f}')} discordant images; found about half the time; "
                         f"{_span(seen['detectable_80'])} with {POWER:.0%} power)")
            if len(never):
                text += (f"; in {len(never)} of them b + c = {_span(never['discordant'], '{:.0f}')} is so small that "
                         "no split of it could be significant at this level")
        if len(none):
            text += (f"; in {len(none)} of {c.m} (variant, seed) pairs the two runs are right and wrong on exactly the "
                     "same images (b = c = 0): they cannot differ in accuracy at all")
        out.append(text + ".")
    return out


def conclusion(comparison: LossComparison | None, baseline: dict[str, Family]) -> list[str]:
    """Plain-words conclusions computed from the numbers (change the numbers, the words change)."""
    out = []
    if comparison is not None:
        out += identity_sentences(comparison.identity)
        out += losses_sentences(comparison)
    out += [baseline_sentence(family, loss) for loss, family in baseline.items()]
    return out
