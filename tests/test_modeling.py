"""Models built from params.yaml have the parameter counts the source reports printed."""

import pytest

from pipeline import config, modeling
from tests.conftest import REPO

# Parameter counts printed by the source reports (shared/reference/source-reports.md).
SOURCE_COUNTS = {"r0_deep": 569_600, "r1_onehot": 101_770, "r3_split": 101_770, "r2_sigmoid": 79_510,
                 "basic": 266_610, "baseline": 118_282}


@pytest.fixture(scope="module")
def models():
    return config.load_params(REPO / "params.yaml").models


def test_every_source_configuration_is_in_params(models):
    assert set(SOURCE_COUNTS) <= set(models)
    assert {m.source for m in models.values()} >= {"R0", "R1", "R2", "R3", "R4a", "R4b"}


@pytest.mark.parametrize("name", sorted(SOURCE_COUNTS))
def test_built_model_has_the_source_parameter_count(models, name):
    model = modeling.build_model(models[name])
    assert model.count_params() == SOURCE_COUNTS[name]
    assert modeling.expected_parameter_count(models[name]) == SOURCE_COUNTS[name]


def test_baseline_layers_match_r4b(models):
    model = modeling.build_model(models["baseline"])
    per_layer = [(layer.name, layer.count_params()) for layer in model.layers]
    assert per_layer == [("flatten", 0), ("hidden_1", 100_480), ("hidden_2", 16_512),
                         ("dropout", 0), ("output", 1_290)]


def test_r2_keeps_its_sigmoid_output(models):
    model = modeling.build_model(models["r2_sigmoid"])
    assert model.layers[-1].activation.__name__ == "sigmoid"


def test_labels_follow_the_loss(models):
    assert models["baseline"].one_hot and models["r1_onehot"].one_hot
    assert not models["basic"].one_hot and not models["r3_split"].one_hot


def test_optimizer_default_and_explicit_learning_rate(models):
    sgd = modeling.make_optimizer(models["basic"])
    assert type(sgd).__name__ == "SGD" and float(sgd.learning_rate) == pytest.approx(0.01)
    custom = models["baseline"].model_copy(update={"learning_rate": 0.005})
    assert float(modeling.make_optimizer(custom).learning_rate) == pytest.approx(0.005)


@pytest.mark.parametrize("update, key", [
    ({"hidden": []}, "hidden"), ({"hidden": [0]}, "hidden.0"), ({"dropout": 1.0}, "dropout"),
    ({"epochs": 0}, "epochs"), ({"loss": "mse"}, "loss"), ({"optimizer": "adamw2"}, "optimizer"),
    ({"activation": "gelu2"}, "activation"), ({"batch_size": 0}, "batch_size"),
    ({"validation": "train"}, "validation"), ({"repeats": 0}, "repeats"), ({"epoch": 3}, "epoch"),
])
def test_bad_model_entries_name_the_key(update, key):
    raw = {"models": {"m": {"source": "X", "title": "x", "hidden": [8], "loss": "sparse_categorical_crossentropy",
                            "epochs": 1, **update}}}
    with pytest.raises(config.ParamsError) as err:
        config.parse_params(raw)
    assert f"models.m.{key}" in str(err.value)
