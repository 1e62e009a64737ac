"""Figures that several reports share: the common look, image grids, training curves and
the confusion-matrix heatmap. Each stage family's own figures live in its own ``*_figures``
module."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def setup() -> None:
    """One look for every report: seaborn's theme, readable sizes, crisp PNGs."""
    sns.set_theme(context="notebook", style="whitegrid")
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.autolayout": False})
    pd.set_option("display.max_colwidth", None)  # tables show whole descriptions


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
