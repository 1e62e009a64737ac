"""Tables and files of the loss sweep: one row per run, the per-epoch curves, R4's table with
our numbers, the statistics tables as readers see them, and the files the sweep stage writes
(``paths.sweep_files``)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core import fileio, numbers, paths, provenance
from pipeline.core.params.schema import SweepParams, VerdictParams
from pipeline.core.seed_stats import rounded_stat, sample_std
from pipeline.core.reader_tables import cell, readable
from pipeline.loss_sweep import claims, families
from pipeline.loss_sweep.claims import claims_apply  # noqa: F401 (the notebooks' name for it)
from pipeline.loss_sweep.runs import HISTORY_KEYS, RunResult

SCORE_KEYS = ("test_loss", "test_accuracy")  # kept unrounded in the predictions file


def runs_frame(results: list[RunResult]) -> pd.DataFrame:
    """One row per run (no predictions or histories)."""
    return pd.DataFrame([{"loss": r.loss, "variant": r.variant, "seed": r.seed, "test_loss": r.test_loss,
                          "test_accuracy": r.test_accuracy, "val_accuracy": r.history["val_accuracy"][-1],
                          "fit_seconds": r.fit_seconds, "from_cache": r.from_cache} for r in results])


def curves_frame(results: list[RunResult]) -> pd.DataFrame:
    """Long table of the per-epoch curves of every run."""
    rows = []
    for r in results:
        for e, values in enumerate(zip(*(r.history[k] for k in ("accuracy", "val_accuracy", "loss", "val_loss"))), 1):
            rows.append({"loss": r.loss, "variant": r.variant, "seed": r.seed, "epoch": e,
                         **dict(zip(("accuracy", "val_accuracy", "loss_value", "val_loss"), values))})
    return pd.DataFrame(rows)


def _pct(diff: float, base: float) -> str:
    return numbers.signed(100 * diff / base, 1) + " %" if base else ""


def r4_table(runs: pd.DataFrame, sweep: SweepParams, loss: str, dataset: str | None = None) -> pd.DataFrame:
    """R4's table with our numbers: mean ± std over seeds, differences against the baseline row,
    and R4's printed loss and accuracy beside ours (left out on another dataset than R4's)."""
    base_name = next(iter(sweep.variants))
    g = runs[runs["loss"] == loss].groupby("variant", sort=False)
    cols = ["test_loss", "test_accuracy"]
    mean, std = g[cols].mean(), g[cols].agg(sample_std)
    rows = []
    for name, v in sweep.variants.items():
        if name not in mean.index:
            continue
        lm, am = mean.loc[name, "test_loss"], mean.loc[name, "test_accuracy"]
        ls, as_ = std.loc[name, "test_loss"], std.loc[name, "test_accuracy"]
        lb, ab = mean.loc[base_name, "test_loss"], mean.loc[base_name, "test_accuracy"]
        first = name == base_name
        claim = sweep.claimed.get(loss, {}).get(name)
        rows.append({
            "Description": v.description,
            "First Layer": v.hidden[0], "Second Layer": v.hidden[1] if len(v.hidden) > 1 else "",
            "Third Layer": v.hidden[2] if len(v.hidden) > 2 else "", "Dropout": f"{v.dropout:.0%}",
            "Loss": f"{numbers.num(lm, 3)} ± {numbers.num(ls, 3)}", "Loss +/-": "" if first else numbers.signed(lm - lb, 3),
            "Loss +/-%": "" if first else _pct(lm - lb, lb),
            "Accuracy": numbers.mean_std(am, as_), "Accuracy +/-": "" if first else numbers.signed(am - ab),
            "Accuracy +/-%": "" if first else _pct(am - ab, ab),
            "R4 loss": "" if claim is None else numbers.claimed(claim[0]),  # as R4 printed them
            "R4 accuracy": "" if claim is None else numbers.claimed(claim[1]),
        })
    table = pd.DataFrame(rows).set_index("Description")
    return table if claims_apply(sweep, dataset) else table.drop(columns=["R4 loss", "R4 accuracy"])


# --------------------------------------------------------------------------- for readers

# How the statistics tables of loss_sweep.families are shown (name → (header, format)); NaN
# (no test possible, nothing detectable) is shown as "—".
_T_COLUMNS = {
    "difference": ("difference", "{:+.4f}"), "ci_low": ("simultaneous CI from", "{:+.4f}"),
    "ci_high": ("simultaneous CI to", "{:+.4f}"), "p": ("p", "{:.3g}"), "p_holm": ("p (Holm)", "{:.3g}"),
    "significant": ("significant (Holm)?", "yes/no"), "detectable": ("detectable ±", "{:.4f}"),
    "detectable_80": (f"detectable ± ({numbers.pct(families.POWER, 0)} power)", "{:.4f}"), "seeds": ("seeds", "{}")}
VERSUS_BASELINE_COLUMNS = {"description": ("variant", "{}"), "metric": ("metric", "{}"), **_T_COLUMNS}
PAIRED_COLUMNS = {"description": ("variant", "{}"), "categorical": ("categorical CE", "{:.4f}"),
                  "sparse": ("sparse CE", "{:.4f}"), **_T_COLUMNS}
MCNEMAR_COLUMNS = {
    "description": ("variant", "{}"), "seed": ("seed", "{}"),
    "only_categorical_right": ("b: only categorical right", "{:,}"),
    "only_sparse_right": ("c: only sparse right", "{:,}"), "p": ("p", "{:.3g}"), "p_holm": ("p (Holm)", "{:.3g}"),
    "significant": ("significant (Holm)?", "yes/no"), "detectable_count": ("detectable |b − c|", "{:.0f}"),
    "detectable": ("detectable |b − c| / N", "{:.4f}"),
    "detectable_80": (f"detectable ({numbers.pct(families.POWER, 0)} power)", "{:.4f}")}
IDENTITY_COLUMNS = {
    "description": ("variant", "{}"), "seed": ("seed", "{}"),
    "probabilities_identical": ("probabilities bit-identical?", "yes/no"),
    "max_abs_difference": ("largest |Δ probability|", "{:.3g}"), "same_class": ("same predicted class", "{:,}"),
    "images": ("test images", "{:,}"), "histories_identical": ("histories identical?", "yes/no"),
    "max_history_gap": ("largest history gap", "{:.3g}")}
SUMMARY_COLUMNS = {
    "description": ("variant", "{}"), "probabilities_identical": ("probabilities bit-identical", "{} seeds"),
    "histories_identical": ("histories identical", "{} seeds"), "same_class_min": ("same class (fewest)", "{:.2%}"),
    "paired_t": ("paired t (family B)", "{}"), "mcnemar": ("McNemar (family C)", "{}")}


def _readable(frame: pd.DataFrame, columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """``core.reader_tables.readable`` with "—" for a missing number (NaN or None)."""
    shown = frame.copy()
    for name, (_, fmt) in columns.items():
        if fmt != "yes/no":
            shown[name] = ["—" if v is None or (isinstance(v, float) and math.isnan(v)) else cell(v, fmt)
                           for v in shown[name]]
    return readable(shown, {k: (h, "yes/no" if f == "yes/no" else "{}") for k, (h, f) in columns.items()})


def versus_baseline_table(family: families.Family) -> pd.DataFrame:
    """Family A (``families.versus_baseline``) with human headers and formatted numbers."""
    t = family.table.assign(metric=family.table["metric"].map(families.METRIC_LABEL)) if family.m else family.table
    return _readable(t, VERSUS_BASELINE_COLUMNS).set_index("variant") if family.m else t


def paired_table(family: families.Family) -> pd.DataFrame:
    """Family B (``families.losses_paired``) for readers."""
    return _readable(family.table, PAIRED_COLUMNS).set_index("variant") if family.m else family.table


def mcnemar_table(family: families.Family) -> pd.DataFrame:
    """Family C (``families.losses_mcnemar``) for readers, one row per (variant, seed)."""
    return _readable(family.table, MCNEMAR_COLUMNS).set_index(["variant", "seed"]) if family.m else family.table


def identity_table(identity: pd.DataFrame) -> pd.DataFrame:
    """``families.identity`` for readers, one row per (variant, seed)."""
    return _readable(identity, IDENTITY_COLUMNS).set_index(["variant", "seed"]) if len(identity) else identity


def splits_table(splits: list) -> pd.DataFrame:
    """``runs.seed_splits`` for readers, one row per seed."""
    return pd.DataFrame([{"seed": s.seed, "runs": s.runs, "distinct splits": s.distinct, "fit images": f"{s.fit:,}",
                          "validation images": f"{s.validation:,}", "sha256 (validation)": s.sha256[:16]}
                         for s in splits]).set_index("seed")


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """``families.variant_summary`` for readers, one row per variant."""
    return _readable(summary, SUMMARY_COLUMNS).set_index("variant") if len(summary) else summary


# --------------------------------------------------------------------------- files


def _sig(x: float, digits: int = 4) -> float | None:
    """``x`` to ``digits`` significant digits for a metrics file (None for NaN or inf)."""
    return float(f"{x:.{digits}g}") if math.isfinite(x) else None


def metrics(results: list[RunResult], sweep: SweepParams, rule: VerdictParams | None = None,
            dataset: str | None = None) -> dict:
    """Per variant: test accuracy and loss, mean and std over seeds, and (not for the
    baseline) family A's test against the baseline per metric; the family's size and level;
    with the verdict ``rule``, R4's printed pairs judged (``claims.record``: counts and checks).
    Rounded: the same runs give the same text."""
    out = {}
    for name in sweep.variants:
        mine = [r for r in results if r.variant == name]
        if mine:
            out[name] = {k: rounded_stat(getattr(r, k) for r in mine) for k in ("test_accuracy", "test_loss")}
    doc = {"variants": out, "seeds": list(sweep.seeds)}
    if not results:
        return doc
    family = families.versus_baseline(runs_frame(results), sweep, results[0].loss)
    for row in family.table.to_dict("records"):
        out[row["variant"]].setdefault("versus_baseline", {})[row["metric"]] = {
            "difference": round(row["difference"], 6), "p_holm": _sig(row["p_holm"]),
            "significant": bool(row["significant"]), "detectable": _sig(row["detectable"])}
    doc["family_a"] = {"tests": family.m, "alpha": family.alpha, "level": _sig(family.level)}
    if rule is not None:
        doc["r4_claims"] = claims.record(claims.judge(runs_frame(results), sweep, results[0].loss, rule, dataset))
    return doc


def timings(results: list[RunResult]) -> dict:
    """Seconds of every run's fit, and whether it came from the cache (DVC-cached: not in git)."""
    return {"runs": [{"variant": r.variant, "seed": r.seed, "fit_seconds": round(r.fit_seconds, 2),
                      "from_cache": r.from_cache, "where": r.where or "cache"} for r in results]}


def write_outputs(loss: str, results: list[RunResult], sweep: SweepParams, root: Path | None = None,
                  rule: VerdictParams | None = None, dataset: str | None = None) -> list[Path]:
    """Metrics JSON, the runs and curves as CSV, the full-precision test probabilities and
    histories (npz) and the timings, each atomically. The git-tracked files (metrics, runs)
    hold no timings."""
    files = paths.sweep_files(loss, root)
    fileio.write_json(files.metrics, metrics(results, sweep, rule, dataset))
    runs = runs_frame(results).drop(columns=["fit_seconds", "from_cache"])
    fileio.write_text(files.runs, runs.to_csv(index=False, float_format="%.6f"))
    fileio.write_text(files.curves, curves_frame(results).to_csv(index=False, float_format="%.6f"))
    with fileio.atomic_path(files.predictions) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **npz_arrays(results))
    provenance.write_timing(files.timing, timings(results))
    return [files.metrics, files.runs, files.curves, files.predictions, files.timing]


def npz_arrays(results: list[RunResult]) -> dict[str, np.ndarray]:
    """The arrays of the predictions file: ``probabilities__VARIANT__SEED`` (float32, as the
    model gave them), ``history__VARIANT__SEED`` (float64, one row per ``HISTORY_KEYS``) and
    ``scores__VARIANT__SEED`` (test loss and accuracy, unrounded: the runs CSV rounds them)."""
    out = {"history_keys": np.array(HISTORY_KEYS), "score_keys": np.array(SCORE_KEYS)}
    for r in results:
        out[f"probabilities__{r.variant}__{r.seed}"] = np.asarray(r.probabilities, dtype=np.float32)
        out[f"history__{r.variant}__{r.seed}"] = np.array([r.history[k] for k in HISTORY_KEYS], dtype=np.float64)
        out[f"scores__{r.variant}__{r.seed}"] = np.array([getattr(r, k) for k in SCORE_KEYS], dtype=np.float64)
    return out


@dataclasses.dataclass
class SweepOutputs:
    """What the sweep stages wrote, keyed by (loss, variant, seed) where per run."""

    runs: pd.DataFrame
    curves: pd.DataFrame
    probabilities: dict[tuple[str, str, int], np.ndarray]  # float32, full precision
    histories: dict[tuple[str, str, int], dict[str, np.ndarray]]  # per epoch, full precision

    @staticmethod
    def combine(parts: list[SweepOutputs]) -> SweepOutputs:
        """Several losses' outputs as one."""
        return SweepOutputs(pd.concat([p.runs for p in parts], ignore_index=True),
                            pd.concat([p.curves for p in parts], ignore_index=True),
                            {k: v for p in parts for k, v in p.probabilities.items()},
                            {k: v for p in parts for k, v in p.histories.items()})


def read_outputs(loss: str, root: Path | None = None) -> SweepOutputs:
    """What ``write_outputs`` wrote for ``loss``; the runs' test loss and accuracy unrounded
    (from the predictions file), so that notebook 05 tests the numbers notebook 04 tested."""
    files = paths.sweep_files(loss, root)
    probabilities, histories, scores = {}, {}, {}
    with np.load(files.predictions, allow_pickle=False) as npz:
        keys = {"history": [str(k) for k in npz["history_keys"]], "scores": [str(k) for k in npz["score_keys"]]}
        for name in npz.files:
            kind, _, rest = name.partition("__")
            if kind not in ("probabilities", "history", "scores"):
                continue
            variant, seed = rest.rsplit("__", 1)
            key = (loss, variant, int(seed))
            if kind == "probabilities":
                probabilities[key] = npz[name]
            else:
                (histories if kind == "history" else scores)[key] = dict(zip(keys[kind], npz[name]))
    runs = pd.read_csv(files.runs)
    for i, row in runs.iterrows():
        for k, v in scores.get((loss, row["variant"], int(row["seed"])), {}).items():
            runs.at[i, k] = float(v)
    return SweepOutputs(runs, pd.read_csv(files.curves), probabilities, histories)
