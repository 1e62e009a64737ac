"""Figures of the loss-comparison reports (kept apart from core.shared_figures so that changing them
re-runs only the sweep reports, not every model report)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pipeline.core.params.schema import LOSS_LABEL, SweepParams
from pipeline.loss_sweep.families import Family


def accuracy_by_variant(runs: pd.DataFrame, sweep: SweepParams, loss: str, show_claims: bool = True) -> plt.Figure:
    """Each seed's test accuracy (dots), the mean ± std (bar), and R4's printed number (cross,
    with ``show_claims``: only on the dataset R4 measured it on)."""
    sub = runs[runs["loss"] == loss]
    names = [n for n in sweep.variants if n in set(sub["variant"])]
    labels = [sweep.variants[n].description for n in names]
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(names) + 1.6))
    for i, name in enumerate(names):
        acc = sub[sub["variant"] == name]["test_accuracy"].to_numpy()
        ax.scatter(acc, np.full(len(acc), i), s=18, color="tab:blue", alpha=0.6, zorder=3,
                   label="one seed" if i == 0 else None)
        sd = acc.std(ddof=1) if len(acc) > 1 else 0.0
        ax.errorbar(acc.mean(), i, xerr=sd, fmt="o", color="tab:blue", ms=8, capsize=4, zorder=4,
                    label="mean ± std" if i == 0 else None)
        claim = sweep.claimed.get(loss, {}).get(name) if show_claims else None
        if claim is not None:
            ax.scatter(claim[1], i, marker="x", s=70, color="tab:red", zorder=5, label="R4 printed" if i == 0 else None)
    ax.set_yticks(range(len(names)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy")
    ax.set_title(f"{LOSS_LABEL[loss]}: test accuracy per variant over seeds {', '.join(map(str, sweep.seeds))}")
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    return fig


def accuracy_heatmap(comparison: pd.DataFrame) -> plt.Figure:
    """Mean test accuracy, variant × loss, annotated in percent (``comparison``: family B's
    table, with columns description, categorical, sparse)."""
    data = comparison[["categorical", "sparse"]].rename(columns={
        "categorical": LOSS_LABEL["categorical_crossentropy"].replace(" (", "\n("),
        "sparse": LOSS_LABEL["sparse_categorical_crossentropy"].replace(" (", "\n(")})
    data.index = comparison["description"]
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(data) + 1.8))
    sns.heatmap(100 * data, annot=True, fmt=".2f", cmap="viridis", ax=ax, cbar_kws={"label": "test accuracy (%)"})
    ax.set_ylabel("")
    ax.set_title("mean test accuracy (%) over the shared seeds")
    fig.tight_layout()
    return fig


def paired_differences(family: Family) -> plt.Figure:
    """Family B: categorical − sparse accuracy per variant with its simultaneous interval
    (confidence 1 − alpha/m each); red where Holm calls it significant."""
    comparison = family.table
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(comparison) + 1.6))
    for i, (_, row) in enumerate(comparison.iterrows()):
        colour = "tab:red" if row["significant"] else "tab:gray"
        low, high = row["ci_low"], row["ci_high"]
        if np.isfinite(low) and np.isfinite(high):
            ax.plot([low, high], [i, i], color=colour, lw=2)
        ax.plot(row["difference"], i, "o", color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(comparison)), comparison["description"])
    ax.invert_yaxis()
    ax.set_xlabel(f"test accuracy: categorical − sparse (paired over seeds, simultaneous "
                  f"{1 - family.level:.2%} intervals)")
    ax.set_title("difference between the two losses per variant")
    fig.tight_layout()
    return fig


LOSS_LINE = {"categorical_crossentropy": ("tab:blue", "-"), "sparse_categorical_crossentropy": ("tab:orange", "--")}


def overlaid_validation_curves(curves: pd.DataFrame, sweep: SweepParams, metric: str = "val_accuracy") -> plt.Figure:
    """Small multiples, one per variant: the mean validation curve of each loss over the seeds."""
    names = [n for n in sweep.variants if n in set(curves["variant"])]
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, names):
        for loss in sweep.losses:
            colour, style = LOSS_LINE[loss]
            g = curves[(curves["variant"] == name) & (curves["loss"] == loss)].groupby("epoch")[metric].mean()
            ax.plot(g.index, g.to_numpy(), style, color=colour, lw=1.6, label=LOSS_LABEL[loss])
        ax.set_title(sweep.variants[name].description, fontsize=9)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.supxlabel("epoch")
    fig.supylabel(metric.replace("_", " "))
    fig.tight_layout()
    return fig


def variant_curves(curves: pd.DataFrame, sweep: SweepParams, metric: str = "val_accuracy") -> plt.Figure:
    """Mean validation curve over the seeds, one line per variant (one loss)."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    palette = sns.color_palette("tab20", len(sweep.variants))
    for colour, (name, v) in zip(palette, sweep.variants.items()):
        g = curves[curves["variant"] == name].groupby("epoch")[metric].mean()
        if len(g):
            ax.plot(g.index, g.to_numpy(), color=colour, lw=2.2 if name == next(iter(sweep.variants)) else 1.2,
                    label=v.description)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " ") + " (mean over seeds)")
    ax.legend(fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig
