"""The reports in a real browser: Debian's Chromium driven by Playwright, network closed."""

import json
import sys
import urllib.parse
from pathlib import Path

import pytest

from tests.chromium import MARKS, browser  # noqa: F401 (the fixture)
from tests.conftest import PROFILE_MODELS, SAMPLE, run

pytestmark = MARKS


def open_page(browser, url: str, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    seen = {"requests": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.goto(url, wait_until="load")
    return page, seen


@pytest.mark.parametrize("width", [1280, 390])
def test_exploration_report_offline_images_and_math(browser, built_project, artifacts, width):
    root, _ = built_project
    report = root / "reports/html/01_data_exploration.html"
    page, seen = open_page(browser, report.as_uri(), width)
    # math is MathML written at build time, laid out by the browser itself (no script)
    assert page.evaluate("document.querySelectorAll('math').length") > 0
    assert page.evaluate("Array.from(document.querySelectorAll('math')).every(m => m.getBoundingClientRect().width > 0)")
    sizes = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) >= 5 and all(ok and w > 0 for ok, w in sizes), sizes
    outside = [u for u in seen["requests"] if not u.startswith(("file://", "data:"))]
    assert outside == [], outside
    assert seen["errors"] == []
    assert f"{SAMPLE['sample_size']}" in page.inner_text("#report-header")
    page.screenshot(path=str(artifacts / f"exploration-{width}.png"), full_page=False)
    page.close()


@pytest.fixture(scope="module")
def published(built_project):
    """The static folder of ``python -m pipeline publish`` (what a user uploads)."""
    root, _ = built_project
    proc = run([sys.executable, "-m", "pipeline", "publish"], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root / "public"


def _decoded_images(page) -> list:
    """[naturalWidth] of every image once decoded (0 for one that failed)."""
    return page.evaluate("Promise.all(Array.from(document.images).map("
                         "i => i.decode().then(() => i.naturalWidth, () => 0)))")


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_of_the_published_site(browser, published, artifacts, width):
    """From the index, follow every link: pages load, images decode, no errors, no requests out;
    every published file is a page reached by a link or a figure a page shows."""
    site = published.resolve()
    page, seen = open_page(browser, (site / "index.html").as_uri(), width)
    page.screenshot(path=str(artifacts / f"index-{width}.png"), full_page=True)
    todo, visited, files = [(site / "index.html").as_uri()], set(), set()
    while todo:
        url = todo.pop()
        if url in visited:
            continue
        visited.add(url)
        page.goto(url, wait_until="load")
        widths = _decoded_images(page)
        assert all(w > 0 for w in widths), (url, widths)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{url} is {overflow} px wider than the {width} px window (horizontal scrolling)"
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            if not href.startswith("file://"):
                continue  # links to other web sites are for the reader; nothing is fetched
            target = Path(urllib.parse.unquote(urllib.parse.urlsplit(href).path)).resolve()
            assert target.is_relative_to(site) and target.is_file(), f"{url} links to {href}"
            files.add(target)
            if target.suffix == ".html":
                todo.append(target.as_uri())
        for src in page.eval_on_selector_all("img[src]", "els => els.map(e => e.currentSrc || e.src)"):
            if src.startswith("file://"):  # a figure file of the published site (figures/), shown by this page
                target = Path(urllib.parse.unquote(urllib.parse.urlsplit(src).path)).resolve()
                assert target.is_relative_to(site) and target.is_file(), f"{url} shows {src}"
                files.add(target)
    pages = {Path(urllib.parse.unquote(urllib.parse.urlsplit(u).path)) for u in visited}
    assert pages == set(site.rglob("*.html")), "every published page is reached from the index"
    # dvc/ is the site's DVC remote (cache objects for `dvc pull`), not pages: links never reach it
    assert files | {site / "index.html"} == {f for f in site.rglob("*") if f.is_file() and f.name != ".nojekyll"
                                             and not f.relative_to(site).parts[0] == "dvc"}
    outside = [u for u in seen["requests"] if not u.startswith((site.as_uri() + "/", "data:"))]
    assert outside == [] and seen["errors"] == [], (outside, seen["errors"])
    page.close()


def test_summary_table_in_the_browser_equals_the_metrics_files(browser, built_project, published):
    root, _ = built_project
    page, _ = open_page(browser, (published / "index.html").as_uri(), 1280)
    rows = page.eval_on_selector_all(
        "#summary-table tbody tr", "rows => rows.map(r => [r.dataset.config, r.querySelector('.measured').innerText])")
    cut = page.evaluate("(t => t.scrollWidth - t.parentElement.clientWidth)(document.querySelector('#summary-table'))")
    assert cut <= 1, f"at 1280 px the summary table is {cut} px wider than its box: its verdicts are cut off"
    assert {name for name, _ in rows} == set(PROFILE_MODELS)
    for name, shown in rows:
        acc = json.loads((root / "reports/metrics" / f"{name}.json").read_text())["test_accuracy"]
        assert shown == f"{acc['mean']:.4f} ± {acc['std']:.4f}", name  # fractions, like the claims beside them
    classical = json.loads((root / "reports/metrics/classical.json").read_text())
    cells = page.eval_on_selector_all("#classical-table tbody tr td:nth-child(2)", "tds => tds.map(t => t.innerText)")
    assert cells == [f"{v['val_accuracy']:.4f}" for v in classical["models"].values()]
    cells = page.eval_on_selector_all("#classical-table tbody tr td:nth-child(3)", "tds => tds.map(t => t.innerText)")
    chosen = classical["chosen"]
    assert cells == [f"{chosen['test_accuracy']:.4f}" if key == chosen["model"] else "–"
                     for key in classical["models"]]
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_model_report_in_the_browser(browser, built_project, artifacts, width):
    root, _ = built_project
    page, seen = open_page(browser, (root / "reports/html/02_model_report_r0_deep.html").as_uri(), width)
    sizes = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) >= 6 and all(ok and w > 0 for ok, w in sizes), sizes
    assert page.locator(".claim-box").is_visible()
    assert "Claimed vs measured (R0)" in page.inner_text(".claim-box")
    outside = [u for u in seen["requests"] if not u.startswith(("file://", "data:"))]
    assert outside == [] and seen["errors"] == []
    page.screenshot(path=str(artifacts / f"model-report-{width}.png"), full_page=False)
    page.close()


def test_interactive_dvc_plots_page_renders_offline(browser, built_project, artifacts):
    root, _ = built_project
    page, seen = open_page(browser, (root / "reports/dvc_plots/interactive.html").as_uri(), 1280)
    # vega-embed draws each plot into an svg or canvas; blank offline pages have none
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 3",
                           timeout=20000)
    outside = [u for u in seen["requests"] if not u.startswith(("file://", "data:"))]
    assert outside == [] and seen["errors"] == []
    page.screenshot(path=str(artifacts / "dvc-plots-1280.png"), full_page=True)
    page.close()
