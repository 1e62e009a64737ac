"""``static_plots``: dvc.yaml's top-level plots drawn as images with alt text, no JavaScript."""

from __future__ import annotations

import base64
import html.parser
import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from pipeline.site import static_plots
from tests.conftest import REPO


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.scripts, self.headings, self._h2 = [], 0, [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.images += [a] if tag == "img" else []
        self.scripts += tag == "script"
        self._h2 = tag == "h2"

    def handle_data(self, data):
        if self._h2 and data.strip():
            self.headings.append(data.strip())
            self._h2 = False


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """dvc.yaml and params.yaml of the repository, the committed curves, and sweep curves of
    3 variants × 2 seeds × 4 epochs."""
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "reports/plots", tmp_path / "reports/plots")
    params = yaml.safe_load((REPO / "params.yaml").read_text())["sweep"]
    (tmp_path / "reports/sweep").mkdir(parents=True)
    for loss in params["losses"]:
        rows = [{"loss": loss, "variant": v, "seed": s, "epoch": e, "val_accuracy": 0.9 + 0.01 * e + 0.001 * s}
                for v in list(params["variants"])[:3] for s in (0, 1) for e in range(1, 5)]
        pd.DataFrame(rows).to_csv(tmp_path / f"reports/sweep/{loss}_curves.csv", index=False)
    return tmp_path


def test_one_chart_per_file_titled_in_words_with_alt_text_and_no_script(project):
    page = static_plots.write_page(project / "out/index.html", project, interactive="interactive.html")
    parsed = _Page()
    parsed.feed(page.read_text())
    curves = sorted((project / "reports/plots").glob("*.csv"))
    assert len(parsed.images) == len(curves) + 2 and parsed.scripts == 0
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert {params["models"][c.stem]["title"] for c in curves} <= set(parsed.headings)
    assert not any("/" in h or h.endswith(".csv") for h in parsed.headings), parsed.headings
    for img in parsed.images:
        assert len(img["alt"]) > 60 and "No description" not in img["alt"]
        png = Image.open(io.BytesIO(base64.b64decode(img["src"].split(",", 1)[1])))
        assert 500 <= png.width <= 700, png.size  # one column, legible when a phone shrinks it
    assert 'href="interactive.html"' in page.read_text()


def test_a_chart_says_which_series_is_the_test_set(project):
    charts = {c.heading: c for c in static_plots.charts(project)}
    params = yaml.safe_load((project / "params.yaml").read_text())["models"]
    for cfg in params.values():
        if (project / "reports/plots" / f"{next(k for k, v in params.items() if v is cfg)}.csv").is_file():
            test_set = "validation = test set" in charts[cfg["title"]].alt
            assert test_set == (cfg.get("validation", "split") == "test"), cfg["title"]


def test_a_curve_of_a_configuration_params_does_not_list_says_so(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    del params["models"]["basic"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    headings = [c.heading for c in static_plots.charts(project)]
    assert "basic (a curve of a configuration that params.yaml does not list)" in headings


def test_a_missing_column_is_named(project):
    frame = pd.read_csv(project / "reports/plots/basic.csv").drop(columns="val_accuracy")
    frame.to_csv(project / "reports/plots/basic.csv", index=False)
    with pytest.raises(static_plots.PlotsError, match=r"basic\.csv: no column val_accuracy"):
        static_plots.charts(project)


def test_a_definition_without_data_is_left_out_as_dvc_does(project):
    """With one loss in sweep.losses the other loss's curves do not exist: DVC draws the rest."""
    everything = static_plots.charts(project)
    (project / "reports/sweep/categorical_crossentropy_curves.csv").unlink()
    left = static_plots.charts(project)
    assert len(left) == len(everything) - 1 and not any(c.heading.startswith("categorical CE") for c in left)
    for csv in [*(project / "reports/plots").glob("*.csv"), *(project / "reports/sweep").glob("*.csv")]:
        csv.unlink()
    with pytest.raises(static_plots.PlotsError, match="no data file"):
        static_plots.charts(project)


def test_epochs_are_whole_numbers(project):
    one = project / "reports/plots/basic.csv"
    pd.read_csv(one).head(1).to_csv(one, index=False)  # one epoch: the test profile
    chart = next(c for c in static_plots.charts(project) if c.heading.startswith("Basic model"))
    assert "over 1 epoch(s)" in chart.alt
    assert np.asarray(Image.open(io.BytesIO(base64.b64decode(chart.png)))).size > 0
