"""Statistics, tables and the claim check, on constructed inputs whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core import dataset, stats
from pipeline.model_report import evaluation
from pipeline.modeling import train as modeling
from pipeline.core.config import Claim, ModelConfig


def test_mean_std_uses_the_sample_standard_deviation():
    assert stats.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert stats.mean_std([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError):
        stats.mean_std([])
    assert stats.fmt_mean_std([0.97, 0.98, 0.99], percent=True) == "98.00 ± 1.00 %"


@pytest.mark.parametrize("x, half_unit", [(0.91, 0.005), (0.9781, 0.00005), (35.08, 0.005), (88.0, 0.5), (0.1, 0.05)])
def test_printed_resolution(x, half_unit):
    assert evaluation.printed_resolution(x) == pytest.approx(half_unit)


def test_confident_mistakes_are_sorted_by_confidence():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95]])
    y = np.array([0, 0, 1, 0])  # wrong: rows 1 (0.8), 2 (0.6), 3 (0.95)
    assert evaluation.confident_mistakes(probs, y, 2).tolist() == [3, 1]
    assert evaluation.confident_mistakes(probs, y, 10).tolist() == [3, 1, 2]


def test_confusion_and_class_report():
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 1])
    cm = stats.confusion(y, p, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [0, 1, 0]]
    rep = evaluation.class_report(y, p, ["a", "b", "c"])
    assert rep.loc["b", "precision"] == pytest.approx(0.5) and rep.loc["b", "recall"] == 1.0
    assert rep.loc["c", "precision"] == 0.0 and rep.loc["c", "support"] == 1


def test_validation_split_is_seeded_stratified_and_disjoint():
    y = np.repeat(np.arange(10), 100)
    a = dataset.validation_split(y, 0.2, seed=3)
    b = dataset.validation_split(y, 0.2, seed=3)
    c = dataset.validation_split(y, 0.2, seed=4)
    assert np.array_equal(a.val, b.val) and not np.array_equal(a.val, c.val)
    assert len(a.val) == 200 and not set(a.fit) & set(a.val) and len(a.fit) + len(a.val) == 1000
    assert np.bincount(y[a.val]).tolist() == [20] * 10


# --------------------------------------------------------------------------- claims


def _cfg(**kw) -> ModelConfig:
    base = dict(source="T", title="t", hidden=[16, 10], loss="sparse_categorical_crossentropy", epochs=1, repeats=3)
    return ModelConfig(**{**base, **kw})


def _training(test_acc, train_acc=None, test_loss=(0.1, 0.1, 0.1), raw_loss=(1.0, 1.0, 1.0), dead=(0, 0, 0),
              prob_sum=1.0, validation_on="split", cfg=None):
    runs = []
    for i, acc in enumerate(test_acc):
        probs = np.full((4, 10), prob_sum / 10)
        runs.append(modeling.SeedRun(
            seed=i, history={"val_accuracy": [acc]}, test_loss=test_loss[i], test_accuracy=acc,
            train_loss=0.0, train_accuracy=(train_acc or test_acc)[i], unscaled_test_loss=raw_loss[i],
            unscaled_test_accuracy=acc, dead_units={"hidden_1": 0, "hidden_2": dead[i]},
            test_probabilities=probs, fit_seconds=1.0))
    return modeling.Fits(config=cfg or _cfg(), runs=runs, n_fit=9, n_val=1, n_test=4, validation_on=validation_on)


def test_claim_within_two_std_holds():
    v = evaluation.judge_claim(Claim(accuracy=0.981), _training([0.979, 0.981, 0.983]))
    assert v.verdict == "holds" and v.checks[0].tolerance == pytest.approx(0.004)


def test_claim_outside_noise_does_not_hold_and_the_numbers_are_named():
    v = evaluation.judge_claim(Claim(accuracy=0.8874), _training([0.975, 0.976, 0.977]))
    assert v.verdict == "does not hold"
    assert "0.8874" in v.reasons[0] and "0.9760" in v.reasons[0]


def test_a_claim_that_matches_training_accuracy_is_recognised():
    v = evaluation.judge_claim(Claim(accuracy=0.9996), _training([0.976, 0.977, 0.978], train_acc=[0.9995, 0.9996, 0.9997]))
    assert v.verdict == "does not hold"
    assert any("training accuracy" in r for r in v.reasons)
    # the same claim below our test accuracy is not blamed on training data
    v = evaluation.judge_claim(Claim(accuracy=0.90), _training([0.976, 0.977, 0.978], train_acc=[0.99, 0.99, 0.99]))
    assert not any("training accuracy" in r for r in v.reasons)


def test_a_huge_loss_is_explained_by_unscaled_test_pixels_only_when_it_matches():
    v = evaluation.judge_claim(Claim(loss=35.08), _training([0.92] * 3, test_loss=(0.27, 0.28, 0.27),
                                                            raw_loss=(34.0, 34.5, 35.0)))
    assert v.verdict == "does not hold" and any("0..255" in r for r in v.reasons)
    v = evaluation.judge_claim(Claim(loss=35.08), _training([0.92] * 3, test_loss=(0.27, 0.28, 0.27),
                                                            raw_loss=(3.0, 3.1, 3.2)))
    assert not any("0..255" in r for r in v.reasons)


def test_dead_units_sigmoid_outputs_and_test_validation_are_reported():
    v = evaluation.judge_claim(Claim(), _training([0.9] * 3, dead=(0, 2, 1), prob_sum=2.5, validation_on="test"))
    assert v.verdict == "no claim"
    text = " ".join(v.reasons)
    assert "hidden_2 (10 units)" in text and "seed 1: 2 (test accuracy 0.9000)" in text
    assert "sum to 2.500" in text
    assert "validated on the test set" in text


def test_metrics_file_has_the_declared_keys():
    t = _training([0.97, 0.98, 0.99])
    m = evaluation.metrics(t, evaluation.judge_claim(Claim(accuracy=0.98), t))
    assert set(m) >= {"test_accuracy", "test_loss", "val_accuracy", "train_accuracy", "seeds", "claim"}
    assert m["test_accuracy"] == {"mean": 0.98, "std": 0.01}
    assert m["claim"]["verdict"] == "holds" and m["claim"]["test_accuracy"]["holds"] is True
    assert list(m["seeds"]) == ["0", "1", "2"]


def test_dead_units_of_a_wide_layer_are_not_blamed():
    t = _training([0.9] * 3, dead=(1, 2, 0), cfg=_cfg(hidden=[300, 100]))
    assert not any("Dead ReLU" in r for r in evaluation.judge_claim(Claim(accuracy=0.9), t).reasons)
