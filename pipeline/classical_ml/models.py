"""Classical machine learning on the same images and the same validation split as the
networks: the comparison that R2 promised and never showed.

Each model sees the pixels scaled to [0, 1] and flattened to 784 values, and fits on the
images the networks fit on: ``dataset.validation_split`` holds out the same seeded share of
the training images. Every model is scored on those held-out validation images; the one with
the highest validation accuracy is chosen (a tie goes to the model listed first in
``make_models``, the order of the notebook's table), and only the chosen model predicts the
test set, once. Fit and predict times are measured per model.

The four fits are independent, so they run on the networks' executor (local worker
processes, or a Ray cluster), each on one thread: where it ran cannot change what it learnt.
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

from pipeline.core import fileio, paths, prose, provenance
from pipeline.core.params.schema import ClassicalParams
from pipeline.core.dataset import Dataset, validation_split
from pipeline.modeling import executor as executors

TEMPLATES = Path(__file__).resolve().parent / "templates"


def make_models(p: ClassicalParams) -> dict[str, ClassifierMixin]:
    """The four scikit-learn models, configured from the ``classical`` section, in the
    order that breaks ties of validation accuracy (the first listed wins)."""
    return {
        "logistic regression": LogisticRegression(C=p.logistic_c, max_iter=p.max_iter),
        "k-nearest neighbours": KNeighborsClassifier(n_neighbors=p.knn_neighbors, algorithm="brute"),
        "linear SVM": LinearSVC(C=p.svm_c, dual=False, max_iter=p.max_iter, random_state=p.seed),
        "random forest": RandomForestClassifier(n_estimators=p.forest_trees, random_state=p.seed, n_jobs=1),
    }


def flatten(x: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 → (N, 784) float32 in [0, 1]."""
    return x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)


# --------------------------------------------------------------------------- the three parts


@dataclasses.dataclass(frozen=True)
class Arrays:
    """Flattened images and labels: fit and validation (both from the training images), test."""

    x_fit: np.ndarray
    y_fit: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def split_arrays(ds: Dataset, p: ClassicalParams) -> Arrays:
    """The networks' split (``validation_split``, same share and seed) of ``ds``, flattened."""
    split = validation_split(ds.y_train, p.validation_fraction, p.seed)
    x_train = flatten(ds.x_train)
    return Arrays(x_fit=x_train[split.fit], y_fit=ds.y_train[split.fit],
                  x_val=x_train[split.val], y_val=ds.y_train[split.val],
                  x_test=flatten(ds.x_test), y_test=ds.y_test)


# --------------------------------------------------------------------------- fit, choose, test


@dataclasses.dataclass
class Candidate:
    """One model fitted on the fit images and scored on the validation images only."""

    name: str
    model: ClassifierMixin  # fitted
    val_correct: int
    val_images: int
    fit_seconds: float
    val_predict_seconds: float  # the whole validation set
    converged: bool

    @property
    def val_accuracy(self) -> float:
        return self.val_correct / self.val_images


@dataclasses.dataclass
class TestResult:
    """The chosen model's one evaluation on the test set."""

    name: str
    test_correct: int
    test_images: int
    predict_seconds: float  # the whole test set
    predictions: np.ndarray

    @property
    def test_accuracy(self) -> float:
        return self.test_correct / self.test_images


@dataclasses.dataclass
class Comparison:
    """Every candidate (validation only), in ``make_models`` order, and the chosen one's test result."""

    candidates: list[Candidate]
    test: TestResult
    fit_images: int

    @property
    def chosen(self) -> Candidate:
        return next(c for c in self.candidates if c.name == self.test.name)

    @property
    def val_images(self) -> int:
        return self.candidates[0].val_images


def fit_and_validate(name: str, model: ClassifierMixin, x_fit: np.ndarray, y_fit: np.ndarray,
                     x_val: np.ndarray, y_val: np.ndarray) -> Candidate:
    """Fit a fresh clone of ``model`` on the fit images and score it on the validation images."""
    model = clone(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(x_fit, y_fit)
        fit_s = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    start = time.perf_counter()
    pred = model.predict(x_val)
    predict_s = time.perf_counter() - start
    return Candidate(name, model, int((pred == y_val).sum()), len(y_val), fit_s, predict_s, converged)


def choose(candidates: list[Candidate]) -> Candidate:
    """The candidate with the highest validation accuracy; of equals, the one listed first."""
    return max(candidates, key=lambda c: c.val_accuracy)  # max() keeps the first of equal keys


def evaluate_on_test(candidate: Candidate, x_test: np.ndarray, y_test: np.ndarray) -> TestResult:
    """The one prediction of the test set, by the chosen model."""
    start = time.perf_counter()
    pred = candidate.model.predict(x_test)
    predict_s = time.perf_counter() - start
    return TestResult(candidate.name, int((pred == y_test).sum()), len(y_test), predict_s, pred)


def fit_task(argument: tuple[str, ClassifierMixin], a: Arrays) -> Candidate:
    """``fit_and_validate`` as an executor task, on one BLAS/OpenMP thread: the workers run side
    by side, one per CPU, as the networks' fits do."""
    from threadpoolctl import threadpool_limits

    name, model = argument
    with threadpool_limits(limits=1):
        return fit_and_validate(name, model, a.x_fit, a.y_fit, a.x_val, a.y_val)


def describe(c: Candidate, max_iter: int) -> str:
    """A candidate's progress line: validation accuracy, times, convergence."""
    return (f"validation accuracy {c.val_accuracy:.4f} (fit {c.fit_seconds:.1f} s, "
            f"predict {c.val_predict_seconds:.2f} s)"
            + ("" if c.converged else f", did not converge in {max_iter} iterations"))


def run(ds: Dataset, p: ClassicalParams, log=executors.progress_line,
        estimators: dict[str, ClassifierMixin] | None = None, executor=None) -> Comparison:
    """Fit and validate every model (``estimators``, default ``make_models(p)``) on ``executor``
    (default: ``executor.from_environment``), choose by validation accuracy, and evaluate only
    the chosen model on the test set. Progress lines go to ``log`` (default: the terminal)."""
    a = split_arrays(ds, p)
    tasks = [executors.Task(name, fit_task, (name, model)) for name, model in (estimators or make_models(p)).items()]
    executor = executor or executors.from_environment(1, len(tasks))
    candidates = [done.result for done in executor.run(tasks, a, log=log,
                                                               describe=lambda c: describe(c, p.max_iter))]
    best = choose(candidates)
    test = evaluate_on_test(best, a.x_test, a.y_test)
    log(f"chosen: {best.name}; test accuracy {test.test_accuracy:.4f} (predict {test.predict_seconds:.2f} s)")
    return Comparison(candidates, test, len(a.y_fit))


# --------------------------------------------------------------------------- words and tables


def rule(c: Comparison) -> str:
    """The selection rule in plain words, with this run's counts (also in the metrics file)."""
    order = ", ".join(x.name for x in c.candidates)
    return (f"chosen by validation accuracy on {c.val_images:,} held-out training images "
            f"(a tie goes to the model listed first: {order}); test accuracy measured once, "
            f"on the {c.test.test_images:,} test images, for the chosen model only")


def summary(c: Comparison) -> str:
    """Markdown: which model was chosen, its validation and test accuracy, the rule, and the
    fastest model to fit (``templates/summary.md.j2``)."""
    fastest = min(c.candidates, key=lambda x: x.fit_seconds) if c.candidates else None
    return prose.render(TEMPLATES, "summary.md.j2", c=c, best=c.chosen, others=len(c.candidates) - 1, rule=rule(c),
                        fastest=fastest)


def settings_text(settings: ClassicalParams) -> str:
    """Markdown: the models and the settings this run used (values, not parameter names)."""
    return prose.render(TEMPLATES, "models.md.j2", s=settings)


def table(c: Comparison) -> pd.DataFrame:
    """One row per model: validation accuracy, whether it was chosen, times, convergence."""
    return pd.DataFrame([{
        "model": x.name, "validation accuracy": x.val_accuracy, "chosen": x.name == c.test.name,
        "fit time (s)": x.fit_seconds, "validation predict time (s)": x.val_predict_seconds,
        "predict time per 1000 images (ms)": 1000 * x.val_predict_seconds / max(x.val_images, 1) * 1000,
        "converged": x.converged,
    } for x in c.candidates]).set_index("model")


TIME_FLOOR = 0.01  # below it a time is drawn at the floor as "<", never as a point near 0 on a log axis


def accuracy_vs_time(tab: pd.DataFrame) -> plt.Figure:
    """Validation accuracy against fit time (top) and predict time (bottom), log scales; the
    chosen model is a star. A time under ``TIME_FLOOR`` (kNN's fit only stores the images) is
    drawn at the floor as a left-pointing triangle labelled "< 0.01"."""
    from pipeline.core.shared_figures import WIDTH, described

    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 7.6))
    palette = sns.color_palette("tab10", len(tab))
    for ax, col in zip(axes, ("fit time (s)", "predict time per 1000 images (ms)")):
        unit = col.split("(")[-1].rstrip(")")
        shown = np.maximum(tab[col].to_numpy(dtype=float), TIME_FLOOR)
        low, high = np.log10(shown.min()), np.log10(shown.max())
        for (name, row), value, colour in zip(tab.iterrows(), shown, palette):
            under = row[col] < TIME_FLOOR
            marker = "<" if under else ("*" if row["chosen"] else "o")
            ax.scatter(value, row["validation accuracy"], s=220 if row["chosen"] else 80, marker=marker, color=colour)
            label = name + (" (chosen)" if row["chosen"] else "") + (f", < {TIME_FLOOR:g} {unit}" if under else "")
            right = np.log10(value) > (low + high) / 2  # labels point inwards, never past the axes
            ax.annotate(label, (value, row["validation accuracy"]), textcoords="offset points",
                        xytext=(-8 if right else 8, 5), ha="right" if right else "left", fontsize="small")
        ax.set_xscale("log")
        ax.set_xlim(10 ** (low - 0.3), 10 ** (high + 0.3))
        ax.margins(y=0.12)
        ax.set_xlabel(f"{col}, log scale", fontsize="small")
        ax.set_ylabel("validation accuracy", fontsize="small")
        ax.set_title(f"validation accuracy vs {col.split(' (')[0]}", fontsize="medium")
    fig.tight_layout()
    chosen = tab.index[tab["chosen"]].tolist()
    star = f"; the chosen model, {chosen[0]}, is drawn as a star" if chosen else ""
    return described(fig, f"Two scatter plots, one above the other: validation accuracy of the {len(tab)} models "
                          f"({', '.join(tab.index)}) against fit time in seconds and against predict time per 1000 "
                          f"images in milliseconds, both on log scales{star}.")


# --------------------------------------------------------------------------- files


def metric_key(name: str) -> str:
    """A model's display name as a metrics-file key: 'linear SVM' → 'linear_svm'."""
    return name.lower().replace(" ", "_").replace("-", "_")


def metrics(c: Comparison) -> dict:
    """Deterministic metrics (no times): the rule, image counts, validation accuracy per
    model, and the chosen model with its one test accuracy."""
    best = c.chosen
    return {
        "rule": rule(c),
        "images": {"fit": c.fit_images, "validation": c.val_images, "test": c.test.test_images},
        "models": {metric_key(x.name): {"name": x.name, "val_accuracy": round(x.val_accuracy, 6)}
                   for x in c.candidates},
        "chosen": {"model": metric_key(best.name), "name": best.name,
                   "val_accuracy": round(best.val_accuracy, 6), "test_accuracy": round(c.test.test_accuracy, 6)},
    }


def timings(c: Comparison) -> dict:
    """Seconds per model, under the same keys as ``metrics["models"]`` (DVC-cached: not in git);
    prediction is timed on the validation set, and on the test set for the chosen model."""
    out = {metric_key(x.name): {"name": x.name, "fit_seconds": round(x.fit_seconds, 2),
                                "val_predict_seconds": round(x.val_predict_seconds, 3)} for x in c.candidates}
    out[metric_key(c.test.name)]["test_predict_seconds"] = round(c.test.predict_seconds, 3)
    return out


def write_outputs(c: Comparison, root=None) -> list[Path]:
    """``reports/metrics/classical.json`` (accuracies, deterministic) and ``reports/timing/classical.json``."""
    files = paths.classical_files(root)
    fileio.write_json(files.metrics, metrics(c))
    provenance.write_timing(files.timing, timings(c))
    return [files.metrics, files.timing]
