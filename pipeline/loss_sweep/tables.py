"""Tables and files of the loss sweep: one row per run, the per-epoch curves, R4's table with
our numbers, and the files the sweep stage writes (``paths.sweep_files``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core import fileio, paths
from pipeline.core.config import SweepParams
from pipeline.core.stats import rounded_stat, sample_std
from pipeline.core.tables import readable
from pipeline.loss_sweep.runs import RunResult


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
    return f"{100 * diff / base:+.1f}%" if base else ""


def r4_table(runs: pd.DataFrame, sweep: SweepParams, loss: str) -> pd.DataFrame:
    """R4's table with our numbers: mean ± std over seeds, differences against the baseline row,
    and R4's printed loss and accuracy beside ours."""
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
            "Loss": f"{lm:.3f} ± {ls:.3f}", "Loss +/-": "" if first else f"{lm - lb:+.3f}",
            "Loss +/-%": "" if first else _pct(lm - lb, lb),
            "Accuracy": f"{am:.4f} ± {as_:.4f}", "Accuracy +/-": "" if first else f"{am - ab:+.4f}",
            "Accuracy +/-%": "" if first else _pct(am - ab, ab),
            "R4 loss": "" if claim is None else f"{claim[0]:.3f}",
            "R4 accuracy": "" if claim is None else f"{claim[1]:.3f}",
        })
    return pd.DataFrame(rows).set_index("Description")


# --------------------------------------------------------------------------- for readers

# How the statistics tables of loss_sweep.stats are shown (name → (header, format)).
VERSUS_BASELINE_COLUMNS = {
    "description": ("variant", "{}"), "difference": ("accuracy − baseline", "{:+.4f}"),
    "ci_low": ("95% CI from", "{:+.4f}"), "ci_high": ("95% CI to", "{:+.4f}"), "seeds": ("seeds", "{}"),
    "beyond_noise": ("beyond noise?", "yes/no")}
COMPARISON_COLUMNS = {
    "description": ("variant", "{}"), "categorical": ("categorical CE", "{:.4f}"), "sparse": ("sparse CE", "{:.4f}"),
    "difference": ("difference", "{:+.4f}"), "ci_low": ("95% CI from", "{:+.4f}"), "ci_high": ("95% CI to", "{:+.4f}"),
    "beyond_noise": ("beyond noise?", "yes/no"), "only_categorical_right": ("only categorical right", "{:,}"),
    "only_sparse_right": ("only sparse right", "{:,}"), "mcnemar_p": ("McNemar p", "{:.3f}"),
    "same_prediction": ("same prediction", "{:.2%}"), "max_val_loss_gap": ("largest val-loss gap", "{:.1e}")}


def versus_baseline_table(vs_base: pd.DataFrame) -> pd.DataFrame:
    """``stats.versus_baseline`` with human headers and formatted numbers."""
    return readable(vs_base, VERSUS_BASELINE_COLUMNS).set_index("variant")


def comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """``stats.compare_losses`` with human headers and formatted numbers."""
    return readable(comparison, COMPARISON_COLUMNS).set_index("variant")


# --------------------------------------------------------------------------- files


def metrics(results: list[RunResult], sweep: SweepParams) -> dict:
    """Per variant: test accuracy and loss, mean and std over seeds (deterministic)."""
    out = {}
    for name in sweep.variants:
        mine = [r for r in results if r.variant == name]
        if mine:
            out[name] = {k: rounded_stat(getattr(r, k) for r in mine) for k in ("test_accuracy", "test_loss")}
    return {"variants": out, "seeds": list(sweep.seeds)}


def timings(results: list[RunResult]) -> dict:
    """Seconds of every run's fit, and whether it came from the cache (DVC-cached: not in git)."""
    return {"runs": [{"variant": r.variant, "seed": r.seed, "fit_seconds": round(r.fit_seconds, 2),
                      "from_cache": r.from_cache, "where": r.where or "cache"} for r in results]}


def write_outputs(loss: str, results: list[RunResult], sweep: SweepParams,
                  root: Path | None = None) -> list[Path]:
    """Metrics JSON, the runs and curves as CSV, the test predictions (npz) and the timings,
    each atomically. The git-tracked files (metrics, runs) hold no timings."""
    files = paths.sweep_files(loss, root)
    fileio.write_json(files.metrics, metrics(results, sweep))
    runs = runs_frame(results).drop(columns=["fit_seconds", "from_cache"])
    fileio.write_text(files.runs, runs.to_csv(index=False, float_format="%.6f"))
    fileio.write_text(files.curves, curves_frame(results).to_csv(index=False, float_format="%.6f"))
    with fileio.atomic_path(files.predictions) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{f"{r.variant}__{r.seed}": np.asarray(r.predictions, dtype=np.int8)
                                       for r in results})
    fileio.write_json(files.timing, timings(results))
    return [files.metrics, files.runs, files.curves, files.predictions, files.timing]


def read_outputs(loss: str, root: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """What ``write_outputs`` wrote for ``loss``: runs, curves, {(loss, variant, seed): predictions}."""
    files = paths.sweep_files(loss, root)
    runs = pd.read_csv(files.runs)
    curves = pd.read_csv(files.curves)
    with np.load(files.predictions, allow_pickle=False) as npz:
        preds = {(loss, k.split("__")[0], int(k.split("__")[1])): npz[k] for k in npz.files}
    return runs, curves, preds
