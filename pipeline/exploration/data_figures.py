"""Figures of the data-exploration report (their numbers come from ``summary.summary``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pipeline.core.dataset import Dataset
from pipeline.core.dataset_words import DatasetWords
from pipeline.core.shared_figures import WIDTH, described, image_grid
from pipeline.exploration import summary


def class_counts(counts: pd.DataFrame) -> plt.Figure:
    """Bars: images per class in train (top) and in test (bottom)."""
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 6.4), sharey=False)
    for ax, split, color in zip(axes, ("train", "test"), ("tab:blue", "tab:orange")):
        sns.barplot(x=counts["class"], y=counts[split], ax=ax, color=color)
        ax.set_title(f"{split}: {int(counts[split].sum()):,} images")
        ax.set_xlabel("class")
        ax.set_ylabel("images")
        ax.tick_params(axis="x", rotation=45 if len(str(counts['class'].iloc[0])) > 2 else 0)
    fig.tight_layout()
    spans = "; ".join(f"{split}: {int(counts[split].sum()):,} images, {int(counts[split].min()):,} to "
                      f"{int(counts[split].max()):,} per class" for split in ("train", "test"))
    return described(fig, f"Two bar charts, one above the other: images per class in the training set and in "
                          f"the test set ({spans}).")


def sample_grid(ds: Dataset, per_class: int) -> plt.Figure:
    """The first ``per_class`` training images of every class."""
    idx = summary.first_indices_per_class(ds.y_train, per_class, ds.num_classes)
    images = np.zeros((*idx.shape, *ds.x_train.shape[1:]), dtype=ds.x_train.dtype)
    images[idx >= 0] = ds.x_train[idx[idx >= 0]]
    return image_grid(images, list(ds.class_names), f"First {per_class} training images of each class")


def mean_images(ds: Dataset) -> plt.Figure:
    """The mean training image of each class, on one row."""
    means = summary.class_means(ds.x_train, ds.y_train, ds.num_classes)
    cols = -(-ds.num_classes // 2)  # two rows: readable on a phone
    fig, axes = plt.subplots(2, cols, figsize=(min(WIDTH, cols * 1.25), 2 * 1.55), squeeze=False)
    for ax in axes.flat[ds.num_classes:]:
        ax.axis("off")
    for c, ax in enumerate(axes.flat[:ds.num_classes]):
        ax.imshow(means[c], cmap="magma", vmin=0, vmax=1)
        ax.set_title(ds.class_names[c], fontsize=12)
        ax.axis("off")
    fig.suptitle("Mean training image per class\n(pixel value in [0, 1])", fontsize="medium")
    fig.tight_layout()
    return described(fig, f"Mean training image per class: {ds.num_classes} small images "
                          f"({', '.join(map(str, ds.class_names))}), bright where the class's images are often "
                          "non-zero, dark where they are background.")


def pixel_histogram(counts: np.ndarray, words: DatasetWords) -> plt.Figure:
    """Histogram of the training pixels per value (``summary.pixel_histogram``): every value
    (log scale), and the foreground only (> 0), labelled in the dataset's words."""
    zero_share = 100 * counts[0] / max(counts.sum(), 1)
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 6.6))
    axes[0].stairs(counts, np.arange(257) - 0.5, fill=True, color="tab:blue")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("pixels (log scale)")
    axes[0].set_title(f"all values ({zero_share:.1f}% of pixels are 0)")
    axes[1].stairs(counts[1:], np.arange(1, 257) - 0.5, fill=True, color="tab:orange")
    axes[1].set_ylabel("pixels")
    axes[1].set_title(f"{words.foreground} only (values 1–255), linear scale")
    for ax in axes:
        ax.set_xlabel(f"pixel value (0 = background, 255 = {words.brightest})", fontsize="small")
    fig.tight_layout()
    return described(fig, f"Two histograms of the training pixels per value 0 to 255, one above the other: all "
                          f"values on a log scale ({zero_share:.1f}% of pixels are 0), and the {words.foreground} "
                          "only (values 1 to 255) on a linear scale.")


def pca_scatter(coords: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...],
                explained: np.ndarray) -> plt.Figure:
    """The images projected on the first two principal components, coloured by class."""
    fig, ax = plt.subplots(figsize=(WIDTH, 7.2))
    palette = sns.color_palette("tab10", len(class_names))
    for c, name in enumerate(class_names):
        sel = labels == c
        ax.scatter(coords[sel, 0], coords[sel, 1], s=4, alpha=0.5, color=palette[c], label=name)
    ax.set_xlabel(f"PC 1 ({100 * explained[0]:.1f}% of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * explained[1]:.1f}% of the variance)")
    ax.set_title(f"PCA of {len(coords):,} training images")
    ax.legend(markerscale=4, title="class", bbox_to_anchor=(0.5, -0.14), loc="upper center",
              ncols=min(5, len(class_names)), fontsize="small")
    fig.tight_layout()
    return described(fig, f"Scatter plot of {len(coords):,} training images projected on the first two principal "
                          f"components (PC 1: {100 * explained[0]:.1f}%, PC 2: {100 * explained[1]:.1f}% of the "
                          f"variance), one colour per class ({', '.join(map(str, class_names))}).")


# --------------------------------------------------------------------------- model reports
