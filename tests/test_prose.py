"""Report text from templates (pipeline/core/prose.py): layout of Markdown prose, strict
fields, escaping, and the one template of the verdict rule."""

from __future__ import annotations

import jinja2
import pytest

from pipeline.core import prose
from pipeline.core.params.schema import VerdictParams


def test_markdown_prose_is_laid_out_as_written():
    text = "First line\n   goes on,  here.\n\n\n- one\n  item\n- two\n\n## Heading\nthen text"
    assert prose.paragraphs(text) == "First line goes on, here.\n\n- one item\n- two\n\n## Heading then text"


def test_a_missing_field_fails(tmp_path):
    (tmp_path / "t.md.j2").write_text("{{ a }} and {{ b|f('.2f') }}")
    assert prose.render(tmp_path, "t.md.j2", a="x", b=1.234) == "x and 1.23"
    with pytest.raises(jinja2.UndefinedError):
        prose.render(tmp_path, "t.md.j2", a="x")


def test_html_templates_are_escaped_and_markdown_is_not(tmp_path):
    (tmp_path / "t.html.j2").write_text("<p>{{ a }}</p>")
    (tmp_path / "t.md.j2").write_text("**{{ a }}**")
    assert prose.render(tmp_path, "t.html.j2", a="<b>") == "<p>&lt;b&gt;</p>"
    assert prose.render(tmp_path, "t.md.j2", a="<b>") == "**<b>**"


def test_the_verdict_rule_follows_its_parameters(tmp_path):
    (tmp_path / "r.html.j2").write_text('{% from "verdict_rule.html.j2" import verdict_rule %}'
                                        "{{ verdict_rule(rule) }}|{{ verdict_rule(rule, 5, 2.7764) }}")
    rule = VerdictParams(confidence=0.9, accuracy_margin=0.005, loss_margin=0.25)
    bare, seeds = (" ".join(t.split()) for t in prose.render(tmp_path, "r.html.j2", rule=rule).split("|"))
    assert "confidence 1 − 0.1/k (90 % for one number, 95 % each for two)" in bare and "n = " not in bare
    assert "at most about 10 % of the time" in bare and "(accuracy ± 0.005, loss ± 25 % of the claim)" in bare
    assert "(here 1 printed number and n = 5 seeds: each interval at 90 %, t = 2.776)" in seeds


def test_the_verdict_rule_is_written_once():
    from tests.conftest import REPO

    phrase = "widened by half a unit"
    files = [*REPO.joinpath("pipeline").rglob("*.py"), *REPO.joinpath("pipeline").rglob("*.j2"),
             *REPO.joinpath("notebooks").glob("*.ipynb"), REPO / "params.yaml"]
    holding = sorted(str(p.relative_to(REPO)) for p in files if phrase in p.read_text(encoding="utf-8"))
    assert holding == ["pipeline/core/templates/verdict_rule.html.j2"]
