"""The published site as its readers get it: Debian's Chromium (Playwright) over loopback HTTP,
axe-core from npm. Each report's first screen holds its answer, pages are light, no page has a
serious or critical accessibility violation, reader views hold no logs, every figure says what
it shows, and the training curves read without JavaScript."""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import re
import sys
import threading
from pathlib import Path

import pytest

from pipeline.core import assets
from tests.chromium import MARKS, browser  # noqa: F401 (the fixture)
from tests.conftest import run

pytestmark = MARKS
AXE = assets.Asset("axe-core", "4.10.3", "package/axe.min.js",
                   "880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb")

# The element that holds a report's verdict (model reports) or conclusion (sweep, comparison,
# exploration, classical): one selector, in one place.
ANSWER = ".answer, #answer"
FIRST_SCREEN = {"width": 1280, "height": 900}
PAGE_BUDGET = 400_000  # bytes of HTML per report page, base64 images not counted
SITE_BUDGET = 15_000_000  # bytes, the whole published site (its DVC remote, dvc/, is no page)
BLOCKING = {"serious", "critical"}
DEFAULT_ALT = "No description has been provided for this image"
# what a reader view must never show: progress lines, file-writing lines, timings, Python reprs
LOG_LINES = {
    "a training progress line": re.compile(r"seed \d+: accuracy", re.I),
    "a run's process line": re.compile(r"\(vm pid \d+\)|\[\d+/\d+\] \w+ seed"),
    "a file-writing line": re.compile(r"\bwrote (reports|data|models)/"),
    "a timing line": re.compile(r"\brendered in\b|\bin \d+\.\d s \(", re.I),
    "a Python dict": re.compile(r"\{'[^']*': "),
    "a Python list of strings": re.compile(r"\['[^']*', '"),
}
REPR_CELLS = {"True", "False", "None", "nan", "NaN"}
BASE64 = re.compile(rb"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+")


@pytest.fixture(scope="module")
def site(built_project, tmp_path_factory) -> Path:
    """The folder of ``python -m pipeline publish`` (what a user uploads), without its DVC remote."""
    root, _ = built_project
    out = tmp_path_factory.mktemp("reader-site") / "public"
    proc = run([sys.executable, "-m", "pipeline", "publish", "--no-dvc", "--out", str(out)], cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def server(site):
    """The site served over loopback HTTP, as a reader's browser gets it."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _pages(site: Path, pattern: str = "**/*.html") -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.glob(pattern))


def _report_pages(site: Path) -> list[str]:
    return _pages(site, "html/*.html")


def _reader_views(site: Path) -> list[str]:
    return [p for p in _report_pages(site) if not p.endswith(".code.html")]


def _record(artifacts: Path, name: str, data) -> None:
    (artifacts / name).write_text(json.dumps(data, indent=1, sort_keys=True))


def _no_findings(artifacts: Path, name: str, found: dict, what: str) -> None:
    """Pass when ``found`` is empty; else fail listing every page (also in tests/artifacts/NAME)."""
    _record(artifacts, name, found)
    lines = "\n".join(f"  {page}: {detail}" for page, detail in sorted(found.items()))
    assert not found, f"{what} on {len(found)} page(s) (tests/artifacts/{name}):\n{lines}"


def test_every_reports_first_screen_holds_its_answer(browser, site, server, artifacts):
    page = browser.new_page(viewport=FIRST_SCREEN)
    missing = {}
    for rel in _report_pages(site):
        page.goto(f"{server}/{rel}", wait_until="load")
        answer = page.locator(ANSWER).first
        if not answer.count():
            missing[rel] = f"no element {ANSWER!r}"
            continue
        box, text = answer.bounding_box(), answer.inner_text().strip()
        if not text:
            missing[rel] = "the answer is empty"
        elif box is None or box["y"] >= FIRST_SCREEN["height"]:
            missing[rel] = f"the answer starts {box and round(box['y'])} px down, below the first screen"
    page.close()
    assert _report_pages(site)
    _no_findings(artifacts, "first-screen.json", missing, f"no answer ({ANSWER}) on the first screen")


def test_page_weight_budget(site, artifacts):
    weights = {}
    for rel in _report_pages(site):
        raw = (site / rel).read_bytes()
        weights[rel] = {"bytes": len(raw), "without_images": len(BASE64.sub(b"", raw))}
    total = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    _record(artifacts, "page-weights.json", {"pages": weights, "site_bytes": total})
    heavy = {rel: f"{w['without_images']:,} bytes" for rel, w in weights.items() if w["without_images"] > PAGE_BUDGET}
    if total > SITE_BUDGET:
        heavy["(the whole site)"] = f"{total:,} bytes, over {SITE_BUDGET:,}"
    _no_findings(artifacts, "over-budget.json", heavy, f"over {PAGE_BUDGET:,} bytes of HTML before the figures")


def test_no_serious_or_critical_axe_violation_on_any_page(browser, site, server, artifacts):
    axe = assets.ensure(AXE).read_text()
    page = browser.new_page(viewport=FIRST_SCREEN)
    found, counts = {}, {}
    for rel in _pages(site):
        page.goto(f"{server}/{rel}", wait_until="load")
        page.add_script_tag(content=axe)
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        blocking = [v for v in result["violations"] if v["impact"] in BLOCKING]
        counts[rel] = {impact: sum(len(v["nodes"]) for v in result["violations"] if v["impact"] == impact)
                       for impact in ("critical", "serious", "moderate", "minor")}
        if blocking:
            found[rel] = {v["id"]: len(v["nodes"]) for v in blocking}
    page.close()
    _record(artifacts, "axe-violations.json", counts)
    _no_findings(artifacts, "axe-blocking.json", found, "serious or critical axe-core violations (rule: nodes)")


def test_reader_views_hold_no_log_lines_or_python_reprs(browser, site, server, artifacts):
    page = browser.new_page(viewport=FIRST_SCREEN)
    found = {}
    for rel in _reader_views(site):
        page.goto(f"{server}/{rel}", wait_until="load")
        text = page.inner_text("body")
        hits = [f"{what}: {m.group(0)!r}" for what, pattern in LOG_LINES.items() for m in [pattern.search(text)] if m]
        cells = sorted(set(page.eval_on_selector_all("td, th", "els => els.map(e => e.innerText.trim())")) & REPR_CELLS)
        hits += [f"a Python value in a table cell: {c!r}" for c in cells]
        if hits:
            found[rel] = hits
    page.close()
    assert _reader_views(site)
    _no_findings(artifacts, "log-lines.json", found, "log lines or Python reprs in the reader view")


class _Images(html.parser.HTMLParser):
    """The alt attribute (None where there is none) of every <img> of a page (not inside scripts)."""

    def __init__(self):
        super().__init__()
        self.alts = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.alts.append(dict(attrs).get("alt"))


def test_every_figure_says_what_it_shows(site, artifacts):
    """Alt text on every image of every page: present, not nbconvert's default, a sentence."""
    bad, counted = {}, {}
    for rel in _pages(site):
        parser = _Images()
        parser.feed((site / rel).read_text())
        alts = parser.alts
        counted[rel] = {"images": len(alts), "default_alt": alts.count(DEFAULT_ALT)}
        poor = [a for a in alts if a is None or a == DEFAULT_ALT or len(a) < 30]
        if poor:
            bad[rel] = poor[:3]
    _record(artifacts, "figure-alt.json", counted)
    _no_findings(artifacts, "figure-alt-missing.json", bad, "images without an alt text that says what they show")


def test_dvc_plots_read_without_javascript(browser, site, server, artifacts):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/dvc_plots/index.html", wait_until="load")
    images = page.locator("img")
    assert images.count() >= 3, "the training curves need images, not JavaScript"
    for i in range(images.count()):
        img = images.nth(i)
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), f"image {i} is blank"
        alt = img.get_attribute("alt") or ""
        assert len(alt) > 30 and alt != DEFAULT_ALT, alt
        assert img.bounding_box()["width"] <= 390
    headings = page.locator("h2").all_inner_texts()
    assert headings and not any(re.search(r"\.(csv|json|tsv)\b|reports/", h) for h in headings), headings
    assert page.locator("script").count() == 0
    page.screenshot(path=str(artifacts / "dvc-plots-no-js-390.png"), full_page=False)
    context.close()
