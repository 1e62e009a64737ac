"""Figures of the model reports that no other report shows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


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


def own_images(originals, prepared: np.ndarray, probabilities: np.ndarray, class_names,
               captions: list[str] | None = None) -> plt.Figure:
    """Top row: the images as given (0–255), each under its caption (default "as drawn");
    bottom row: after MNIST-style preprocessing, with the prediction."""
    n = len(originals)
    fig, axes = plt.subplots(2, n, figsize=(n * 1.6, 3.6), squeeze=False)
    pred = probabilities.argmax(axis=1)
    for i in range(n):
        axes[0, i].imshow(np.asarray(originals[i]), cmap="gray", vmin=0, vmax=255)
        axes[0, i].set_title(captions[i] if captions else "as drawn", fontsize=9)
        axes[1, i].imshow(prepared[i], cmap="gray_r", vmin=0, vmax=1)
        axes[1, i].set_title(f"{class_names[pred[i]]} {100 * probabilities[i, pred[i]]:.0f}%", fontsize=10)
        for ax in axes[:, i]:
            ax.axis("off")
    fig.suptitle("own images: as given (top) and as the model sees them, with its prediction (bottom)")
    fig.tight_layout()
    return fig
