"""Figures of the data-exploration report (their numbers come from ``summary.summary``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pipeline.core.dataset import Dataset
from pipeline.core.dataset_words import DatasetWords
from pipeline.core.shared_figures import image_grid
from pipeline.exploration import summary


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


def sample_grid(ds: Dataset, per_class: int) -> plt.Figure:
    """The first ``per_class`` training images of every class."""
    idx = summary.first_indices_per_class(ds.y_train, per_class, ds.num_classes)
    images = np.zeros((*idx.shape, *ds.x_train.shape[1:]), dtype=ds.x_train.dtype)
    images[idx >= 0] = ds.x_train[idx[idx >= 0]]
    return image_grid(images, list(ds.class_names), f"First {per_class} training images of each class")


def mean_images(ds: Dataset) -> plt.Figure:
    """The mean training image of each class, on one row."""
    means = summary.class_means(ds.x_train, ds.y_train, ds.num_classes)
    fig, axes = plt.subplots(1, ds.num_classes, figsize=(ds.num_classes * 1.2, 1.8))
    for c, ax in enumerate(axes):
        ax.imshow(means[c], cmap="magma", vmin=0, vmax=1)
        ax.set_title(ds.class_names[c], fontsize=9)
        ax.axis("off")
    fig.suptitle("Mean training image per class (pixel value in [0, 1])")
    fig.tight_layout()
    return fig


def pixel_histogram(counts: np.ndarray, words: DatasetWords) -> plt.Figure:
    """Histogram of the training pixels per value (``summary.pixel_histogram``): every value
    (log scale), and the foreground only (> 0), labelled in the dataset's words."""
    zero_share = 100 * counts[0] / max(counts.sum(), 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    axes[0].stairs(counts, np.arange(257) - 0.5, fill=True, color="tab:blue")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("pixels (log scale)")
    axes[0].set_title(f"all values ({zero_share:.1f}% of pixels are 0)")
    axes[1].stairs(counts[1:], np.arange(1, 257) - 0.5, fill=True, color="tab:orange")
    axes[1].set_ylabel("pixels")
    axes[1].set_title(f"{words.foreground} only (values 1–255), linear scale")
    for ax in axes:
        ax.set_xlabel(f"pixel value (0 = background, 255 = {words.brightest})")
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
