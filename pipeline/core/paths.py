"""Every path of the project, in one place: the folders, and the files each stage family writes.

Paths are found from the current working directory (the nearest folder upwards that holds
``params.yaml``), so the same code works in the repository, in a temporary copy of it
(tests), and from ``notebooks/`` when JupyterLab runs a notebook.

Each stage family has one function that names its files (``report_files``,
``explore_files``, ``model_files``, ``classical_files``, ``sweep_files``, ``site_files``).
The writers, the front page and the tests use these functions, and
``tests/test_dvc_graph.py`` checks that ``dvc.yaml`` declares exactly these files as the
stages' outputs.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PARAMS_FILE = "params.yaml"
LOCK_FILE = "requirements.lock"
SAMPLE_ENV = "MNIST_REPORTS_SAMPLE"  # quick-look sample size for notebooks opened by hand
CACHE_ENV = "MNIST_REPORTS_CACHE"  # where downloaded dataset sources are kept


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) that holds ``params.yaml``.

    Falls back to the folder that holds this package (an editable install).
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file():
            return folder
    return PACKAGE_DIR.parent


def data_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "data"


def prepared_data_file(root: Path | None = None) -> Path:
    """The one prepared dataset file that the data stage writes and notebooks read."""
    return data_dir(root) / "dataset.npz"


def reports_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "reports"


def models_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "models"


def notebooks_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "notebooks"


def download_cache_dir() -> Path:
    """Where downloaded source files (wheels, .deb, .gz) are kept between runs.

    ``MNIST_REPORTS_CACHE`` overrides it; the default is ``~/.cache/mnist-reports`` (the
    files are checked by sha256 every time they are used, so a shared cache is safe).
    """
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "mnist-reports"


# --------------------------------------------------------------------------- stage outputs


def _files(obj) -> list[Path]:
    """Every path of a files dataclass, nested ones included, in field order."""
    out = []
    for value in dataclasses.astuple(obj, tuple_factory=list):
        out.extend(value if isinstance(value, list) else [value])
    return out


@dataclasses.dataclass(frozen=True)
class ReportFiles:
    """What ``python -m pipeline run`` writes for a report named ``name``."""

    notebook: Path  # the executed notebook
    html: Path  # reader view (no code)
    html_code: Path  # learner view (with code)

    def all(self) -> list[Path]:
        return _files(self)


def failed_notebook(name: str, root: Path | None = None) -> Path:
    """Where the runner keeps an executed notebook that raised (not a DVC output)."""
    return reports_dir(root) / "failed" / f"{name}.ipynb"


def report_files(name: str, root: Path | None = None) -> ReportFiles:
    reports = reports_dir(root)
    return ReportFiles(notebook=reports / "notebooks" / f"{name}.ipynb",
                       html=reports / "html" / f"{name}.html",
                       html_code=reports / "html" / f"{name}.code.html")


@dataclasses.dataclass(frozen=True)
class ExploreFiles:
    report: ReportFiles
    metrics: Path  # git-tracked, deterministic

    def all(self) -> list[Path]:
        return [*self.report.all(), self.metrics]


EXPLORE_REPORT = "01_data_exploration"
MODEL_REPORT = "02_model_report"  # one report per `models` entry: 02_model_report_NAME
CLASSICAL_REPORT = "03_classical_ml"
SWEEP_REPORT = "04_loss_sweep"  # one report per loss: 04_loss_sweep_LOSS
COMPARISON_REPORT = "05_loss_comparison"


def explore_files(root: Path | None = None) -> ExploreFiles:
    return ExploreFiles(report=report_files(EXPLORE_REPORT, root),
                        metrics=reports_dir(root) / "metrics" / "explore.json")


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """The outputs of stage ``model@NAME``."""

    report: ReportFiles
    model: Path  # the first seed's trained model (.keras)
    timing: Path  # seconds per fit: DVC-cached, not in git
    plots: Path  # mean/std per epoch: git-tracked, deterministic
    metrics: Path  # git-tracked, deterministic

    def all(self) -> list[Path]:
        return [*self.report.all(), self.model, self.timing, self.plots, self.metrics]


def entry_report_name(notebook: str, key: str) -> str:
    """The report of a notebook run for one params entry: ``02_model_report`` for
    ``models.r0_deep`` is ``02_model_report_r0_deep`` (the runner names it so)."""
    return f"{notebook}_{key}"


def model_report_name(name: str) -> str:
    return entry_report_name(MODEL_REPORT, name)


def model_files(name: str, root: Path | None = None) -> ModelFiles:
    reports = reports_dir(root)
    return ModelFiles(report=report_files(model_report_name(name), root),
                      model=models_dir(root) / f"{name}.keras",
                      timing=reports / "timing" / f"{name}.json",
                      plots=reports / "plots" / f"{name}.csv",
                      metrics=reports / "metrics" / f"{name}.json")


@dataclasses.dataclass(frozen=True)
class ClassicalFiles:
    report: ReportFiles
    timing: Path
    metrics: Path

    def all(self) -> list[Path]:
        return [*self.report.all(), self.timing, self.metrics]


def classical_files(root: Path | None = None) -> ClassicalFiles:
    reports = reports_dir(root)
    return ClassicalFiles(report=report_files(CLASSICAL_REPORT, root),
                          timing=reports / "timing" / "classical.json",
                          metrics=reports / "metrics" / "classical.json")


@dataclasses.dataclass(frozen=True)
class SweepFiles:
    """The outputs of stage ``sweep@LOSS``."""

    report: ReportFiles
    runs: Path  # one row per run, no timings: git-tracked, deterministic
    curves: Path  # per-epoch curves of every run
    predictions: Path  # float32 test probabilities and exact per-epoch histories, per run
    timing: Path  # seconds per run: DVC-cached, not in git
    metrics: Path  # git-tracked, deterministic
    # the sweep's own per-run cache: read and written by the stage but no output of it (git- and
    # DVC-ignored), so that DVC's run-cache stays on for the stage
    cache: Path

    def all(self) -> list[Path]:
        """The stage's outputs (``cache`` is none)."""
        return [*self.report.all(), self.runs, self.curves, self.predictions, self.timing, self.metrics]


def sweep_report_name(loss: str) -> str:
    return entry_report_name(SWEEP_REPORT, loss)


def sweep_files(loss: str, root: Path | None = None) -> SweepFiles:
    reports = reports_dir(root)
    return SweepFiles(report=report_files(sweep_report_name(loss), root),
                      runs=reports / "sweep" / f"{loss}_runs.csv",
                      curves=reports / "sweep" / f"{loss}_curves.csv",
                      predictions=reports / "sweep" / f"{loss}_predictions.npz",
                      timing=reports / "timing" / f"sweep_{loss}.json",
                      metrics=reports / "metrics" / f"sweep_{loss}.json",
                      cache=data_dir(root) / "sweep-cache" / loss)


def comparison_files(root: Path | None = None) -> ReportFiles:
    return report_files(COMPARISON_REPORT, root)


@dataclasses.dataclass(frozen=True)
class SiteFiles:
    index: Path  # the front page
    environment: Path  # where each stage's outputs were made (git-tracked, for `make reproduce`)
    dvc_plots: Path  # folder written by `python -m pipeline plots`
    public: Path  # `make publish` (not a DVC output)

    @property
    def dvc_plots_page(self) -> Path:
        return self.dvc_plots / "index.html"

    @property
    def reproduction(self) -> Path:
        """The page ``make reproduce`` writes (no DVC output: the front page links it when present)."""
        return self.index.parent / REPRODUCTION_PAGE


REPRODUCTION_PAGE = "reproduction.html"


def site_files(root: Path | None = None) -> SiteFiles:
    reports = reports_dir(root)
    return SiteFiles(index=reports / "index.html", environment=reports / "environment.json", dvc_plots=reports / "dvc_plots",
                     public=(root or project_root()) / "public")
