"""The schema's declarations (pipeline/core/params/schema.py): the sweep's losses."""

from __future__ import annotations

import copy

import pytest
import yaml

from pipeline.core.params import ParamsError, parse_params
from tests.conftest import REPO

REAL = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


def with_losses(losses) -> dict:
    data = copy.deepcopy(REAL)
    if losses is None:
        del data["sweep"]["losses"]
    else:
        data["sweep"]["losses"] = losses
    return data


def test_one_loss_or_both_in_either_order_are_valid():
    assert parse_params(with_losses(["sparse_categorical_crossentropy"])).sweep.losses == [
        "sparse_categorical_crossentropy"]
    both = ["sparse_categorical_crossentropy", "categorical_crossentropy"]
    assert parse_params(with_losses(both)).sweep.losses == both


@pytest.mark.parametrize("losses, message", [
    (["mse"], "sweep.losses.0 = 'mse': Input should be 'categorical_crossentropy' or "
              "'sparse_categorical_crossentropy'"),
    (["categorical_crossentropy"] * 2, "losses must be distinct"),
    ([], "sweep.losses = []: List should have at least 1 item"),
    (None, "sweep.losses: Field required"),
    ("categorical_crossentropy", "sweep.losses = 'categorical_crossentropy': Input should be a valid list"),
])
def test_bad_losses_are_refused_naming_the_key(losses, message):
    with pytest.raises(ParamsError) as err:
        parse_params(with_losses(losses), "p.yaml")
    assert message in str(err.value).splitlines()[0], str(err.value)


def test_a_claim_keeps_the_digits_the_source_printed():
    from pipeline.core.params.schema import Claim, SweepParams  # noqa: F401 (the schema under test)
    from pipeline.model_report import evaluation
    claim = Claim(accuracy="0.980", loss=0.07)
    assert claim.accuracy == 0.98 and claim.accuracy.text == "0.980" and claim.loss.text == "0.07"
    assert evaluation.printed_resolution(claim.accuracy) == pytest.approx(0.0005)  # not 0.005 as 0.98 would give
    assert evaluation.printed_resolution(0.98) == pytest.approx(0.005)
    assert claim.model_dump(mode="json")["accuracy"] == "0.980"  # what the notebooks get keeps the text
    assert Claim.model_validate(claim.model_dump()).accuracy.text == "0.980"
    for bad, words in (("0,98", "digits with an optional decimal point"), ("1.5", "less than or equal to 1"),
                       (True, "a number or its printed text")):
        with pytest.raises(ValueError, match=words):
            Claim(accuracy=bad)
