"""The numbers that the data-exploration notebook shows (each figure's data lives here), and
its paragraphs that depend on the dataset (``templates/*.md.j2``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core import prose
from pipeline.core.dataset import Dataset, scale
from pipeline.core.dataset_words import DatasetWords

TEMPLATES = Path(__file__).resolve().parent / "templates"


def sample_grid_text(words: DatasetWords) -> str:
    """What the sample grid shows, in the dataset's words (Markdown)."""
    return prose.render(TEMPLATES, "sample_grid.md.j2", words=words)


def pixel_scale_text(words: DatasetWords) -> str:
    """What the raw pixel values mean, in the dataset's words (Markdown)."""
    return prose.render(TEMPLATES, "pixel_scale.md.j2", words=words)


def class_means_text(words: DatasetWords) -> str:
    """What the mean image of a class shows (Markdown)."""
    return prose.render(TEMPLATES, "class_means.md.j2", words=words)


def histogram_text(counts: np.ndarray, words: DatasetWords) -> str:
    """What the pixel histogram shows, from its counts (``pixel_histogram``): the share of
    background, of values near the top of the scale and of values in between (Markdown)."""
    total = max(int(counts.sum()), 1)
    return prose.render(TEMPLATES, "histogram.md.j2", words=words, zero=counts[0] / total,
                        top=counts[250:].sum() / total, middle=counts[1:250].sum() / total)


def array_table(ds: Dataset) -> pd.DataFrame:
    """Shape, dtype and value range of the four arrays."""
    rows = []
    for key in ("x_train", "y_train", "x_test", "y_test"):
        a = getattr(ds, key)
        rows.append({"array": key, "shape": str(a.shape), "dtype": str(a.dtype),
                     "min": int(a.min()), "max": int(a.max())})
    return pd.DataFrame(rows).set_index("array")


def pixel_range_table(ds: Dataset) -> pd.DataFrame:
    """Pixel range, mean and std before and after scaling to [0, 1] (training images)."""
    raw = ds.x_train
    scaled = scale(raw)
    return pd.DataFrame(
        {
            "dtype": [str(raw.dtype), str(scaled.dtype)],
            "min": [float(raw.min()), float(scaled.min())],
            "max": [float(raw.max()), float(scaled.max())],
            "mean": [float(raw.mean()), float(scaled.mean())],
            "std": [float(raw.std()), float(scaled.std())],
        },
        index=pd.Index(["raw (uint8)", "scaled (÷255)"], name="pixels"),
    )


def class_counts(ds: Dataset) -> pd.DataFrame:
    """Images per class in train and test, with each class's share of its split."""
    n = ds.num_classes
    train = np.bincount(ds.y_train, minlength=n)
    test = np.bincount(ds.y_test, minlength=n)
    frame = pd.DataFrame({"class": list(ds.class_names), "train": train, "test": test})
    frame["train %"] = 100 * frame["train"] / max(train.sum(), 1)
    frame["test %"] = 100 * frame["test"] / max(test.sum(), 1)
    return frame.set_index(pd.Index(range(n), name="label"))


def first_indices_per_class(labels: np.ndarray, per_class: int, num_classes: int) -> np.ndarray:
    """(num_classes, per_class) indices of the first images of each class; -1 where missing."""
    out = np.full((num_classes, per_class), -1, dtype=np.int64)
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)[:per_class]
        out[c, : len(idx)] = idx
    return out


def class_means(x: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    """(num_classes, 28, 28) mean image of each class, in [0, 1]; zeros for empty classes."""
    means = np.zeros((num_classes, *x.shape[1:]), dtype=np.float64)
    for c in range(num_classes):
        sel = x[y == c]
        if len(sel):
            means[c] = sel.mean(axis=0) / 255.0
    return means


def pixel_histogram(x: np.ndarray) -> np.ndarray:
    """Count of pixels for each of the 256 intensity values."""
    return np.bincount(x.reshape(-1), minlength=256)


def pca_2d(x: np.ndarray, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Project the first ``n_points`` images (scaled, flattened) onto 2 principal components.

    Returns the (n, 2) coordinates and the explained-variance ratio of the two components.
    """
    from sklearn.decomposition import PCA

    flat = scale(x[:n_points]).reshape(min(n_points, len(x)), -1)
    pca = PCA(n_components=2, svd_solver="full")
    coords = pca.fit_transform(flat)
    return coords, pca.explained_variance_ratio_


def summary(ds: Dataset, explained: np.ndarray) -> dict:
    """The exploration's facts as a metrics file (``reports/metrics/explore.json``).

    Exact counts and rounded statistics: two runs on the same data give the same bytes.
    """
    counts = class_counts(ds)
    scaled = scale(ds.x_train)
    return {
        "dataset": ds.name,
        "train_images": int(len(ds.x_train)),
        "test_images": int(len(ds.x_test)),
        "train_per_class": [int(v) for v in counts["train"]],
        "test_per_class": [int(v) for v in counts["test"]],
        "pixel_mean": round(float(scaled.mean(dtype=np.float64)), 6),
        "pixel_std": round(float(scaled.std(dtype=np.float64)), 6),
        "ink_fraction": round(float((ds.x_train > 0).mean()), 6),
        "pca_explained_variance": [round(float(v), 6) for v in explained],
    }


# The facts of ``summary`` as a reader reads them (the metrics file keeps the keys).
FACT_LABELS = {
    "dataset": "dataset",
    "train_images": "training images",
    "test_images": "test images",
    "pixel_mean": "mean pixel value (scaled to 0–1)",
    "pixel_std": "standard deviation of the pixel values",
    "ink_fraction": "share of training pixels above 0",
    "pca_explained_variance": "variance explained by the first two principal components",
}


def reader_facts(facts: dict, dataset_name: str) -> dict:
    """``facts`` without the per-class lists (the class table shows them), under readers' labels,
    the dataset by its name as readers know it."""
    shown = {k: v for k, v in facts.items() if not k.endswith("per_class")}
    shown["dataset"] = dataset_name
    return {FACT_LABELS.get(k, k.replace("_", " ")): v for k, v in shown.items()}
