"""The real DVC + papermill + nbconvert pipeline on a copy of the repo (small real sample)."""

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from pipeline.core import runner
from pipeline.site import index as site
from tests.conftest import REPO, SAMPLE, bin_path, copy_project, run

pytestmark = pytest.mark.slow


class _Refs(HTMLParser):
    """Collects the URLs a page would load: script src, link href, img/iframe/source src."""

    def __init__(self):
        super().__init__()
        self.loads: list[str] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video", "embed") and a.get("src"):
            self.loads.append(a["src"])
        if tag == "link" and a.get("href"):
            self.loads.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src", ""))


def parse(path: Path) -> _Refs:
    refs = _Refs()
    refs.feed(path.read_text(encoding="utf-8"))
    return refs


def test_dvc_repro_runs_every_stage(built_project):
    root, proc = built_project
    for stage in ("data", "explore", "model@baseline", "model@r0_deep", "classical", "site"):
        assert f"Running stage '{stage}'" in proc.stdout
    assert (root / "dvc.lock").is_file()
    for rel in ("data/dataset.npz", "reports/index.html", "reports/notebooks/01_data_exploration.ipynb",
                "reports/html/01_data_exploration.html", "reports/html/01_data_exploration.code.html"):
        assert (root / rel).is_file(), rel


def test_second_dvc_repro_runs_nothing(built_project):
    root, _ = built_project
    proc = run([bin_path("dvc"), "repro"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "Running stage" not in proc.stdout
    assert "Data and pipelines are up to date" in proc.stdout


def test_changing_a_param_reruns_only_its_stage(built_project):
    root, _ = built_project
    clean = run([bin_path("dvc"), "status", "--json"], cwd=root)
    assert clean.returncode == 0 and json.loads(clean.stdout) == {}, clean.stdout + clean.stderr
    path = root / "params.yaml"
    text = path.read_text()
    before = f"pca_points: {SAMPLE['pca_points']}"
    assert text.count(before) == 1
    try:
        path.write_text(text.replace(before, "pca_points: 250"))
        proc = run([bin_path("dvc"), "status", "--json"], cwd=root)
        assert proc.returncode == 0, proc.stderr
        changed = json.loads(proc.stdout)
        # explore for its section; site (the index) depends on the whole file; nothing else (not `data`)
        assert sorted(changed) == ["explore", "site"], changed
        assert changed["explore"] == [{"changed deps": {"params.yaml": {"explore": "modified"}}}], changed
    finally:
        path.write_text(text)
    assert json.loads(run([bin_path("dvc"), "status", "--json"], cwd=root).stdout) == {}


def test_executed_notebook_shows_real_mnist_facts(built_project):
    root, _ = built_project
    nb = nbformat.read(root / "reports/notebooks/01_data_exploration.ipynb", as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "first 10 training labels: 5 0 4 1 9" in text
    assert "first 10 test labels:     7 2 1 0 4" in text
    assert nb.metadata.papermill.parameters["explore"]["sample_size"] == SAMPLE["sample_size"]
    assert not any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", []))


def test_html_is_offline_with_embedded_figures(built_project):
    root, _ = built_project
    for name in ("01_data_exploration.html", "01_data_exploration.code.html"):
        page = root / "reports/html" / name
        refs = parse(page)
        assert not [u for u in refs.loads if u.startswith(("http:", "https:", "//"))], refs.loads
        assert len(refs.images) >= 5 and all(u.startswith("data:image/png;base64,") for u in refs.images)
        text = page.read_text()
        # math is MathML written when the page was built: no MathJax, no script at all
        assert "<math" in text and "MathJax" not in text and "<script" not in text
        assert "cdnjs" not in text and "require.min.js" not in text
        assert "oneDNN" not in text and "Kernel is running over TCP" not in text


def test_reader_view_hides_code_learner_view_shows_it(built_project):
    root, _ = built_project
    plain = (root / "reports/html/01_data_exploration.html").read_text()
    code = (root / "reports/html/01_data_exploration.code.html").read_text()
    assert "hl-ipython3" not in plain and "hl-ipython3" in code
    assert "dataset</span><span class=\"o\">.</span><span class=\"n\">load" in code
    assert 'href="01_data_exploration.code.html"' in plain and 'href="01_data_exploration.html"' in code


def test_html_header_names_parameters_date_and_versions(built_project):
    root, _ = built_project
    text = (root / "reports/html/01_data_exploration.html").read_text()
    header = text[text.index('id="report-header"'):text.index("</footer>")]
    assert "<code>explore</code>" in header  # the section, passed whole, with its values
    for key, value in SAMPLE.items():
        assert f"{key}: {value}" in header
    assert "UTC" in header and "papermill" in header and "tensorflow-cpu" in header
    # built by `dvc repro` from a committed checkout: DVC's own rewriting of dvc.lock is no local edit
    assert "clean: stage explore&#39;s inputs are as committed" in header or \
        "clean: stage explore's inputs are as committed" in header, header
    assert "Data: mnist: x_train " in header
    assert "Dataset: <strong>MNIST (digits, handwriting)</strong>" in header
    top = text[text.index('id="report-top"'):text.index("</header>")]
    assert "Dataset: <strong>MNIST (digits, handwriting)</strong>" in top  # named on the first screen
    assert 'href="../index.html"' in header


def test_index_links_every_report(built_project):
    root, _ = built_project
    refs = _Refs()
    index = (root / "reports/index.html").read_text()
    refs.feed(index)
    assert "Data exploration" in index
    source = index[index.index('id="source"'):]
    assert "clean: stage site&#39;s inputs are as committed" in source[:300], source[:300]
    for target in ("html/01_data_exploration.html", "html/01_data_exploration.code.html",
                   "notebooks/01_data_exploration.ipynb"):
        assert f'href="{target}"' in index
        assert (root / "reports" / target).is_file()


def test_index_escapes_notebook_text(tmp_path):
    """Titles come from notebooks; the index template autoescapes them."""
    project = copy_project(tmp_path)
    (project / "reports/notebooks").mkdir(parents=True, exist_ok=True)
    (project / "reports/html").mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# <script>alert(1)</script>\n\nHi & bye")])
    nbformat.write(nb, project / "reports/notebooks/evil.ipynb")
    (project / "reports/html/evil.html").write_text("x")
    out = site.build(project).read_text()
    assert "<script>alert(1)</script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "Hi &amp; bye" in out


def _tiny_notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("value = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_undeclared_parameter_is_an_error(tmp_path):
    nb = _tiny_notebook(tmp_path / "t.ipynb", "print(value)")
    with pytest.raises(runner.RunnerError, match="valeu not declared.*declares: value"):
        runner.check_parameters(nb, {"valeu": 2})


def test_failing_notebook_keeps_its_output_and_writes_no_html(tmp_path):
    root = tmp_path
    (root / "params.yaml").write_text("{}\n")
    (root / "notebooks").mkdir()
    nb = _tiny_notebook(root / "notebooks/t.ipynb", "x = value\nraise ValueError('boom ' + str(x))")
    with pytest.raises(runner.RunnerError) as err:
        runner.run(nb, {"value": 7}, root=root, progress=False)
    msg = str(err.value)
    assert "cell 3" in msg and "x = value" in msg and "ValueError: boom 7" in msg
    assert (root / "reports/failed/t.ipynb").is_file()
    assert not (root / "reports/html/t.html").exists()
    assert not (root / "reports/notebooks/t.ipynb").exists()


def test_kernel_is_this_environment(tmp_path):
    root = tmp_path
    (root / "params.yaml").write_text("{}\n")
    (root / "notebooks").mkdir()
    nb = _tiny_notebook(root / "notebooks/k.ipynb", "import sys\nprint(sys.prefix)")
    written = runner.run(nb, {}, root=root, progress=False)
    out = nbformat.read(written.notebook, as_version=4)
    # the runner writes this environment's prefix as "<venv>" (no local paths are published),
    # so "<venv>" here means the kernel's sys.prefix was exactly ours
    assert out.cells[-1].outputs[0]["text"].strip() == "<venv>" != sys.prefix


def test_index_shows_a_metrics_file_of_an_older_format_as_not_run(tmp_path):
    """A metrics file from before the verdict rule (claim without checks) is not half-read."""
    project = copy_project(tmp_path)
    metrics = project / "reports/metrics"
    metrics.mkdir(parents=True, exist_ok=True)
    for path in metrics.glob("*.json"):
        path.unlink()
    (metrics / "basic.json").write_text(json.dumps({"test_accuracy": {"mean": 0.9, "std": 0.01}, "repeats": 3,
                                                    "claim": {"verdict": "holds"}}))
    out = site.build(project).read_text()
    row = out[out.index('id="row-basic"'):]
    assert "not run" in row[:row.index("</tr>")]


def test_notebook_run_by_hand_shows_progress_without_the_kernels_tcp_warning(tmp_path):
    """`python -m pipeline run` in a plain shell (no TF_* settings), with its progress bar: the
    kernel's "running over TCP without encryption" warning, which arrives on the bar's
    unfinished line, is dropped; the bar and the result lines are not."""
    root = tmp_path
    shutil.copy2(REPO / "params.yaml", root / "params.yaml")
    (root / "notebooks").mkdir()
    _tiny_notebook(root / "notebooks/t.ipynb", "print('value is', value)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "notebooks/t.ipynb"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Executing:" in proc.stderr
    assert "without encryption" not in proc.stderr and "IPKernelApp" not in proc.stderr, proc.stderr
    assert "value is 1" in proc.stdout and "wrote reports/html/t.html" in proc.stdout


def test_a_training_workers_progress_line_reaches_the_terminal_once(tmp_path):
    """A line that a worker process of the kernel writes to its stderr (as the training
    executor's epoch progress does) is shown once, not twice: ipykernel's capture of the
    kernel's file descriptors would publish it and also echo it to the kernel's own stderr."""
    root = tmp_path
    shutil.copy2(REPO / "params.yaml", root / "params.yaml")
    (root / "notebooks").mkdir()
    _tiny_notebook(root / "notebooks/t.ipynb", "import subprocess, sys\n"
                   "subprocess.run([sys.executable, '-c', 'import sys; print(\"worker epoch 3/5\", file=sys.stderr)'])\n"
                   "import time; time.sleep(1)  # the line's way through the kernel has time to arrive\n"
                   "from ipykernel.kernelapp import IPKernelApp\n"
                   "print('fd capture', IPKernelApp.instance().capture_fd_output)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "pipeline", "run", "notebooks/t.ipynb", "--no-progress"], cwd=root,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (proc.stdout + proc.stderr).count("worker epoch 3/5") == 1, proc.stdout + proc.stderr
    assert "fd capture False" in proc.stdout  # the cause of the second copy is off


def test_the_kernels_stderr_reaches_the_terminal_without_the_known_noise():
    import io

    out = io.StringIO()
    stream = runner.QuietStream(out)
    stream.write("[1/2] baseline seed 0: accuracy 0.3200\nE0000 00:00:1.5   42 node_def_util.cc:682] NodeDef mentions "
                 "attribute use_unbounded_threadpool which is not in the op definition: …\n[2/")
    stream.write("2] baseline seed 1: accuracy 0.3167\n")
    assert out.getvalue() == "[1/2] baseline seed 0: accuracy 0.3200\n[2/2] baseline seed 1: accuracy 0.3167\n"
