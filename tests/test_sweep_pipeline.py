"""The loss sweep through the real pipeline (DVC + papermill) on the test profile:
2 variants × 2 seeds × 1 epoch per loss, then one seed added."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from tests.conftest import bin_path, run

pytestmark = pytest.mark.slow


def test_sweep_stages_write_r4_tables_and_the_comparison(built_project):
    from pipeline.core.params import load_params
    from tests.conftest import PROFILE_SWEEP, PROFILE_VARIANTS

    root, proc = built_project
    for loss in load_params(root / "params.yaml").sweep.losses:
        assert f"Running stage 'sweep@{loss}'" in proc.stdout
        m = json.loads((root / f"reports/metrics/sweep_{loss}.json").read_text())
        assert set(m["variants"]) == set(PROFILE_VARIANTS) and m["seeds"] == PROFILE_SWEEP["seeds"]
        html = (root / f"reports/html/04_loss_sweep_{loss}.html").read_text()
        assert "R4 accuracy" in html and "Increase dropout to 50%" in html
        # R4's printed pairs judged: the counts in the metrics file, the table in the report
        judged = m["r4_claims"]
        assert judged["pairs"] == len(PROFILE_VARIANTS) and sum(judged["counts"].values()) == judged["pairs"]
        assert "our accuracy interval" in html and f"{judged['pairs']} printed pairs of R4" in html
        assert len(list((root / "data/sweep-cache" / loss).glob("*.json"))) == 4
    html = (root / "reports/html/05_loss_comparison.html").read_text()
    assert "McNemar" in html and "Categorical and sparse categorical cross-entropy, trained from the same 2 seeds" in html


def test_adding_a_seed_trains_only_the_new_runs(built_project, tmp_path):
    src, _ = built_project
    root = tmp_path / "seed"
    shutil.copytree(src, root, symlinks=True)
    proc = run([bin_path("dvc"), "exp", "run", "-S", "sweep.seeds=[0,1,2]"], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for other in ("explore", "model@baseline", "model@r0_deep", "classical"):
        assert f"Running stage '{other}'" not in proc.stdout
    for loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        nb = nbformat.read(root / f"reports/notebooks/04_loss_sweep_{loss}.ipynb", as_version=4)
        text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        assert "trained now: 2 runs" in text and "from the cache: 4" in text, text[-500:]


def test_dvc_plots_compare_the_variants(built_project):
    root, _ = built_project
    proc = run([bin_path("dvc"), "plots", "show", "--json", "-o", str(root / "plots_sweep")], cwd=root)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    key = "reports/sweep/sparse_categorical_crossentropy_curves.csv"
    spec = shown["data"][key][0]["content"]
    assert spec["encoding"]["color"]["field"] == "variant"
    variants = {row["variant"] for row in spec["data"]["values"]}
    from tests.conftest import PROFILE_VARIANTS

    assert variants == set(PROFILE_VARIANTS)


def test_exp_show_lists_the_sweep_metrics(built_project):
    root, _ = built_project
    proc = run([bin_path("dvc"), "exp", "show", "--json"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "reports/metrics/sweep_categorical_crossentropy.json" in proc.stdout
    assert "reports/metrics/sweep_sparse_categorical_crossentropy.json" in proc.stdout


def test_index_shows_the_sweep_table_from_the_metrics(built_project):
    root, _ = built_project
    index = (root / "reports/index.html").read_text()
    m = json.loads((root / "reports/metrics/sweep_categorical_crossentropy.json").read_text())
    acc = m["variants"]["dropout_50"]["test_accuracy"]
    table = index[index.index('id="sweep-table"'):]
    table = table[:table.index("</table>")]
    # ours as fractions, R4's single run as R4 printed it (0.980, its last zero kept; not "98.0 %")
    assert f"{acc['mean']:.4f} ± {acc['std']:.4f}" in table and "(0.980)" in table
    assert 'href="html/05_loss_comparison.html"' in index


def test_one_loss_runs_only_its_sweep_stage(tmp_path):
    """``sweep.losses`` is a parameter: with one loss, DVC has one sweep stage, and the rest of
    the pipeline (the comparison, the plots, the index) completes without the other's files."""
    import subprocess

    from dvc.repo import Repo

    from tests.conftest import copy_project, use_test_profile

    root = copy_project(tmp_path / "one-loss")
    use_test_profile(root)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "test profile"],
                   cwd=root, check=True, capture_output=True)
    proc = run([bin_path("dvc"), "exp", "run", "-S", "sweep.losses=[categorical_crossentropy]"], cwd=root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with Repo(str(root)) as repo:
        names = [s.name for s in repo.index.stages]
    assert [n for n in names if n.startswith("sweep@")] == ["sweep@categorical_crossentropy"], names
    assert "Running stage 'sweep@categorical_crossentropy'" in proc.stdout
    assert "sweep@sparse_categorical_crossentropy" not in proc.stdout
    for stage in ("loss_comparison", "dvc_plots", "site"):
        assert f"Running stage '{stage}'" in proc.stdout, stage
    assert not (root / "reports/sweep/sparse_categorical_crossentropy_curves.csv").exists()
    comparison = (root / "reports/html/05_loss_comparison.html").read_text()
    assert "Nothing to compare" in comparison and "McNemar" not in comparison.split("Nothing to compare")[1][:300]
    index = (root / "reports/index.html").read_text()
    table = index[index.index('id="sweep-table"'):]
    head = table[:table.index("</thead>")]
    assert "<th>categorical crossentropy</th>" in head and "sparse" not in head, head
