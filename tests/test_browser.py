"""The reports in a real browser: Debian's Chromium driven by Playwright, network closed."""

import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLE

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                       reason="Chromium is not installed (make test installs it)"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


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
    page.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=20000)
    sizes = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(sizes) >= 5 and all(ok and w > 0 for ok, w in sizes), sizes
    outside = [u for u in seen["requests"] if not u.startswith(("file://", "data:"))]
    assert outside == [], outside
    assert seen["errors"] == []
    assert f"{SAMPLE['sample_size']}" in page.inner_text("#report-header")
    page.screenshot(path=str(artifacts / f"exploration-{width}.png"), full_page=False)
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_index_links_work_in_the_browser(browser, built_project, artifacts, width):
    root, _ = built_project
    page, seen = open_page(browser, (root / "reports/index.html").as_uri(), width)
    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert links, "index has no links"
    page.screenshot(path=str(artifacts / f"index-{width}.png"), full_page=True)
    for href in links:
        target = Path(href.removeprefix("file://"))
        assert target.is_file() and target.resolve().is_relative_to(root / "reports"), href
        if target.suffix == ".html":
            page.goto(href, wait_until="load")
            back = page.eval_on_selector("a[href='../index.html']", "e => e.href")
            assert Path(back.removeprefix("file://")).resolve() == (root / "reports/index.html").resolve()
    outside = [u for u in seen["requests"] if not u.startswith(("file://", "data:"))]
    assert outside == [] and seen["errors"] == []
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


def test_dvc_plots_page_renders_offline(browser, built_project, artifacts):
    root, _ = built_project
    page, seen = open_page(browser, (root / "reports/dvc_plots/index.html").as_uri(), 1280)
    # vega-embed draws each plot into an svg or canvas; blank offline pages have none
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 3",
                           timeout=20000)
    outside = [u for u in seen["requests"] if not u.startswith(("file://", "data:"))]
    assert outside == [] and seen["errors"] == []
    page.screenshot(path=str(artifacts / "dvc-plots-1280.png"), full_page=True)
    page.close()
