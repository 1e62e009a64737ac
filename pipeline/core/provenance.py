"""What a result was made with: package versions, the git commit, and the fingerprint of the
numerical environment (package versions and CPU instruction set) that the run cache keys on."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from pipeline.core import fileio, paths

# Shown in every report's header.
REPORT_PACKAGES = ("numpy", "pandas", "scikit-learn", "tensorflow-cpu", "keras", "matplotlib",
                   "seaborn", "papermill", "nbconvert", "dvc")
# The packages whose versions can change a trained model's numbers (the split is drawn with
# scikit-learn).
NUMERIC_PACKAGES = ("numpy", "scikit-learn", "tensorflow-cpu", "tensorflow", "keras", "ml-dtypes")
# CPU features that decide which kernels TensorFlow and NumPy run (and so the rounding).
ENVIRONMENT_KEY = "environment"
SIMD_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl",
              "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve")


def versions(names=REPORT_PACKAGES) -> dict[str, str]:
    """Python's version and each installed package's (absent packages are left out)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def cpu_features() -> str:
    """The machine type and the SIMD features of its CPU, e.g. ``x86_64:avx,avx2,fma,…``."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags.update(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return f"{platform.machine()}:{','.join(f for f in SIMD_FLAGS if f in flags)}"


def run_environment() -> dict[str, str]:
    """Where a stage ran: Python's and the report packages' versions, and the CPU's features."""
    return {**versions(), "cpu": cpu_features()}


def write_timing(path: Path, record: dict) -> None:
    """A stage's timing file (DVC-cached), with the environment it ran in under ``environment``."""
    fileio.write_json(path, {**record, ENVIRONMENT_KEY: run_environment()})


def stage_environments(root: Path) -> dict[str, dict]:
    """The environment each stage's outputs were made in, from the timing files present."""
    found = {}
    for timing in sorted((paths.reports_dir(root) / "timing").glob("*.json")):
        env = (fileio.read_json(timing) or {}).get(ENVIRONMENT_KEY)
        if isinstance(env, dict):
            found[timing.stem] = env
    return found


def environment_fingerprint() -> dict[str, str]:
    """The numerical environment of a run: package versions and CPU features (a cache-key part)."""
    return {**versions(NUMERIC_PACKAGES), "cpu": cpu_features()}


def git_commit(root: Path) -> str:
    """Short commit of ``root``'s HEAD; '' outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return sha.stdout.strip() if sha.returncode == 0 else ""


# What a report is built from when no DVC stage says so (a run by hand): every input of every stage.
ALL_INPUTS = ("pipeline", "notebooks", "params.yaml", "requirements.lock", "dvc.yaml")


@dataclasses.dataclass(frozen=True)
class Source:
    """What a report was built from: the commit, and which of its inputs differ from it."""

    commit: str  # '' outside a git checkout
    inputs: tuple[str, ...]  # the files and folders compared (the stage's code deps, params.yaml)
    changed: tuple[str, ...]  # inputs with uncommitted changes (files, or params.yaml's keys)
    stage: str = ""  # the DVC stage that built it ('' for a run by hand)

    @property
    def clean(self) -> bool:
        return bool(self.commit) and not self.changed

    def describe(self) -> str:
        if not self.commit:
            return "not built from a git checkout"
        what = f"stage {self.stage}'s inputs" if self.stage else "the pipeline's inputs"
        if not self.changed:
            return f"commit {self.commit}, clean: {what} are as committed"
        shown = ", ".join(self.changed[:6]) + (f" and {len(self.changed) - 6} more" if len(self.changed) > 6 else "")
        return f"commit {self.commit} with local changes to {what}: {shown}"


def data_description(root: Path) -> str:
    """The dataset of ``params.yaml`` and the sha256 of its four pinned arrays (shortened)."""
    from pipeline.core import dataset
    from pipeline.core.params.loading import load_params
    from pipeline.core.params.messages import ParamsError

    try:
        name = load_params(root / "params.yaml").data.dataset
    except ParamsError:  # a notebook run outside the pipeline's params: nothing to claim
        return "not named by a valid params.yaml"
    pins = dataset.get_spec(name).sha256
    return f"{name}: " + ", ".join(f"{k} {pins[k][:12]}…" for k in dataset.ARRAY_NAMES)


def dataset_heading(root: Path) -> str:
    """The dataset of ``params.yaml`` as a report's first screen names it (``Fashion-MNIST
    (clothing items, photographs)``); '' without a valid params.yaml."""
    from pipeline.core import dataset_words
    from pipeline.core.params.loading import load_params
    from pipeline.core.params.messages import ParamsError

    try:
        return dataset_words.words(load_params(root / "params.yaml").data.dataset).heading
    except ParamsError:
        return ""


def stage_inputs(root: Path, stage: str) -> tuple[list[str], list[str]]:
    """The code/data paths and the params keys that DVC stage ``stage`` depends on."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        for s in repo.index.stages:
            if s.addressing == stage:
                files = [d.def_path for d in s.deps if not hasattr(d, "params")]
                keys = [k for d in s.deps if hasattr(d, "params") for k in (d.params or [])]
                return files, keys
    return list(ALL_INPUTS), []


def _changed_params(root: Path, keys: list[str]) -> list[str]:
    """The params.yaml keys (of ``keys``; all when empty) whose values differ from HEAD's."""
    import yaml

    head = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=root, capture_output=True, text=True, timeout=10)
    if head.returncode != 0:
        return ["params.yaml"]
    try:
        old, new = yaml.safe_load(head.stdout) or {}, yaml.safe_load((root / "params.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ["params.yaml"]

    def at(tree, key):
        for part in key.split("."):
            tree = tree.get(part) if isinstance(tree, dict) else None
        return tree

    keys = keys or sorted(set(old) | set(new))
    return [f"params.yaml ({k})" for k in keys if at(old, k) != at(new, k)]


def source(root: Path) -> Source:
    """What a report built now is built from. Under ``dvc repro`` (which names the stage in
    ``DVC_STAGE``) only that stage's dependencies count: DVC's own rewriting of ``dvc.lock``
    and of other stages' outputs during the same run is no local edit."""
    commit = git_commit(root)
    stage = os.environ.get("DVC_STAGE", "")
    files, keys = stage_inputs(root, stage) if stage else (list(ALL_INPUTS), [])
    if not commit:
        return Source("", tuple(files), (), stage)
    tracked = [f for f in files if f != "params.yaml"]
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", *tracked],
                            cwd=root, capture_output=True, text=True, timeout=30).stdout
    # outputs of earlier stages (reports/…, data/…) are DVC's, and ignored or tracked by it
    changed = sorted({line[3:].strip() for line in status.splitlines() if line[3:].strip()
                      and not line[3:].startswith(("reports/", "data/", "models/"))})
    if "params.yaml" in files or keys:
        changed += _changed_params(root, keys)
    return Source(commit, tuple(files), tuple(changed), stage)
