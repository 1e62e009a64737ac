"""Shared fixtures. The test profile (as in Ploomber's sample profile) runs the real DVC,
papermill, nbconvert and Chromium on a small slice of the real MNIST."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pipeline.core import dataset, paths

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
SAMPLE = {"sample_size": 600, "samples_per_class": 4, "pca_points": 300}
# The test profile of the model stages: two configurations (one-hot + dropout, and R0's deep
# sparse one), 1 epoch, 2 repeats, the first 600 real images; a light classical comparison.
PROFILE_MODELS = ("baseline", "r0_deep")
PROFILE_MODEL = {"epochs": 1, "repeats": 2}
PROFILE_TRAINING = {"sample_size": 600}
PROFILE_CLASSICAL = {"sample_size": 600, "forest_trees": 10, "max_iter": 50}
PROFILE_VARIANTS = ("baseline", "dropout_50")  # the loss sweep: 2 variants × 2 seeds × 1 epoch
PROFILE_SWEEP = {"seeds": [0, 1], "epochs": 1}

os.environ.setdefault("MPLBACKEND", "Agg")


def bin_path(name: str) -> str:
    """A console script of this environment (dvc, jupyter...)."""
    return str(Path(sys.executable).parent / name)


def run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def mnist_file(tmp_path_factory) -> Path:
    """The real prepared MNIST (data/dataset.npz of the checkout, or prepared afresh)."""
    existing = paths.prepared_data_file(REPO)
    if existing.is_file():
        with np.load(existing, allow_pickle=False) as npz:
            if str(npz["dataset"]) == "mnist":
                return existing
    out = tmp_path_factory.mktemp("data") / "dataset.npz"
    dataset.prepare("mnist", out, paths.download_cache_dir())
    return out


@pytest.fixture(scope="session")
def mnist(mnist_file) -> dataset.Dataset:
    return dataset.load(mnist_file)


@pytest.fixture(scope="session")
def small(mnist_file) -> dataset.Dataset:
    return dataset.load(mnist_file, sample_size=SAMPLE["sample_size"])


def copy_project(dest: Path) -> Path:
    """A copy of the repository's files (tracked + untracked, not ignored) as a new git repo."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    # the vega assets fetched from npm are reused rather than fetched again
    if (REPO / "build" / "vendor").is_dir():
        shutil.copytree(REPO / "build" / "vendor", dest / "build" / "vendor")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest


def set_params(root: Path, section: str, values: dict) -> None:
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params[section].update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def use_test_profile(root: Path) -> None:
    """Make ``root``'s params.yaml the small test profile (real data, few images, 1 epoch)."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["explore"].update(SAMPLE)
    params["training"].update(PROFILE_TRAINING)
    params["classical"].update(PROFILE_CLASSICAL)
    params["models"] = {k: {**params["models"][k], **PROFILE_MODEL} for k in PROFILE_MODELS}
    if "sweep" in params:
        sweep = params["sweep"]
        sweep.update(PROFILE_SWEEP)
        sweep["variants"] = {k: sweep["variants"][k] for k in PROFILE_VARIANTS}
        sweep["claimed"] = {loss: {k: rows[k] for k in PROFILE_VARIANTS} for loss, rows in sweep["claimed"].items()}
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="session")
def built_project(tmp_path_factory):
    """A copy of the repo whose pipeline ran once with `dvc repro` on the small profile."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    use_test_profile(root)
    # committed, so that the reports can say they were built from a clean checkout
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "test profile"],
                   cwd=root, check=True, capture_output=True)
    proc = run([bin_path("dvc"), "repro"], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, proc


@pytest.fixture(scope="session")
def trained_model(mnist_file, tmp_path_factory) -> Path:
    """A real model file: R1's configuration, 3 epochs on the first 12,000 MNIST images."""
    from pipeline.core.params import load_params
    from pipeline.core.params.schema import TrainingParams
    from pipeline.modeling import train

    cfg = load_params(REPO / "params.yaml").models["r1_onehot"].model_copy(update={"epochs": 3, "repeats": 1})
    ds = dataset.load(mnist_file, sample_size=12_000)
    result = train.train(cfg, ds, TrainingParams(threads=0, deterministic=False), log=lambda *_: None)
    assert result.runs[0].test_accuracy > 0.9
    path = tmp_path_factory.mktemp("model") / "r1.keras"
    result.first_model.save(path)
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def corrupt_copy(a: np.ndarray, index: int = 0) -> np.ndarray:
    """A copy of ``a`` with one element changed."""
    b = a.copy()
    flat = b.reshape(-1)
    flat[index] = np.uint8((int(flat[index]) + 1) % 256)
    return b
