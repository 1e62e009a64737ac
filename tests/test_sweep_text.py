"""The loss sweep's paragraphs (pipeline/loss_sweep/sweep_text.py and its templates) from records."""

from __future__ import annotations

import jinja2
import pytest

from pipeline.core import prose
from pipeline.loss_sweep import runs, sweep_text


def test_the_split_policy_sentence_from_its_records():
    splits = [runs.SeedSplit(0, 22, 1, 900, 100, "a"), runs.SeedSplit(1, 22, 1, 900, 100, "b")]
    assert sweep_text.split_policy(splits) == (
        "**Split policy: one validation split per seed.** Each seed holds out 100 of the 1,000 training images for "
        "validation (stratified by class) and fits on the other 900. Checked on the arrays that training receives: "
        "all 22 runs of each seed (every variant, both losses) are validated on the same images with the same "
        "labels; the seeds' splits differ from one another. The two runs of a (variant, seed) pair (one per loss) "
        "also start from the same initial weights (same architecture, same seed), so runs are compared in pairs of "
        "the same seed.")
    assert sweep_text.split_policy([]) == "No seeds, no splits."


def test_a_baseline_record_gives_its_sentence_and_a_missing_field_fails():
    record = {"loss_label": "sparse CE", "m": 0, "alpha": 0.05, "power": 0.8, "step": 0.001, "empty": True}
    assert prose.render(sweep_text.TEMPLATES, "baseline.md.j2", findings=record) == (
        "With sparse CE, no variant shares a seed with the baseline: nothing to compare.")
    with pytest.raises(jinja2.UndefinedError):
        prose.render(sweep_text.TEMPLATES, "baseline.md.j2", findings={**record, "empty": False})


def test_the_r4_columns_say_where_r4s_numbers_are_or_why_they_are_left_out():
    from pipeline.core.params import load_params
    from tests.conftest import REPO

    sweep = load_params(REPO / "params.yaml").sweep
    assert sweep_text.r4_columns(sweep, "mnist").endswith(
        "Ours are the mean ± standard deviation over the seeds; R4's single-run numbers are in the last two columns.")
    assert sweep_text.r4_columns(sweep, "fashion_mnist").endswith(
        "over the seeds; R4's printed numbers were measured on MNIST; these reports are on Fashion-MNIST, so they "
        "are not judged or shown beside ours.")


def test_the_sweep_heading_and_the_single_loss_note_come_from_templates():
    from pipeline.core.params import load_params
    from tests.conftest import REPO

    sweep = load_params(REPO / "params.yaml").sweep
    seeds = ", ".join(map(str, sweep.seeds))
    assert sweep_text.heading(sweep, "categorical_crossentropy") == (
        f"## categorical CE (one-hot labels)\n\n{len(sweep.variants)} variants × {len(sweep.seeds)} seeds ({seeds}), "
        f"adam, 20 epochs at batch 512, 10 % of the training images held out for validation.")
    one = sweep.model_copy(update={"losses": ["sparse_categorical_crossentropy"]})
    assert sweep_text.single_loss(one).startswith(
        "**Nothing to compare:** this sweep trained with one loss only, sparse categorical CE (integer labels).")


def test_r4s_own_loss_tables_are_counted_not_summed_up_as_improved_everywhere():
    from pipeline.core.params import load_params
    from tests.conftest import REPO

    sweep = load_params(REPO / "params.yaml").sweep
    text = sweep_text.r4_losses(sweep, "mnist")
    assert "For the 11 variants of this sweep" in text and "higher in 4, lower in 5 and equal in 2" in text
    assert "at most 0.002" in text
    assert sweep_text.r4_losses(sweep, "fashion_mnist") == ""  # R4's numbers are MNIST's


def test_identical_runs_are_said_once_in_place_of_rows_of_p_equal_1():
    from pipeline.core.params import load_params
    from pipeline.loss_sweep import families
    from tests.conftest import REPO
    from tests.test_sweep import _identical_outputs, _runs_of

    sweep = load_params(REPO / "params.yaml").sweep
    probs, hist, y = _identical_outputs(sweep)
    same = families.compare_losses(_runs_of(probs, y), probs, hist, y, sweep)
    assert sweep_text.identical(same) and not sweep_text.identical(None)
    assert sweep_text.same_runs(same.paired).startswith("The two losses' runs are bit-identical (above)")
    assert "its 11 rows of p = 1 are not shown" in sweep_text.same_runs(same.paired)
    probs, hist, y = _identical_outputs(sweep, flip={("baseline", 1): 4})
    assert not sweep_text.identical(families.compare_losses(_runs_of(probs, y), probs, hist, y, sweep))
