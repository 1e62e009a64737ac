"""Every figure of the reports: small functions that take data and return a Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pipeline import explore
from pipeline.dataset import Dataset


def setup() -> None:
    """One look for every report: seaborn's theme, readable sizes, crisp PNGs."""
    sns.set_theme(context="notebook", style="whitegrid")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.autolayout": False})
    pd.set_option("display.max_colwidth", None)  # tables show whole descriptions


def class_counts(counts: pd.DataFrame) -> plt.Figure:
    """Side-by-side bars: images per class in train and in test."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=False)
    for ax, split, color in zip(axes, ("train", "test"), ("tab:blue", "tab:orange")):
        sns.barplot(x=counts["class"], y=counts[split], ax=ax, color=color)
        ax.set_title(f"{split}: {int(counts[split].sum()):,} images")
        ax.set_xlabel("class")
        ax.set_ylabel("images")
        ax.tick_params(axis="x", rotation=45 if len(str(counts['class'].iloc[0])) > 2 else 0)
    fig.tight_layout()
    return fig


def image_grid(images: np.ndarray, row_labels: list[str], title: str, cmap: str = "gray_r") -> plt.Figure:
    """A grid of images, one row per class; ``images`` is (rows, cols, 28, 28)."""
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.95), squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(images[r, c], cmap=cmap, vmin=0, vmax=images.max() or 1)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def sample_grid(ds: Dataset, per_class: int) -> plt.Figure:
    """The first ``per_class`` training images of every class."""
    idx = explore.first_indices_per_class(ds.y_train, per_class, ds.num_classes)
    images = np.zeros((*idx.shape, *ds.x_train.shape[1:]), dtype=ds.x_train.dtype)
    images[idx >= 0] = ds.x_train[idx[idx >= 0]]
    return image_grid(images, list(ds.class_names), f"First {per_class} training images of each class")


def mean_images(ds: Dataset) -> plt.Figure:
    """The mean training image of each class, on one row."""
    means = explore.class_means(ds.x_train, ds.y_train, ds.num_classes)
    fig, axes = plt.subplots(1, ds.num_classes, figsize=(ds.num_classes * 1.2, 1.8))
    for c, ax in enumerate(axes):
        ax.imshow(means[c], cmap="magma", vmin=0, vmax=1)
        ax.set_title(ds.class_names[c], fontsize=9)
        ax.axis("off")
    fig.suptitle("Mean training image per class (pixel value in [0, 1])")
    fig.tight_layout()
    return fig


def pixel_histogram(ds: Dataset) -> plt.Figure:
    """Histogram of all training pixel values: every value (log scale), and ink only (> 0)."""
    counts = explore.pixel_histogram(ds.x_train)
    zero_share = 100 * counts[0] / max(counts.sum(), 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    axes[0].stairs(counts, np.arange(257) - 0.5, fill=True, color="tab:blue")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("pixels (log scale)")
    axes[0].set_title(f"all values ({zero_share:.1f}% of pixels are 0)")
    axes[1].stairs(counts[1:], np.arange(1, 257) - 0.5, fill=True, color="tab:orange")
    axes[1].set_ylabel("pixels")
    axes[1].set_title("ink only (values 1–255), linear scale")
    for ax in axes:
        ax.set_xlabel("pixel value (0 = background, 255 = full ink)")
    fig.tight_layout()
    return fig


def pca_scatter(coords: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...],
                explained: np.ndarray) -> plt.Figure:
    """The images projected on the first two principal components, coloured by class."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    palette = sns.color_palette("tab10", len(class_names))
    for c, name in enumerate(class_names):
        sel = labels == c
        ax.scatter(coords[sel, 0], coords[sel, 1], s=4, alpha=0.5, color=palette[c], label=name)
    ax.set_xlabel(f"PC 1 ({100 * explained[0]:.1f}% of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * explained[1]:.1f}% of the variance)")
    ax.set_title(f"PCA of {len(coords):,} training images")
    ax.legend(markerscale=4, title="class", bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- model reports


def training_curves(runs_history: list[dict[str, list[float]]], seeds: list[int], val_label: str) -> plt.Figure:
    """Accuracy and loss per epoch, training vs validation, side by side.

    Thin lines are the individual seeds; the thick line is their mean and the band the
    range (min–max) over seeds.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, metric in zip(axes, ("accuracy", "loss")):
        for key, label, color in ((metric, "training", "tab:blue"), (f"val_{metric}", val_label, "tab:orange")):
            stack = np.array([h[key] for h in runs_history])
            epochs = np.arange(1, stack.shape[1] + 1)
            for row in stack:
                ax.plot(epochs, row, color=color, lw=0.7, alpha=0.45)
            ax.fill_between(epochs, stack.min(axis=0), stack.max(axis=0), color=color, alpha=0.15, lw=0)
            ax.plot(epochs, stack.mean(axis=0), color=color, lw=2.2, label=f"{label} (mean of {len(stack)})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per epoch — seeds {', '.join(map(str, seeds))}")
        ax.legend()
        if len(epochs) <= 20:
            ax.set_xticks(epochs)
    fig.tight_layout()
    return fig


def confusion_heatmap(counts: np.ndarray, class_names, title: str) -> plt.Figure:
    """Confusion matrix as a seaborn heatmap; the diagonal is greyed out so errors stand out."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.6), gridspec_kw={"width_ratios": [1, 1]})
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=axes[0],
                xticklabels=class_names, yticklabels=class_names, annot_kws={"fontsize": 8})
    axes[0].set_title(title)
    errors = counts.astype(float).copy()
    np.fill_diagonal(errors, np.nan)
    sns.heatmap(errors, annot=True, fmt=".0f", cmap="Reds", cbar=False, ax=axes[1],
                xticklabels=class_names, yticklabels=class_names, annot_kws={"fontsize": 8})
    axes[1].set_title("errors only (diagonal hidden)")
    for ax in axes:
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.tick_params(axis="x", rotation=45 if len(str(class_names[0])) > 2 else 0)
        ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    return fig


def prediction_gallery(images: np.ndarray, true: np.ndarray, probabilities: np.ndarray, class_names,
                       title: str, columns: int = 8) -> plt.Figure:
    """Images with predicted class and confidence; red titles are mistakes."""
    n = len(images)
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.45, rows * 1.75), squeeze=False)
    pred = probabilities.argmax(axis=1)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r")
        ok = true is None or pred[i] == true[i]
        label = f"{class_names[pred[i]]} {100 * probabilities[i, pred[i]]:.0f}%"
        if true is not None and not ok:
            label += f"\n(true {class_names[true[i]]})"
        ax.set_title(label, fontsize=9, color="black" if ok else "tab:red")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def class_scores(report: pd.DataFrame) -> plt.Figure:
    """Precision, recall and F1 per class as grouped bars."""
    long = report[["precision", "recall", "F1"]].reset_index().melt(id_vars="class", var_name="score")
    fig, ax = plt.subplots(figsize=(11, 3.6))
    sns.barplot(long, x="class", y="value", hue="score", ax=ax)
    low = float(long["value"].min())
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_ylabel("score")
    ax.set_title("per-class precision, recall and F1 (first seed's model)")
    ax.legend(loc="lower right", ncols=3)
    fig.tight_layout()
    return fig


def own_images(originals, prepared: np.ndarray, probabilities: np.ndarray, class_names) -> plt.Figure:
    """Top row: the images as given; bottom row: after MNIST-style preprocessing, with the prediction."""
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(n * 1.6, 3.6), squeeze=False)
    pred = probabilities.argmax(axis=1)
    for i in range(n):
        axes[0, i].imshow(np.asarray(originals[i]), cmap="gray", vmin=0, vmax=255)
        axes[0, i].set_title("as drawn", fontsize=9)
        axes[1, i].imshow(prepared[i], cmap="gray_r", vmin=0, vmax=1)
        axes[1, i].set_title(f"{class_names[pred[i]]} {100 * probabilities[i, pred[i]]:.0f}%", fontsize=10)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.suptitle("own images: as drawn (top) and as the model sees them, with its prediction (bottom)")
    fig.tight_layout()
    return fig
