"""Figures of the loss-comparison reports (kept apart from core.shared_figures so that changing them
re-runs only the sweep reports, not every model report)."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pipeline.core.params.schema import LOSS_LABEL, SweepParams
from pipeline.core.shared_figures import WIDTH, described, epoch_ticks
from pipeline.loss_sweep.families import Family


def accuracy_by_variant(runs: pd.DataFrame, sweep: SweepParams, loss: str, show_claims: bool = True) -> plt.Figure:
    """Each seed's test accuracy (dots), the mean ± std (bar), and R4's printed number (cross,
    with ``show_claims``: only on the dataset R4 measured it on)."""
    sub = runs[runs["loss"] == loss]
    names = [n for n in sweep.variants if n in set(sub["variant"])]
    labels = [sweep.variants[n].description for n in names]
    fig, ax = plt.subplots(figsize=(WIDTH, 0.55 * len(names) + 2.4))
    claims = 0
    for i, name in enumerate(names):
        acc = sub[sub["variant"] == name]["test_accuracy"].to_numpy()
        ax.scatter(acc, np.full(len(acc), i), s=18, color="tab:blue", alpha=0.6, zorder=3,
                   label="one seed" if i == 0 else None)
        sd = acc.std(ddof=1) if len(acc) > 1 else 0.0
        ax.errorbar(acc.mean(), i, xerr=sd, fmt="o", color="tab:blue", ms=8, capsize=4, zorder=4,
                    label="mean ± std" if i == 0 else None)
        claim = sweep.claimed.get(loss, {}).get(name) if show_claims else None
        if claim is not None:
            claims += 1
            ax.scatter(claim[1], i, marker="x", s=70, color="tab:red", zorder=5, label="R4 printed" if i == 0 else None)
    ax.set_yticks(range(len(names)), labels, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy")
    ax.set_title(f"{LOSS_LABEL[loss]}: test accuracy per variant\nover seeds {', '.join(map(str, sweep.seeds))}",
                 fontsize="medium")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / max(len(names), 1)), ncols=3,
              fontsize="small", frameon=False)
    fig.tight_layout()
    printed = f"; red crosses mark the {claims} accuracies R4 printed" if claims else ""
    return described(fig, f"{LOSS_LABEL[loss]}: dot plot of the test accuracy of each of the {len(names)} variants "
                          f"({', '.join(labels)}), one dot per seed ({len(sweep.seeds)} seeds) and the mean ± "
                          f"standard deviation{printed}.")


def seed_spread(runs: pd.DataFrame, metric: str = "test_accuracy") -> float:
    """The pooled standard deviation over seeds of ``metric`` within each (loss, variant) cell
    (nan with fewer than two seeds per cell)."""
    var = runs.groupby(["loss", "variant"])[metric].var(ddof=1).dropna()
    return float(np.sqrt(var.mean())) if len(var) else float("nan")


def accuracy_heatmap(comparison: pd.DataFrame, runs: pd.DataFrame) -> plt.Figure:
    """Mean test accuracy, variant × loss, annotated in percent (``comparison``: family B's
    table, with columns description, categorical, sparse). The colour is the difference from
    the baseline (first row) of the same loss on a diverging scale whose ends are ± 3 pooled
    seed standard deviations (``runs``): differences the size of the seed noise stay pale."""
    data = 100 * comparison[["categorical", "sparse"]].rename(columns={  # one cell wide each
        "categorical": "categorical\n(one-hot)", "sparse": "sparse\n(integers)"})
    data.index = comparison["description"]
    shift = data - data.iloc[0]
    spread = 100 * seed_spread(runs)
    limit = 3 * spread if np.isfinite(spread) and spread > 0 else max(float(shift.abs().to_numpy().max()), 0.01)
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(data) + 2.6))
    sns.heatmap(shift, annot=data.map(lambda v: f"{v:.2f}"), fmt="", cmap="RdBu", center=0, vmin=-limit, vmax=limit,
                ax=ax, annot_kws={"fontsize": 11}, linewidths=0.5, linecolor="white",
                cbar_kws={"label": "vs baseline (points)", "shrink": 0.8})
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize="small")
    ax.tick_params(axis="x", labelsize="small", rotation=0)
    ax.set_title(f"mean test accuracy (%) over the shared seeds;\ncolour: difference from the baseline, "
                 f"scale ± 3 seed std (± {limit:.2f} points)", fontsize="small")
    fig.tight_layout()
    return described(fig, f"Table-like heatmap of the mean test accuracy in percent of {len(data)} variants "
                          f"(rows) with each of the two losses (columns), each cell annotated; the colour shows the "
                          f"difference from the baseline row of the same loss, blue above and red below, on a "
                          f"scale of ± {limit:.2f} percentage points (3 seed standard deviations), so that "
                          f"differences the size of the seed noise stay pale.")


def paired_differences(family: Family) -> plt.Figure:
    """Family B: categorical − sparse accuracy per variant with its simultaneous interval
    (confidence 1 − alpha/m each); red where Holm calls it significant."""
    comparison = family.table
    fig, ax = plt.subplots(figsize=(WIDTH, 0.5 * len(comparison) + 2.2))
    for i, (_, row) in enumerate(comparison.iterrows()):
        colour = "tab:red" if row["significant"] else "tab:gray"
        low, high = row["ci_low"], row["ci_high"]
        if np.isfinite(low) and np.isfinite(high):
            ax.plot([low, high], [i, i], color=colour, lw=2)
        ax.plot(row["difference"], i, "o", color=colour)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(comparison)), comparison["description"], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(f"test accuracy: categorical − sparse\n(paired over seeds, simultaneous "
                  f"{1 - family.level:.2%} intervals)", fontsize="small")
    ax.set_title("difference between the two losses per variant", fontsize="medium")
    fig.tight_layout()
    significant = int(comparison["significant"].sum()) if len(comparison) else 0
    return described(fig, f"Interval plot: for each of the {len(comparison)} variants, the difference in test "
                          f"accuracy categorical minus sparse cross-entropy (dot) and its simultaneous "
                          f"{1 - family.level:.2%} interval (line), around a vertical line at zero; "
                          f"{significant} of {len(comparison)} are significant (red).")


LOSS_LINE = {"categorical_crossentropy": ("tab:blue", "-"), "sparse_categorical_crossentropy": ("tab:orange", "--")}


def _panels(n: int, cols: int = 2, height: float = 2.2):
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH, height * rows + 1.0), sharex=True, sharey=True, squeeze=False)
    for i, ax in enumerate(axes.flat[n:], start=n):
        ax.axis("off")
        axes.flat[i - cols].xaxis.set_tick_params(labelbottom=True)  # the panel above it ends its column
    return fig, axes


def _panel_title(ax, text: str) -> None:
    ax.set_title(textwrap.fill(text, 28), fontsize="small")


def overlaid_validation_curves(curves: pd.DataFrame, sweep: SweepParams, metric: str = "val_accuracy") -> plt.Figure:
    """Small multiples, one per variant: the mean validation curve of each loss over the seeds."""
    names = [n for n in sweep.variants if n in set(curves["variant"])]
    fig, axes = _panels(len(names))
    for ax, name in zip(axes.flat, names):
        for loss in sweep.losses:
            colour, style = LOSS_LINE[loss]
            g = curves[(curves["variant"] == name) & (curves["loss"] == loss)].groupby("epoch")[metric].mean()
            ax.plot(g.index, g.to_numpy(), style, color=colour, lw=1.8, marker="o" if len(g) < 3 else None,
                    label=LOSS_LABEL[loss])
        _panel_title(ax, sweep.variants[name].description)
        epoch_ticks(ax, curves["epoch"])
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper center", ncols=1, fontsize="small", frameon=False)
    fig.supxlabel("epoch", fontsize="small")
    fig.supylabel(metric.replace("_", " "), fontsize="small")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.9 / fig.get_figheight()))
    described_names = ", ".join(sweep.variants[n].description for n in names)
    return described(fig, f"Small multiples, one panel per variant ({len(names)}: {described_names}): "
                          f"the mean {metric.replace('_', ' ')} per epoch over the seeds, one line per loss "
                          f"({', '.join(LOSS_LABEL[l] for l in sweep.losses)}).")


def variant_curves(curves: pd.DataFrame, sweep: SweepParams, metric: str = "val_accuracy") -> plt.Figure:
    """Small multiples, one per variant: its mean validation curve over the seeds in colour, the
    other variants in light grey behind it (one loss)."""
    means = {name: curves[curves["variant"] == name].groupby("epoch")[metric].mean() for name in sweep.variants}
    names = [n for n, g in means.items() if len(g)]
    few = curves["epoch"].nunique() < 3  # a line of one or two points needs markers
    fig, axes = _panels(len(names))
    for ax, name in zip(axes.flat, names):
        for other in names:
            if other != name:
                ax.plot(means[other].index, means[other].to_numpy(), color="0.8", lw=0.9, marker="o" if few else None)
        ax.plot(means[name].index, means[name].to_numpy(), color="tab:blue", lw=2.2, marker="o" if few else None)
        _panel_title(ax, sweep.variants[name].description)
        epoch_ticks(ax, curves["epoch"])
    fig.supxlabel("epoch", fontsize="small")
    fig.supylabel(metric.replace("_", " ") + " (mean over seeds)", fontsize="small")
    fig.tight_layout()
    return described(fig, f"Small multiples, one panel per variant ({len(names)}: "
                          f"{', '.join(sweep.variants[n].description for n in names)}): the variant's mean "
                          f"{metric.replace('_', ' ')} per epoch over the seeds in blue, the other variants in grey "
                          "behind it.")
