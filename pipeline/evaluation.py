"""Numbers of the model reports: statistics over seeds, per-class scores, mistakes, and the
check of each source's claim against our measurement. Also writes the metrics/plots files
that DVC tracks.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix as _sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from pipeline import config, fileio
from pipeline.config import Claim


# --------------------------------------------------------------------------- statistics


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value)."""
    a = np.asarray(list(values), dtype=np.float64)
    if a.size == 0:
        raise ValueError("mean_std of no values")
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def fmt_mean_std(values, digits: int = 4, percent: bool = False) -> str:
    """``0.9781 ± 0.0012`` (or ``97.81 ± 0.12 %``)."""
    m, s = mean_std(values)
    if percent:
        return f"{100 * m:.{max(digits - 2, 0)}f} ± {100 * s:.{max(digits - 2, 0)}f} %"
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def printed_resolution(x: float) -> float:
    """Half a unit of the last printed decimal of ``x``: 0.91 → 0.005, 0.9781 → 0.00005."""
    text = repr(float(x))
    if "e" in text or "E" in text:
        return 0.0
    decimals = len(text.split(".")[1].rstrip("0")) if "." in text else 0
    return 0.5 * 10.0 ** (-decimals)


# --------------------------------------------------------------------------- tables


def seed_table(training) -> pd.DataFrame:
    """One row per seed: what each repeat measured."""
    rows = []
    for r in training.runs:
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


def epoch_curves(training) -> pd.DataFrame:
    """Per epoch: mean and std over seeds of loss/accuracy for training and validation."""
    keys = ["accuracy", "val_accuracy", "loss", "val_loss"]
    out = {"epoch": np.arange(1, training.config.epochs + 1)}
    for key in keys:
        stack = np.array([r.history[key] for r in training.runs], dtype=np.float64)
        out[key] = stack.mean(axis=0)
        out[f"{key}_std"] = stack.std(axis=0, ddof=1) if len(stack) > 1 else np.zeros(stack.shape[1])
    return pd.DataFrame(out)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts: rows are the true class, columns the predicted class."""
    return _sk_confusion(y_true, y_pred, labels=np.arange(num_classes))


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


def judge_claim(claim: Claim, training) -> Verdict:
    """Compare the source's printed numbers with ours; explain differences with measurements.

    Every reason is computed from this run: training accuracy (was the claim measured on the
    training data?), the loss on unscaled test pixels (was the test set left at 0..255?),
    dead ReLU units in the narrowest layer, output probabilities that do not sum to 1
    (sigmoid output with a softmax loss), and where the source validated.
    """
    runs = training.runs
    cfg = training.config
    acc_m, acc_s = mean_std(r.test_accuracy for r in runs)
    loss_m, loss_s = mean_std(r.test_loss for r in runs)
    train_m, train_s = mean_std(r.train_accuracy for r in runs)
    raw_m, _ = mean_std(r.unscaled_test_loss for r in runs)
    checks, reasons = [], []

    if claim.accuracy is not None:
        tol = _tolerance(claim.accuracy, acc_s)
        checks.append(ClaimCheck("test accuracy", claim.accuracy, acc_m, acc_s, tol,
                                 abs(claim.accuracy - acc_m) <= tol))
        if not checks[-1].holds:
            reasons.append(f"Claimed accuracy {claim.accuracy:.4f}, measured {acc_m:.4f} ± {acc_s:.4f} "
                           f"over {len(runs)} seeds (difference {claim.accuracy - acc_m:+.4f}).")
            if claim.accuracy > acc_m and abs(claim.accuracy - train_m) < abs(claim.accuracy - acc_m):
                reasons.append(f"The claim is closer to our training accuracy ({train_m:.4f} ± {train_s:.4f}) "
                               "than to our test accuracy: it was most likely measured on training data.")
    if claim.loss is not None:
        tol = _tolerance(claim.loss, loss_s)
        checks.append(ClaimCheck("test loss", claim.loss, loss_m, loss_s, tol, abs(claim.loss - loss_m) <= tol))
        if not checks[-1].holds:
            reasons.append(f"Claimed loss {claim.loss:g}, measured {loss_m:.4f} ± {loss_s:.4f}.")
            if claim.loss > 2 * loss_m and 0.5 <= claim.loss / raw_m <= 2.0:
                reasons.append(f"Evaluating our trained models on the test images left at 0..255 (not divided "
                               f"by 255) gives loss {raw_m:.2f}, the size of the claim: the test set was most "
                               "likely not scaled like the training set.")

    narrow = min(range(len(cfg.hidden)), key=lambda i: cfg.hidden[i])
    layer = f"hidden_{narrow + 1}"
    dead = [r.dead_units.get(layer) for r in runs]
    width = cfg.hidden[narrow]
    outputs = training.runs[0].test_probabilities.shape[1]
    if all(d is not None for d in dead) and (width <= 2 * outputs or max(dead) >= 0.1 * width):
        per_seed = ", ".join(f"seed {r.seed}: {d} (test accuracy {r.test_accuracy:.4f})" for r, d in zip(runs, dead))
        reasons.append(f"Dead ReLU units in the narrowest layer {layer} ({width} units), never active on "
                       f"any test image: {per_seed}."
                       + (f" With only {width} units before the {outputs} outputs, every dead unit removes "
                          "one of the few directions that reach the output." if width <= 2 * outputs else ""))
    sums = np.concatenate([r.test_probabilities.sum(axis=1) for r in runs])
    if not np.allclose(sums, 1.0, atol=1e-3):
        reasons.append(f"The ten outputs do not form a probability distribution: they sum to "
                       f"{sums.mean():.3f} on average (range {sums.min():.3f}–{sums.max():.3f}); "
                       f"the {cfg.output_activation} output is used with a softmax-style loss.")
    if training.validation_on == "test":
        reasons.append("This run validated on the test set, as the source did: its validation curve "
                       "is a test curve, so the test set was not held out.")

    if not checks:
        verdict = "no claim"
    else:
        verdict = "holds" if all(c.holds for c in checks) else "does not hold"
    return Verdict(verdict=verdict, checks=checks, reasons=reasons, source_note=claim.note)


# --------------------------------------------------------------------------- files DVC tracks


def _r(x: float) -> float:
    return round(float(x), 6)


def metrics(training, verdict: Verdict) -> dict:
    """The metrics file of one configuration (deterministic: no times, no dates)."""
    runs = training.runs

    def stat(values):
        m, s = mean_std(values)
        return {"mean": _r(m), "std": _r(s)}

    return {
        "test_accuracy": stat(r.test_accuracy for r in runs),
        "test_loss": stat(r.test_loss for r in runs),
        "val_accuracy": stat(r.history["val_accuracy"][-1] for r in runs),
        "train_accuracy": stat(r.train_accuracy for r in runs),
        "unscaled_test_loss": stat(r.unscaled_test_loss for r in runs),
        "seeds": {str(r.seed): {"test_accuracy": _r(r.test_accuracy), "test_loss": _r(r.test_loss)}
                  for r in runs},
        "repeats": len(runs),
        "epochs": training.config.epochs,
        "images": {"fit": training.n_fit, "validation": training.n_val, "test": training.n_test},
        "validation_on": training.validation_on,
        "claim": {
            "verdict": verdict.verdict,
            **{c.quantity.replace(" ", "_"): {"claimed": c.claimed, "holds": c.holds} for c in verdict.checks},
        },
    }


@dataclasses.dataclass(frozen=True)
class OutputPaths:
    metrics: Path
    plots: Path
    model: Path
    timing: Path


def output_paths(name: str, root: Path | None = None) -> OutputPaths:
    reports = config.reports_dir(root)
    return OutputPaths(
        metrics=reports / "metrics" / f"{name}.json",
        plots=reports / "plots" / f"{name}.csv",
        model=(root or config.project_root()) / "models" / f"{name}.keras",
        timing=reports / "timing" / f"{name}.json",
    )


def write_outputs(name: str, training, verdict: Verdict, root: Path | None = None) -> OutputPaths:
    """Write metrics JSON, per-epoch CSV, the first seed's ``.keras`` model and timings, atomically."""
    paths = output_paths(name, root)
    for p in dataclasses.astuple(paths):
        p.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_json(paths.metrics, metrics(training, verdict))
    fileio.write_text(paths.plots, epoch_curves(training).to_csv(index=False, float_format="%.6f"))
    with fileio.atomic_path(paths.model) as tmp:
        training.first_model.save(tmp)
    epochs = training.config.epochs
    fileio.write_json(paths.timing, {"fit_seconds": [round(r.fit_seconds, 2) for r in training.runs],
                              "seconds_per_epoch": round(sum(r.fit_seconds for r in training.runs)
                                                         / (epochs * len(training.runs)), 3)})
    return paths


def metric_key(name: str) -> str:
    """A display name as a metrics-file key: 'linear SVM' → 'linear_svm'."""
    return name.lower().replace(" ", "_").replace("-", "_")


def read_metrics(path: Path) -> dict | None:
    """A metrics file, or None if it does not exist."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
