"""Models built from params.yaml have the parameter counts the source reports printed."""

import json
import subprocess
import sys

import pytest

from pipeline.core.params import load_params, ParamsError, parse_params
from pipeline.core.params.schema import ModelConfig, TrainingParams
from pipeline.modeling import train as modeling
from tests.conftest import REPO

# Parameter counts printed by the source reports (shared/reference/source-reports.md).
SOURCE_COUNTS = {"r0_deep": 569_600, "r1_onehot": 101_770, "r3_split": 101_770, "r2_sigmoid": 79_510,
                 "basic": 266_610, "baseline": 118_282}


@pytest.fixture(scope="module")
def models():
    return load_params(REPO / "params.yaml").models


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
    with pytest.raises(ParamsError) as err:
        parse_params(raw)
    assert f"models.m.{key}" in str(err.value)


# --------------------------------------------------------------------------- execution settings


def test_execution_overrides_apply_to_their_configuration_only(models):
    training = load_params(REPO / "params.yaml").training
    deep = training.for_model(models["r0_deep"])
    assert deep.jit_compile and not training.jit_compile  # R0's entry turns XLA on
    assert deep.model_copy(update={"jit_compile": False}) == training  # and changes nothing else
    assert training.for_model(models["baseline"]) == training  # no `execution` entry: the defaults
    assert training.for_model() == training  # the sweep's variants
    plain = training.model_copy(update={"plain_keras": True}).for_model(models["r0_deep"])
    assert (plain.steps_per_execution, plain.jit_compile, plain.threads) == (1, False, 0)
    assert plain.sample_size == training.sample_size and plain.deterministic == training.deterministic


@pytest.mark.parametrize("update, key", [({"threads": -1}, "threads"), ({"jit": True}, "jit"),
                                         ({"steps_per_execution": 0}, "steps_per_execution")])
def test_bad_execution_entries_name_the_key(update, key):
    raw = {"models": {"m": {"source": "X", "title": "x", "hidden": [8], "loss": "sparse_categorical_crossentropy",
                            "epochs": 1, "execution": update}}}
    with pytest.raises(ParamsError) as err:
        parse_params(raw)
    assert f"models.m.execution.{key}" in str(err.value)


def test_one_forward_pass_gives_the_predictions_and_the_dead_units(small):
    import keras
    import numpy as np

    from pipeline.core import dataset

    cfg = ModelConfig(source="t", title="t", hidden=[32, 16], loss="sparse_categorical_crossentropy", epochs=1)
    keras.utils.set_random_seed(0)
    model = modeling.build_model(cfg)
    hidden_1 = model.get_layer("hidden_1")
    kernel, bias = hidden_1.get_weights()
    hidden_1.set_weights([kernel, np.where(np.arange(32) < 5, -1e3, bias)])  # 5 units that can never fire
    x = dataset.scale(small.x_test)
    probabilities, dead = modeling.predict_with_dead_units(model, x)
    np.testing.assert_array_equal(probabilities, model.predict(x, batch_size=modeling.EVAL_BATCH, verbose=0))
    assert dead["hidden_1"] >= 5 and set(dead) == {"hidden_1", "hidden_2"}
    relu_1 = np.maximum(x.reshape(len(x), -1) @ kernel + np.where(np.arange(32) < 5, -1e3, bias), 0)
    assert dead["hidden_1"] == int((relu_1.max(axis=0) <= 0).sum())


@pytest.mark.slow  # trains
def test_without_diagnostics_the_fit_and_test_results_are_the_same(small):
    """The loss sweep's ``diagnostics=False`` skips two evaluations and changes nothing else."""
    import numpy as np

    cfg = ModelConfig(source="t", title="t", hidden=[16], loss="sparse_categorical_crossentropy", epochs=1,
                             batch_size=128, repeats=1)
    training = TrainingParams(threads=0, deterministic=False)
    full = modeling.train(cfg, small, training, keep_models=0, log=lambda *_: None).runs[0]
    lean = modeling.train(cfg, small, training, keep_models=0, diagnostics=False, log=lambda *_: None).runs[0]
    assert None not in (full.train_loss, full.train_accuracy, full.unscaled_test_loss, full.unscaled_test_accuracy)
    assert (lean.train_loss, lean.train_accuracy, lean.unscaled_test_loss, lean.unscaled_test_accuracy) == (None,) * 4
    assert lean.history == full.history and lean.dead_units == full.dead_units
    assert (lean.test_loss, lean.test_accuracy) == (full.test_loss, full.test_accuracy)
    np.testing.assert_array_equal(lean.test_probabilities, full.test_probabilities)


@pytest.mark.parametrize("name", ["baseline", "r1_onehot", "r2_sigmoid"])
def test_the_compiled_evaluation_gives_the_numbers_of_keras_evaluate(small, models, name):
    # One-hot and integer labels, softmax and R2's sigmoid outputs: Keras computes the loss
    # from the output layer's logits where it can (a sigmoid's too, under a softmax loss), so
    # the loss of the returned probabilities would differ (2.31 against 2.36 for R2 here).
    import keras

    from pipeline.core import dataset
    from pipeline.modeling import lean_fit

    cfg = models[name]
    keras.utils.set_random_seed(1)
    model = modeling.compile_model(modeling.build_model(cfg), cfg)
    x, t = dataset.scale(small.x_test), modeling.encode_labels(small.y_test, cfg)
    loss, accuracy = lean_fit.compiled_evaluation(model, cfg.loss, cfg.one_hot, 256)(x, t)
    keras_loss, keras_accuracy = model.evaluate(x, t, batch_size=len(x), verbose=0)
    assert loss == pytest.approx(keras_loss, rel=1e-5) and accuracy == pytest.approx(keras_accuracy, abs=1e-6)
    assert 0.0 < accuracy < 0.5  # an untrained model: near chance
