"""Model reports through the real pipeline (DVC + papermill + nbconvert) on the test profile,
and prediction of drawn digits with a really trained model."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import nbformat
import numpy as np
import pytest

from pipeline.core.params import load_params
from pipeline.modeling import predict
from pipeline.modeling import train as modeling
from tests.conftest import PROFILE_MODEL, PROFILE_MODELS, PROFILE_TRAINING, bin_path, run

pytestmark = pytest.mark.slow

METRIC_KEYS = {"test_accuracy", "test_loss", "val_accuracy", "train_accuracy", "unscaled_test_accuracy",
               "unscaled_test_loss", "seeds", "repeats", "epochs", "images", "validation_on", "split", "claim"}


@pytest.mark.parametrize("name", PROFILE_MODELS)
def test_model_stage_writes_report_metrics_curves_and_model(built_project, name):
    root, _ = built_project
    m = json.loads((root / f"reports/metrics/{name}.json").read_text())
    assert set(m) == METRIC_KEYS
    assert m["repeats"] == PROFILE_MODEL["repeats"] and len(m["seeds"]) == PROFILE_MODEL["repeats"]
    assert m["epochs"] == PROFILE_MODEL["epochs"] and m["validation_on"] == "split"
    n = PROFILE_TRAINING["sample_size"]
    assert m["images"] == {"fit": n - n // 10, "validation": n // 10, "test": n}
    accs = [s["test_accuracy"] for s in m["seeds"].values()]
    assert m["test_accuracy"]["mean"] == pytest.approx(np.mean(accs), abs=1e-6)
    assert m["test_accuracy"]["std"] == pytest.approx(np.std(accs, ddof=1), abs=1e-6)
    cfg = load_params(root / "params.yaml").models[name]
    same_protocol = cfg.claimed.protocol == cfg.validation
    assert m["claim"]["verdict"] in (("consistent", "not consistent", "inconclusive") if same_protocol
                                     else ("other protocol",))
    assert m["claim"]["protocol"] == {"source": cfg.claimed.protocol, "run": "split",
                                      "run_text": f"fitted on {n - n // 10:,} training images, validated on "
                                                  f"{n // 10:,} held-out training images"}
    with open(root / f"reports/plots/{name}.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == PROFILE_MODEL["epochs"]
    assert {"epoch", "accuracy", "val_accuracy", "loss", "val_loss", "val_accuracy_std"} <= set(rows[0])
    model = predict.load_model(root / f"models/{name}.keras")
    assert model.count_params() == modeling.expected_parameter_count(load_params(root / "params.yaml").models[name])
    for view in ("", ".code"):
        assert (root / f"reports/html/02_model_report_{name}{view}.html").is_file()


def test_model_report_shows_every_section(built_project):
    root, _ = built_project
    nb = nbformat.read(root / "reports/notebooks/02_model_report_r0_deep.ipynb", as_version=4)
    assert not any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", []))
    html = (root / "reports/html/02_model_report_r0_deep.html").read_text()
    for text in ("Deep funnel with a 10-unit ReLU layer (R0)", "(784 inputs + 1 bias) × 512 units", "569,600",
                 "Claimed vs measured (R0)", "0.8874", "97.5 % prediction interval for one new run",
                 "(here 2 printed numbers and n = 2 seeds: each interval at 97.5 %", "t = 25.452)", "Same protocol",
                 "Per class: precision", "most confident",
                 "Your own images", "reports/metrics/r0_deep.json"):
        assert text in html, text
    # curves, confusion matrix, class scores, first images, mistakes, own images
    assert html.count("data:image/png;base64,") >= 6
    assert nb.metadata["mnist_report"]["title"] == "Deep funnel with a 10-unit ReLU layer (R0)"


def test_index_lists_every_configuration_with_accuracy_and_verdict(built_project):
    root, _ = built_project
    index = (root / "reports/index.html").read_text()
    for name in PROFILE_MODELS:
        m = json.loads((root / f"reports/metrics/{name}.json").read_text())
        acc = m["test_accuracy"]
        row = index[index.index(f'id="row-{name}"'):]
        row = row[:row.index("</tr>")]
        assert f"{acc['mean']:.4f} ± {acc['std']:.4f}" in row  # fractions, as the claim and the report's box
        assert m["claim"]["verdict"] in row
        assert f'href="html/02_model_report_{name}.html"' in row
    assert 'id="classical-table"' in index and "random forest" in index


def test_classical_stage_reports_four_models(built_project):
    root, _ = built_project
    m = json.loads((root / "reports/metrics/classical.json").read_text())
    assert set(m["models"]) == {"logistic_regression", "k_nearest_neighbours", "linear_svm", "random_forest"}
    assert all(0.5 < v["val_accuracy"] <= 1 for v in m["models"].values())
    assert m["chosen"]["model"] in m["models"] and 0.5 < m["chosen"]["test_accuracy"] <= 1  # one test accuracy
    assert "validation accuracy" in m["rule"]
    t = json.loads((root / "reports/timing/classical.json").read_text())
    assert t.pop("environment")["cpu"]  # where it ran, for the reproduction check
    # k-NN fits in ~0 s, a linear model predicts 60 validation images in well under 1 ms
    assert all(v["fit_seconds"] >= 0 and v["val_predict_seconds"] >= 0 for v in t.values())
    assert [k for k, v in t.items() if "test_predict_seconds" in v] == [m["chosen"]["model"]]


def test_dvc_metrics_and_plots_read_the_outputs(built_project):
    root, _ = built_project
    proc = run([bin_path("dvc"), "metrics", "show", "--json"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    shown = json.dumps(json.loads(proc.stdout))
    for name in PROFILE_MODELS:
        assert f"reports/metrics/{name}.json" in shown
    out = root / "plots_out"
    proc = run([bin_path("dvc"), "plots", "show", "--json", "-o", str(out)], cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "val_accuracy" in proc.stdout


def test_forced_reruns_give_byte_identical_metrics(built_project):
    """`dvc repro --force` of the exploration and of one model stage: the same bytes again."""
    root, _ = built_project
    files = ["reports/metrics/explore.json", "reports/metrics/r0_deep.json", "reports/plots/r0_deep.csv"]
    before = {f: (root / f).read_bytes() for f in files}
    for stage in ("explore", "model@r0_deep"):
        proc = run([bin_path("dvc"), "repro", "--force", "--single-item", stage], cwd=root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {f: (root / f).read_bytes() for f in files} == before
    # leave the shared project up to date (the forced stage rewrote its HTML, so the site is stale)
    assert run([bin_path("dvc"), "repro"], cwd=root).returncode == 0


def test_exp_run_changing_one_configuration_reruns_only_its_stage(built_project, tmp_path):
    src, _ = built_project
    root = tmp_path / "exp"
    shutil.copytree(src, root, symlinks=True)
    for cmd in (["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "built"]):
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
    proc = run([bin_path("dvc"), "exp", "run", "-S", "models.baseline.epochs=2"], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Running stage 'model@baseline'" in proc.stdout
    for other in ("explore", "model@r0_deep", "classical", "data"):
        assert f"Running stage '{other}'" not in proc.stdout
    diff = run([bin_path("dvc"), "metrics", "diff", "--json"], cwd=root)
    assert diff.returncode == 0, diff.stderr
    changed = json.loads(diff.stdout)["reports/metrics/baseline.json"]
    assert changed["epochs"] == {"old": 1, "new": 2, "diff": 1}


# --------------------------------------------------------------------------- predict


def test_predict_command_classifies_drawn_digits(trained_model, tmp_path):
    files = []
    for digit, dark in (("7", False), ("1", False), ("0", True), ("4", False)):
        path = tmp_path / f"drawn_{digit}.png"
        predict.draw_digit(digit, dark_background=dark).save(path)
        files.append(path)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "predict", str(trained_model), *map(str, files)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(": ", 1) for line in proc.stdout.strip().splitlines())
    assert lines[str(files[0])].startswith("7 (confidence")
    correct = sum(lines[str(f)].startswith(f.stem[-1] + " ") for f in files)
    assert correct >= 3, proc.stdout


def test_predict_command_refuses_bad_files_and_names_them(trained_model, tmp_path):
    good = tmp_path / "seven.png"
    predict.draw_digit("7").save(good)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("hello")
    proc = subprocess.run([sys.executable, "-m", "pipeline", "predict", str(trained_model), str(good), str(empty), str(text)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 1
    assert f"{empty}: the file is empty" in proc.stderr and f"{text}: not an image" in proc.stderr
    assert proc.stdout.startswith(f"{good}: 7")



LOG_LINE = r"^\s*(\[\d+/\d+\] |wrote reports/|rendered in |executed in |trained now: |\S+: \d+ of \d+ runs to train)"


def test_reader_views_hold_no_logs_reprs_or_extra_header_rows(built_project):
    """Every reader view (and the front page): no progress or file-writing lines, no Python
    dict, no True/False cell, one header row per table, no signed zero, no 4-decimal percent."""
    import re

    from bs4 import BeautifulSoup

    root, proc = built_project
    assert re.search(r"\[\d+/\d+\] baseline seed 0: accuracy", proc.stdout + proc.stderr)  # still on the terminal
    pages = [p for p in sorted((root / "reports/html").glob("*.html")) if not p.name.endswith(".code.html")]
    assert len(pages) >= 7
    for page in [*pages, root / "reports/index.html"]:
        soup = BeautifulSoup(page.read_text(), "html.parser")
        for tag in soup(["script", "style"]):
            tag.decompose()
        header = soup.find(id="report-header")  # the run's parameters, names with their values
        if header:
            header.decompose()
        text = soup.get_text("\n")
        logs = [line for line in text.splitlines() if re.match(LOG_LINE, line)]
        assert not logs, (page.name, logs[:3])
        assert not re.search(r"\{'\w+': ", text), page.name
        assert not [td for td in soup.find_all("td") if td.get_text(strip=True) in ("True", "False")], page.name
        extra = [t for t in soup.find_all("table") if t.thead and len(t.thead.find_all("tr")) > 1]
        assert not extra, (page.name, extra[0].get_text(" ", strip=True)[:200])
        assert not re.search(r"-0\.0+\b", text) and not re.search(r"\d\.\d{4,}\s?%", text), page.name
        assert "logistic_c" not in text and "knn_neighbors" not in text, page.name
