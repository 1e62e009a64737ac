"""The whole site built on Fashion-MNIST (real data, the small test profile, one model
configuration): no claim of the MNIST sources is judged, no page speaks of digits, every page
names the dataset at the top, and the class names are the garments'."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from tests.conftest import bin_path, copy_project, run, use_test_profile

pytestmark = pytest.mark.slow

MODEL = "baseline"  # one configuration is enough: it has a claimed accuracy and loss
GARMENTS = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FIRST_SCREEN = 400  # characters of visible text: the header of a report, the title block of the front page


class _Text(HTMLParser):
    """The text a reader sees: no scripts (MathJax), styles or embedded images."""

    def __init__(self):
        super().__init__()
        self.parts, self.hidden = [], 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style") and self.hidden > 0

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(page: Path) -> str:
    parser = _Text()
    parser.feed(page.read_text())
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture(scope="module")
def fashion_site(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("fashion"))
    use_test_profile(root)
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["data"]["dataset"] = "fashion_mnist"
    params["models"] = {MODEL: params["models"][MODEL]}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "fashion profile"],
                   cwd=root, check=True, capture_output=True)
    proc = run([bin_path("dvc"), "repro"], cwd=root, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


def reader_pages(root: Path) -> list[Path]:
    pages = [p for p in sorted((root / "reports/html").glob("*.html")) if not p.name.endswith(".code.html")]
    assert len(pages) >= 5  # explore, one model, classical, two sweeps, loss comparison
    return pages + [root / "reports/index.html"]


def test_no_claim_of_the_mnist_sources_is_judged(fashion_site):
    claim = json.loads((fashion_site / f"reports/metrics/{MODEL}.json").read_text())["claim"]
    assert claim["verdict"] == "other dataset" and claim["checks"] == {} and claim["explanations"] == {}
    assert claim["dataset"] == {"claim": "mnist", "run": "fashion_mnist", "claimed": [0.981, 0.07]}
    report = visible_text(fashion_site / f"reports/html/02_model_report_{MODEL}.html")
    assert ("R4b's 0.981 and 0.07 were measured on MNIST; these reports are on Fashion-MNIST, "
            "so they are not judged.") in report
    assert "prediction interval for one new run" not in report  # no table of checks
    index = visible_text(fashion_site / "reports/index.html")
    assert "not judged (other dataset)" in index
    assert re.findall(r'class="verdict v-([a-z-]+)"', (fashion_site / "reports/index.html").read_text()) == [
        "other-dataset"]
    for loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        sweep = visible_text(fashion_site / f"reports/html/04_loss_sweep_{loss}.html")
        assert "R4 accuracy" not in sweep and "R4's printed numbers were measured on MNIST" in sweep
    assert "R4's single run in brackets" not in index and "R4's printed numbers were measured on MNIST" in index


def test_no_reader_view_speaks_of_digits(fashion_site):
    for page in reader_pages(fashion_site):
        text = visible_text(page).lower()
        assert "digit" not in text and "handwrit" not in text, (page.name, text[max(0, text.find("digit") - 200):][:400])
        pen = re.search(r"\b(ink|strokes?)\b", text)  # the words of handwriting, not of photographs
        assert pen is None, (page.name, text[max(0, pen.start() - 200):][:400] if pen else "")
    report = visible_text(fashion_site / f"reports/html/02_model_report_{MODEL}.html")
    assert "these reports are on Fashion-MNIST, so this section is left out" in report  # "Your own images"
    assert "clothing items that a person would also hesitate over" in report


def test_every_page_names_the_dataset_on_its_first_screen(fashion_site):
    for page in reader_pages(fashion_site):
        text = visible_text(page)
        assert 0 <= text.find("Fashion-MNIST") < FIRST_SCREEN, (page.name, text[:FIRST_SCREEN])


def test_the_class_names_are_the_garments(fashion_site):
    report = visible_text(fashion_site / f"reports/html/02_model_report_{MODEL}.html")
    per_class = report[report.index("Per class: precision"):]
    assert all(name in per_class for name in GARMENTS)
    explore = visible_text(fashion_site / "reports/html/01_data_exploration.html")
    assert all(name in explore for name in GARMENTS)  # the class-count table
