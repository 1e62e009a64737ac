"""The front page's pieces (pipeline/site/index.py) that need no built project: card text,
card order, and the claim lines rounded as the reports round them."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from pipeline.core.params.loading import load_params
from pipeline.site import index

REPO = Path(__file__).resolve().parents[1]


def test_a_card_summary_renders_markdown_and_escapes_html():
    html = str(index.summary_html("trains every variant with **several seeds** <b>x</b>"))
    assert html == "trains every variant with <strong>several seeds</strong> &lt;b&gt;x&lt;/b&gt;"


def test_every_notebooks_card_summary_is_free_of_tex():
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        summary = index._summary(nbformat.read(path, as_version=4))
        assert summary and "$" not in summary and "\\" not in summary, path.name


def _entry(name: str) -> index.ReportEntry:
    return index.ReportEntry(name, name, "", {}, "", f"html/{name}.html", "", "")


def test_cards_follow_the_story_order_of_params_yaml():
    names = ["02_model_report_r1_faithful", "01_data_exploration", "02_model_report_r1_onehot", "03_classical_ml"]
    ordered = [e.name for e in index.in_story_order([_entry(n) for n in names], load_params(REPO / "params.yaml"), REPO)]
    assert ordered == ["01_data_exploration", "02_model_report_r1_onehot", "02_model_report_r1_faithful",
                       "03_classical_ml"]


def test_a_claim_line_is_rounded_as_the_report_rounds_it_and_a_loss_interval_stops_at_0():
    acc = {"claimed": 0.91, "mean": 0.97812, "half_width": 0.00611, "outcome": "not consistent"}
    assert index._check_line("test_accuracy", acc) == "accuracy 0.91 vs interval 0.9720–0.9842: not consistent"
    loss = {"claimed": 0.07, "mean": 0.1378, "half_width": 0.1651, "outcome": "consistent"}
    line = index._check_line("test_loss", loss)
    assert line.startswith("loss 0.07 vs interval 0.0000–0.3029 (cut at 0.0000") and "-0.0273" not in line
    one = {"claimed": 0.9781, "mean": 0.97, "half_width": None, "outcome": "inconclusive"}
    assert index._check_line("test_accuracy", one) == "accuracy 0.9781: inconclusive (one seed)"
    assert json.dumps(acc)  # the record is the metrics file's, unchanged


def test_the_front_page_links_the_reproduction_page_once_make_reproduce_wrote_it(tmp_path):
    from bs4 import BeautifulSoup

    from conftest import copy_project
    from pipeline.core import paths
    from pipeline.sharing import reproduce
    from pipeline.site import publish

    root = copy_project(tmp_path / "p")
    site = paths.site_files(root)
    site.reproduction.unlink(missing_ok=True)
    row = BeautifulSoup(index.build(root).read_text(), "html.parser").find(id="reproduction")
    assert row.find("a") is None and "make reproduce" in row.get_text()
    assert Path("reproduction.html") not in publish.reachable(paths.reports_dir(root))[0]
    site.environment.write_text("{}")  # the site stage's file: `make reproduce` re-renders the page only

    comparison = reproduce.compare({}, {})
    page = reproduce.write_page(root, comparison, "HEAD", {}, {"cpu": "Test CPU 9000"})
    assert page == site.reproduction
    index.build(root, environment_file=False)
    assert site.environment.read_text() == "{}"
    link = BeautifulSoup(site.index.read_text(), "html.parser").find(id="reproduction").find("a")
    assert link["href"] == "reproduction.html" and link.get_text() == "Reproduced on Test CPU 9000"
    files, problems = publish.reachable(paths.reports_dir(root))
    assert Path("reproduction.html") in files  # `make publish` copies it with the site
    assert not [p for p in problems if "reproduction" in p]
