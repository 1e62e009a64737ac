"""Bad arguments to every ``python -m pipeline`` verb: one ``error:`` line, no traceback.

Each case runs the real command in a subprocess, in a small copy of the project (params.yaml,
the README, the notebooks) that the test checks is left unchanged, under ``-X importtime``:
the list of imported modules shows that no refusal imported TensorFlow or Keras first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for name in ("params.yaml", "README.md"):
        shutil.copy2(REPO / name, root / name)
    shutil.copytree(REPO / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (root / "reports").mkdir()
    (root / "text.keras").write_text("this is a text file, not a model\n")
    with zipfile.ZipFile(root / "model.keras", "w") as z:  # passes the checks made before Keras
        z.writestr("config.json", "{}")
    (root / "a folder").mkdir()
    (root / "plain.txt").write_text("hello\n")
    (root / "notes.ipynb").write_text("# notes, not JSON\n")
    (root / "schema.ipynb").write_text('{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": 7}')
    (root / "latin1.yaml").write_bytes("data: {dataset: caf\xe9}\n".encode("latin-1"))
    return root


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def pipeline(root: Path, *args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, list[str], list[str]]:
    """Run ``python -X importtime -m pipeline ARGS`` in ``root`` (this checkout's package);
    return the process, its stderr lines other than the import times, and the imported modules."""
    environ = {k: v for k, v in os.environ.items() if k != "PIPELINE_DEBUG"}
    environ.update(PYTHONPATH=str(REPO), **(env or {}))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "pipeline", *args], cwd=root, env=environ,
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.splitlines()
    modules = [ln.rsplit("|", 1)[-1].strip() for ln in lines if ln.startswith("import time:")]
    return proc, [ln for ln in lines if not ln.startswith("import time:")], modules


CASES = {  # id: (arguments, what the error line must name)
    "run-unknown-section": (["run", "notebooks/01_data_exploration.ipynb", "--sections", "bogus"],
                            "--sections bogus: params.yaml has no 'bogus'"),
    "run-unknown-entry": (["run", "notebooks/01_data_exploration.ipynb", "--sections", "model=models.nope"],
                          "--sections model=models.nope: models has no 'nope'"),
    "run-mapping-as-section": (["run", "notebooks/01_data_exploration.ipynb", "--sections", "models"],
                               "--sections models: models is a mapping"),
    "run-value-as-section": (["run", "notebooks/01_data_exploration.ipynb", "--sections", "x=training.threads"],
                             "--sections x=training.threads: training.threads is a single value (int)"),
    "run-bad-set": (["run", "notebooks/01_data_exploration.ipynb", "--set", "novalue"], "--set novalue"),
    "run-two-entries": (["run", "notebooks/02_model_report.ipynb", "--sections", "model=models.baseline",
                         "other=models.r0_deep"], "a run is for one entry at most"),
    "run-unknown-loss": (["run", "notebooks/04_loss_sweep.ipynb", "--sections", "loss=sweep.losses.mse"],
                         "--sections loss=sweep.losses.mse: sweep.losses has no 'mse'"),
    "run-name-is-derived": (["run", "notebooks/02_model_report.ipynb", "--name", "x"], "unrecognized arguments: --name"),
    "run-not-a-notebook": (["run", "README.md", "--sections", "explore"],
                           "README.md: not a Jupyter notebook (.ipynb)"),
    "run-ipynb-not-json": (["run", "notes.ipynb"], "notes.ipynb: not a Jupyter notebook (not valid JSON"),
    "run-ipynb-not-nbformat": (["run", "schema.ipynb"], "schema.ipynb: not a valid Jupyter notebook"),
    "run-missing-notebook": (["run", "notebooks/missing.ipynb"], "notebooks/missing.ipynb: notebook not found"),
    "run-folder-as-notebook": (["run", "notebooks", "--sections", "explore"], "notebooks: is a folder"),
    "check-folder": (["check", "a folder"], "a folder: is a directory"),
    "check-missing": (["check", "missing.yaml"], "missing.yaml"),
    "check-not-utf8": (["check", "latin1.yaml"], "latin1.yaml: not UTF-8: byte 0x"),
    "predict-missing-model": (["predict", "missing.keras", "plain.txt"], "missing.keras: no such model file"),
    "predict-text-as-model": (["predict", "text.keras", "plain.txt"],
                              "text.keras: not a Keras model archive (.keras files are zip archives)"),
    "predict-folder-as-model": (["predict", "a folder", "plain.txt"], "a folder: is a folder, not a .keras"),
    "predict-not-keras": (["predict", "plain.txt", "plain.txt"], "plain.txt: expected a .keras model file"),
    "predict-folder-as-image": (["predict", "model.keras", "a folder"], "a folder: is a folder, not an image"),
    "predict-text-as-image": (["predict", "model.keras", "plain.txt"], "plain.txt: not an image"),
    "predict-missing-image": (["predict", "model.keras", "nope.png"], "nope.png: no such file"),
    "data-missing-folder": (["data", "--out", "no/such/folder/dataset.npz"],
                            "--out no/such/folder/dataset.npz: the folder"),
    "data-folder-as-file": (["data", "--out", "a folder"], "--out a folder: is a folder"),
    "data-under-a-file": (["data", "--out", "plain.txt/dataset.npz"], "--out plain.txt/dataset.npz"),
    "plots-file-as-folder": (["plots", "--out", "plain.txt"], "--out plain.txt: is a file, not a folder"),
    "publish-inside-reports": (["publish", "--out", "reports/public"], "--out reports/public: inside"),
    "publish-the-project": (["publish", "--out", "."], "--out .: inside (or around)"),
    "publish-file-as-folder": (["publish", "--out", "plain.txt"], "--out plain.txt: is a file, not a folder"),
    "publish-over-other-files": (["publish", "--out", "notebooks"], "--out notebooks: a folder with other files"),
    "unknown-verb": (["bogus"], "invalid choice: 'bogus'"),
    "unknown-option": (["site", "--bogus"], "unrecognized arguments: --bogus"),
    "unknown-dataset": (["data", "--dataset", "cifar"], "invalid choice: 'cifar'"),
}
if sys.platform == "linux":  # a folder that no one, root included, can create files in
    CASES["data-unwritable-folder"] = (["data", "--out", "/proc/dataset.npz"], "--out /proc/dataset.npz: cannot write")


@pytest.mark.parametrize("args, names", CASES.values(), ids=CASES.keys())
def test_bad_arguments_give_one_error_line(project, args, names):
    before = _snapshot(project)
    proc, stderr, modules = pipeline(project, *args)
    assert proc.returncode != 0
    assert stderr, "nothing on stderr"
    assert stderr[0].startswith("error: ") and names in stderr[0], stderr
    assert len(stderr) == 1, stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not [m for m in modules if m.split(".")[0] in HEAVY], "imported TensorFlow/Keras before refusing"
    assert _snapshot(project) == before, "the command wrote into the project"


def test_unexpected_errors_are_one_line_unless_debugging(monkeypatch, capsys):
    """A bug in a verb: one line and a hint, or with PIPELINE_DEBUG=1 the exception itself."""
    from pipeline import cli

    def broken(args):
        raise RuntimeError("surprise\nsecond line")

    monkeypatch.setattr(cli, "cmd_site", broken)
    monkeypatch.delenv("PIPELINE_DEBUG", raising=False)
    assert cli.main(["site"]) == 1
    err = capsys.readouterr().err
    assert err == "error: unexpected RuntimeError: surprise (run with PIPELINE_DEBUG=1 for the traceback)\n"
    monkeypatch.setenv("PIPELINE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="surprise"):
        cli.main(["site"])


def test_os_errors_name_the_file(monkeypatch, capsys, tmp_path):
    from pipeline import cli

    def unreadable(args):
        (tmp_path / "gone" / "file.txt").read_text()

    monkeypatch.setattr(cli, "cmd_site", unreadable)
    monkeypatch.delenv("PIPELINE_DEBUG", raising=False)
    assert cli.main(["site"]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'gone' / 'file.txt'}: No such file or directory\n"


# --------------------------------------------------------------------------- start-up noise


def _environment_without_tensorflow_settings(**extra: str) -> dict:
    """This environment as a user's shell has it: no TF_* settings (the Makefile and DVC set them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_") and k != "PIPELINE_DEBUG"}
    return dict(env, PYTHONPATH=str(REPO), **extra)


def test_tensorflow_settings_are_the_kernels():
    from pipeline import cli
    from pipeline.core import runner

    assert cli.TENSORFLOW_ENV == {k: v for k, v in runner.KERNEL_ENV.items() if k.startswith("TF_")}


@pytest.mark.slow
def test_predict_by_hand_prints_no_tensorflow_start_up_lines(trained_model, mnist_file, tmp_path):
    """`python -m pipeline predict` in a plain shell: the prediction, and nothing on stderr;
    a setting the caller chose is kept (and its lines still reach stderr)."""
    import numpy as np

    from pipeline.core import dataset
    from pipeline.modeling import predict_photos

    ds = dataset.load(mnist_file)
    photo = next(p for p in predict_photos.photo_set(ds.x_test[:1], ds.y_test[:1], tmp_path)
                 if p.kind == "dark border")
    command = [sys.executable, "-m", "pipeline", "predict", str(trained_model), str(photo.path)]
    proc = subprocess.run(command, cwd=tmp_path, env=_environment_without_tensorflow_settings(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no "oneDNN custom operations are on" (printed twice before), no absl note
    assert proc.stdout.startswith(f"{photo.path}: {int(np.asarray(ds.y_test[0]))} (confidence ")
    chosen = subprocess.run(command, cwd=tmp_path, env=_environment_without_tensorflow_settings(TF_ENABLE_ONEDNN_OPTS="1"),
                            capture_output=True, text=True, timeout=300)
    assert chosen.returncode == 0 and chosen.stdout == proc.stdout
    assert chosen.stderr.count("oneDNN custom operations are on") >= 1
