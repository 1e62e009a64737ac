"""Answer-first, light report pages (pipeline/core/page_layout.py with the nbconvert template):
fast tests render a small real notebook with nbconvert; slow ones read the test-profile build."""

from __future__ import annotations

import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from pipeline.core import page_layout, paths, provenance, runner, story
from pipeline.core.params.loading import load_params

BUDGET = 400 * 1024  # bytes of HTML per report page, embedded images not counted
IMAGES = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+")


def _md(text: str):
    return new_output("display_data", data={"text/markdown": text, "text/plain": "<Markdown>"})


def _notebook():
    return new_notebook(cells=[
        new_markdown_cell("# Model report\n\nOne configuration, trained with several seeds; $n$ seeds."),
        new_markdown_cell("## Training\n\nHow it was trained: $28 \\times 28$ inputs."),
        new_code_cell("fits = train()", outputs=[new_output("stream", name="stdout", text="seed 1 done\n")]),
        new_markdown_cell("## Test results"),
        new_code_cell("table()", metadata={"tags": ["answer-last"]},
                      outputs=[_md("| seed | accuracy |\n|---|---|\n| 1 | 0.97 |"), _md("**Test accuracy 97.00 %**")]),
        new_markdown_cell("## Claimed vs measured"),
        new_code_cell("box()", metadata={"tags": ["answer"]},
                      outputs=[new_output("display_data", data={"text/html": '<div class="claim-box">consistent</div>',
                                                                "text/plain": "box"})]),
    ])


def _info(nav=()) -> runner.ReportInfo:
    return runner.ReportInfo(name="02_model_report_basic", title="Basic model (R4a)", parameters={"model_name": "basic"},
                             run_date="2026-01-01 00:00 UTC", source=provenance.Source("abc123", (), ()),
                             data="mnist: x_train …", versions={"nbconvert": "7"}, dataset="MNIST (digits)",
                             nav=list(nav))


NAV = [story.Link("prev", "Previous", "Data exploration", "01_data_exploration.html"),
       story.Link("next", "Next", "R4a as published", "02_model_report_basic_faithful.html"),
       story.Link("twin", "As published (validated on the test set)", "R4a as published",
                  "02_model_report_basic_faithful.html")]


def _page(show_code: bool) -> BeautifulSoup:
    html = runner.render_html(nbformat.from_dict(_notebook()), _info(NAV), show_code=show_code, other_view="x.html")
    return BeautifulSoup(html, features="html.parser")


def _position(soup: BeautifulSoup, element) -> int:
    return list(soup.descendants).index(element)


def test_reader_view_title_then_answer_then_contents_then_method():
    soup = _page(show_code=False)
    assert [h.get_text() for h in soup.find_all("h1")] == ["Basic model (R4a)"]  # not the notebook's "Model report"
    answer, toc, method = soup.find(id="answer"), soup.find(id="toc"), soup.find("h2", id="Training")
    assert _position(soup, soup.h1) < _position(soup, answer) < _position(soup, toc) < _position(soup, method)
    # the box and the headline moved; the seed table stayed where it was, with a line up to them
    assert answer.find(class_="claim-box") and "Test accuracy 97.00 %" in answer.get_text()
    assert "0.97" not in answer.get_text()
    assert len(soup.find_all(class_="moved")) == 2
    assert all(a["href"] == "#answer" for a in soup.select(".moved a"))
    assert soup.find("h2", id="Test-results").find_next("table")  # seed table still under its heading


def test_contents_link_every_method_section_and_the_provenance():
    soup = _page(show_code=False)
    hrefs = [a["href"] for a in soup.select("#toc a")]
    assert hrefs == ["#Training", "#Test-results", "#Claimed-vs-measured", "#how-this-report-was-produced"]
    assert all(soup.find(id=h[1:]) for h in hrefs)
    assert [a.get_text() for a in soup.select("#toc a")][0] == "Training"  # no pilcrow


def test_navigation_previous_next_and_twin():
    soup = _page(show_code=False)
    top = soup.find(id="report-top")
    assert top.find("a", rel="prev")["href"] == "01_data_exploration.html"
    assert top.find("a", rel="next")["href"] == "02_model_report_basic_faithful.html"
    twin = top.find(class_="twin")
    assert "As published" in twin.get_text() and twin.a["href"] == "02_model_report_basic_faithful.html"
    assert soup.find(id="report-header").find("a", rel="prev")  # again at the end of the page


def test_learner_view_keeps_execution_order_and_links_the_result():
    soup = _page(show_code=True)
    assert not soup.select(".moved")
    jump = soup.select_one("#answer .jump a")
    target = soup.find(id=jump["href"][1:])
    assert "celltag_answer-last" in target["class"]  # the first cell that holds the answer
    assert _position(soup, soup.find("h2", id="Training")) < _position(soup, target)
    assert "fits" in soup.get_text()  # code shown


def test_the_page_carries_no_library():
    soup = _page(show_code=True)
    html = str(soup)
    assert "<script" not in html and "MathJax" not in html
    assert html.count("<math ") == 2
    # our stylesheet and pygments' colours for the code, not JupyterLab's 264 KB
    assert sum(len(s.get_text()) for s in soup.find_all("style")) < 12_000
    assert len(html.encode()) < 20_000


def test_a_page_without_answer_cells_has_no_empty_answer_box():
    nb = new_notebook(cells=[new_markdown_cell("# T\n\n## One\n\ntext")])
    html = runner.render_html(nb, _info(), show_code=False, other_view="x.html")
    soup = BeautifulSoup(html, features="html.parser")
    assert soup.find(id="answer") is None and soup.select("#toc a")


def test_html_not_from_the_template_is_refused():
    with pytest.raises(ValueError, match="#answer"):
        page_layout.arrange("<html><body><main></main></body></html>", show_code=False)


# --------------------------------------------------------------------------- the test-profile build


def _reader_pages(root):
    return sorted((root / "reports/html").glob("*.html"))


@pytest.mark.slow
def test_every_page_is_light(built_project):
    root, _ = built_project
    for page in _reader_pages(root):
        html = page.read_text()
        assert len(IMAGES.sub("", html).encode()) <= BUDGET, page.name
        assert "<script" not in html and "MathJax" not in html, page.name


@pytest.mark.slow
def test_every_report_opens_with_its_name_and_answer(built_project):
    root, _ = built_project
    params = load_params(root / paths.PARAMS_FILE)
    for key, cfg in params.models.items():
        soup = BeautifulSoup(paths.model_files(key, root).report.html.read_text(), features="html.parser")
        assert soup.h1.get_text() == cfg.title
        answer = soup.find(id="answer")
        assert answer.find(class_="claim-box") and "Test accuracy" in answer.get_text()
        first_h2 = soup.find("main").find("h2")
        assert _position(soup, answer) < _position(soup, soup.find(id="toc")) < _position(soup, first_h2)
    for page in _reader_pages(root):
        if not page.name.endswith(".code.html"):
            soup = BeautifulSoup(page.read_text(), features="html.parser")
            assert soup.find(id="answer") and soup.find(id="answer").get_text(strip=True), page.name


@pytest.mark.slow
def test_navigation_links_resolve_and_follow_the_front_page(built_project):
    root, _ = built_project
    html = root / "reports/html"
    for page in _reader_pages(root):
        soup = BeautifulSoup(page.read_text(), features="html.parser")
        for a in soup.select(".report-nav a, .twin a, .view-switch"):
            assert (html / a["href"]).resolve().is_file(), (page.name, a["href"])
    index = (root / "reports/index.html").read_text()
    cards = re.findall(r'<article class="card" id="report-([^"]+)"', index)
    chain, name = [], cards[0]
    while name:  # follow "next" from the first card: the cards' order
        chain.append(name)
        nxt = BeautifulSoup((html / f"{name}.html").read_text(), features="html.parser").find("a", rel="next")
        name = nxt["href"].removesuffix(".html") if nxt else None
    assert chain == cards
