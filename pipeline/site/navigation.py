"""Every report's previous/next and twin links, written from the current params.yaml when the
site is assembled, so that a model added to (or removed from) ``models`` changes its
neighbours' links too, not only its own page.

A report's stage writes these links when it renders the page (``core/runner.py``), from the
params of that moment; a model entry added later re-runs only its own stage (DVC), so the
pages already built keep their old neighbours. ``fill`` replaces them: the template marks each
story link with ``data-story`` (``core/templates/nbconvert/mnist_report/story_links.html.j2``),
and the same macros write the new ones, so a filled page reads exactly as a freshly rendered
one. ``fill_site`` does it for every report page of an assembled site (``publish``).
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from bs4 import BeautifulSoup, NavigableString

from pipeline.core import runner, story
from pipeline.core.params.schema import Params

MACROS = "story_links.html.j2"


def _macros():
    loader = jinja2.FileSystemLoader(runner.TEMPLATES / "mnist_report")
    return jinja2.Environment(loader=loader, autoescape=False).get_template(MACROS).module


def _insert_after(anchor, html: str) -> None:
    for node in reversed(list(BeautifulSoup(html, "html.parser").contents)):
        anchor.insert_after(node.extract())


def fill(page: str, nav: list[story.Link]) -> str:
    """``page`` (a report's HTML) with its story links replaced by ``nav``; a page without the
    report header (the front page, the dvc plots) is returned unchanged."""
    soup = BeautifulSoup(page, "html.parser")
    top, end = soup.select_one("#report-top nav.report-nav"), soup.select_one("#report-header nav.report-nav")
    subtitle = soup.select_one("#report-top p.subtitle")
    if top is None:
        return page
    for element in soup.select("[data-story]"):
        if not element.decomposed:  # the twin's link goes with its line
            element.decompose()
    macros = _macros()
    _insert_after(top.find("a"), str(macros.top(nav)))
    if subtitle is not None:
        twin = BeautifulSoup(str(macros.twin(nav)).strip(), "html.parser")
        view = subtitle.find(class_="view")
        if view is not None:  # a space between the lines, as in a rendered page
            view.insert_before(twin)
            view.insert_before(NavigableString("\n    "))
        else:
            subtitle.append(twin)
    if end is not None and end.find("a") is not None:
        _insert_after(end.find("a"), str(macros.end(nav)))
    return str(soup)


def report_name(page: Path) -> str:
    """``02_model_report_basic`` for ``…/02_model_report_basic.html`` and its ``.code.html`` view."""
    return page.name.removesuffix(".html").removesuffix(".code")


def fill_site(site: Path, params: Params, root: Path) -> list[Path]:
    """Rewrite the story links of every report page under ``site/html`` from ``params``, keeping
    only links to pages the site holds; return the pages that changed."""
    html = site / "html"
    changed = []
    for page in sorted(html.glob("*.html")):
        nav = [link for link in story.links(report_name(page), params, root) if (html / link.href).is_file()]
        text = page.read_text(encoding="utf-8")
        new = fill(text, nav)
        if new != text:
            page.write_text(new, encoding="utf-8")
            changed.append(page)
    return changed
