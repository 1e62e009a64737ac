"""Run a parameterized notebook with papermill, then render it to offline HTML with nbconvert.

One runner serves every notebook stage (``python -m pipeline run NOTEBOOK --sections …``):

1. ``stage_parameters`` takes whole parts of ``params.yaml`` (validated) as the notebook's
   parameters (``--sections training model=models.r0_deep``), each passed once; every one
   must be declared in the notebook's ``parameters`` cell. A part that is one entry of a
   mapping or list (``models.r0_deep``, ``sweep.losses.categorical_crossentropy``) names the
   run (``run_names``): its output files, title and summary;
2. papermill executes the notebook in ``notebooks/`` (the same working folder as
   JupyterLab) with this environment's Python as the kernel, and writes the executed
   notebook to ``reports/notebooks/`` (atomically);
3. nbconvert renders two HTML views into ``reports/html/`` in the same process: for
   readers (no code) and for learners (with code), each self-contained and offline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

# jsonschema (imported by nbformat) builds an Earley parser for the "iri" string format when
# the optional rfc3987-syntax package is installed: a noticeable part of every runner's
# start-up (benchmarks/results.md), for a format check that notebook validation never uses.
# Marking the module absent makes jsonschema skip that one format, as it does wherever the
# package is not installed.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402
import yaml  # noqa: E402
from nbconvert import HTMLExporter  # noqa: E402
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor  # noqa: E402

from pipeline.core import fileio, page_layout, paths, provenance, story  # noqa: E402
from pipeline.core.page_math import MathMLPreprocessor  # noqa: E402
from pipeline.core.errors import PipelineError  # noqa: E402
from pipeline.core.params.access import entry_key, value_at  # noqa: E402
from pipeline.core.params.loading import load_params  # noqa: E402
from pipeline.core.params.schema import Params  # noqa: E402

KERNEL_NAME = "python3"
TEMPLATES = Path(__file__).resolve().parent / "templates" / "nbconvert"

# Settings the kernel inherits. TF_ENABLE_ONEDNN_OPTS changes TensorFlow's numerics, so it
# is pinned; TF_CPP_MIN_LOG_LEVEL quiets TensorFlow's C++ start-up log.
KERNEL_FD_CAPTURE = "--IPKernelApp.capture_fd_output=False"  # see ``execute``
KERNEL_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}


class RunnerError(PipelineError, RuntimeError):
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


def stage_parameters(notebook: Path, sections: list[str], strings: list[str], params: Params) -> dict:
    """The parameters of one run: whole parts of ``params`` and literal strings.

    Each of ``sections`` is ``NAME`` (the section of that name) or ``NAME=PATH`` (the part of
    params.yaml at the dotted PATH, e.g. ``model=models.r0_deep``) and becomes the parameter
    NAME: a section as a mapping, a list item as itself. For an entry of a mapping, a
    notebook that declares ``NAME_name`` gets its key (``model_name = "r0_deep"``). Each of
    ``strings`` is ``NAME=VALUE``. A notebook that declares ``write_outputs`` gets True: a
    pipeline run writes the files that DVC tracks.
    """
    declared = declared_parameters(notebook)
    parameters: dict = {}
    for item in sections:
        name, _, path = item.partition("=")
        value = value_at(params, path or name)
        parameters[name] = value.model_dump(mode="json") if hasattr(value, "model_dump") else value
        key = entry_key(params, path or name)
        if key is not None and f"{name}_name" in declared:
            parameters[f"{name}_name"] = key
    for item in strings:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise RunnerError(f"--set {item!r}: expected NAME=VALUE")
        parameters[name] = value
    if "write_outputs" in declared:
        parameters["write_outputs"] = True
    return parameters


@dataclasses.dataclass(frozen=True)
class RunNames:
    """What names a run's outputs and heads its report and its line in the index."""

    name: str  # the output files' name (pipeline/core/paths.py: report_files)
    title: str | None = None  # None: the notebook's own title
    summary: str | None = None


def run_names(notebook: Path, sections: list[str], params: Params) -> RunNames:
    """The names of a run: the notebook's, or for a run of one entry (``model=models.r0_deep``)
    ``paths.entry_report_name`` with the entry's title and description (an entry without a
    title, a list item: "<the notebook's title>: KEY")."""
    entries = [(path or name, key) for name, _, path in (s.partition("=") for s in sections)
               if (key := entry_key(params, path or name)) is not None]
    if not entries:
        return RunNames(notebook.stem)
    if len(entries) > 1:
        raise RunnerError(f"--sections: {' and '.join(p for p, _ in entries)} are entries; a run is for one at most "
                          f"(it names the run's files)")
    path, key = entries[0]
    entry = value_at(params, path)
    title = getattr(entry, "title", None)
    if not isinstance(title, str):
        title = story.entry_title(notebook_title(nbformat.read(notebook, as_version=4), notebook.stem), key)
    summary = getattr(entry, "description", None)
    return RunNames(paths.entry_report_name(notebook.stem, key), title, summary if isinstance(summary, str) else None)


def check_parameters(notebook: Path, parameters: dict) -> None:
    """Refuse parameters that the notebook does not declare (papermill would only warn)."""
    declared = declared_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise RunnerError(f"{notebook.name}: parameter(s) {', '.join(unknown)} not declared in its "
                          f"'parameters' cell; it declares: {', '.join(sorted(declared)) or '(none)'}")


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
    """A parameter as the header shows it: mappings and lists as block YAML, flags as yes/no,
    the rest as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
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
    source: provenance.Source
    data: str  # the dataset and its pinned array hashes
    versions: dict
    dataset: str = ""  # the dataset in readers' words, shown first (``provenance.dataset_heading``)
    nav: list[story.Link] = dataclasses.field(default_factory=list)  # previous, next and twin report


def render_html(nb: nbformat.NotebookNode, info: ReportInfo, *, show_code: bool, other_view: str) -> str:
    """Render one HTML view; ``other_view`` is the file name of the view with(out) code.

    The page carries no library: TeX becomes MathML (``page_math``), the stylesheet is the
    template's own, and the answer comes first (``page_layout``)."""
    exporter = HTMLExporter(
        template_name="mnist_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_all_outputs_tags={"remove_output"}, remove_cell_tags={"remove_cell"}),
        enabled=True,
    )
    exporter.register_preprocessor(RemoveStderrPreprocessor(), enabled=True)
    exporter.register_preprocessor(MathMLPreprocessor(), enabled=True)
    nb = nbformat.from_dict(nb)  # the exporter's preprocessors change the node
    nb.metadata["title"] = info.title
    resources = {
        "mnist": {
            "info": info,
            "show_code": show_code,
            "other_view": other_view,
            "index": "../index.html",
        }
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return page_layout.arrange(body, show_code=show_code)


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
        name: str | None = None, title: str | None = None, summary: str | None = None) -> paths.ReportFiles:
    """Execute ``notebook`` with ``parameters`` and render it; return the written files.

    ``name`` names the outputs (default: the notebook's stem), so that one template notebook
    can give one report per configuration; ``title`` and ``summary`` (default: from the
    notebook's markdown) are stored in the executed notebook's metadata for the index.

    SIGTERM/SIGHUP unwind like an exception (kernel shut down, temporary files removed, exit
    code 128 + signal); temporary files left by an earlier SIGKILL are removed first.
    """
    root = root or paths.project_root()
    notebook = notebook if notebook.is_absolute() else (root / notebook)
    files = paths.report_files(name or notebook.stem, root)
    with fileio.signals_as_exit():
        try:
            check_parameters(notebook, parameters)
            remove_stale_temps(root)
            prepare_kernel_environment()
            # papermill saves after every cell, to a temporary name: the target is never half-written.
            with fileio.atomic_path(files.notebook) as tmp, quiet_stderr():
                executed = execute(notebook, parameters, tmp, paths.failed_notebook(files.notebook.stem, root),
                                   root, progress=progress)
                annotate(executed, files, root, notebook, title=title, summary=summary)
                nbformat.write(executed, tmp)
            render_views(executed, report_info(executed, files, parameters, root), files)
        except fileio.Terminated as stop:
            print(f"{notebook}: interrupted by signal {stop.code - 128}; the kernel was shut down and "
                  f"no partial file was left (finished outputs of earlier runs are untouched)", file=sys.stderr)
            raise
    return files


def remove_stale_temps(root: Path) -> None:
    """One stage runs at a time (DVC locks the repository): temporary files are a killed run's."""
    for stale in fileio.remove_stale_temps(paths.reports_dir(root), paths.models_dir(root), paths.data_dir(root)):
        print(f"removed {stale.relative_to(root)} (left by an interrupted run)", file=sys.stderr)


# Lines that the kernel and TensorFlow write to stderr on every run and that are not errors:
# - TensorFlow 2.21's tf.data adds an attribute its own C++ op registry does not know (every
#   fit logs one "E0000 … node_def_util.cc … use_unbounded_threadpool" line, plus absl's note);
# - ipykernel warns that its local TCP sockets are unencrypted (they listen on 127.0.0.1 only).
# A line may begin with the progress bar's unfinished line (it redraws with a carriage return,
# no newline): that part is kept and ended, the noise after it dropped.
NOISE = re.compile(
    rb"(E0000 \S+ +\d+ node_def_util\.cc:\d+\] NodeDef mentions attribute use_unbounded_threadpool "
    rb"which is not in the op definition"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption)")


def without_noise(line: bytes) -> bytes:
    """``line`` (ending in a newline) without a ``NOISE`` message: empty when the line is only
    that, the part before it (ended) when it follows a progress bar's unfinished line."""
    noise = NOISE.search(line)
    if noise is None:
        return line
    return line[:noise.start()] + b"\n" if noise.start() else b""


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Drop exactly the ``NOISE`` lines from what this process and its children (the kernel,
    its workers) write to file descriptor 2; every other line passes unchanged."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as src, os.fdopen(os.dup(saved), "wb", buffering=0) as dst:
            for line in src:
                kept = without_noise(line)
                if kept:
                    dst.write(kept)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # our copy of the pipe's write end is closed: the pump ends when the kernel's is
        os.close(saved)
        thread.join(timeout=2)


class Heartbeat:
    """The kernel's stdout on its way to the terminal, plus a line after every ``every`` seconds
    in which the notebook printed nothing (a long cell is never silent for a whole minute)."""

    def __init__(self, stream, name: str, every: float = 30.0):
        self.stream, self.name, self.every = stream, name, every
        self.start = self.last = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    def write(self, text: str) -> int:
        self.last = time.perf_counter()
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            now = time.perf_counter()
            if now - self.last >= self.every:
                self.write(f"  {self.name}: still running, {now - self.start:.0f} s so far\n")
                self.flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class QuietStream:
    """What the kernel writes to stderr (progress lines, warnings), on its way to ``stream``
    without the ``NOISE`` lines: the terminal gets what ``quiet_stderr`` lets through."""

    def __init__(self, stream):
        self.stream, self.pending = stream, ""

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        kept = b"".join(without_noise(line.encode() + b"\n") for line in lines)
        if kept:
            self.stream.write(kept.decode())
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def prepare_kernel_environment() -> None:
    """The environment the kernel inherits: this Python first on PATH, the pinned settings."""
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    os.environ.update(KERNEL_ENV)
    # A non-interactive MPLBACKEND (e.g. Agg) in the caller's environment would stop the
    # kernel from embedding figures; the kernel uses its inline backend instead.
    os.environ.pop("MPLBACKEND", None)
    # The quick-look sample is for notebooks opened by hand; pipeline runs never use it.
    os.environ.pop(paths.SAMPLE_ENV, None)


def execute(notebook: Path, parameters: dict, out: Path, failed: Path, root: Path, *,
            progress: bool) -> nbformat.NotebookNode:
    """Run the notebook with papermill into ``out``; on an error keep it as ``failed`` and raise."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    heartbeat = Heartbeat(sys.stdout, notebook.name)
    try:
        # Once the last cell has finished (every output received, every file closed), the
        # kernel is stopped at once instead of waiting for TensorFlow's teardown.
        papermill.execute_notebook(
            str(notebook), str(out), parameters=parameters, kernel_name=KERNEL_NAME,
            cwd=str(notebook.parent), progress_bar=progress, log_output=False,
            stdout_file=heartbeat,  # what cells print reaches the terminal live
            stderr_file=QuietStream(heartbeat),  # progress lines go to stderr: the terminal shows them, the HTML does not
            shutdown_kernel="immediate",
            # The kernel's own file descriptors are left alone: what its worker processes write
            # to stderr (epoch progress) goes straight to the terminal once. With ipykernel's
            # default capture, each such line was published and also echoed, so it showed twice.
            extra_arguments=[KERNEL_FD_CAPTURE],
        )
    except PapermillExecutionError:
        executed = nbformat.read(out, as_version=4)
        failed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(executed, failed)
        raise RunnerError(f"{notebook.relative_to(root)} failed: {_first_error(executed)}\n"
                          f"The executed notebook with the error is kept at "
                          f"{failed.relative_to(root)}; no HTML was written.") from None
    finally:
        heartbeat.stop()
    failed.unlink(missing_ok=True)
    print(f"executed in {time.perf_counter() - started:.1f} s (kernel start, imports and every cell)")
    return nbformat.read(out, as_version=4)


def annotate(executed: nbformat.NotebookNode, files: paths.ReportFiles, root: Path, notebook: Path, *,
             title: str | None, summary: str | None) -> None:
    """Name, source, title and summary in the metadata (for the index); local paths scrubbed."""
    meta = {"name": files.notebook.stem, "source": notebook.relative_to(root).as_posix()}
    meta.update({k: v for k, v in (("title", title), ("summary", summary)) if v})
    executed.metadata["mnist_report"] = meta
    if title:
        executed.metadata["title"] = title
    scrub_local_paths(executed, root, notebook, files.notebook)


def report_info(executed: nbformat.NotebookNode, files: paths.ReportFiles, parameters: dict,
                root: Path) -> ReportInfo:
    """What the report's header says about how it was produced."""
    name = files.notebook.stem
    return ReportInfo(
        name=name,
        title=notebook_title(executed, name),
        parameters={k: _display_value(v) for k, v in parameters.items()},
        run_date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        source=provenance.source(root),
        data=provenance.data_description(root),
        versions=provenance.versions(),
        dataset=provenance.dataset_heading(root),
        nav=_story_links(name, root),
    )


def _story_links(name: str, root: Path) -> list[story.Link]:
    """The previous and next report in the front page's order, and the twin. None for a notebook
    run by hand in a folder whose params.yaml is not a whole pipeline's (the run needs none)."""
    try:
        params = load_params(root / paths.PARAMS_FILE)
    except PipelineError:
        return []
    return story.links(name, params, root)


def render_views(executed: nbformat.NotebookNode, info: ReportInfo, files: paths.ReportFiles) -> None:
    """The reader view (no code) and the learner view (with code), each written atomically."""
    started = time.perf_counter()
    plain, code = files.html, files.html_code
    fileio.write_text(plain, render_html(executed, info, show_code=False, other_view=code.name))
    fileio.write_text(code, render_html(executed, info, show_code=True, other_view=plain.name))
    print(f"rendered in {time.perf_counter() - started:.1f} s (two HTML views, in this process)")
