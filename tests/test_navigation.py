"""Previous/next and twin links written from the current params.yaml when the site is assembled
(pipeline/site/navigation.py, called by publish): pages rendered by the real nbconvert template
before a model was added get the new neighbour once the site is published."""

from __future__ import annotations

import re

import nbformat
from bs4 import BeautifulSoup
from nbformat.v4 import new_markdown_cell, new_notebook

from conftest import copy_project
from pipeline.core import paths, provenance, runner, story
from pipeline.core.params.loading import load_params
from pipeline.site import navigation, publish

NEW = "basic_wide"


def _add_model(params_file) -> None:
    """A new entry right after `basic` (a copy of it under another source: no twin)."""
    text = params_file.read_text()
    block = re.search(r"^  basic:\n(?:    .*\n|      .*\n)+", text, flags=re.M).group(0)
    new = block.replace("  basic:\n", f"  {NEW}:\n", 1)
    new = re.sub(r"^    source: .*$", "    source: R9", new, flags=re.M)
    new = re.sub(r"^    title: .*$", "    title: Wider basic model", new, flags=re.M)
    params_file.write_text(text.replace(block, block + new, 1))


def _render(root, name: str, title: str) -> None:
    """The reader and learner views of a small report, with the links its stage would write now."""
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}\n\nA report.")])
    info = runner.ReportInfo(name=name, title=title, parameters={}, run_date="2026-01-01 00:00 UTC",
                             source=provenance.Source("abc123", (), ()), data="mnist", versions={},
                             nav=story.links(name, load_params(root / paths.PARAMS_FILE), root))
    files = paths.report_files(name, root)
    files.html.parent.mkdir(parents=True, exist_ok=True)
    files.html.write_text(runner.render_html(nbformat.from_dict(nb), info, show_code=False,
                                             other_view=files.html_code.name))
    files.html_code.write_text(runner.render_html(nbformat.from_dict(nb), info, show_code=True,
                                                  other_view=files.html.name))


def _links(page) -> dict[str, str]:
    soup = BeautifulSoup(page.read_text(), "html.parser")
    top = {a["rel"][0]: a["href"] for a in soup.select("#report-top nav a[rel]")}
    end = {a["rel"][0]: a["href"] for a in soup.select("#report-header nav a[rel]")}
    assert top == end, (page.name, top, end)  # the same links at the top and the end of the page
    twin = soup.select_one("#report-top .twin a")
    return {**top, **({"twin": twin["href"]} if twin else {})}


def test_adding_a_model_changes_the_neighbours_links_in_the_published_site(tmp_path):
    root = copy_project(tmp_path / "p")
    basic, faithful, new = (paths.model_report_name(k) for k in ("basic", "basic_faithful", NEW))
    for name in (paths.EXPLORE_REPORT, basic, faithful):
        _render(root, name, name)
    reports = paths.reports_dir(root)
    assert _links(reports / "html" / f"{basic}.html")["next"] == f"{faithful}.html"

    _add_model(root / paths.PARAMS_FILE)  # a user adds a model: only its own stage runs
    _render(root, new, "Wider basic model")
    cards = "".join(f'<a href="html/{n}.html">{n}</a>' for n in (paths.EXPLORE_REPORT, basic, new, faithful))
    (reports / "index.html").write_text(f"<!doctype html><html><body>{cards}</body></html>")
    assert _links(reports / "html" / f"{faithful}.html")["prev"] == f"{basic}.html"  # as its stage wrote it

    out, _ = publish.publish(tmp_path / "public", root)
    html = out / "html"
    assert _links(html / f"{basic}.html") == {"prev": f"{paths.EXPLORE_REPORT}.html", "next": f"{new}.html",
                                              "twin": f"{faithful}.html"}
    assert _links(html / f"{basic}.code.html")["next"] == f"{new}.html"
    assert _links(html / f"{new}.html") == {"prev": f"{basic}.html", "next": f"{faithful}.html"}
    # the next page in story order is not in this site: no link to a missing page
    assert _links(html / f"{faithful}.html") == {"prev": f"{new}.html", "twin": f"{basic}.html"}
    title = BeautifulSoup((html / f"{basic}.html").read_text(), "html.parser").find("a", rel="next").get_text()
    assert title == "Next: Wider basic model ›"
    assert _links(reports / "html" / f"{faithful}.html")["prev"] == f"{basic}.html"  # reports/ left as DVC wrote it


def test_a_filled_page_equals_a_freshly_rendered_one_and_other_pages_are_left_alone(tmp_path):
    root = copy_project(tmp_path / "p")
    params = load_params(root / paths.PARAMS_FILE)
    name = paths.model_report_name("basic")
    _render(root, name, name)
    page = paths.report_files(name, root).html
    fresh = page.read_text()
    emptied = navigation.fill(fresh, [])
    assert "data-story" not in emptied and 'rel="next"' not in emptied
    again = navigation.fill(emptied, story.links(name, params, root))
    def words(html: str) -> str:  # as a browser lays it out: a run of whitespace is one space
        return re.sub(r"\s+", " ", BeautifulSoup(html, "html.parser").decode())

    assert words(again) == words(fresh)
    front = "<!doctype html><html><body><nav><a href='x.html'>x</a></nav></body></html>"
    assert navigation.fill(front, story.links(name, params, root)) == front
