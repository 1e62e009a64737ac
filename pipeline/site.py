"""``reports/index.html``: the front page that links every report, rendered with jinja2."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import platform
from pathlib import Path

import jinja2
import nbformat

from pipeline import config, fileio, runner


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
            summary=_summary(nb),
            parameters=dict(pm.get("parameters", {})),
            finished=finished + (" UTC" if finished else ""),
            html=f"html/{name}.html",
            html_code=f"html/{name}.code.html",
            notebook=f"notebooks/{name}.ipynb",
        ))
    return entries


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
