"""R4's printed sweep pairs judged by the model claims' rule (pipeline/loss_sweep/claims.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.core.params.loading import load_params
from pipeline.core.params.schema import VerdictParams
from pipeline.loss_sweep import claims, sweep_tables
from pipeline.model_report import evaluation
from tests.conftest import REPO

RULE = VerdictParams()
LOSS = "categorical_crossentropy"


@pytest.fixture(scope="module")
def sweep():
    return load_params(REPO / "params.yaml").sweep


def _runs(values: dict[str, tuple[list[float], list[float]]], loss: str = LOSS) -> pd.DataFrame:
    """variant → (test losses, test accuracies), one per seed."""
    return pd.DataFrame([{"loss": loss, "variant": v, "seed": s, "test_loss": lo, "test_accuracy": acc}
                         for v, (losses, accs) in values.items() for s, (lo, acc) in enumerate(zip(losses, accs))])


def test_each_printed_pair_is_judged_by_the_model_rule(sweep):
    # R4 printed baseline [0.073, 0.979], both_up ["0.070", "0.980"], three_layers [0.089, 0.978]
    runs = _runs({"baseline": ([0.072, 0.073, 0.074], [0.9789, 0.9790, 0.9791]),
                  "both_up": ([0.0700, 0.0701, 0.0702], [0.9700, 0.9701, 0.9702]),
                  "three_layers": ([0.03, 0.09, 0.15], [0.978, 0.978, 0.978])})
    verdicts = claims.judge(runs, sweep, LOSS, RULE)
    by = {v.variant: v for v in verdicts}
    assert list(by) == ["baseline", "both_up", "three_layers"]  # variants we did not run are left out
    assert by["baseline"].outcome == "consistent"
    assert by["both_up"].outcome == "not consistent"  # accuracy 0.980 far above 0.9701
    assert by["three_layers"].outcome == "inconclusive"  # a loss spread wider than 25 % of 0.089
    # the same function as a model claim: same numbers in, same check out, each number at 1 − 0.05/2
    loss, acc = by["both_up"].checks
    assert acc == evaluation.check_quantity("test accuracy", sweep.claimed[LOSS]["both_up"][1],
                                            [0.9700, 0.9701, 0.9702], RULE, 2)
    assert acc.confidence == pytest.approx(0.975) and acc.rounding == pytest.approx(0.0005)  # "0.980" as printed
    assert loss.claimed.text == "0.070" and loss.rounding == pytest.approx(0.0005)
    assert claims.counts(verdicts) == {"consistent": 1, "not consistent": 1, "inconclusive": 1}


def test_the_record_table_and_words(sweep):
    runs = _runs({"baseline": ([0.072, 0.073, 0.074], [0.9789, 0.9790, 0.9791])})
    verdicts = claims.judge(runs, sweep, LOSS, RULE)
    rec = claims.record(verdicts)
    assert rec["pairs"] == 1 and rec["counts"]["consistent"] == 1
    assert set(rec["variants"]["baseline"]["checks"]) == {"test_loss", "test_accuracy"}
    table = claims.table(verdicts)
    assert table.iloc[0]["R4 loss"] == "0.073" and table.iloc[0]["verdict"] == "consistent"
    text = " ".join(claims.text(verdicts, sweep, LOSS, RULE).split())
    assert text.startswith("1 printed pair of R4 (categorical CE (one-hot labels)), each judged against our 3 seeds")
    assert "1 consistent, 0 not consistent, 0 inconclusive" in text
    assert "(here 2 printed numbers and n = 3 seeds: each interval at 97.5 %, t = 6.205)" in text
    assert "validated on the test set" in text
    assert "our runs fit on 90 % of the training images and validate on the held-out 10 %" in text


def test_no_verdict_on_another_dataset_and_the_metrics_carry_the_counts(sweep):
    runs = _runs({"baseline": ([0.072, 0.073, 0.074], [0.9789, 0.9790, 0.9791])})
    assert claims.judge(runs, sweep, LOSS, RULE, dataset="fashion_mnist") == []
    assert "no pair" in claims.text([], sweep, LOSS, RULE)
    from pipeline.loss_sweep import runs as sweep_runs

    results = [sweep_runs.RunResult(loss=LOSS, variant="baseline", seed=s, test_loss=lo, test_accuracy=acc,
                                    history={k: [0.5] for k in sweep_runs.HISTORY_KEYS}, probabilities=None,
                                    fit_seconds=1.0, key="k")
               for s, (lo, acc) in enumerate(zip([0.072, 0.073, 0.074], [0.9789, 0.9790, 0.9791]))]
    m = sweep_tables.metrics(results, sweep, RULE)
    assert m["r4_claims"]["counts"] == {"consistent": 1, "not consistent": 0, "inconclusive": 0}
    assert "r4_claims" not in sweep_tables.metrics(results, sweep)  # without a rule, the file is as before


def test_the_comparison_conclusion_counts_the_verdicts_per_loss(sweep):
    from pipeline.loss_sweep import sweep_text

    runs = _runs({"baseline": ([0.072, 0.073, 0.074], [0.9789, 0.9790, 0.9791]),
                  "both_up": ([0.0700, 0.0701, 0.0702], [0.9700, 0.9701, 0.9702])})
    verdicts = {LOSS: claims.judge(runs, sweep, LOSS, RULE)}
    text = " ".join(sweep_text.conclusion(None, {}, verdicts).split())
    assert ("R4's printed pairs with categorical CE (one-hot labels), judged against our seeds of the same variant"
            in text and "1 of 2 consistent, 1 not consistent, 0 inconclusive" in text)
    assert "validated each single run on the test set, our runs on held-out training images" in text
    assert "R4's printed pairs" not in sweep_text.conclusion(None, {})
