"""Run a parameterized notebook with papermill, then render it to offline HTML with nbconvert.

One runner serves every DVC stage (``python -m pipeline run NOTEBOOK --section S``):

1. the parameters are read from ``params.yaml`` (validated) and must all be declared in
   the notebook's ``parameters`` cell;
2. papermill executes the notebook in ``notebooks/`` (the same working folder as
   JupyterLab) with this environment's Python as the kernel, and writes the executed
   notebook to ``reports/notebooks/`` (atomically);
3. nbconvert renders two HTML views into ``reports/html/`` in the same process: for
   readers (no code) and for learners (with code), each self-contained and offline.
"""

from __future__ import annotations

import datetime as dt
import dataclasses
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

# jsonschema (imported by nbformat) builds an Earley parser for the "iri" string format when
# the optional rfc3987-syntax package is installed: about 1 s of every runner's start-up, for
# a format check that notebook validation never uses. Marking the module absent makes
# jsonschema skip that one format, as it does wherever the package is not installed.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402
import yaml  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor  # noqa: E402

from pipeline import assets, config, fileio  # noqa: E402

KERNEL_NAME = "python3"
REPORT_PACKAGES = ("numpy", "pandas", "scikit-learn", "tensorflow-cpu", "keras", "matplotlib",
                   "seaborn", "papermill", "nbconvert", "dvc")

# Settings the kernel inherits. TF_ENABLE_ONEDNN_OPTS changes TensorFlow's numerics, so it
# is pinned; TF_CPP_MIN_LOG_LEVEL quiets TensorFlow's C++ start-up log.
KERNEL_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}


class RunnerError(config.PipelineError, RuntimeError):
    """A notebook could not be run or rendered; the message says why."""


# --------------------------------------------------------------------------- parameters


def declared_parameters(notebook: Path) -> dict[str, dict]:
    """The parameters declared in ``notebook``'s cell tagged ``parameters``."""
    import papermill

    if not notebook.is_file():
        raise RunnerError(f"{notebook}: notebook not found")
    nb = nbformat.read(notebook, as_version=4)
    if not any("parameters" in c.metadata.get("tags", []) for c in nb.cells):
        raise RunnerError(f"{notebook}: no cell is tagged 'parameters'")
    if not nb.metadata.get("kernelspec"):
        raise RunnerError(f"{notebook}: metadata.kernelspec is missing (papermill needs it)")
    return papermill.inspect_notebook(str(notebook))


def check_parameters(notebook: Path, parameters: dict) -> None:
    """Refuse parameters that the notebook does not declare (papermill would only warn)."""
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise RunnerError(f"{notebook.name}: parameter(s) {', '.join(unknown)} not declared in its "
                          f"'parameters' cell; it declares: {', '.join(sorted(declared)) or '(none)'}")


# --------------------------------------------------------------------------- provenance


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in REPORT_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def git_commit(root: Path) -> str:
    """Short commit of ``root`` plus ``-dirty`` if it has uncommitted changes; '' if none."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        if sha.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


# --------------------------------------------------------------------------- rendering


class RemoveStderrPreprocessor(Preprocessor):
    """Drop stderr streams (TensorFlow/absl log lines, progress bars) from the HTML views.

    The executed notebook in reports/notebooks/ keeps them for anyone who needs them.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs
                            if not (o.output_type == "stream" and o.get("name") == "stderr")]
        return cell, resources


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    if nb.metadata.get("title"):
        return str(nb.metadata["title"])
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _display_value(value) -> str:
    """A parameter as the header shows it: mappings and lists as block YAML, the rest as text."""
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=100).strip()
    return str(value)


@dataclasses.dataclass
class ReportInfo:
    """What the header of a report says about how it was produced."""

    name: str
    title: str
    parameters: dict
    run_date: str
    commit: str
    versions: dict


def render_html(nb: nbformat.NotebookNode, info: ReportInfo, *, show_code: bool, other_view: str) -> str:
    """Render one HTML view; ``other_view`` is the file name of the view with(out) code."""
    exporter = HTMLExporter(
        template_name="mnist_report",
        extra_template_basedirs=[str(config.TEMPLATES_DIR / "nbconvert")],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_all_outputs_tags={"remove_output"}, remove_cell_tags={"remove_cell"}),
        enabled=True,
    )
    exporter.register_preprocessor(RemoveStderrPreprocessor(), enabled=True)
    nb = nbformat.from_dict(nb)  # the exporter's preprocessors change the node
    nb.metadata["title"] = info.title
    resources = {
        "mnist": {
            "info": info,
            "show_code": show_code,
            "other_view": other_view,
            "index": "../index.html",
            "mathjax_js": assets.read_text(assets.MATHJAX),
        }
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


# --------------------------------------------------------------------------- running


PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def _replace_all(value, replacements: list[tuple[str, str]]):
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace_all(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _replace_all(v, replacements) for k, v in value.items()}
    return value


def scrub_local_paths(nb: nbformat.NotebookNode, root: Path, notebook: Path, out_nb: Path) -> None:
    """Replace this machine's paths in the executed notebook (it is published with the site).

    papermill records absolute input/output paths, and warnings quote files of the Python
    environment: they become project-relative paths, ``<venv>`` and ``~``.
    """
    pm = nb.metadata.get("papermill")
    if pm:
        pm["input_path"] = notebook.relative_to(root).as_posix()
        pm["output_path"] = out_nb.relative_to(root).as_posix()
    pairs = {sys.prefix: "<venv>", str(root): ".", str(Path.home()): "~"}
    replacements = sorted(((k, v) for k, v in pairs.items() if len(k) > 1), key=lambda kv: -len(kv[0]))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.from_dict(_replace_all(o, replacements)) for o in cell.outputs]


def _first_error(nb: nbformat.NotebookNode) -> str:
    """Where the executed notebook failed, counting cells as in the source notebook (from 1)."""
    source_cells = [c for c in nb.cells if not PAPERMILL_TAGS & set(c.metadata.get("tags", []))]
    for i, cell in enumerate(source_cells, start=1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                return (f"cell {i} (first line: {first!r}) raised {out.get('ename')}: "
                        f"{out.get('evalue')}")
    return "no error output recorded"


def run(notebook: Path, parameters: dict, *, root: Path | None = None, progress: bool = True,
        name: str | None = None, title: str | None = None, summary: str | None = None) -> dict[str, Path]:
    """Execute ``notebook`` with ``parameters`` and render it; return the written paths.

    ``name`` names the outputs (default: the notebook's stem), so that one template notebook
    can give one report per configuration; ``title`` and ``summary`` (default: from the
    notebook's markdown) are stored in the executed notebook's metadata for the index.

    SIGTERM/SIGHUP unwind like an exception (kernel shut down, temporary files removed, exit
    code 128 + signal); temporary files left by an earlier SIGKILL are removed first.
    """
    with fileio.signals_as_exit():
        try:
            return _run(notebook, parameters, root=root, progress=progress, name=name, title=title,
                        summary=summary)
        except fileio.Terminated as stop:
            print(f"{notebook}: interrupted by signal {stop.code - 128}; the kernel was shut down and "
                  f"no partial file was left (finished outputs of earlier runs are untouched)", file=sys.stderr)
            raise


def _run(notebook: Path, parameters: dict, *, root: Path | None, progress: bool, name: str | None,
         title: str | None, summary: str | None) -> dict[str, Path]:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    root = root or config.project_root()
    notebook = notebook if notebook.is_absolute() else (root / notebook)
    name = name or notebook.stem
    check_parameters(notebook, parameters)
    # One stage runs at a time (DVC locks the repository): temporary files are a killed run's.
    for stale in fileio.remove_stale_temps(config.reports_dir(root), root / "models", config.data_dir(root)):
        print(f"removed {stale.relative_to(root)} (left by an interrupted run)", file=sys.stderr)

    out_nb = config.reports_dir(root) / "notebooks" / f"{name}.ipynb"
    failed_nb = config.reports_dir(root) / "failed" / f"{name}.ipynb"
    html_dir = config.reports_dir(root) / "html"
    out_nb.parent.mkdir(parents=True, exist_ok=True)
    html_dir.mkdir(parents=True, exist_ok=True)

    # The kernel must be this environment's Python: put its bin folder first on PATH.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    os.environ.update(KERNEL_ENV)
    # A non-interactive MPLBACKEND (e.g. Agg) in the caller's environment would stop the
    # kernel from embedding figures; the kernel uses its inline backend instead.
    os.environ.pop("MPLBACKEND", None)
    # The quick-look sample is for notebooks opened by hand; pipeline runs never use it.
    os.environ.pop(config.SAMPLE_ENV, None)

    started = time.perf_counter()
    with fileio.atomic_path(out_nb) as tmp:
        try:
            # Once the last cell has finished (every output received, every file closed), the
            # kernel is stopped at once instead of waiting for TensorFlow's teardown (1.6 s here).
            papermill.execute_notebook(
                str(notebook), str(tmp), parameters=parameters, kernel_name=KERNEL_NAME,
                cwd=str(notebook.parent), progress_bar=progress, log_output=False,
                shutdown_kernel="immediate",
            )
        except PapermillExecutionError:
            executed = nbformat.read(tmp, as_version=4)
            failed_nb.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(executed, failed_nb)
            raise RunnerError(f"{notebook.relative_to(root)} failed: {_first_error(executed)}\n"
                              f"The executed notebook with the error is kept at "
                              f"{failed_nb.relative_to(root)}; no HTML was written.") from None
        executed = nbformat.read(tmp, as_version=4)
        meta = {"name": name, "source": notebook.relative_to(root).as_posix()}
        meta.update({k: v for k, v in (("title", title), ("summary", summary)) if v})
        executed.metadata["mnist_report"] = meta
        if title:
            executed.metadata["title"] = title
        scrub_local_paths(executed, root, notebook, out_nb)
        nbformat.write(executed, tmp)
    failed_nb.unlink(missing_ok=True)
    print(f"executed in {time.perf_counter() - started:.1f} s (kernel start, imports and every cell)")

    info = ReportInfo(
        name=name,
        title=notebook_title(executed, name),
        parameters={k: _display_value(v) for k, v in parameters.items()},
        run_date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        commit=git_commit(root),
        versions=package_versions(),
    )
    started = time.perf_counter()
    plain, code = html_dir / f"{name}.html", html_dir / f"{name}.code.html"
    fileio.write_text(plain, render_html(executed, info, show_code=False, other_view=code.name))
    fileio.write_text(code, render_html(executed, info, show_code=True, other_view=plain.name))
    print(f"rendered in {time.perf_counter() - started:.1f} s (two HTML views, in this process)")
    return {"notebook": out_nb, "html": plain, "html_code": code}

