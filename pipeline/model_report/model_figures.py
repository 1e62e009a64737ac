"""Figures of the model reports that no other report shows."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pipeline.core.shared_figures import WIDTH, described


def output_label(outputs: np.ndarray) -> str:
    """The winning output as a reader should read it: a percentage when the outputs are
    probabilities (they sum to 1), else the raw score (a sigmoid output layer: each unit lies in
    [0, 1] on its own, and several can be near 1 at once)."""
    top = float(outputs.max())
    if abs(float(outputs.sum()) - 1.0) <= 1e-3:
        return f"{100 * top:.0f}%"
    return f"score {top:.2f}"


def prediction_gallery(images: np.ndarray, true: np.ndarray, probabilities: np.ndarray, class_names,
                       title: str, columns: int = 4) -> plt.Figure:
    """Images with predicted class and confidence; red titles are mistakes."""
    n = len(images)
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.5, rows * 1.9), squeeze=False)
    pred = probabilities.argmax(axis=1)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r")
        ok = true is None or pred[i] == true[i]
        label = f"{class_names[pred[i]]} {output_label(probabilities[i])}"
        if true is not None and not ok:
            label += f"\n(true {class_names[true[i]]})"
        ax.set_title(label, fontsize=12, color="black" if ok else "tab:red")
    fig.suptitle(title)
    fig.tight_layout()
    wrong = 0 if true is None else int((pred[:n] != true[:n]).sum())
    judged = "" if true is None else f"; {wrong} of {n} are mistakes, titled in red with the true class"
    return described(fig, f"{title}: {n} images in a grid of {columns} columns, each titled with the predicted "
                          f"class and its winning output (a percentage; a raw score where the outputs do not sum to 1){judged}.")


def class_scores(report: pd.DataFrame) -> plt.Figure:
    """Precision, recall and F1 per class as grouped bars."""
    long = report[["precision", "recall", "F1"]].reset_index().melt(id_vars="class", var_name="score")
    fig, ax = plt.subplots(figsize=(WIDTH, 4.6))
    sns.barplot(long, x="class", y="value", hue="score", ax=ax)
    low = float(long["value"].min())
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_ylabel("score")
    ax.set_title("per-class precision, recall and F1\n(first seed's model)", fontsize="medium")
    ax.tick_params(axis="x", rotation=45 if len(str(report.index[0])) > 2 else 0)
    # the legend sits under the axes, never on the bars
    sns.move_legend(ax, "upper center", bbox_to_anchor=(0.5, -0.16 if len(str(report.index[0])) <= 2 else -0.34),
                    ncols=3, title=None, frameon=False)
    fig.tight_layout()
    worst = report["F1"].idxmin()
    return described(fig, f"Grouped bar chart of precision, recall and F1 for each of the {len(report)} classes "
                          f"(first seed's model), on a scale from {max(0.0, low - 0.05):.2f} to 1; the lowest F1 "
                          f"is class {worst} ({report.loc[worst, 'F1']:.3f}).")


def own_images(originals, prepared: np.ndarray, probabilities: np.ndarray, class_names,
               captions: list[str] | None = None, columns: int = 3) -> plt.Figure:
    """Each image as given (upper row of a pair, under its caption, default "as drawn") and after
    MNIST-style preprocessing with the prediction (lower row), ``columns`` images per pair of rows
    (readable on a phone)."""
    n = len(originals)
    cols = min(columns, max(n, 1))
    pairs = max(1, -(-n // cols))
    fig, axes = plt.subplots(2 * pairs, cols, figsize=(min(WIDTH, cols * 2.0), pairs * 4.3), squeeze=False)
    pred = probabilities.argmax(axis=1)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        top, bottom = axes[2 * (i // cols), i % cols], axes[2 * (i // cols) + 1, i % cols]
        top.imshow(np.asarray(originals[i]), cmap="gray", vmin=0, vmax=255)
        top.set_title(captions[i] if captions else "as drawn", fontsize=11)
        bottom.imshow(prepared[i], cmap="gray_r", vmin=0, vmax=1)
        bottom.set_title(f"model: {class_names[pred[i]]} {output_label(probabilities[i])}", fontsize=12)
    fig.suptitle("own images: as given, and as the model\nsees them with its prediction", fontsize="medium")
    fig.tight_layout()
    return described(fig, f"{n} own images, each as given and below it as the model sees it after preprocessing, "
                          f"titled with the prediction: {', '.join(str(class_names[k]) for k in pred)}.")
