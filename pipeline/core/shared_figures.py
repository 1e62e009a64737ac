"""Figures that several reports share: the common look, image grids, training curves and
the confusion-matrix heatmap. Each stage family's own figures live in its own ``*_figures``
module."""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator


WIDTH = 6.4  # inches: 640 px at 100 dpi; at 390 px (a phone) text keeps about 60 % of its size
CONTEXT = {"font_scale": 1.15}  # seaborn's "notebook" sizes, enlarged so that phones can read them


def setup() -> None:
    """One look for every report: seaborn's theme, fonts readable on a phone, crisp PNGs."""
    sns.set_theme(context="notebook", style="whitegrid", **CONTEXT)
    plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 100, "figure.autolayout": False})
    pd.set_option("display.max_colwidth", None)  # tables show whole descriptions


PALETTE = 256  # colours of a figure's PNG: 2.4x lighter figures, no visible change (median cut, no dither)


def png(fig: plt.Figure) -> bytes:
    """The figure as PNG bytes, cropped to what is drawn.

    An opaque figure is stored with a palette of ``PALETTE`` colours chosen by median cut
    (without dithering, so flat cells stay flat): the reports' 63 figures weigh 2.0 MB instead
    of 4.8 MB, and a pixel moves by a fraction of a grey level on average. A figure with
    transparent pixels keeps its full colours."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    image = Image.open(io.BytesIO(buffer.getvalue()))
    if image.mode == "RGBA" and image.getchannel("A").getextrema() != (255, 255):
        return buffer.getvalue()
    small = io.BytesIO()
    image.convert("RGB").quantize(PALETTE, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) \
        .save(small, format="PNG", optimize=True)
    return small.getvalue()


ALT = "mnist_alt"  # the attribute that ``described`` sets on a figure


def described(fig: plt.Figure, alt: str) -> plt.Figure:
    """``fig``, carrying its alternative text (what it shows: title and what is plotted)."""
    setattr(fig, ALT, " ".join(str(alt).split()))
    return fig


def show(fig: plt.Figure, alt: str | None = None) -> None:
    """Display ``fig`` as a PNG whose alternative text is ``alt`` (default: the text given to
    ``described``), then close it so that it is not displayed a second time.

    The alt text travels in the output's metadata (``image/png`` → ``alt``), where the report
    template reads it, and as the output's plain text."""
    alt = " ".join(str(alt if alt is not None else getattr(fig, ALT, "")).split())
    if not alt:
        plt.close(fig)
        raise ValueError("a figure needs an alternative text that says what it shows")
    from IPython.display import display

    data = png(fig)
    plt.close(fig)
    display({"image/png": base64.b64encode(data).decode("ascii"), "text/plain": alt},
            metadata={"image/png": {"alt": alt}}, raw=True)


def epoch_ticks(ax, epochs) -> None:
    """Whole epochs on the x axis: each one when there are few, else integer steps."""
    epochs = sorted({int(e) for e in epochs})
    if 0 < len(epochs) <= 12:
        ax.set_xticks(epochs)
        if len(epochs) == 1:
            ax.set_xlim(epochs[0] - 1, epochs[0] + 1)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


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
        axes[r, 0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=12)
    fig.suptitle(title)
    fig.tight_layout()
    return described(fig, f"{title}: a grid of {rows} rows ({', '.join(map(str, row_labels))}) of {cols} images each.")


def training_curves(runs_history: list[dict[str, list[float]]], seeds: list[int], val_label: str) -> plt.Figure:
    """Accuracy and loss per epoch, training vs validation, one above the other (readable on a
    phone).

    Thin lines are the individual seeds; the thick line is their mean and the band the
    range (min–max) over seeds.
    """
    fig, axes = plt.subplots(2, 1, figsize=(WIDTH, 8.4), sharex=True)
    for ax, metric in zip(axes, ("accuracy", "loss")):
        for key, label, color in ((metric, "training", "tab:blue"), (f"val_{metric}", val_label, "tab:orange")):
            stack = np.array([h[key] for h in runs_history])
            epochs = np.arange(1, stack.shape[1] + 1)
            for row in stack:
                ax.plot(epochs, row, color=color, lw=0.7, alpha=0.45)
            ax.fill_between(epochs, stack.min(axis=0), stack.max(axis=0), color=color, alpha=0.15, lw=0)
            ax.plot(epochs, stack.mean(axis=0), color=color, lw=2.2, marker="o" if len(epochs) < 3 else None,
                    label=f"{label} (mean of {len(stack)})")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per epoch")
        ax.legend(fontsize="small")
    axes[-1].set_xlabel(f"epoch (seeds {', '.join(map(str, seeds))})")
    epoch_ticks(axes[-1], epochs)
    fig.tight_layout()
    return described(fig, f"Two line charts, one above the other: accuracy and loss per epoch over {len(epochs)} "
                          f"epoch(s), training (blue) and {val_label} (orange); thin lines are seeds "
                          f"{', '.join(map(str, seeds))}, the thick line their mean and the band their range.")


def confusion_heatmap(counts: np.ndarray, class_names, title: str) -> plt.Figure:
    """Confusion matrix as a seaborn heatmap, and below it the errors only (diagonal hidden) so
    that errors stand out."""
    n = len(class_names)
    side = max(4.0, 0.55 * n)
    fig, axes = plt.subplots(2, 1, figsize=(min(WIDTH, side + 1.2), 2 * side + 1.0))
    size = 11 if n <= 10 else 8
    sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", cbar=False, ax=axes[0],
                xticklabels=class_names, yticklabels=class_names, annot_kws={"fontsize": size})
    axes[0].set_title(title, fontsize="medium")
    errors = counts.astype(float).copy()
    np.fill_diagonal(errors, np.nan)
    sns.heatmap(errors, annot=True, fmt=".0f", cmap="Reds", cbar=False, ax=axes[1],
                xticklabels=class_names, yticklabels=class_names, annot_kws={"fontsize": size})
    axes[1].set_title("errors only (diagonal hidden)", fontsize="medium")
    for ax in axes:
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.tick_params(axis="x", rotation=45 if len(str(class_names[0])) > 2 else 0)
        ax.tick_params(axis="y", rotation=0)
    fig.tight_layout()
    errors = counts.astype(int).copy()
    np.fill_diagonal(errors, 0)
    t, p = np.unravel_index(int(errors.argmax()), errors.shape)
    most = (f"; the most frequent error is true {class_names[t]} predicted as {class_names[p]} "
            f"({int(errors[t, p])} times)") if errors.any() else "; no errors"
    return described(fig, f"Confusion matrix heatmap, {title}: counts of each true class (rows) against the "
                          f"predicted class (columns), and below it the errors only{most}.")
