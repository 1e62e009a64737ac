"""Classical machine learning on the same images and the same validation split as the
networks: the comparison that R2 promised and never showed.

Each model sees the pixels scaled to [0, 1] and flattened to 784 values, fits on the same
images as the networks (the seeded validation share is held out), and is evaluated once on
the test set. Fit and predict times are measured per model.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from pipeline.core import fileio, paths
from pipeline.core.config import ClassicalParams
from pipeline.core.dataset import Dataset, validation_split


def make_models(p: ClassicalParams) -> dict[str, ClassifierMixin]:
    """The four scikit-learn models, configured from the ``classical`` section."""
    return {
        "logistic regression": LogisticRegression(C=p.logistic_c, max_iter=p.max_iter),
        "k-nearest neighbours": KNeighborsClassifier(n_neighbors=p.knn_neighbors, algorithm="brute"),
        "linear SVM": LinearSVC(C=p.svm_c, dual=False, max_iter=p.max_iter, random_state=p.seed),
        "random forest": RandomForestClassifier(n_estimators=p.forest_trees, random_state=p.seed, n_jobs=1),
    }


def flatten(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 → (N, 784) float32 in [0, 1]."""
    return x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)


@dataclasses.dataclass
class Result:
    name: str
    val_accuracy: float
    test_accuracy: float
    fit_seconds: float
    predict_seconds: float  # the whole test set
    test_predictions: np.ndarray
    converged: bool


def run(ds: Dataset, p: ClassicalParams, log=print) -> list[Result]:
    """Fit and evaluate every model; the validation split is the networks' (same seed, same share)."""
    split = validation_split(ds.y_train, p.validation_fraction, p.seed)
    x_train = flatten(ds.x_train)
    x_fit, y_fit = x_train[split.fit], ds.y_train[split.fit]
    x_val, y_val = x_train[split.val], ds.y_train[split.val]
    x_test = flatten(ds.x_test)
    results = []
    for name, model in make_models(p).items():
        model = clone(model)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(x_fit, y_fit)
            fit_s = time.perf_counter() - start
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        start = time.perf_counter()
        pred = model.predict(x_test)
        predict_s = time.perf_counter() - start
        val_acc = float((model.predict(x_val) == y_val).mean())
        res = Result(name, val_acc, float((pred == ds.y_test).mean()), fit_s, predict_s, pred, converged)
        results.append(res)
        log(f"{name}: test accuracy {res.test_accuracy:.4f} (fit {fit_s:.1f} s, predict {predict_s:.2f} s)"
            + ("" if converged else f" — did not converge in {p.max_iter} iterations"))
    return results


def table(results: list[Result], n_test: int) -> pd.DataFrame:
    return pd.DataFrame([{
        "model": r.name, "validation accuracy": r.val_accuracy, "test accuracy": r.test_accuracy,
        "fit time (s)": r.fit_seconds, "predict time (s)": r.predict_seconds,
        "predict time per 1000 images (ms)": 1000 * r.predict_seconds / max(n_test, 1) * 1000,
        "converged": r.converged,
    } for r in results]).set_index("model")


def metric_key(name: str) -> str:
    """A model's display name as a metrics-file key: 'linear SVM' → 'linear_svm'."""
    return name.lower().replace(" ", "_").replace("-", "_")


def metrics(results: list[Result]) -> dict:
    """Deterministic metrics (no times): accuracy per model."""
    return {metric_key(r.name): {"test_accuracy": round(r.test_accuracy, 6), "val_accuracy": round(r.val_accuracy, 6)}
            for r in results}


def timings(results: list[Result]) -> dict:
    """Seconds per model, under the same keys as ``metrics`` (DVC-cached: not in git)."""
    return {metric_key(r.name): {"name": r.name, "fit_seconds": round(r.fit_seconds, 2),
                                 "predict_seconds": round(r.predict_seconds, 3)} for r in results}


def accuracy_vs_time(tab: pd.DataFrame) -> plt.Figure:
    """Test accuracy against fit time (log scale), one point per model."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    palette = sns.color_palette("tab10", len(tab))
    for ax, col in zip(axes, ("fit time (s)", "predict time (s)")):
        for (name, row), colour in zip(tab.iterrows(), palette):
            ax.scatter(row[col], row["test accuracy"], s=80, color=colour, label=name)
            ax.annotate(name, (row[col], row["test accuracy"]), textcoords="offset points", xytext=(6, 4), fontsize=9)
        ax.set_xscale("log")
        ax.set_xlabel(f"{col}, log scale")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"test accuracy vs {col.split(' (')[0]}")
    fig.tight_layout()
    return fig


def write_outputs(results: list[Result], root=None) -> list[Path]:
    """``reports/metrics/classical.json`` (accuracies, deterministic) and ``reports/timing/classical.json``."""
    files = paths.classical_files(root)
    fileio.write_json(files.metrics, metrics(results))
    fileio.write_json(files.timing, timings(results))
    return [files.metrics, files.timing]
