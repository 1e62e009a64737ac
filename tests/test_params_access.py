"""What a notebook gets from the params (pipeline/core/params/access.py): the mapping the
pipeline passes is validated alone; None or a partial mapping reads params.yaml."""

from __future__ import annotations

import pydantic
import pytest

from pipeline.core.params import ParamsError, load_params, section, value_at
from pipeline.core.params.access import schema_at
from pipeline.core.params.schema import ModelConfig, SweepParams, TrainingParams
from tests.conftest import REPO

PARAMS = load_params(REPO / "params.yaml")
ABSENT = REPO / "no-such-params.yaml"  # reading it would raise ParamsError


def test_a_full_mapping_is_validated_without_reading_params_yaml():
    passed = PARAMS.models["r0_deep"].model_dump(mode="json") | {"epochs": 7}
    cfg = section("models.r0_deep", passed, params_file=ABSENT)
    assert isinstance(cfg, ModelConfig) and cfg.epochs == 7 and cfg.hidden == PARAMS.models["r0_deep"].hidden
    sweep = section("sweep", PARAMS.sweep.model_dump(mode="json"), params_file=ABSENT)
    assert sweep == PARAMS.sweep


def test_a_full_mapping_is_still_checked():
    passed = PARAMS.training.model_dump(mode="json") | {"threads": -1}
    with pytest.raises(pydantic.ValidationError, match="threads"):
        section("training", passed, params_file=ABSENT)


def test_none_or_a_partial_mapping_reads_params_yaml(tmp_path):
    assert section("training", None, params_file=REPO / "params.yaml") == PARAMS.training
    changed = section("models.baseline", {"epochs": 2}, params_file=REPO / "params.yaml")
    assert changed.epochs == 2 and changed.hidden == PARAMS.models["baseline"].hidden
    with pytest.raises(ParamsError, match="file not found"):
        section("models.baseline", {"epochs": 2}, params_file=ABSENT)


def test_schema_at_names_the_section_class():
    assert schema_at("models.anything") is ModelConfig
    assert schema_at("training") is TrainingParams and schema_at("sweep") is SweepParams
    assert schema_at("sweep.losses.categorical_crossentropy") is None and schema_at("training.threads") is None


def test_value_at_reaches_entries_and_list_items():
    assert value_at(PARAMS, "models.r0_deep") is PARAMS.models["r0_deep"]
    assert value_at(PARAMS, "sweep.losses.sparse_categorical_crossentropy") == "sparse_categorical_crossentropy"
    with pytest.raises(ParamsError, match="sweep.losses has no 'mse'"):
        value_at(PARAMS, "sweep.losses.mse")


def test_entry_key_names_entries_not_sections():
    from pipeline.core.params.access import entry_key

    assert entry_key(PARAMS, "models.r0_deep") == "r0_deep"
    assert entry_key(PARAMS, "sweep.losses.categorical_crossentropy") == "categorical_crossentropy"
    assert entry_key(PARAMS, "training") is None and entry_key(PARAMS, "sweep") is None
