"""Numbers of the model reports: statistics over seeds, per-class scores, mistakes, and the
check of each source's claim against our measurement. Also writes the metrics/plots files
that DVC tracks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from pipeline.core import fileio, paths
from pipeline.core.config import Claim
from pipeline.core.stats import mean_std, rounded_stat, sample_std


# --------------------------------------------------------------------------- rounding


def printed_resolution(x: float) -> float:
    """Half a unit of the last printed decimal of ``x``: 0.91 → 0.005, 0.9781 → 0.00005."""
    text = repr(float(x))
    if "e" in text or "E" in text:
        return 0.0
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return 0.5 * 10.0 ** (-decimals)


# --------------------------------------------------------------------------- tables


def seed_table(fits) -> pd.DataFrame:
    """One row per seed: what each repeat measured."""
    rows = []
    for r in fits.runs:
        rows.append({
            "seed": r.seed,
            "test accuracy": r.test_accuracy,
            "test loss": r.test_loss,
            "val accuracy (last epoch)": r.history["val_accuracy"][-1],
            "train accuracy": r.train_accuracy,
            "dead ReLU units": sum(r.dead_units.values()),
            "fit time (s)": r.fit_seconds,
        })
    return pd.DataFrame(rows).set_index("seed")


def epoch_curves(fits) -> pd.DataFrame:
    """Per epoch: mean and std over seeds of loss/accuracy for training and validation."""
    keys = ["accuracy", "val_accuracy", "loss", "val_loss"]
    out = {"epoch": np.arange(1, fits.config.epochs + 1)}
    for key in keys:
        stack = np.array([r.history[key] for r in fits.runs], dtype=np.float64)
        out[key] = stack.mean(axis=0)
        out[f"{key}_std"] = sample_std(stack, axis=0)
    return pd.DataFrame(out)


def class_report(y_true: np.ndarray, y_pred: np.ndarray, class_names) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (zero where a class is never predicted)."""
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=np.arange(len(class_names)),
                                                 zero_division=0)
    return pd.DataFrame({"precision": p, "recall": r, "F1": f, "support": s},
                        index=pd.Index(class_names, name="class"))


def confident_mistakes(probabilities: np.ndarray, y_true: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest confidence."""
    pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probabilities[wrong, pred[wrong]]
    return wrong[np.argsort(-conf, kind="stable")[:k]]


# --------------------------------------------------------------------------- claims


@dataclasses.dataclass
class ClaimCheck:
    """One claimed number against our measurement over seeds."""

    quantity: str  # "test accuracy" or "test loss"
    claimed: float
    measured: float  # mean over seeds
    std: float
    tolerance: float
    holds: bool


@dataclasses.dataclass
class Verdict:
    verdict: str  # "holds", "does not hold", "no claim"
    checks: list[ClaimCheck]
    reasons: list[str]
    source_note: str


def _tolerance(claimed: float, std: float) -> float:
    """A claim holds within 2 standard deviations of our mean, widened by its printed rounding."""
    return max(2.0 * std, printed_resolution(claimed))


def check_quantity(quantity: str, claimed: float, values: list[float]) -> ClaimCheck:
    """One claimed number against our per-seed ``values``."""
    m, s = mean_std(values)
    tol = _tolerance(claimed, s)
    return ClaimCheck(quantity, claimed, m, s, tol, abs(claimed - m) <= tol)


def accuracy_reasons(check: ClaimCheck, fits) -> list[str]:
    """Why a claimed accuracy is off: is it the size of our training accuracy?"""
    train_m, train_s = mean_std(r.train_accuracy for r in fits.runs)
    out = [f"Claimed accuracy {check.claimed:.4f}, measured {check.measured:.4f} ± {check.std:.4f} "
           f"over {len(fits.runs)} seeds (difference {check.claimed - check.measured:+.4f})."]
    if check.claimed > check.measured and abs(check.claimed - train_m) < abs(check.claimed - check.measured):
        out.append(f"The claim is closer to our training accuracy ({train_m:.4f} ± {train_s:.4f}) "
                   "than to our test accuracy: it was most likely measured on training data.")
    return out


def loss_reasons(check: ClaimCheck, fits) -> list[str]:
    """Why a claimed loss is off: is it the size of our loss on unscaled test pixels?"""
    raw_m, _ = mean_std(r.unscaled_test_loss for r in fits.runs)
    out = [f"Claimed loss {check.claimed:g}, measured {check.measured:.4f} ± {check.std:.4f}."]
    if check.claimed > 2 * check.measured and 0.5 <= check.claimed / raw_m <= 2.0:
        out.append(f"Evaluating our trained models on the test images left at 0..255 (not divided "
                   f"by 255) gives loss {raw_m:.2f}, the size of the claim: the test set was most "
                   "likely not scaled like the training set.")
    return out


def dead_unit_reasons(fits) -> list[str]:
    """Dead ReLU units in the narrowest hidden layer, when that layer is narrow or many died."""
    cfg, runs = fits.config, fits.runs
    narrow = min(range(len(cfg.hidden)), key=lambda i: cfg.hidden[i])
    layer, width = f"hidden_{narrow + 1}", cfg.hidden[narrow]
    dead = [r.dead_units.get(layer) for r in runs]
    outputs = runs[0].test_probabilities.shape[1]
    if any(d is None for d in dead) or not (width <= 2 * outputs or max(dead) >= 0.1 * width):
        return []
    per_seed = ", ".join(f"seed {r.seed}: {d} (test accuracy {r.test_accuracy:.4f})" for r, d in zip(runs, dead))
    return [f"Dead ReLU units in the narrowest layer {layer} ({width} units), never active on "
            f"any test image: {per_seed}."
            + (f" With only {width} units before the {outputs} outputs, every dead unit removes "
               "one of the few directions that reach the output." if width <= 2 * outputs else "")]


def output_sum_reasons(fits) -> list[str]:
    """Outputs that do not sum to 1 (a sigmoid output trained with a softmax-style loss)."""
    sums = np.concatenate([r.test_probabilities.sum(axis=1) for r in fits.runs])
    if np.allclose(sums, 1.0, atol=1e-3):
        return []
    return [f"The ten outputs do not form a probability distribution: they sum to "
            f"{sums.mean():.3f} on average (range {sums.min():.3f}–{sums.max():.3f}); "
            f"the {fits.config.output_activation} output is used with a softmax-style loss."]


def judge_claim(claim: Claim, fits) -> Verdict:
    """Compare the source's printed numbers with ours; explain differences with measurements.

    Every reason is computed from this run: training accuracy (was the claim measured on the
    training data?), the loss on unscaled test pixels (was the test set left at 0..255?),
    dead ReLU units in the narrowest layer, output probabilities that do not sum to 1
    (sigmoid output with a softmax loss), and where the source validated.
    """
    checks, reasons = [], []
    if claim.accuracy is not None:
        checks.append(check_quantity("test accuracy", claim.accuracy, [r.test_accuracy for r in fits.runs]))
        if not checks[-1].holds:
            reasons += accuracy_reasons(checks[-1], fits)
    if claim.loss is not None:
        checks.append(check_quantity("test loss", claim.loss, [r.test_loss for r in fits.runs]))
        if not checks[-1].holds:
            reasons += loss_reasons(checks[-1], fits)
    reasons += dead_unit_reasons(fits) + output_sum_reasons(fits)
    if fits.validation_on == "test":
        reasons.append("This run validated on the test set, as the source did: its validation curve "
                       "is a test curve, so the test set was not held out.")
    if not checks:
        verdict = "no claim"
    else:
        verdict = "holds" if all(c.holds for c in checks) else "does not hold"
    return Verdict(verdict=verdict, checks=checks, reasons=reasons, source_note=claim.note)


# --------------------------------------------------------------------------- files DVC tracks


def metrics(fits, verdict: Verdict) -> dict:
    """The metrics file of one configuration (deterministic: no times, no dates)."""
    runs = fits.runs
    return {
        "test_accuracy": rounded_stat(r.test_accuracy for r in runs),
        "test_loss": rounded_stat(r.test_loss for r in runs),
        "val_accuracy": rounded_stat(r.history["val_accuracy"][-1] for r in runs),
        "train_accuracy": rounded_stat(r.train_accuracy for r in runs),
        "unscaled_test_loss": rounded_stat(r.unscaled_test_loss for r in runs),
        "seeds": {str(r.seed): {"test_accuracy": round(r.test_accuracy, 6), "test_loss": round(r.test_loss, 6)}
                  for r in runs},
        "repeats": len(runs),
        "epochs": fits.config.epochs,
        "images": {"fit": fits.n_fit, "validation": fits.n_val, "test": fits.n_test},
        "validation_on": fits.validation_on,
        "claim": {
            "verdict": verdict.verdict,
            **{c.quantity.replace(" ", "_"): {"claimed": c.claimed, "holds": c.holds} for c in verdict.checks},
        },
    }


def timings(fits) -> dict:
    """Seconds per fit (a DVC-cached output: it differs from machine to machine)."""
    seconds = [r.fit_seconds for r in fits.runs]
    return {"fit_seconds": [round(x, 2) for x in seconds],
            "seconds_per_epoch": round(sum(seconds) / (fits.config.epochs * len(seconds)), 3),
            "where": [r.where for r in fits.runs]}


def write_outputs(name: str, fits, verdict: Verdict, root: Path | None = None) -> list[Path]:
    """Metrics JSON, per-epoch CSV, the first seed's ``.keras`` model and timings, atomically;
    returns the paths written (the report's notebook and HTML are the runner's)."""
    files = paths.model_files(name, root)
    fileio.write_json(files.metrics, metrics(fits, verdict))
    fileio.write_text(files.plots, epoch_curves(fits).to_csv(index=False, float_format="%.6f"))
    with fileio.atomic_path(files.model) as tmp:
        fits.first_model.save(tmp)
    fileio.write_json(files.timing, timings(fits))
    return [files.metrics, files.plots, files.model, files.timing]
