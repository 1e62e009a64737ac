"""Fault suite: real signals sent to the real runner and to `dvc repro`, a failing stage.

What is guaranteed (README, "Reliability"):
- SIGINT (Ctrl-C), SIGTERM, SIGHUP: the runner unwinds, shuts the kernel down, removes its
  temporary files, exits 128 + signal (130, 143, 129), and finished files of earlier runs are
  untouched;
- SIGKILL: the targets are intact (old or new); the next run removes the temporary files;
  a killed model stage is re-run by the next `dvc repro` with the same metrics, byte for byte;
- a notebook that raises stops `dvc repro` at that stage, names the cell, keeps the executed
  notebook in reports/failed/, writes no HTML; `dvc checkout` gives back the last good one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests.conftest import REPO, bin_path, run

pytestmark = pytest.mark.slow


def _sleeper(root: Path) -> Path:
    """A project with one notebook that sleeps ``seconds`` (a parameter)."""
    (root / "notebooks").mkdir(parents=True)
    shutil.copy(REPO / "params.yaml", root / "params.yaml")  # valid: the runner checks it first
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("seconds = 60")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Sleeper"), params,
                nbformat.v4.new_code_cell("import time\ntime.sleep(float(seconds))\nprint('slept')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "notebooks/sleep.ipynb")
    return root


def _start(cmd: list[str], cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    # SIGINT as in a terminal: a background job of a script (CI) may inherit it ignored
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _temps(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".*.tmp*") if p.is_file())


# what the runner says on each signal (Ctrl-C is Python's KeyboardInterrupt, caught by the CLI)
SAYS = {signal.SIGINT: "error: interrupted", signal.SIGTERM: "interrupted by signal 15;",
        signal.SIGHUP: "interrupted by signal 1;"}


@pytest.mark.parametrize("sig", list(SAYS), ids=lambda s: s.name)
def test_terminated_runner_cleans_up_and_keeps_the_old_report(tmp_path, sig):
    root = _sleeper(tmp_path)
    old_html = root / "reports/html/sleep.html"
    old_html.parent.mkdir(parents=True)
    old_html.write_text("previous good report")
    proc = _start([sys.executable, "-m", "pipeline", "run", "notebooks/sleep.ipynb", "--no-progress"], root)
    _wait_for(lambda: _temps(root) and _children(proc.pid), 60, "the kernel and the temporary notebook")
    kernels = _children(proc.pid)
    time.sleep(3)  # the kernel is in its sleep cell
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert SAYS[sig] in err
    assert _temps(root) == []
    assert old_html.read_text() == "previous good report"
    assert not (root / "reports/notebooks/sleep.ipynb").exists()
    _wait_for(lambda: not any(map(_alive, kernels)), 20, "the kernel to exit")


def test_sigkill_leaves_targets_intact_and_the_next_run_cleans_up(tmp_path):
    root = _sleeper(tmp_path)
    proc = _start([sys.executable, "-m", "pipeline", "run", "notebooks/sleep.ipynb", "--no-progress"], root)
    _wait_for(lambda: _temps(root) and _children(proc.pid), 60, "the kernel and the temporary notebook")
    kernels = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel, as the OOM killer or kill -9 would
    proc.communicate(timeout=30)
    left = _temps(root)
    assert left, "SIGKILL gives no chance to clean up: the temporary notebook is still there"
    assert not (root / "reports/notebooks/sleep.ipynb").exists()  # never a half-written target
    for pid in kernels:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    again = run([sys.executable, "-m", "pipeline", "run", "notebooks/sleep.ipynb", "--set", "seconds=0",
                 "--no-progress"], root)
    assert again.returncode == 0, again.stderr
    assert "left by an interrupted run" in again.stderr
    assert _temps(root) == []
    assert "slept" in (root / "reports/notebooks/sleep.ipynb").read_text()


def _training_started(notebook_tmp_dir: Path) -> bool:
    """True once papermill marks the cell that calls ``train.train`` as running."""
    for tmp in notebook_tmp_dir.glob(".02_model_report_baseline.*.tmp.ipynb"):
        try:
            nb = json.loads(tmp.read_text())
        except (OSError, ValueError):
            continue
        for cell in nb["cells"]:
            if "train.train(" in "".join(cell["source"]):
                return cell.get("metadata", {}).get("papermill", {}).get("status") == "running"
    return False


def test_sigkill_during_training_then_dvc_repro_gives_the_clean_metrics(built_project, tmp_path):
    """The issue's kill test: `dvc repro` killed mid-training, re-run, same metrics bytes."""
    src, _ = built_project
    root = tmp_path / "project"
    shutil.copytree(src, root, symlinks=True)
    metrics = root / "reports/metrics/baseline.json"
    clean = metrics.read_bytes()

    proc = _start([bin_path("dvc"), "repro", "--force", "--single-item", "model@baseline"], root)
    _wait_for(lambda: _training_started(root / "reports/notebooks"), 300, "training to start")
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGKILL)  # dvc, the runner and the kernel at once
    proc.communicate(timeout=30)
    assert not metrics.exists() or metrics.read_bytes() == clean  # never half-written

    status = run([bin_path("dvc"), "status", "model@baseline"], cwd=root)
    assert "changed" in status.stdout or "deleted" in status.stdout, status.stdout
    # forced: train again (DVC would otherwise restore the killed stage's outputs from its cache)
    proc = run([bin_path("dvc"), "repro", "--force", "--single-item", "model@baseline"], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Running stage 'model@baseline'" in proc.stdout
    assert metrics.read_bytes() == clean
    assert _temps(root / "reports") == [] and _temps(root / "models") == []
    assert "up to date" in run([bin_path("dvc"), "status", "model@baseline"], cwd=root).stdout
    # only the site waits: it reads the retrained stage's timing, which a rerun rewrites
    pending = json.loads(run([bin_path("dvc"), "status", "--json"], cwd=root).stdout)
    assert set(pending) <= {"site"}, pending


def test_failing_stage_stops_dvc_repro_and_checkout_restores_the_last_good_html(built_project, tmp_path):
    src, _ = built_project
    root = tmp_path / "project"
    shutil.copytree(src, root, symlinks=True)
    html = root / "reports/html/03_classical_ml.html"
    metrics = root / "reports/metrics/classical.json"
    good, index, good_metrics = html.read_bytes(), (root / "reports/index.html").read_bytes(), metrics.read_bytes()
    nb_path = root / "notebooks/03_classical_ml.ipynb"
    nb = nbformat.read(nb_path, as_version=4)
    assert "write_outputs" in nb.cells[-1].source  # notebooks write their files in their last cell
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell("raise RuntimeError('a broken analysis step')"))
    nbformat.write(nb, nb_path)

    proc = run([bin_path("dvc"), "repro"], cwd=root)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "03_classical_ml.ipynb failed" in out and "RuntimeError: a broken analysis step" in out
    assert f"cell {len(nb.cells) - 1}" in out  # the failing cell's index, as in the source notebook
    # DVC removes a stage's outputs before running it; the failed run wrote no new metrics
    assert not metrics.exists() or metrics.read_bytes() == good_metrics
    assert (root / "reports/failed/03_classical_ml.ipynb").is_file()
    assert not html.exists() or html.read_bytes() == good  # no broken HTML
    assert not list((root / "reports/html").glob(".03_classical_ml.*"))  # no temporary files either
    assert (root / "reports/index.html").read_bytes() == index  # later stages did not run

    subprocess.run(["git", "checkout", "notebooks/03_classical_ml.ipynb"], cwd=root, check=True)
    assert run([bin_path("dvc"), "checkout"], cwd=root).returncode == 0
    assert html.read_bytes() == good
