"""The model report's HTML pieces: the claim box, its reasons and the verdict rule, rendered
from their templates (pipeline/model_report/templates, pipeline/core/templates)."""

from __future__ import annotations

import html
import re

import jinja2
import pytest

from pipeline.core import numbers
from pipeline.core.params.schema import Claim, VerdictParams
from pipeline.model_report import evaluation, report
from tests.test_evaluation import _training

RULE = VerdictParams()


def _text(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def test_a_reason_record_gives_its_sentence():
    r = {"kind": "output sums", "mean": 2.5, "low": 2.25, "high": 2.75, "activation": "sigmoid"}
    assert report.reason_text(r) == ("The ten outputs do not form a probability distribution: they sum to 2.500 on "
                                     "average (range 2.250–2.750); the sigmoid output is used with a softmax-style "
                                     "loss.")
    dead = {"kind": "dead units", "layer": "hidden_2", "width": 10, "seeds": 3, "outputs": 10, "narrow": True,
            "died": [{"seed": 1, "dead": 2, "test_accuracy": 0.9}]}
    assert report.reason_text(dead) == (
        "Dead ReLU units in the narrowest layer hidden_2 (10 units), never active on any test image, in 1 of 3 seeds: "
        "seed 1: 2 (test accuracy 0.9000). With only 10 units before the 10 outputs, every dead unit removes one of "
        "the few directions that reach the output.")
    assert report.reason_text({**dead, "died": []}) == (
        "No unit of the narrowest layer hidden_2 (10 units) died in any of our 3 seeds (each one is active on some "
        "test image).")


def test_a_reason_with_a_missing_field_or_an_unknown_kind_fails():
    with pytest.raises(jinja2.UndefinedError):
        report.reason_text({"kind": "output sums", "mean": 2.5, "low": 2.25, "high": 2.75})
    with pytest.raises(jinja2.UndefinedError):
        report.reason_text({"kind": "a reason nobody wrote"})


def test_why_a_check_has_its_outcome():
    below = evaluation.check_quantity("test accuracy", 0.8874, [0.975, 0.976, 0.977], RULE)
    assert report.check_text(below) == f"below the interval by {below.beyond:.4g}"
    assert report.check_text(evaluation.check_quantity("test accuracy", 0.976, [0.975, 0.976, 0.977], RULE)) \
        == "inside the interval"
    assert report.check_text(evaluation.check_quantity("test accuracy", numbers.Printed("0.9800"),
                                                       [0.977, 0.980, 0.983], RULE)) == (
        "the interval widened by the printed rounding (± 0.0149 + 0.00005) is wider than the margin ± 0.01; "
        "5 seeds at this spread would decide")
    assert report.check_text(evaluation.check_quantity("test accuracy", 0.98, [0.977, 0.980, 0.983], RULE)) == (
        "the interval widened by the printed rounding (± 0.0149 + 0.005) is wider than the margin ± 0.01, and no "
        "number of seeds narrows it enough: single runs vary by more than the margin")


def test_the_claim_box_states_the_rule_from_the_one_template():
    v = evaluation.judge_claim(Claim(accuracy=0.9781), _training([0.979, 0.981, 0.983]), RULE)
    text = _text(report.claim_box(v, "R1", 3))
    assert ("Rule: a claim is consistent when each number the source printed lies inside a prediction interval for "
            "one new run, mean ± t·s·√(1 + 1/n) with t a quantile of Student's t with n − 1 degrees of freedom, "
            "widened by half a unit of the printed number's last digit; a verdict that combines k printed numbers "
            "(accuracy and loss: k = 2) takes each interval at confidence 1 − 0.05/k (95 % for one number, 97.5 % each "
            "for two), so that a faithful reproduction is judged not consistent at most about 5 % of the time (here 1 "
            "printed number and n = 3 seeds: each interval at 95 %, t = 4.303); not consistent outside it; "
            "inconclusive when inside but the interval, widened by the rounding, is wider than the margin "
            "(accuracy ± 0.01, loss ± 25 % of the claim).") in text
    other = VerdictParams(confidence=0.9, accuracy_margin=0.02, loss_margin=0.1)
    v = evaluation.judge_claim(Claim(accuracy=0.98), _training([0.98]), other)
    text = _text(report.claim_box(v, "R1", 1))
    assert "90 % prediction interval for one new run" in text and "(here 1 printed number and n = 1 seeds: each " \
        "interval at 90 %, t = undefined)" in text
    assert "at most about 10 % of the time" in text and "(accuracy ± 0.02, loss ± 10 % of the claim)" in text


def test_the_claim_box_escapes_what_it_is_given():
    v = evaluation.judge_claim(Claim(accuracy=0.9781), _training([0.979, 0.981, 0.983]), RULE)
    assert "<b>R1</b>" not in report.claim_box(v, "<b>R1</b>", 3)


def test_the_mistakes_and_own_images_paragraphs_follow_the_dataset():
    from pipeline.core import numbers, dataset_words

    mnist, fashion = dataset_words.words("mnist"), dataset_words.words("fashion_mnist")
    assert "Several are digits that a person would also hesitate over" in report.mistakes_text(mnist)
    assert "Several are clothing items that a person" in report.mistakes_text(fashion)
    own = report.own_images_text(mnist)
    assert "made to look like MNIST" in own and "cropped to the digit, fitted into a $20 \\times 20$ box" in own
    assert "turned upright as its EXIF orientation says" in own and "(a table, a scanner's lid) taken as background" in own
    assert "classifies 4 photos and 2 drawings. The photos are of the first 4 test digits" in own
    assert report.own_images_text(fashion) == (
        "`python -m pipeline predict` prepares images the way MNIST was made, for models trained on MNIST; these "
        "reports are on Fashion-MNIST, so this section is left out.")


def test_the_claim_section_says_how_a_claim_is_judged_or_why_it_is_not():
    t = _training([0.86, 0.87, 0.88])
    judged = report.claim_section_text(evaluation.judge_claim(Claim(accuracy=0.9781), t, RULE))
    assert "a verdict by the rule printed in the box" in judged
    other = report.claim_section_text(evaluation.judge_claim(Claim(accuracy=0.9781), t, RULE, dataset="fashion_mnist"))
    assert other.startswith("The source printed its numbers for MNIST; these reports are on Fashion-MNIST, so the box")
    assert "verdict" not in other and "prediction interval" not in other


def test_the_report_heading_data_line_and_headline_come_from_templates():
    from pipeline.core.params import load_params
    from tests.conftest import REPO

    cfg = load_params(REPO / "params.yaml").models["baseline_faithful"]
    heading = report.heading_text(cfg)
    assert heading.startswith(f"## {cfg.title}\n\n") and " ".join(cfg.description.split()) in heading
    assert "validates on the TEST set" in _text(report.test_validation_warning())
    assert report.data_text("MNIST", True, 54_000, 6_000, 10_000) == (
        "MNIST: 54,000 images to fit, 6,000 to validate (a new split for each seed), 10,000 test images used once "
        "at the end")
    assert report.data_text("MNIST", False, 60_000, 6_000, 10_000) == (
        "MNIST: 60,000 images to fit, validated on the 10,000 TEST images")
    assert report.test_summary_text("0.9790 ± 0.0010", "0.0700 ± 0.0100", 10) == (
        "**Test accuracy 0.9790 ± 0.0010**, test loss 0.0700 ± 0.0100 (mean ± std over 10 seeds).")


def test_the_dropout_sentence_is_there_only_with_dropout():
    from tests.test_evaluation import _cfg

    assert "dropout active" in report.curves_text(_cfg(dropout=0.25))
    plain = report.curves_text(_cfg())
    assert "dropout" not in plain and "Thin lines are single seeds" in plain
    assert "TEST set" in report.curves_text(_cfg(validation="test"))


def test_a_loss_interval_below_zero_is_printed_cut_at_zero():
    v = evaluation.judge_claim(Claim(loss=0.1), _training([0.9] * 3, test_loss=(0.01, 0.2, 0.3)), RULE)
    check = v.checks[0]
    assert check.low < 0 and check.cut  # the formula's lower end is a negative cross-entropy
    text = _text(report.claim_box(v, "R0", 3))
    assert f"0.0000–{check.high:.4f}" in text and "cut at 0.0000: a test loss is never below it" in text
    assert f"{check.low:.4f} –" not in text and f"{check.low:.4f}–" not in text


def test_a_note_that_our_measurement_contradicts_is_said_to_be_unconfirmed():
    t = _training([0.97] * 3, train_acc=[0.9890, 0.9895, 0.9899])
    v = evaluation.judge_claim(Claim(accuracy=0.9996, note="almost surely training accuracy"), t, RULE)
    assert [c.outcome for c in v.explanations] == ["not consistent"]
    text = _text(report.claim_box(v, "R2", 3))
    assert "our note from reading it, before measuring" in text
    c = v.explanations[0]
    assert f"our training accuracy ({c.mean:.4f} ± {c.std:.4f}) is not consistent with 0.9996" in text
    assert "does not confirm that note" in text
    other = evaluation.judge_claim(Claim(accuracy=0.9996, note="validated on the test set"), t, RULE)
    assert "does not confirm" not in _text(report.claim_box(other, "R1", 3))  # a note about something else


def test_dead_units_in_other_layers_are_named():
    t = _training([0.9] * 3)
    for r, n in zip(t.runs, (20, 30, 25)):
        r.dead_units["hidden_1"] = n
    v = evaluation.judge_claim(Claim(), t, RULE)
    text = " ".join(report.reason_text(r) for r in v.reasons)
    assert "No unit of the narrowest layer hidden_2" in text
    assert "other layers have dead units too (the seed table's columns; seeds 0, 1, 2): hidden_1 20, 30, 25" in text
    assert list(evaluation.seed_table(t).columns[4:6]) == ["dead ReLU units in hidden_1", "dead ReLU units in hidden_2"]


def test_a_combined_verdict_takes_each_number_at_the_bonferroni_level():
    v = evaluation.judge_claim(Claim(accuracy=0.9, loss=0.1), _training([0.9, 0.901, 0.899]), RULE)
    text = _text(report.claim_box(v, "R4", 3))
    # the interval shown is the one the verdict used: 97.5 % each, t(0.9875, 2) = 6.205
    assert "97.5 % prediction interval for one new run" in text
    assert "(here 2 printed numbers and n = 3 seeds: each interval at 97.5 %, t = 6.205)" in text
    assert "judged not consistent at most about 5 % of the time" in text and "10 %" not in text


def test_a_claim_consistent_only_by_its_rounding_is_not_called_inside_the_interval():
    t = _training([0.9, 0.9001, 0.9002])  # a narrow interval: ± 0.0004
    check = evaluation.check_quantity("test accuracy", 0.91, [r.test_accuracy for r in t.runs], RULE)
    assert check.outcome == "not consistent"
    check = evaluation.check_quantity("test accuracy", numbers.Printed("0.90"), [0.9027, 0.9028, 0.9029], RULE)
    assert check.outcome == "consistent" and abs(check.claimed - check.mean) > check.half_width and check.by_rounding
    why = report.check_text(check)
    assert "inside the interval" not in why and "within the printed rounding (± 0.005)" in why
    reason = report.reason_text({"kind": "training accuracy", "claimed": check.claimed, "low": check.low,
                                 "high": check.high, "by_rounding": True})
    assert "inside" not in reason and "The claim 0.90 lies within the printed rounding of the prediction" in reason


def test_the_files_a_run_wrote_are_one_sentence():
    assert report.files_text(["reports/metrics/a.json", "reports/plots/a.csv", "models/a.keras"]) == (
        "The files of this run, which DVC tracks: `reports/metrics/a.json`, `reports/plots/a.csv` and `models/a.keras`.")
