"""The charts of dvc.yaml's top-level ``plots``, drawn when the site is built: PNG images with
alternative text in a page that needs no JavaScript (``reports/dvc_plots/index.html``).

The numbers are the files that ``dvc plots show`` reads, as dvc.yaml's definitions declare them
(``x``, ``y``, labels, title; a folder means every file in it; the ``variant_curves`` template
averages the seeds of a long-format CSV per variant). Charts are titled in words: a
configuration's title from params.yaml, a definition's own ``title``, never a file path.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from pipeline.core import paths, prose, shared_figures
from pipeline.core.errors import PipelineError
from pipeline.core.params import load_params

TEMPLATES = Path(__file__).parent / "templates"
SUFFIXES = (".csv", ".tsv", ".json")
SERIES = {"accuracy": "training", "val_accuracy": "validation", "loss": "training loss", "val_loss": "validation loss"}


class PlotsError(PipelineError, ValueError):
    """A plot definition of dvc.yaml cannot be drawn."""


@dataclasses.dataclass(frozen=True)
class Chart:
    heading: str
    alt: str
    png: str  # base64


def definitions(root: Path) -> list[tuple[str, dict]]:
    """(id, properties) of every top-level ``plots`` definition of dvc.yaml."""
    spec = yaml.safe_load((root / "dvc.yaml").read_text()) or {}
    out = []
    for d in spec.get("plots", []):
        key, props = (next(iter(d.items())) if isinstance(d, dict) else (d, {}))
        out.append((key, props or {}))
    return out


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".json":
        return pd.read_json(path)
    return pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")


def _encode(fig: plt.Figure) -> str:
    data = shared_figures.png(fig)
    plt.close(fig)
    return base64.b64encode(data).decode("ascii")


def _series_chart(frame: pd.DataFrame, x: str, ys: list[str], title: str, y_label: str, val_label: str) -> Chart:
    """One line per column of ``ys`` (mean over seeds), with its ± std band where the file has one."""
    fig, ax = plt.subplots(figsize=(shared_figures.WIDTH, 3.8))
    names = []
    for y in ys:
        name = val_label if y.startswith("val_") else SERIES.get(y, y.replace("_", " "))
        names.append(name)
        ax.plot(frame[x], frame[y], marker="o" if len(frame) < 3 else None, lw=2, label=name)
        if f"{y}_std" in frame:
            ax.fill_between(frame[x], frame[y] - frame[f"{y}_std"], frame[y] + frame[f"{y}_std"], alpha=0.15, lw=0)
    if x == "epoch":
        shared_figures.epoch_ticks(ax, frame[x])
    ax.set_xlabel(x)
    ax.set_ylabel(y_label, fontsize="small")
    ax.set_title(title, fontsize="medium")
    ax.legend(fontsize="small")
    fig.tight_layout()
    last = frame.iloc[-1]
    ends = ", ".join(f"{n} {last[y]:.4f}" for n, y in zip(names, ys))
    alt = (f"Line chart, {title}: {y_label} per {x} over {len(frame)} {x}(s) for {' and '.join(names)}, "
           f"with a band of ± one standard deviation over seeds; at {x} {last[x]:g}: {ends}.")
    return Chart(title, alt, _encode(fig))


def _variant_chart(frame: pd.DataFrame, y: str, title: str, root: Path) -> Chart:
    from pipeline.loss_sweep import sweep_figures  # the sweep report's own small multiples

    sweep = load_params(root / paths.PARAMS_FILE).sweep
    fig = sweep_figures.variant_curves(frame, sweep, metric=y)
    return Chart(title, f"{title}. {getattr(fig, shared_figures.ALT)}", _encode(fig))


def charts(root: Path | None = None) -> list[Chart]:
    """Every chart of the top-level definitions, in dvc.yaml's order (a folder's files sorted)."""
    root = root or paths.project_root()
    params = load_params(root / paths.PARAMS_FILE)
    shared_figures.setup()
    out = []
    for key, props in definitions(root):
        target = root / key
        files = sorted(p for p in target.iterdir() if p.suffix in SUFFIXES) if target.is_dir() else [target]
        files = [f for f in files if f.is_file()]  # as `dvc plots show`: a definition without data is left out
        ys = props.get("y", [])
        ys = [ys] if isinstance(ys, str) else list(ys)
        x = props.get("x", "step")
        for file in files:
            frame = _read(file)
            missing = [c for c in (x, *ys) if c not in frame]
            if missing:
                raise PlotsError(f"{file.relative_to(root)}: no column {', '.join(missing)} (dvc.yaml's plot {key!r})")
            if props.get("template") == "variant_curves":
                out.append(_variant_chart(frame, ys[0], props.get("title", file.stem), root))
                continue
            cfg = params.models.get(file.stem)
            title = props.get("title") or (cfg.title if cfg else f"{file.stem.replace('_', ' ')} (a curve of a "
                                                                 "configuration that params.yaml does not list)")
            val_label = "validation" if cfg is None or cfg.validation == "split" else "validation = test set"
            out.append(_series_chart(frame.sort_values(x), x, ys, title, props.get("y_label", ", ".join(ys)),
                                     val_label))
    if not out:
        raise PlotsError("no data file for any of dvc.yaml's top-level plots (run the stages that write them)")
    return out


def write_page(path: Path, root: Path | None = None, interactive: str | None = None) -> Path:
    """The page of every chart (``interactive``: the relative link of the Vega version, if any)."""
    page = prose.environment(TEMPLATES).get_template("dvc_plots.html.j2").render(
        charts=charts(root), interactive=interactive)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
