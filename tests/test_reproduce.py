"""``make reproduce``'s comparison (pipeline/sharing/reproduce.py) on the committed results."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from pipeline.sharing import reproduce
from tests.conftest import REPO, copy_project, run


def _with_seeds(data: bytes, shift: float, seed_noise: float = 0.0) -> bytes:
    m = json.loads(data)
    for i, seed in enumerate(m["seeds"].values()):
        seed["test_accuracy"] += shift + seed_noise * (i % 2)
    return json.dumps(m).encode()


@pytest.fixture(scope="module")
def committed():
    files = reproduce.committed_files(REPO)
    assert "reports/metrics/basic.json" in files and "reports/sweep/categorical_crossentropy_runs.csv" in files
    return files


def test_the_same_files_agree_byte_for_byte(committed):
    c = reproduce.compare(committed, dict(committed))
    assert c.agrees and c.identical == sorted(committed) and not c.different and not c.quantities
    assert c.summary().startswith(f"reproduced: {len(committed)} of {len(committed)} files byte-identical")


def test_a_difference_within_the_seed_spread_agrees(committed):
    new = dict(committed)
    new["reports/metrics/basic.json"] = _with_seeds(committed["reports/metrics/basic.json"], 0.0, 0.0002)
    c = reproduce.compare(committed, new)
    assert c.different == ["reports/metrics/basic.json"] and c.agrees, c.summary()
    assert {(q.configuration, q.quantity) for q in c.quantities} >= {("basic", "test_accuracy"), ("basic", "test_loss")}


def test_a_shift_far_beyond_the_seed_spread_disagrees(committed):
    new = dict(committed)
    new["reports/metrics/basic.json"] = _with_seeds(committed["reports/metrics/basic.json"], 0.05)
    c = reproduce.compare(committed, new)
    assert not c.agrees and [(q.configuration, q.quantity) for q in c.disagreeing] == [("basic", "test_accuracy")]
    assert "1 of" in c.summary() and "beyond the seed spread" in c.summary()


def test_a_changed_verdict_disagrees(committed):
    m = json.loads(committed["reports/metrics/r0_deep.json"])
    before = m["claim"]["explanations"]["unscaled_test_loss"]["outcome"]
    after = "consistent" if before != "consistent" else "inconclusive"  # whatever the committed run found
    m["claim"]["explanations"]["unscaled_test_loss"]["outcome"] = after
    c = reproduce.compare(committed, {**committed, "reports/metrics/r0_deep.json": json.dumps(m).encode()})
    assert c.changed_outcomes == [("r0_deep/claim/explanations/unscaled_test_loss/outcome", before, after)]
    assert not c.agrees and "1 verdicts or outcomes changed" in c.summary()


def test_a_changed_sweep_metrics_file_is_compared_by_its_outcomes(committed):
    # a sweep's metrics file lists its seeds (no per-seed values): the first full rerun on another
    # host crashed here ('list' object has no attribute 'values')
    name = "reports/metrics/sweep_categorical_crossentropy.json"
    m = json.loads(committed[name])
    assert isinstance(m["seeds"], list)
    m["changed_by_test"] = 1
    c = reproduce.compare(committed, {**committed, name: json.dumps(m).encode()})
    assert c.different == [name] and c.agrees and not c.quantities, c.summary()


def test_sweep_runs_are_compared_per_variant(committed):
    name = "reports/sweep/categorical_crossentropy_runs.csv"
    values = reproduce.seed_values(name, committed[name])
    assert ("categorical_crossentropy/baseline", "test_accuracy") in values
    assert len(values[("categorical_crossentropy/baseline", "test_accuracy")]) >= 2


def test_compare_only_writes_the_page_and_exits_by_agreement(tmp_path):
    root = copy_project(tmp_path / "p")
    (root / reproduce.PAGE).unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "pipeline", "site"], cwd=root, check=True, capture_output=True)
    assert 'href="reproduction.html"' not in (root / "reports/index.html").read_text()
    proc = run([sys.executable, "-m", "pipeline", "reproduce", "--compare-only"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert 'href="reproduction.html"' in (root / "reports/index.html").read_text()  # the front page links it
    assert proc.stdout.startswith("reproduced:") and len(proc.stdout.strip().splitlines()) == 1
    page = (root / reproduce.PAGE).read_text()
    assert "Reproduced on" in page and "Every verdict and outcome is the same" in page
    assert page.count("<main>") == 1 and re.search(r"<main>\s*<h1>Reproduced on", page)  # axe: landmark-one-main
    assert re.search(r'<nav aria-label="site"><p><a href="index.html">', page)  # everything else is in a landmark
    assert json.loads((root / reproduce.ENVIRONMENT).read_text())["cpu"]
    path = root / "reports/metrics/basic.json"
    path.write_bytes(_with_seeds(path.read_bytes(), 0.05))
    proc = run([sys.executable, "-m", "pipeline", "reproduce", "--compare-only"], cwd=root)
    assert proc.returncode == 1 and proc.stdout.startswith("NOT reproduced:"), proc.stdout + proc.stderr
    subprocess.run(["git", "checkout", "--", "."], cwd=root, check=True)


@pytest.mark.slow
def test_a_rerun_from_scratch_of_the_test_profile_agrees(built_project, tmp_path):
    """The real thing on the test profile: every stage recomputed (the sweep's runs trained, not
    read from its cache), then compared with the committed results of the same machine."""
    import nbformat

    root = tmp_path / "p"
    shutil.copytree(built_project[0], root, symlinks=True)
    for cmd in (["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results"]):
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
    proc = run([sys.executable, "-m", "pipeline", "reproduce"], cwd=root, timeout=2400)
    last = proc.stdout.strip().splitlines()[-1]
    assert proc.returncode == 0 and last.startswith("reproduced:"), proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Running stage 'model@baseline'" in proc.stdout and "Running stage 'data'" in proc.stdout
    nb = nbformat.read(root / "reports/notebooks/04_loss_sweep_categorical_crossentropy.ipynb", as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "trained now: 4 runs" in text, text[-800:]
    assert (root / "data" / "sweep-cache").is_dir() and not (root / "data" / "sweep-cache.before-reproduce").exists()


def test_the_committed_runs_environment_is_read_from_git_at_the_revision(tmp_path):
    root = tmp_path / "p"
    (root / "reports").mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert reproduce.committed_environment(root) == {}  # no commit, nothing recorded: never a guess
    stages = {"basic": {"cpu": "x86_64:avx,avx2", "keras": "3.1"},
              "sweep_mse": {"cpu": "x86_64:avx,avx2,avx512f", "keras": "3.1"}}
    (root / "reports/environment.json").write_text(json.dumps({"stages": stages}))
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "run"], cwd=root, check=True)
    (root / "reports/environment.json").write_text(json.dumps({"stages": {"basic": {"cpu": "arm64:asimd"}}}))
    # the committed file, not the workspace's (which a rerun has just rewritten)
    assert reproduce.committed_environment(root, "HEAD") == {
        "cpu": "x86_64:avx,avx2 / x86_64:avx,avx2,avx512f", "keras": "3.1"}


def test_the_page_names_the_machine_in_words():
    assert reproduce.machine_words("x86_64:sse4_1,avx,avx2,fma,avx512f,avx512bw") == "an x86_64 CPU with AVX-512"
    assert reproduce.machine_words("x86_64:sse4_1,avx") == "an x86_64 CPU with AVX"
    assert reproduce.machine_words("aarch64:neon") == "an aarch64 CPU"
    assert reproduce.machine_words(None) == "this machine"
