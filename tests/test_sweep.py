"""The loss sweep's statistics, table and conclusion on constructed inputs with known answers."""

from __future__ import annotations

import dataclasses
import json
import math
import typing

import numpy as np
import pandas as pd
import pytest

from pipeline.core import hypothesis_tests as ht
from pipeline.core import paths
from pipeline.core.params import load_params
from pipeline.core.params.schema import Loss, TrainingParams
from pipeline.loss_sweep import families, runs, sweep_tables, sweep_text
from tests.conftest import REPO

LOSSES = typing.get_args(Loss)  # categorical, then sparse: the pair the comparison takes


@pytest.fixture(scope="module")
def sweep():
    return load_params(REPO / "params.yaml").sweep


def test_sweep_params_hold_r4s_eleven_variants_and_both_tables(sweep):
    assert len(sweep.variants) == 11 and next(iter(sweep.variants)) == "baseline"
    assert sweep.variants["first_down"].hidden == [100, 156]  # as R4 printed it
    assert sweep.variants["three_layers_dropout_50"].hidden == [128, 128, 128]
    assert sweep.optimizer == "adam" and sweep.epochs == 20 and sweep.batch_size == 512
    for loss in LOSSES:
        assert set(sweep.claimed[loss]) == set(sweep.variants)
    assert sweep.claimed["sparse_categorical_crossentropy"]["first_down"] == [0.067, 0.979]


def test_paired_difference_matches_the_t_interval():
    p = families.paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) · s / √n with s = 1
    assert (p.n, p.mean, p.std) == (3, 2.0, 1.0)
    assert p.low == pytest.approx(2 - half) and p.high == pytest.approx(2 + half)
    assert not p.excludes_zero
    tight = families.paired_difference({0: 1.0, 1: 1.1, 2: 0.9, 5: 7.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert tight.n == 3 and tight.excludes_zero  # seed 5 has no pair and is ignored
    strict = families.paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 0.0, 2: 0.0}, level=0.05 / 20)
    assert strict.half_width == pytest.approx(19.962480 / math.sqrt(3), rel=1e-6)  # t(1 − 0.05/40, 2)
    with pytest.raises(ValueError, match="no shared seeds"):
        families.paired_difference({0: 1.0}, {1: 1.0})


def test_mcnemar_counts_discordant_pairs_and_gives_the_exact_p_value():
    y = np.zeros(30, dtype=int)
    a = np.zeros(30, dtype=int)
    b = np.zeros(30, dtype=int)
    b[:10] = 1  # b wrong on 10 images where a is right
    m = families.mcnemar(a, b, y)
    assert (m.only_a, m.only_b) == (10, 0) and m.p_value == pytest.approx(2 * 0.5 ** 10)
    assert families.mcnemar(a, a, y).p_value == 1.0


def _runs(acc: dict[tuple[str, str, int], float]) -> pd.DataFrame:
    return pd.DataFrame([{"loss": l, "variant": v, "seed": s, "test_accuracy": x, "test_loss": 1 - x}
                         for (l, v, s), x in acc.items()])


def test_r4_table_has_r4s_columns_and_differences_to_the_baseline(sweep):
    loss = LOSSES[1]
    runs = _runs({**{(loss, "baseline", s): 0.97 + 0.001 * s for s in range(3)},
                  **{(loss, "dropout_50", s): 0.98 + 0.001 * s for s in range(3)}})
    t = sweep_tables.r4_table(runs, sweep, loss)
    assert t.index.name == "Description"
    assert list(t.columns) == ["First Layer", "Second Layer", "Third Layer", "Dropout", "Loss", "Loss +/-",
                               "Loss +/-%", "Accuracy", "Accuracy +/-", "Accuracy +/-%", "R4 loss", "R4 accuracy"]
    row = t.loc["Increase dropout to 50%"]
    assert row["Accuracy"] == "0.9810 ± 0.0010" and row["Accuracy +/-"] == "+0.0100" and row["Dropout"] == "50%"
    assert row["R4 accuracy"] == "0.979" and t.loc["Baseline", "Accuracy +/-"] == ""


def test_r4s_numbers_are_left_out_on_another_dataset(sweep):
    loss = LOSSES[1]
    runs = _runs({(loss, v, s): 0.85 for v in ("baseline", "dropout_50") for s in range(3)})
    assert "R4 accuracy" in sweep_tables.r4_table(runs, sweep, loss, "mnist").columns
    t = sweep_tables.r4_table(runs, sweep, loss, "fashion_mnist")
    assert not any(c.startswith("R4") for c in t.columns) and t.columns[-1] == "Accuracy +/-%"
    assert sweep_tables.claims_apply(sweep, "mnist") and not sweep_tables.claims_apply(sweep, "fashion_mnist")


def _sweep_runs(sweep, noise: float = 0.0005, shift: dict[str, float] | None = None, losses=LOSSES):
    """Three seeds of every variant; ``shift`` adds to a variant's accuracy (both losses)."""
    rng = np.random.default_rng(0)
    acc = {}
    for loss in losses:
        for v in sweep.variants:
            for s in range(3):
                acc[(loss, v, s)] = 0.977 + (shift or {}).get(v, 0.0) + noise * rng.standard_normal()
    return _runs(acc)


def test_family_a_tests_every_variant_and_metric_under_holm(sweep):
    loss = LOSSES[0]
    runs = _sweep_runs(sweep, shift={"dropout_50": 0.01}, losses=[loss])
    fam = families.versus_baseline(runs, sweep, loss)
    assert fam.m == 20 and fam.level == pytest.approx(0.0025) and fam.members == "10 variants × 2 metrics"
    t = fam.table
    adjusted, rejected = ht.holm(t["p"])
    assert t["p_holm"].tolist() == pytest.approx(adjusted.tolist()) and t["significant"].tolist() == rejected.tolist()
    row = t[(t["variant"] == "dropout_50") & (t["metric"] == "test_accuracy")].iloc[0]
    assert row["significant"] and row["better"] and row["difference"] == pytest.approx(0.01, abs=0.002)
    # the interval is simultaneous (level 0.05/20) and its half-width is the detectable difference
    assert row["ci_high"] - row["difference"] == pytest.approx(row["detectable"])
    assert row["detectable"] == pytest.approx(ht.t_quantile(1 - 0.05 / 40, 2) * row["std"] / math.sqrt(3))
    assert row["detectable_80"] > row["detectable"]
    loss_row = t[(t["variant"] == "dropout_50") & (t["metric"] == "test_loss")].iloc[0]
    assert loss_row["better"]  # lower loss
    text = sweep_text.statement(fam)
    assert "Family A" in text and "20 tests (10 variants × 2 metrics)" in text and "Holm" in text
    assert "1 − 0.05/20 = 99.75 % (Bonferroni)" in text
    # the power at the detectable difference is stated, with the caveat of a 3-seed spread; never "about half"
    assert "found with a power of" in text and "0.52 and 6.28 times the observed one" in text
    assert "half the time" not in text


def test_the_baseline_sentence_is_computed_and_names_detectable_differences(sweep):
    loss = LOSSES[0]
    quiet = sweep_text.baseline(families.versus_baseline(_sweep_runs(sweep, losses=[loss]), sweep, loss), loss)
    assert "0 of 20 comparisons with the baseline are significant" in quiet
    assert "No difference was detected for 10 variants in test accuracy; the smallest difference the test would have " \
           "called significant is" in quiet
    assert "half the time" not in quiet and "found with a power of" in quiet and "0.52–6.28 times it" in quiet
    assert "R4 ranked variants by differences of 0.001" in quiet
    loud = sweep_text.baseline(families.versus_baseline(
        _sweep_runs(sweep, shift={"dropout_50": 0.01}, losses=[loss]), sweep, loss), loss)
    assert loud != quiet and "better: Increase dropout to 50% (test accuracy +0.01" in loud
    same = sweep_text.baseline(families.versus_baseline(
        _sweep_runs(sweep, shift={"dropout_50": 0.01}, losses=[loss], noise=0.0), sweep, loss), loss)
    # the same +0.01 in all 3 seeds: no spread for a t-test; the exact sign-flip p = 0.25 is not significant
    assert "0 of 20 comparisons with the baseline are significant" in same
    assert "the same non-zero value in every seed for 1 variant in test accuracy" in same and "p = 0.25" in same
    assert "no difference was detected for 9 variants in test accuracy" in loud.lower()


def _identical_outputs(sweep, seeds=(0, 1, 2), images=50, flip: dict | None = None):
    """Probabilities and histories of both losses, identical unless ``flip`` says
    {(variant, seed): number of images whose sparse prediction moves to a wrong class}."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, images)
    probs, hist = {}, {}
    for v in sweep.variants:
        for s in seeds:
            p = np.full((images, 10), 0.01, dtype=np.float32)
            p[np.arange(images), y] = 0.91
            p[:3] = np.roll(p[:3], 1, axis=1)  # 3 images wrong in both runs
            h = {k: list(np.linspace(0.1, 0.9, 4)) for k in runs.HISTORY_KEYS}
            probs[(LOSSES[0], v, s)], hist[(LOSSES[0], v, s)] = p, h
            q = p.copy()
            k = (flip or {}).get((v, s), 0)
            if k:
                q[3:3 + k] = np.roll(q[3:3 + k], 1, axis=1)
                q[-1, 0] += np.float32(1e-7)
            probs[(LOSSES[1], v, s)] = q
            hist[(LOSSES[1], v, s)] = {key: [x + (1e-9 if k else 0.0) for x in val] for key, val in h.items()}
    return probs, hist, y


def _runs_of(probs, y):
    return pd.DataFrame([{"loss": l, "variant": v, "seed": s, "test_accuracy": float((p.argmax(1) == y).mean()),
                          "test_loss": 0.1} for (l, v, s), p in probs.items()])


def test_identity_counts_bit_identical_pairs_exactly(sweep):
    probs, hist, y = _identical_outputs(sweep, flip={("baseline", 1): 4})
    ident = families.identity(probs, hist, sweep)
    assert len(ident) == 33 and int(ident["probabilities_identical"].sum()) == 32
    row = ident[(ident["variant"] == "baseline") & (ident["seed"] == 1)].iloc[0]
    assert not row["probabilities_identical"] and row["same_class"] == 46 and not row["histories_identical"]
    assert row["max_abs_difference"] == pytest.approx(0.9)  # 0.91 − 0.01 where the class moved
    text = sweep_text.identity(families.LossComparison(ident, None, None))
    assert "bit-identical in 32 of 33 pairs" in text and "the same on every test image in 32 of 33 pairs" in text
    assert "exactly equal in 32 of 33 pairs" in text and "46 of 50" in text
    same = sweep_text.identity(families.LossComparison(families.identity(*_identical_outputs(sweep)[:2], sweep), None, None))
    assert "bit-identical in 33 of 33 pairs" in same and "to the last bit" in same


def test_a_difference_below_float32_rounding_is_not_identity(sweep):
    probs, hist, _ = _identical_outputs(sweep, seeds=(0,))
    key = (LOSSES[1], "baseline", 0)
    probs[key] = probs[key].copy()
    probs[key][0, 0] = np.nextafter(probs[key][0, 0], np.float32(1))  # one ulp: invisible at 6 decimals
    ident = families.identity(probs, hist, sweep)
    row = ident[ident["variant"] == "baseline"].iloc[0]
    assert not row["probabilities_identical"] and 0 < row["max_abs_difference"] < 1e-8
    assert row["same_class"] == row["images"]


def test_mcnemar_is_per_seed_under_holm_with_detectable_differences(sweep):
    probs, hist, y = _identical_outputs(sweep, images=400, flip={("baseline", 0): 40, ("baseline", 1): 3})
    comp = families.compare_losses(_runs_of(probs, y), probs, hist, y, sweep)
    c = comp.mcnemar
    assert c.m == 33 and c.members == "11 variants × 3 seeds" and c.level == pytest.approx(0.05 / 33)
    t = c.table.set_index(["variant", "seed"])
    big, small = t.loc[("baseline", 0)], t.loc[("baseline", 1)]
    assert (big["only_categorical_right"], big["only_sparse_right"]) == (40, 0)
    assert big["p"] == pytest.approx(2 * 0.5 ** 40) and big["significant"]
    assert big["p_holm"] == pytest.approx(min(1, 33 * 2 * 0.5 ** 40))
    assert small["discordant"] == 3 and not small["significant"] and math.isnan(small["detectable"])
    assert big["detectable_count"] == ht.mcnemar_detectable(40, 0.05 / 33)
    assert big["detectable"] == pytest.approx(big["detectable_count"] / 400)
    quiet = t.loc[("dropout_50", 2)]
    assert quiet["discordant"] == 0 and quiet["p"] == 1.0
    text = sweep_text.conclusion(comp, {})
    assert "Family C" in text and "1 of 33 tests significant (Baseline: 1 of 3 seeds)" in text
    assert "no split of it could be significant" in text and "b = c = 0" in text
    summary = families.variant_summary(comp).set_index("variant")
    assert summary.loc["baseline", "mcnemar"] == "significant in 1 of 3 seeds"
    assert summary.loc["baseline", "probabilities_identical"] == "1 of 3"


def test_family_b_and_the_conclusion_follow_the_numbers(sweep):
    probs, hist, y = _identical_outputs(sweep)
    runs_ = _runs_of(probs, y)
    quiet = sweep_text.conclusion(families.compare_losses(runs_, probs, hist, y, sweep), {})
    b = families.compare_losses(runs_, probs, hist, y, sweep).paired
    assert b.m == 11 and b.level == pytest.approx(0.05 / 11) and not b.table["significant"].any()
    assert any("give the same test accuracy in every seed of all 11 variants: the difference is exactly 0" in s
               for s in quiet.splitlines())
    assert "between +0.0000 and +0.0000" not in quiet  # identical runs: said once, not as a range of zeros
    assert any("trained from the same 3 seeds" in s for s in quiet.splitlines())
    assert any("0 of 33 tests significant" in s for s in quiet.splitlines())
    # a real accuracy difference between the losses of one variant, in every seed
    shifted = runs_.copy()
    noise = {0: 0.0, 1: 0.0004, 2: -0.0003}
    rows = (shifted["loss"] == LOSSES[0]) & (shifted["variant"] == "dropout_50")
    shifted.loc[rows, "test_accuracy"] += 0.01 + shifted.loc[rows, "seed"].map(noise)
    other = (shifted["loss"] == LOSSES[0]) & (shifted["variant"] == "baseline")
    shifted.loc[other, "test_accuracy"] += shifted.loc[other, "seed"].map(noise)
    loud = sweep_text.conclusion(families.compare_losses(shifted, probs, hist, y, sweep), {})
    assert loud != quiet
    text = loud
    assert "1 of 11 variants significant (Increase dropout to 50% +0.0100)" in text
    assert "no difference was detected for 1 variant; the smallest difference the test would have called significant is" in text
    assert "the difference is exactly 0 in every seed for 9 variants" in text


def test_conclusion_names_variants_beyond_noise_against_the_baseline(sweep):
    loss = LOSSES[0]
    fam = families.versus_baseline(_sweep_runs(sweep, shift={"dropout_50": 0.01, "first_up": -0.01}, losses=[loss]),
                                sweep, loss)
    text = sweep_text.conclusion(None, {loss: fam})
    assert "better: Increase dropout to 50% (test accuracy +0.0" in text
    assert "worse: Increase neurons in 1st layer (test accuracy -0.0" in text


def test_metrics_carry_family_a_rounded(sweep):
    loss = LOSSES[0]
    rs = [runs.RunResult(loss=loss, variant=v, seed=s, test_loss=0.1 + 0.001 * s, test_accuracy=0.97 + 0.0003 * s
                         + (0.01 if v == "dropout_50" else 0.0) + 0.0001 * (s * s % 3),
                         history={k: [0.5] for k in runs.HISTORY_KEYS}, probabilities=np.zeros((2, 10), np.float32),
                         fit_seconds=1.0, key="k") for v in sweep.variants for s in range(3)]
    m = sweep_tables.metrics(rs, sweep)
    assert m["family_a"] == {"tests": 20, "alpha": 0.05, "level": 0.0025}
    vb = m["variants"]["dropout_50"]["versus_baseline"]["test_accuracy"]
    # +0.01 in every seed (no spread): the exact sign-flip p = 0.25, × 20 by Holm: not significant
    assert vb["difference"] == 0.01 and vb["significant"] is False and vb["p_holm"] == 1.0
    assert set(vb) == {"difference", "p_holm", "significant", "detectable"}
    assert "versus_baseline" not in m["variants"]["baseline"]
    assert json.dumps(m) == json.dumps(sweep_tables.metrics(rs, sweep))


def test_the_predictions_file_keeps_probabilities_and_histories_exactly(tmp_path, sweep, monkeypatch):
    loss = LOSSES[1]
    rng = np.random.default_rng(2)
    rs = [runs.RunResult(loss=loss, variant=v, seed=s, test_loss=float(rng.random()), test_accuracy=1 / 3,
                         history={k: list(rng.random(2)) for k in runs.HISTORY_KEYS},
                         probabilities=rng.random((7, 10), dtype=np.float32), fit_seconds=1.0, key="k")
          for v in ("baseline", "three_layers_dropout_50") for s in (0, 11)]
    sweep_tables.write_outputs(loss, rs, sweep, root=tmp_path)
    out = sweep_tables.read_outputs(loss, root=tmp_path)
    assert set(out.probabilities) == {(loss, r.variant, r.seed) for r in rs}
    for r in rs:
        p = out.probabilities[(loss, r.variant, r.seed)]
        assert p.dtype == np.float32 and p.tobytes() == r.probabilities.tobytes()
        h = out.histories[(loss, r.variant, r.seed)]
        assert all(list(h[k]) == r.history[k] for k in runs.HISTORY_KEYS)  # exact, not to 6 decimals
        row = out.runs[(out.runs["variant"] == r.variant) & (out.runs["seed"] == r.seed)].iloc[0]
        assert (row["test_loss"], row["test_accuracy"]) == (r.test_loss, r.test_accuracy)  # the CSV rounds them


def test_the_split_policy_is_stated_from_the_prepared_arrays(sweep):
    from pipeline.core.dataset import Dataset

    rng = np.random.default_rng(3)
    ds = Dataset(name="mnist", title="t", class_names=tuple("0123456789"),
                 x_train=rng.integers(0, 255, (200, 28, 28), dtype=np.uint8),
                 y_train=np.arange(200) % 10, x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
                 y_test=np.arange(20) % 10)
    small = sweep.model_copy(update={"seeds": [0, 1]})
    splits = runs.seed_splits(small, ds)
    assert [s.seed for s in splits] == [0, 1] and all(s.distinct == 1 and s.runs == 22 for s in splits)
    assert splits[0].sha256 != splits[1].sha256 and splits[0].fit + splits[0].validation == 200
    text = sweep_text.split_policy(splits)
    assert "one validation split per seed" in text and "all 22 runs of each seed" in text
    assert "the seeds' splits differ" in text
    bad = [dataclasses.replace(splits[0], distinct=2), splits[1]]
    assert "**Not** shared: the runs of seed(s) 0" in sweep_text.split_policy(bad)


def test_cache_key_depends_on_what_determines_the_result_only(sweep):
    training = TrainingParams()
    env = {"tensorflow-cpu": "2.20.0", "cpu": "x86_64:avx,avx2,fma"}

    def k(v, s, tr=training, data="d", environment=env):
        return runs.cache_key(runs.variant_config(sweep, v, LOSSES[0], s), tr, data, "c", environment)

    assert k("baseline", 0) == k("baseline", 0)
    assert len({k("baseline", 0), k("baseline", 1), k("dropout_50", 0), k("baseline", 0, data="e"),
                k("baseline", 0, tr=TrainingParams(sample_size=5)),
                k("baseline", 0, environment={**env, "tensorflow-cpu": "2.21.0"}),
                k("baseline", 0, environment={**env, "cpu": "x86_64:avx,avx2,fma,avx512f"})}) == 7
    # the description is not part of the key
    renamed = sweep.model_copy(deep=True)
    renamed.variants["baseline"].description = "renamed"
    assert runs.cache_key(runs.variant_config(renamed, "baseline", LOSSES[0], 0), training, "d", "c",
                          env) == k("baseline", 0)


def test_the_code_in_the_key_is_every_training_module_that_train_imports():
    # A change to the training loop must train the sweep again: the modules of
    # pipeline/modeling that train.py imports (the loops it calls) are hashed into every key.
    import ast

    tree = ast.parse((paths.PACKAGE_DIR / "modeling/train.py").read_text())
    imported = {f"modeling/{alias.name}.py" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == "pipeline.modeling" for alias in node.names}
    imported.discard("modeling/executor.py")  # where runs run, not what they compute (test_executor: same bits)
    assert imported and imported <= set(runs.TRAINING_CODE), imported - set(runs.TRAINING_CODE)
    assert {"modeling/train.py", "core/dataset.py"} <= set(runs.TRAINING_CODE)
    assert all((paths.PACKAGE_DIR / name).is_file() for name in runs.TRAINING_CODE)


def test_the_environment_fingerprint_names_packages_and_cpu():
    from pipeline.core import provenance

    env = provenance.environment_fingerprint()
    assert {"python", "numpy", "keras", "scikit-learn"} <= set(env) and env["cpu"].startswith(("x86_64:", "aarch64:"))


def _probabilities(n: int) -> np.ndarray:
    return np.random.default_rng(n).dirichlet(np.ones(10), n).astype(np.float32)


def _result(expected: runs.ExpectedRun, **changes) -> runs.RunResult:
    base = dict(loss=expected.loss, variant=expected.variant, seed=expected.seed, test_loss=0.1, test_accuracy=0.97,
                history={k: [0.5 + 1e-9 * i for i in range(expected.epochs)] for k in runs.HISTORY_KEYS},
                probabilities=_probabilities(expected.n_test), fit_seconds=1.0, key=expected.key)
    return runs.RunResult(**{**base, **changes})


def test_a_cached_run_is_used_only_if_every_field_matches(tmp_path):
    expected = runs.ExpectedRun("categorical_crossentropy", "baseline", 0, epochs=2, n_test=5, key="k" * 24)
    runs.store(tmp_path, _result(expected))
    back = runs.load_cached(tmp_path, expected, log=lambda *_: None)
    assert back.from_cache and back.probabilities.dtype == np.float32
    assert back.probabilities.tobytes() == _probabilities(5).tobytes()  # bit for bit
    assert back.history == _result(expected).history and back.predictions.tolist() == _probabilities(5).argmax(1).tolist()
    said = []
    for bad in ({"seed": 1}, {"variant": "other"}, {"loss": "sparse_categorical_crossentropy"},
                {"probabilities": _probabilities(4)}, {"history": {k: [0.5] for k in runs.HISTORY_KEYS}},
                {"test_accuracy": 1.5}):
        runs.store(tmp_path, _result(expected, **bad))
        assert runs.load_cached(tmp_path, expected, log=said.append) is None, bad
    assert len(said) == 6 and all("does not match its run" in s for s in said)
    runs.cache_file(tmp_path, expected.key).write_text("{not json")
    assert runs.load_cached(tmp_path, expected, log=said.append) is None and "unreadable" in said[-1]
    assert runs.load_cached(tmp_path, runs.ExpectedRun("x", "y", 0, 1, 1, "absent"), log=said.append) is None


def test_a_cache_entry_with_altered_or_missing_probabilities_is_trained_again(tmp_path):
    expected = runs.ExpectedRun("categorical_crossentropy", "baseline", 0, epochs=2, n_test=5, key="k" * 24)
    runs.store(tmp_path, _result(expected))
    path = runs.cache_file(tmp_path, expected.key)
    entry = json.loads(path.read_text())
    said = []
    tampered = dict(entry, probabilities=runs.encode_array(_probabilities(5) * np.float32(0.5)))
    tampered["probabilities"]["sha256"] = entry["probabilities"]["sha256"]  # bytes no longer match the hash
    half = dict(entry, probabilities=runs.encode_array(_probabilities(5).astype(np.float16)))  # not float32
    old_format = {k: v for k, v in entry.items() if k != "probabilities"} | {"predictions": [1] * 5}
    for bad in (tampered, half, old_format):
        path.write_text(json.dumps(bad))
        assert runs.load_cached(tmp_path, expected, log=said.append) is None
    assert len(said) == 3 and all("unreadable" in s for s in said)


def test_the_cache_format_is_part_of_the_key(sweep, monkeypatch):
    cfg = runs.variant_config(sweep, "baseline", LOSSES[0], 0)
    before = runs.cache_key(cfg, TrainingParams(), "d", "c", {})
    monkeypatch.setattr(runs, "CACHE_FORMAT", runs.CACHE_FORMAT + 1)
    assert runs.cache_key(cfg, TrainingParams(), "d", "c", {}) != before


def test_unreachable_lists_entries_no_live_run_uses(tmp_path):
    for key in ("a", "b", "c"):
        (tmp_path / f"{key}.json").write_text("{}")
    assert [p.name for p in runs.unreachable(tmp_path, {"a", "c"})] == ["b.json"]
    assert runs.unreachable(tmp_path / "absent", set()) == []


def test_bad_sweep_references_are_refused():
    from pipeline.core.params import ParamsError, parse_params

    base = {"losses": ["categorical_crossentropy"], "variants": {"baseline": {"description": "b", "hidden": [4]}}}
    with pytest.raises(ParamsError, match="unknown variant"):
        parse_params({"sweep": {**base, "claimed": {"categorical_crossentropy": {"nope": [0.1, 0.9]}}}})
    with pytest.raises(ParamsError, match="distinct"):
        parse_params({"sweep": {**base, "seeds": [1, 1]}})
    with pytest.raises(ParamsError, match="sweep.claimed"):
        parse_params({"sweep": {**base, "claimed": {"hinge": {}}}})
