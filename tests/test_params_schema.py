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
