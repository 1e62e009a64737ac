"""Statistics, tables and the claim check, on constructed inputs whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core import dataset, numbers, seed_stats
from pipeline.model_report import evaluation, report
from pipeline.modeling import train as modeling
from pipeline.core.params.schema import Claim, ModelConfig, VerdictParams


def test_mean_std_uses_the_sample_standard_deviation():
    assert seed_stats.mean_std([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert seed_stats.mean_std([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError):
        seed_stats.mean_std([])
    assert seed_stats.fmt_mean_std([0.97, 0.98, 0.99], percent=True) == "98.00 ± 1.00 %"


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
    cm = seed_stats.confusion(y, p, 3)
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
              prob_sum=1.0, validation_on="split", cfg=None, raw_acc=None):
    runs = []
    for i, acc in enumerate(test_acc):
        probs = np.full((4, 10), prob_sum / 10)
        runs.append(modeling.SeedRun(
            seed=i, history={"val_accuracy": [acc]}, test_loss=test_loss[i], test_accuracy=acc,
            train_loss=0.0, train_accuracy=(train_acc or test_acc)[i], unscaled_test_loss=raw_loss[i],
            unscaled_test_accuracy=(raw_acc or test_acc)[i], dead_units={"hidden_1": 0, "hidden_2": dead[i]},
            test_probabilities=probs, fit_seconds=1.0))
    return modeling.Fits(config=cfg or _cfg(), runs=runs, n_fit=9, n_val=1, n_test=4, validation_on=validation_on)


RULE = VerdictParams()  # 95 %, accuracy margin 0.01, loss margin 25 % of the claim


@pytest.mark.parametrize("p, df, expected", [(0.975, 2, 4.302653), (0.975, 4, 2.776445), (0.975, 9, 2.262157),
                                             (0.95, 2, 2.919986), (0.975, 29, 2.045230)])
def test_t_quantiles_are_the_textbook_values(p, df, expected):
    assert seed_stats.t_quantile(p, df) == pytest.approx(expected, abs=1e-6)


def test_prediction_half_width_by_hand():
    # s = 0.002 over n = 3 seeds: 4.302653 · 0.002 · √(4/3) = 0.0099365
    assert seed_stats.prediction_half_width(0.002, 3) == pytest.approx(4.302653 * 0.002 * (4 / 3) ** 0.5, rel=1e-6)
    assert seed_stats.prediction_half_width(0.002, 3) == pytest.approx(0.0099365, abs=1e-7)
    # n = 5: 2.776445 · s · √1.2
    assert seed_stats.prediction_half_width(1.0, 5) == pytest.approx(2.776445 * 1.2 ** 0.5, rel=1e-6)
    assert seed_stats.prediction_half_width(1.0, 1) == float("inf")


def test_seeds_to_reach_a_width():
    # s = 0.003, width 0.01: n = 3 gives 4.3027·0.003·1.1547 = 0.0149, n = 4: 3.1824·0.003·1.1180 = 0.01067,
    # n = 5: 2.7764·0.003·1.0954 = 0.00912 → 5
    assert seed_stats.seeds_to_reach(0.003, 0.01) == 5
    assert seed_stats.prediction_half_width(0.003, 4) > 0.01 >= seed_stats.prediction_half_width(0.003, 5)
    # the half-width never falls below 1.96 s: s = 0.006 never reaches 0.01
    assert seed_stats.seeds_to_reach(0.006, 0.01) is None
    assert seed_stats.seeds_to_reach(0.0, 0.01) == 2


def _reasons(v: evaluation.Verdict) -> list[str]:
    """The verdict's measured reasons in the words the claim box shows."""
    return [report.reason_text(r) for r in v.reasons]


def _box_text(v: evaluation.Verdict) -> str:
    """The claim box's words (tags dropped, spaces collapsed)."""
    import html
    import re

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", report.claim_box(v, "S", 3))).split())

def test_a_claim_inside_the_prediction_interval_is_consistent():
    # mean 0.981, s = 0.002: half-width 0.0099365; 0.9781 is 0.0029 away → consistent
    v = evaluation.judge_claim(Claim(accuracy=0.9781), _training([0.979, 0.981, 0.983]), RULE)
    c = v.checks[0]
    assert v.verdict == "consistent" and c.outcome == "consistent"
    assert c.half_width == pytest.approx(0.0099365, abs=1e-7) and c.rounding == pytest.approx(0.00005)
    assert (c.low, c.high) == pytest.approx((0.981 - 0.0099365, 0.981 + 0.0099365), abs=1e-7)


def test_the_edge_of_the_interval_widened_by_the_printed_rounding():
    values = [0.979, 0.981, 0.983]  # mean 0.981, half-width 0.00993655
    assert seed_stats.prediction_half_width(0.002, 3) == pytest.approx(0.00993655, abs=1e-8)
    wide = VerdictParams(accuracy_margin=0.02)  # a margin that the widened interval stays inside
    # 0.99094 (rounding 0.000005) is 0.00994 away: inside 0.00993655 + 0.000005; 0.99095 is not
    assert evaluation.check_quantity("test accuracy", 0.99094, values, wide).outcome == "consistent"
    assert evaluation.check_quantity("test accuracy", 0.99095, values, wide).outcome == "not consistent"
    # the printed rounding counts: 0.991 may stand for up to 0.9915, 0.01 away: inside 0.0099 + 0.0005
    assert evaluation.check_quantity("test accuracy", 0.991, values, wide).outcome == "consistent"
    assert evaluation.check_quantity("test accuracy", 0.9915, values, wide).outcome == "not consistent"


def test_the_margin_counts_the_printed_rounding_too():
    values = [0.979, 0.981, 0.983]  # half-width 0.00993655, inside the margin 0.01 by itself
    # "0.990" may stand for 0.9895–0.9905: the interval widened by 0.0005 is wider than the margin
    coarse = evaluation.check_quantity("test accuracy", numbers.Printed("0.990"), values, RULE)
    assert coarse.outcome == "inconclusive" and coarse.rounding == pytest.approx(0.0005)
    # the same value printed with 4 decimals: widened by 0.00005 only, it decides
    fine = evaluation.check_quantity("test accuracy", numbers.Printed("0.9900"), values, RULE)
    assert fine.outcome == "consistent" and fine.rounding == pytest.approx(0.00005)
    # a rounding as wide as the margin: no number of seeds decides
    never = evaluation.check_quantity("test accuracy", numbers.Printed("0.98"), [0.9799, 0.98, 0.9801],
                                      VerdictParams(accuracy_margin=0.005))
    assert never.outcome == "inconclusive" and never.seeds_needed is None


def test_a_verdict_of_k_numbers_takes_each_interval_at_1_minus_alpha_over_k():
    values = [0.979, 0.981, 0.983]
    one = evaluation.check_quantity("test accuracy", 0.981, values, RULE)
    two = evaluation.check_quantity("test accuracy", 0.981, values, RULE, 2)
    assert (one.confidence, two.confidence) == (0.95, pytest.approx(0.975))
    assert two.half_width == pytest.approx(seed_stats.prediction_half_width(0.002, 3, 0.975))
    assert two.half_width > one.half_width
    t = _training([0.9799, 0.98, 0.9801], test_loss=(0.08, 0.081, 0.082))
    v = evaluation.judge_claim(Claim(accuracy=0.98, loss=0.081), t, RULE)
    assert [c.confidence for c in v.checks] == [pytest.approx(0.975)] * 2
    assert evaluation.judge_claim(Claim(accuracy=0.98), t, RULE).checks[0].confidence == 0.95
    assert evaluation.check_record(v.checks[0])["confidence"] == 0.975


def test_a_claim_outside_the_interval_is_not_consistent_and_says_by_how_much():
    v = evaluation.judge_claim(Claim(accuracy=0.8874), _training([0.975, 0.976, 0.977]), RULE)
    c = v.checks[0]
    assert v.verdict == "not consistent" and report.check_text(c).startswith("below the interval by 0.08")


def test_a_wide_interval_is_inconclusive_and_says_how_many_seeds_would_decide():
    # s = 0.003: half-width 0.0149 > margin 0.01; 5 seeds at this spread would decide
    v = evaluation.judge_claim(Claim(accuracy="0.9800"), _training([0.977, 0.980, 0.983]), RULE)
    c = v.checks[0]
    assert v.verdict == "inconclusive" and c.seeds_needed == 5 and "5 seeds" in report.check_text(c)
    # one seed: no spread, inconclusive whatever the claim is
    one = evaluation.check_quantity("test accuracy", 0.98, [0.98], RULE)
    assert one.outcome == "inconclusive" and one.seeds_needed is None and "at least 2" in report.check_text(one)
    # a spread larger than the margin can never decide
    wide = evaluation.check_quantity("test accuracy", 0.98, [0.97, 0.98, 0.99], RULE)
    assert wide.outcome == "inconclusive" and wide.seeds_needed is None and "no number of seeds" in report.check_text(wide)


def test_the_loss_margin_is_a_share_of_the_claim():
    c = evaluation.check_quantity("test loss", 0.07, [0.080, 0.083, 0.087], RULE)
    assert c.margin == pytest.approx(0.0175)


def test_several_checks_combine_worst_first():
    t = _training([0.9799, 0.98, 0.9801], test_loss=(0.08, 0.081, 0.082))
    assert evaluation.judge_claim(Claim(accuracy=0.98, loss=0.081), t, RULE).verdict == "consistent"
    assert evaluation.judge_claim(Claim(accuracy=0.98, loss=0.5), t, RULE).verdict == "not consistent"


def test_another_protocol_shows_the_checks_but_gives_no_verdict():
    t = _training([0.979, 0.981, 0.983])
    v = evaluation.judge_claim(Claim(accuracy=0.9781, protocol="test"), t, RULE)
    assert v.verdict == "other protocol" and v.outcome == "consistent" and not v.judged_here
    v = evaluation.judge_claim(Claim(accuracy=0.9781, protocol="test"), _training([0.979, 0.981, 0.983],
                                                                                  validation_on="test"), RULE)
    assert v.verdict == "consistent" and v.judged_here


def test_training_accuracy_is_named_only_when_the_claim_is_consistent_with_it():
    v = evaluation.judge_claim(Claim(accuracy=0.9996), _training([0.976, 0.977, 0.978],
                                                                 train_acc=[0.9995, 0.9996, 0.9997]), RULE)
    assert v.verdict == "not consistent" and any("training data" in r for r in _reasons(v))
    assert [c.quantity for c in v.explanations] == ["training accuracy"]
    # several standard deviations above our training accuracy: no such reason
    v = evaluation.judge_claim(Claim(accuracy=0.9996), _training([0.976, 0.977, 0.978],
                                                                 train_acc=[0.990, 0.991, 0.992]), RULE)
    assert v.explanations[0].outcome == "not consistent" and not any("training data" in r for r in _reasons(v))
    # below our test accuracy: training data is never the explanation
    v = evaluation.judge_claim(Claim(accuracy=0.90), _training([0.976, 0.977, 0.978], train_acc=[0.99] * 3), RULE)
    assert not v.explanations and not any("training" in r for r in _reasons(v))


def test_unscaled_pixels_explain_both_numbers_only_when_they_match():
    t = _training([0.92, 0.921, 0.922], test_loss=(0.27, 0.28, 0.27), raw_loss=(34.0, 34.5, 35.0),
                  raw_acc=(0.9099, 0.91, 0.9101))
    v = evaluation.judge_claim(Claim(accuracy=0.91, loss=35.08), t, RULE)
    assert v.verdict == "not consistent"
    assert {c.quantity: c.outcome for c in v.explanations} == {"unscaled test accuracy": "consistent",
                                                               "unscaled test loss": "consistent"}
    assert any("0..255" in r and "accuracy 0.91" in r and "loss 35.08" in r for r in _reasons(v))
    assert "within the printed rounding" not in " ".join(_reasons(v))
    # 0.004 from our mean 0.914: outside the interval (± 0.0007), within the rounding (± 0.005) of it
    t = _training([0.92, 0.921, 0.922], test_loss=(0.27, 0.28, 0.27), raw_loss=(34.0, 34.5, 35.0),
                  raw_acc=(0.9139, 0.914, 0.9141))
    text = " ".join(_reasons(evaluation.judge_claim(Claim(accuracy=0.91, loss=35.08), t, RULE)))
    assert "accuracy 0.91 (ours 0.914, within the printed rounding (± 0.005) of the prediction interval" in text
    # the loss matches, the accuracy does not: the reason says which
    t = _training([0.92, 0.921, 0.922], test_loss=(0.27, 0.28, 0.27), raw_loss=(34.0, 34.5, 35.0),
                  raw_acc=(0.60, 0.61, 0.62))
    v = evaluation.judge_claim(Claim(accuracy=0.91, loss=35.08), t, RULE)
    text = " ".join(_reasons(v))
    assert "loss 35.08" in text and "accuracy is not explained" in text
    # no match: no reason
    t = _training([0.92] * 3, test_loss=(0.27, 0.28, 0.27), raw_loss=(3.0, 3.1, 3.2))
    assert not any("0..255" in r for r in _reasons(evaluation.judge_claim(Claim(loss=35.08), t, RULE)))


def test_dead_units_sigmoid_outputs_and_test_validation_are_reported():
    v = evaluation.judge_claim(Claim(), _training([0.9] * 3, dead=(0, 2, 1), prob_sum=2.5, validation_on="test"), RULE)
    assert v.verdict == "no claim"
    text = " ".join(_reasons(v))
    assert "hidden_2 (10 units)" in text and "in 2 of 3 seeds" in text and "seed 1: 2 (test accuracy 0.9000)" in text
    assert "seed 0:" not in text  # no unit died with seed 0
    assert "sum to 2.500" in text
    assert "validated on the test set" in text


def test_zero_dead_units_are_no_reason():
    v = evaluation.judge_claim(Claim(accuracy=0.8874), _training([0.975, 0.976, 0.977], dead=(0, 0, 0)), RULE)
    assert not any("Dead ReLU" in r for r in _reasons(v))
    assert any("No unit of the narrowest layer hidden_2" in r for r in _reasons(v))


def test_metrics_file_lets_every_verdict_be_recomputed():
    t = _training([0.97, 0.98, 0.99])
    m = evaluation.metrics(t, evaluation.judge_claim(Claim(accuracy=0.98), t, RULE))
    assert set(m) >= {"test_accuracy", "test_loss", "val_accuracy", "train_accuracy", "unscaled_test_accuracy",
                      "unscaled_test_loss", "seeds", "claim", "split"}
    assert m["test_accuracy"] == {"mean": 0.98, "std": 0.01}
    check = m["claim"]["checks"]["test_accuracy"]
    assert m["claim"]["verdict"] == "inconclusive" and check["seeds_needed"] is None  # s = 0.01 ≥ margin / 1.96
    assert check["half_width"] == pytest.approx(round(seed_stats.prediction_half_width(0.01, 3), 6))
    assert m["claim"]["rule"] == {"confidence": 0.95, "accuracy_margin": 0.01, "loss_margin": 0.25}
    assert m["claim"]["protocol"]["source"] == "split" and m["claim"]["protocol"]["run"] == "split"
    assert list(m["seeds"]) == ["0", "1", "2"] and set(m["seeds"]["0"]) >= {"test_accuracy", "train_accuracy",
                                                                            "unscaled_test_accuracy", "dead_units"}


def test_dead_units_of_a_wide_layer_are_not_blamed():
    t = _training([0.9] * 3, dead=(1, 2, 0), cfg=_cfg(hidden=[300, 100]))
    assert not any("Dead ReLU" in r for r in _reasons(evaluation.judge_claim(Claim(accuracy=0.9), t, RULE)))


def test_measurements_without_a_match_are_one_line_not_a_table():
    v = evaluation.judge_claim(Claim(accuracy=0.8874, loss=0.5342), _training([0.975, 0.976, 0.977]), RULE)
    assert v.explanations and not v.matched  # unscaled pixels tried, neither number matches
    assert "unscaled test loss 1 ± 0 (not consistent with 0.5342)" in _box_text(v)
    t = _training([0.92, 0.921, 0.922], test_loss=(0.27, 0.28, 0.27), raw_loss=(34.0, 34.5, 35.0),
                  raw_acc=(0.60, 0.61, 0.62))
    v = evaluation.judge_claim(Claim(accuracy=0.91, loss=35.08), t, RULE)
    assert [c.quantity for c in v.matched] == ["unscaled test accuracy", "unscaled test loss"] and not v.unmatched
    assert "without a match" not in _box_text(v)


def test_a_claim_made_on_another_dataset_is_not_judged():
    t = _training([0.86, 0.87, 0.88], dead=(0, 2, 1))
    v = evaluation.judge_claim(Claim(accuracy=0.9781, loss=0.07), t, RULE, dataset="fashion_mnist")
    assert v.verdict == "other dataset" and v.other_dataset and not v.checks and not v.explanations
    assert v.claimed == (0.9781, 0.07) and (v.claim_dataset, v.run_dataset) == ("mnist", "fashion_mnist")
    assert any("Dead ReLU" in r for r in _reasons(v))  # measured in this run: still shown
    record = evaluation.claim_record(v)
    assert record["dataset"] == {"claim": "mnist", "run": "fashion_mnist", "claimed": [0.9781, 0.07]}
    assert record["checks"] == {} and record["verdict"] == "other dataset"


def test_a_claim_on_its_own_dataset_keeps_the_metrics_file_as_it_was():
    t = _training([0.97, 0.98, 0.99])
    same = evaluation.judge_claim(Claim(accuracy=0.98), t, RULE, dataset="mnist")
    assert same == evaluation.judge_claim(Claim(accuracy=0.98), t, RULE)
    assert "dataset" not in evaluation.claim_record(same)  # MNIST metrics files unchanged, byte for byte
    nothing = evaluation.judge_claim(Claim(), t, RULE, dataset="fashion_mnist")
    assert nothing.verdict == "no claim" and not nothing.other_dataset


def test_the_claim_box_of_another_dataset_is_one_line_without_checks():
    from pipeline.model_report import report

    t = _training([0.86, 0.87, 0.88])
    html = report.claim_box(evaluation.judge_claim(Claim(accuracy=0.9781), t, RULE, dataset="fashion_mnist"), "R1", 3)
    assert "not judged (other dataset)" in html and "<table" not in html and "Rule:" not in html
    assert "R1&#39;s 0.9781 was measured on MNIST; these reports are on Fashion-MNIST, so it is not judged." in html
