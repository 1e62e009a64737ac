"""One way to print a number (pipeline/core/numbers.py), the same on every page."""

from __future__ import annotations

import pytest

from pipeline.core import numbers, prose


def test_a_zero_never_carries_a_sign():
    assert numbers.num(-0.00001) == "0.0000" and numbers.signed(-0.00001) == "0.0000"
    assert numbers.pct(-0.00001) == "0.00 %" and numbers.pct(-0.0001, 1) == "0.0 %"
    assert numbers.signed(0.0012) == "+0.0012" and numbers.signed(-0.003) == "-0.0030"


def test_fractions_and_percentages_have_one_format_each():
    assert numbers.num(0.97812) == "0.9781" and numbers.pct(0.9975) == "99.75 %"
    assert numbers.mean_std(0.97812, 0.00123, percent=True) == "97.81 ± 0.12 %"
    assert numbers.mean_std(0.0712, 0.0031) == "0.0712 ± 0.0031"


def test_a_claim_is_shown_as_the_source_printed_it():
    assert numbers.claimed(0.91) == "0.91" and numbers.claimed(0.9996) == "0.9996"
    assert numbers.claimed(35.08) == "35.08" and numbers.claimed(1.0) == "1"


def test_a_loss_interval_is_cut_at_zero_and_says_so():
    assert numbers.floor_of("test loss") == 0.0 and numbers.floor_of("test accuracy") is None
    assert numbers.interval(-0.0273, 0.3028, floor=0.0) == "0.0000–0.3028"
    assert numbers.interval_cut(-0.0273, 0.0) and not numbers.interval_cut(0.01, 0.0)
    assert numbers.interval(0.97123, 0.98381) == "0.9712–0.9838"
    with pytest.raises(ValueError, match="low end"):
        numbers.interval(0.9, 0.8)
    with pytest.raises(TypeError, match="a number was expected"):
        numbers.num("0.9")


def test_templates_print_numbers_with_the_same_filters(tmp_path):
    (tmp_path / "t.md.j2").write_text("{{ a|pct }}, {{ b|num }}, {{ c|claimed }}, {{ lo|interval(hi, 0.0) }}")
    assert prose.render(tmp_path, "t.md.j2", a=0.5, b=-0.00001, c=0.91, lo=-1.0, hi=0.2) == \
        "50.00 %, 0.0000, 0.91, 0.0000–0.2000"
