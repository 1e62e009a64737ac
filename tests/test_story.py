"""The reports' story order and twins (pipeline/core/story.py), from the real params.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.core import paths, runner, story
from pipeline.core.params.loading import load_params

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def params():
    return load_params(REPO / paths.PARAMS_FILE)


def test_the_story_is_data_models_classical_sweep_comparison(params):
    names = [c.name for c in story.chapters(params, REPO)]
    models = [paths.model_report_name(k) for k in params.models]
    sweeps = [paths.sweep_report_name(loss) for loss in params.sweep.losses]
    assert names == [paths.EXPLORE_REPORT, *models, paths.CLASSICAL_REPORT, *sweeps, paths.COMPARISON_REPORT]
    titles = {c.name: c.title for c in story.chapters(params, REPO)}
    assert titles[paths.EXPLORE_REPORT] == "Data exploration"  # the notebook's heading
    assert titles[paths.model_report_name("r0_deep")] == params.models["r0_deep"].title


def test_each_held_out_configuration_is_twinned_with_its_source_as_published(params):
    assert story.twin(params, "basic") == ("basic_faithful", "test")
    assert story.twin(params, "basic_faithful") == ("basic", "split")
    assert story.twin(params, "r0_deep") is None  # R0 validated on a split: one configuration


def test_links_previous_next_and_twin(params):
    first = story.links(paths.EXPLORE_REPORT, params, REPO)
    assert [link.rel for link in first] == ["next"]
    keys = list(params.models)
    middle = {link.rel: link for link in story.links(paths.model_report_name("basic"), params, REPO)}
    assert middle["prev"].href == f"{paths.EXPLORE_REPORT}.html"
    assert middle["next"].href == f"{paths.model_report_name(keys[1])}.html"
    assert middle["twin"].href == f"{paths.model_report_name('basic_faithful')}.html"
    assert middle["twin"].title == params.models["basic_faithful"].title
    assert middle["twin"].label.startswith("As published")
    last = story.links(paths.COMPARISON_REPORT, params, REPO)
    assert [link.rel for link in last] == ["prev"]
    assert story.links("not_a_report", params, REPO) == []


def test_order_puts_unknown_names_last_in_their_order(params):
    names = ["zz_extra", paths.COMPARISON_REPORT, "aa_extra", paths.model_report_name("basic"), paths.EXPLORE_REPORT]
    assert story.order(names, params, REPO) == [paths.EXPLORE_REPORT, paths.model_report_name("basic"),
                                                paths.COMPARISON_REPORT, "zz_extra", "aa_extra"]


def test_a_sweep_report_is_titled_with_its_loss_in_words_the_same_in_the_story_and_the_run():
    params = load_params(REPO / "params.yaml")
    chapters = {c.name: c.title for c in story.chapters(params, REPO)}
    for loss in params.sweep.losses:
        run = runner.run_names(REPO / "notebooks/04_loss_sweep.ipynb", ["sweep", f"loss=sweep.losses.{loss}"], params)
        assert run.title == chapters[run.name] and loss not in run.title, run.title


def test_descriptions_name_their_twin_without_a_direction():
    """A description is shown on the front page's cards and atop its report: 'above' or 'below'
    is true in one of those places at most; a twin is named as the held-out version."""
    import re

    from pipeline.core.params import load_params
    from tests.conftest import REPO as repo

    params = load_params(repo / "params.yaml")
    for key, cfg in params.models.items():
        assert not re.search(r"\b(above|below)[,.;]|\b(report|version|network|settings) (above|below)\b|as (above|below)\b",
                             cfg.description), (key, cfg.description)
        if story.twin(params, key) is not None and cfg.validation == "test":
            assert "held-out version" in cfg.description, key
