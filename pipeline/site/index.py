"""``reports/index.html``: the front page that links every report, rendered with jinja2."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import platform
from pathlib import Path

import jinja2
import markupsafe
import mistune
import nbformat
from bs4 import BeautifulSoup

from pipeline.core import dataset_words, fileio, numbers, paths, prose, provenance, runner, story
from pipeline.core.dataset_words import VERDICT_LABEL
from pipeline.core.params.loading import load_params
from pipeline.core.params.schema import LOSS_LABEL, Params

TEMPLATES = Path(__file__).resolve().parent / "templates"


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


def summary_html(text: str) -> markupsafe.Markup:
    """A card's summary (Markdown from a notebook or params.yaml) as inline HTML: ``**bold**``
    rendered, raw HTML escaped. TeX (``$…$``) is not typeset here: card texts avoid it (a unit
    test reads every notebook's summary)."""
    html = mistune.create_markdown(escape=True)(text).strip()
    return markupsafe.Markup(html.removeprefix("<p>").removesuffix("</p>"))


def collect(root: Path) -> list[ReportEntry]:
    """One entry per executed notebook in ``reports/notebooks`` that has its HTML views."""
    entries = []
    reports = paths.reports_dir(root)
    for path in sorted((reports / "notebooks").glob("*.ipynb")):
        name = path.stem
        files = paths.report_files(name, root)
        if not files.html.is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        pm = nb.metadata.get("papermill", {})
        finished = (pm.get("end_time") or "")[:16].replace("T", " ")
        entries.append(ReportEntry(
            name=name,
            title=runner.notebook_title(nb, name),
            summary=summary_html(nb.metadata.get("mnist_report", {}).get("summary") or _summary(nb)),
            parameters={k: v for k, v in pm.get("parameters", {}).items() if not isinstance(v, (dict, list))},
            finished=finished + (" UTC" if finished else ""),
            html=_link(files.html, reports),
            html_code=_link(files.html_code, reports),
            notebook=_link(files.notebook, reports),
        ))
    return entries


def in_story_order(entries: list[ReportEntry], params: Params, root: Path) -> list[ReportEntry]:
    """The report cards in the order the reports link each other (``story``: one place decides)."""
    by_name = {e.name: e for e in entries}
    return [by_name[n] for n in story.order(list(by_name), params, root)]


@dataclasses.dataclass
class ModelRow:
    """One line of the summary table: a model configuration, its claim and our measurement."""

    name: str
    title: str
    source: str
    architecture: str
    epochs: int
    protocol: str  # how this run used the data, in words
    claimed_accuracy: float | None
    claimed_on: str  # the claim's dataset where it is not the reports' ("MNIST"), else ""
    accuracy: str  # "0.9781 ± 0.0012" or "" if not run yet
    accuracy_mean: float | None
    repeats: int
    verdict: str  # an outcome, "other protocol", "no claim" or "not run"
    checks: list[str]  # one line per claimed number: claimed, interval, outcome
    html: str


def _check_line(quantity: str, c: dict) -> str:
    """``accuracy 0.981 vs interval 0.9712–0.9838: consistent``, rounded as the report's box
    rounds it (``core/numbers.py``); a loss interval is cut at 0."""
    name = quantity.removeprefix("test_").replace("_", " ")
    low, high = (None, None) if c["half_width"] is None else (c["mean"] - c["half_width"], c["mean"] + c["half_width"])
    return " ".join(environment().get_template("check_line.html.j2").render(
        name=name, claimed=c["claimed"], outcome=c["outcome"], low=low, high=high,
        floor=numbers.floor_of(name)).split())


def _checks(claim: dict, source: str) -> list[str]:
    lines = [_check_line(q, c) for q, c in claim.get("checks", {}).items()]
    if claim.get("verdict") == "other protocol":
        lines.append(f"the source's protocol differs (judged in its {claim['protocol']['source']}-validated report)")
    if claim.get("verdict") == "other dataset":
        d = claim["dataset"]
        lines.append(dataset_words.not_judged(source, d["claimed"], d["claim"], d["run"]))
    return lines


@dataclasses.dataclass
class ClassicalRow:
    name: str
    val_accuracy: float
    test_accuracy: float | None  # the chosen model's only: the others never predicted the test set
    fit_seconds: float | None
    predict_seconds: float | None  # the validation images


@dataclasses.dataclass
class ClassicalTable:
    rule: str  # how the model was chosen, in words, from the metrics file
    validation_images: int
    rows: list[ClassicalRow]


def _link(path: Path, reports: Path) -> str:
    """A link from the index (in ``reports/``) to ``path``."""
    return path.relative_to(reports).as_posix()


def _stat(stat: dict | None) -> str:
    """A stored ``{"mean", "std"}`` as ``0.9781 ± 0.0012`` ('' when absent): fractions, as the
    claimed numbers beside it and the reports' claim boxes print them."""
    return numbers.mean_std(stat["mean"], stat["std"]) if stat else ""


def _current(m: dict) -> bool:
    """A metrics file in this version's format (claim with checks, protocol and rule)."""
    claim = m.get("claim")
    return (isinstance(claim, dict) and {"verdict", "checks", "protocol", "rule"} <= set(claim)
            and {"test_accuracy", "repeats"} <= set(m))


def model_rows(root: Path, params: Params) -> list[ModelRow]:
    """The summary table's rows, from params.yaml and each configuration's metrics file."""
    rows = []
    reports = paths.reports_dir(root)
    for name, cfg in params.models.items():
        files = paths.model_files(name, root)
        m = fileio.read_json(files.metrics)
        if m and not _current(m):
            m = None  # written by an older version of the pipeline: shown as not run, never half-read
        acc = m["test_accuracy"] if m else None
        rows.append(ModelRow(
            name=name, title=cfg.title, source=cfg.source,
            architecture=" → ".join(map(str, [784, *cfg.hidden, 10])) + (f", dropout {cfg.dropout:g}" if cfg.dropout else ""),
            epochs=cfg.epochs,
            protocol=m["claim"]["protocol"]["run_text"] if m else "",
            claimed_accuracy=cfg.claimed.accuracy,
            claimed_on=(dataset_words.words(cfg.claimed.dataset).name
                        if cfg.claimed.dataset != params.data.dataset else ""),
            accuracy=_stat(acc),
            accuracy_mean=acc["mean"] if acc else None,
            repeats=m["repeats"] if m else cfg.repeats,
            verdict=m["claim"]["verdict"] if m else "not run",
            checks=_checks(m["claim"], cfg.source) if m else [],
            html=_link(files.report.html, reports) if files.report.html.is_file() else "",
        ))
    return rows


def classical_rows(root: Path) -> ClassicalTable | None:
    """Validation accuracy of every classical model; test accuracy of the chosen one only."""
    files = paths.classical_files(root)
    m = fileio.read_json(files.metrics)
    if not m or not {"models", "chosen", "rule", "images"} <= set(m):
        return None  # not run, or written by an older version of the pipeline
    t = fileio.read_json(files.timing) or {}  # the same keys as m["models"]
    chosen = m["chosen"]["model"]
    rows = [ClassicalRow(name=v["name"], val_accuracy=v["val_accuracy"],
                         test_accuracy=m["chosen"]["test_accuracy"] if key == chosen else None,
                         fit_seconds=t.get(key, {}).get("fit_seconds"),
                         predict_seconds=t.get(key, {}).get("val_predict_seconds"))
            for key, v in m["models"].items()]
    return ClassicalTable(rule=m["rule"], validation_images=m["images"]["validation"], rows=rows)


@dataclasses.dataclass
class SweepRow:
    """One variant of R4's sweep: test accuracy per loss (mean ± std over seeds) and R4's numbers."""

    description: str
    cells: list[str]  # one per loss, "0.9781 ± 0.0012"
    claimed: list[str]  # R4's printed accuracy per loss


def sweep_summary(root: Path, params: Params) -> list[dict]:
    """Per loss, from its metrics file, what the front page says of it (the template puts it in
    words): how many variants differ from the baseline in test accuracy under Holm's control,
    and the smallest and largest difference that could be detected (None if none)."""
    out = []
    for loss in params.sweep.losses:
        m = fileio.read_json(paths.sweep_files(loss, root).metrics) or {}
        tests = [v["versus_baseline"]["test_accuracy"] for v in m.get("variants", {}).values()
                 if "test_accuracy" in v.get("versus_baseline", {})]
        if not tests or "family_a" not in m:
            continue
        detectable = [t["detectable"] for t in tests if t["detectable"] is not None]
        out.append({"loss_label": LOSS_LABEL[loss], "found": sum(1 for t in tests if t["significant"]),
                    "tests": len(tests), "seeds": len(m["seeds"]), "family_tests": m["family_a"]["tests"],
                    "alpha": m["family_a"]["alpha"],
                    "detectable": (min(detectable), max(detectable)) if detectable else None})
    return out


def sweep_rows(root: Path, params: Params) -> tuple[list[str], list[SweepRow]]:
    """The loss-sweep table: (loss names, rows), empty when the sweep has not run."""
    if params.sweep is None:
        return [], []
    losses = list(params.sweep.losses)
    found = {loss: fileio.read_json(paths.sweep_files(loss, root).metrics) for loss in losses}
    if not any(found.values()):
        return [], []
    rows = []
    same_dataset = params.sweep.claimed_dataset == params.data.dataset  # R4's numbers are shown only beside the same data
    for name, v in params.sweep.variants.items():
        cells, claimed = [], []
        for loss in losses:
            acc = ((found[loss] or {}).get("variants", {}).get(name) or {}).get("test_accuracy")
            cells.append(_stat(acc))
            c = params.sweep.claimed.get(loss, {}).get(name) if same_dataset else None
            claimed.append(numbers.claimed(c[1]) if c else "")
        rows.append(SweepRow(v.description, cells, claimed))
    return losses, rows


def test_images(root: Path, params: Params) -> int | None:
    """How many test images the models were evaluated on (from the first metrics file found)."""
    for name in params.models:
        m = fileio.read_json(paths.model_files(name, root).metrics)
        if m and "images" in m:
            return m["images"]["test"]
    return None


def environment() -> jinja2.Environment:
    """The front page's templates, with the shared ones (the verdict rule) in reach."""
    return prose.environment(TEMPLATES)


def reproduction_link(site: paths.SiteFiles) -> tuple[str, str] | None:
    """``(href, title)`` of the page ``make reproduce`` wrote ("Reproduced on …"), None if absent."""
    page = site.reproduction
    if not page.is_file():
        return None
    title = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser").title
    return _link(page, site.index.parent), " ".join(title.get_text().split()) if title else "Reproduction check"


def build(root: Path | None = None, environment_file: bool = True) -> Path:
    """Render ``reports/index.html`` from the reports present (and, with ``environment_file``,
    ``reports/environment.json``); return the page's path."""
    root = root or paths.project_root()
    params = load_params(root / paths.PARAMS_FILE)
    site = paths.site_files(root)
    claims = [cfg.claimed for cfg in params.models.values() if cfg.claimed.accuracy is not None
              or cfg.claimed.loss is not None]
    page = environment().get_template("index.html.j2").render(
        reports=in_story_order(collect(root), params, root),
        models=model_rows(root, params),
        classical=classical_rows(root),
        sweep=sweep_rows(root, params),
        sweep_summary=sweep_summary(root, params),
        rule=params.verdicts,
        dvc_plots=_link(site.dvc_plots_page, site.index.parent) if site.dvc_plots_page.is_file() else "",
        reproduction=reproduction_link(site),
        test_images=test_images(root, params),
        params_sha256=fileio.sha256_file(root / paths.PARAMS_FILE)[:12],
        dataset=dataset_words.words(params.data.dataset),
        verdict_label=VERDICT_LABEL,
        claims_judged=not claims or any(c.dataset == params.data.dataset for c in claims),
        claims_on=sorted({dataset_words.words(c.dataset).name for c in claims}),
        sweep_claims=params.sweep.claimed_dataset == params.data.dataset,
        sweep_not_judged=dataset_words.not_judged_all("R4", params.sweep.claimed_dataset, params.data.dataset),
        built=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        source=provenance.source(root),
        data=provenance.data_description(root),
        versions=provenance.versions(),
        machine=f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s), "
                f"Python {platform.python_version()}",
    )
    fileio.write_text(site.index, page)
    if environment_file:
        fileio.write_json(site.environment, {"stages": provenance.stage_environments(root)})
    return site.index
