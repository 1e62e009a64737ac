"""``reports/index.html``: the front page that links every report, rendered with jinja2."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import platform
from pathlib import Path

import jinja2
import nbformat

from pipeline import config, evaluation, fileio, runner


@dataclasses.dataclass
class ReportEntry:
    name: str
    title: str
    summary: str
    parameters: dict
    finished: str
    html: str  # links relative to reports/
    html_code: str
    notebook: str


def _summary(nb: nbformat.NotebookNode) -> str:
    """The first paragraph after the title of the notebook's first markdown cell."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            paragraphs = [p.strip() for p in cell.source.split("\n\n") if p.strip()]
            text = [p for p in paragraphs if not p.startswith("#")]
            return " ".join(text[0].split()) if text else ""
    return ""


def collect(reports: Path) -> list[ReportEntry]:
    """One entry per executed notebook in ``reports/notebooks`` that has its HTML views."""
    entries = []
    for path in sorted((reports / "notebooks").glob("*.ipynb")):
        name = path.stem
        if not (reports / "html" / f"{name}.html").is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        pm = nb.metadata.get("papermill", {})
        finished = (pm.get("end_time") or "")[:16].replace("T", " ")
        entries.append(ReportEntry(
            name=name,
            title=runner.notebook_title(nb, name),
            summary=nb.metadata.get("mnist_report", {}).get("summary") or _summary(nb),
            parameters={k: v for k, v in pm.get("parameters", {}).items() if not isinstance(v, (dict, list))},
            finished=finished + (" UTC" if finished else ""),
            html=f"html/{name}.html",
            html_code=f"html/{name}.code.html",
            notebook=f"notebooks/{name}.ipynb",
        ))
    return entries


@dataclasses.dataclass
class ModelRow:
    """One line of the summary table: a model configuration, its claim and our measurement."""

    name: str
    title: str
    source: str
    architecture: str
    epochs: int
    claimed_accuracy: float | None
    accuracy: str  # "97.81 ± 0.12 %" or "" if not run yet
    accuracy_mean: float | None
    repeats: int
    verdict: str
    checks: str  # "accuracy holds, loss does not"
    html: str


def _checks(claim: dict) -> str:
    parts = [f"{key.removeprefix('test_')} {'holds' if v['holds'] else 'does not'}"
             for key, v in claim.items() if isinstance(v, dict)]
    return ", ".join(parts) if len(parts) > 1 else ""


@dataclasses.dataclass
class ClassicalRow:
    name: str
    test_accuracy: float
    fit_seconds: float | None
    predict_seconds: float | None


def model_rows(reports: Path, params: config.Params) -> list[ModelRow]:
    """The summary table's rows, from params.yaml and each configuration's metrics file."""
    rows = []
    for name, cfg in params.models.items():
        m = evaluation.read_metrics(reports / "metrics" / f"{name}.json")
        html = f"html/02_model_report_{name}.html"
        acc = m["test_accuracy"] if m else None
        rows.append(ModelRow(
            name=name, title=cfg.title, source=cfg.source,
            architecture=" → ".join(map(str, [784, *cfg.hidden, 10])) + (f", dropout {cfg.dropout:g}" if cfg.dropout else ""),
            epochs=cfg.epochs,
            claimed_accuracy=cfg.claimed.accuracy,
            accuracy=f"{100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} %" if acc else "",
            accuracy_mean=acc["mean"] if acc else None,
            repeats=m["repeats"] if m else cfg.repeats,
            verdict=m["claim"]["verdict"] if m else "not run",
            checks=_checks(m["claim"]) if m else "",
            html=html if (reports / html).is_file() else "",
        ))
    return rows


def classical_rows(reports: Path) -> list[ClassicalRow]:
    m = evaluation.read_metrics(reports / "metrics" / "classical.json") or {}
    t = evaluation.read_metrics(reports / "timing" / "classical.json") or {}
    names = {evaluation.metric_key(k): k for k in t}
    return [ClassicalRow(name=names.get(key, key.replace("_", " ")), test_accuracy=v["test_accuracy"],
                         fit_seconds=t.get(names.get(key, ""), {}).get("fit_seconds"),
                         predict_seconds=t.get(names.get(key, ""), {}).get("predict_seconds"))
            for key, v in m.items()]


@dataclasses.dataclass
class SweepRow:
    """One variant of R4's sweep: test accuracy per loss (mean ± std over seeds) and R4's numbers."""

    description: str
    cells: list[str]  # one per loss, "97.81 ± 0.12 %"
    claimed: list[str]  # R4's printed accuracy per loss


def sweep_rows(reports: Path, params: config.Params) -> tuple[list[str], list[SweepRow]]:
    """The loss-sweep table: (loss names, rows), empty when the sweep has not run."""
    if params.sweep is None:
        return [], []
    losses = ["categorical_crossentropy", "sparse_categorical_crossentropy"]
    found = {loss: evaluation.read_metrics(reports / "metrics" / f"sweep_{loss}.json") for loss in losses}
    if not any(found.values()):
        return [], []
    rows = []
    for name, v in params.sweep.variants.items():
        cells, claimed = [], []
        for loss in losses:
            acc = ((found[loss] or {}).get("variants", {}).get(name) or {}).get("test_accuracy")
            cells.append(f"{100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} %" if acc else "")
            c = params.sweep.claimed.get(loss, {}).get(name)
            claimed.append(f"{100 * c[1]:.1f} %" if c else "")
        rows.append(SweepRow(v.description, cells, claimed))
    return losses, rows


def test_images(reports: Path, params: config.Params) -> int | None:
    """How many test images the models were evaluated on (from the first metrics file found)."""
    for name in params.models:
        m = evaluation.read_metrics(reports / "metrics" / f"{name}.json")
        if m and "images" in m:
            return m["images"]["test"]
    return None


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(config.TEMPLATES_DIR / "site"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def build(root: Path | None = None) -> Path:
    """Render ``reports/index.html`` from the reports present; return its path."""
    root = root or config.project_root()
    reports = config.reports_dir(root)
    params = config.load_params(root / config.PARAMS_FILE)
    page = environment().get_template("index.html.j2").render(
        reports=collect(reports),
        models=model_rows(reports, params),
        classical=classical_rows(reports),
        sweep=sweep_rows(reports, params),
        dvc_plots="dvc_plots/index.html" if (reports / "dvc_plots" / "index.html").is_file() else "",
        test_images=test_images(reports, params),
        params_sha256=fileio.sha256_file(root / config.PARAMS_FILE)[:12],
        dataset=params.data.dataset,
        built=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        commit=runner.git_commit(root),
        versions=runner.package_versions(),
        machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s), "
                f"Python {platform.python_version()}",
    )
    out = reports / "index.html"
    fileio.write_text(out, page)
    return out
