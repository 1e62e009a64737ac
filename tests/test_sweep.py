"""The loss sweep's statistics, table and conclusion on constructed inputs with known answers."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from pipeline.core import config
from pipeline.loss_sweep import runs, stats, tables
from tests.conftest import REPO


@pytest.fixture(scope="module")
def spec():
    return config.load_params(REPO / "params.yaml").sweep


def test_sweep_params_hold_r4s_eleven_variants_and_both_tables(spec):
    assert len(spec.variants) == 11 and next(iter(spec.variants)) == "baseline"
    assert spec.variants["first_down"].hidden == [100, 156]  # as R4 printed it
    assert spec.variants["three_layers_dropout_50"].hidden == [128, 128, 128]
    assert spec.optimizer == "adam" and spec.epochs == 20 and spec.batch_size == 512
    for loss in config.LOSSES:
        assert set(spec.claimed[loss]) == set(spec.variants)
    assert spec.claimed["sparse_categorical_crossentropy"]["first_down"] == [0.067, 0.979]


def test_paired_difference_matches_the_t_interval():
    p = stats.paired_difference({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) · s / √n with s = 1
    assert (p.n, p.mean, p.std) == (3, 2.0, 1.0)
    assert p.low == pytest.approx(2 - half) and p.high == pytest.approx(2 + half)
    assert not p.excludes_zero
    tight = stats.paired_difference({0: 1.0, 1: 1.1, 2: 0.9, 5: 7.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    assert tight.n == 3 and tight.excludes_zero  # seed 5 has no pair and is ignored
    with pytest.raises(ValueError, match="no shared seeds"):
        stats.paired_difference({0: 1.0}, {1: 1.0})


def test_mcnemar_counts_discordant_pairs_and_gives_the_exact_p_value():
    y = np.zeros(30, dtype=int)
    a = np.zeros(30, dtype=int)
    b = np.zeros(30, dtype=int)
    b[:10] = 1  # b wrong on 10 images where a is right
    m = stats.mcnemar(a, b, y)
    assert (m.only_a, m.only_b) == (10, 0) and m.p_value == pytest.approx(2 * 0.5 ** 10)
    assert stats.mcnemar(a, a, y).p_value == 1.0


def _runs(acc: dict[tuple[str, str, int], float]) -> pd.DataFrame:
    return pd.DataFrame([{"loss": l, "variant": v, "seed": s, "test_accuracy": x, "test_loss": 1 - x}
                         for (l, v, s), x in acc.items()])


def test_r4_table_has_r4s_columns_and_differences_to_the_baseline(spec):
    loss = config.LOSSES[1]
    runs = _runs({**{(loss, "baseline", s): 0.97 + 0.001 * s for s in range(3)},
                  **{(loss, "dropout_50", s): 0.98 + 0.001 * s for s in range(3)}})
    t = tables.r4_table(runs, spec, loss)
    assert t.index.name == "Description"
    assert list(t.columns) == ["First Layer", "Second Layer", "Third Layer", "Dropout", "Loss", "Loss +/-",
                               "Loss +/-%", "Accuracy", "Accuracy +/-", "Accuracy +/-%", "R4 loss", "R4 accuracy"]
    row = t.loc["Increase dropout to 50%"]
    assert row["Accuracy"] == "0.9810 ± 0.0010" and row["Accuracy +/-"] == "+0.0100" and row["Dropout"] == "50%"
    assert row["R4 accuracy"] == "0.979" and t.loc["Baseline", "Accuracy +/-"] == ""


def _comparison(differences, beyond, p_values, same=1.0, gap=0.0):
    n = len(differences)
    return pd.DataFrame({
        "description": [f"v{i}" for i in range(n)], "categorical": [0.98] * n, "sparse": [0.98] * n,
        "difference": differences, "ci_low": [-1.0] * n, "ci_high": [1.0] * n, "seeds": [3] * n,
        "beyond_noise": beyond, "only_categorical_right": [0] * n, "only_sparse_right": [0] * n,
        "mcnemar_p": p_values, "same_prediction": [same] * n, "max_val_loss_gap": [gap] * n,
        "identical_curves": [gap == 0.0] * n}, index=[f"v{i}" for i in range(n)])


def test_conclusion_is_computed_from_the_numbers():
    quiet = stats.conclusion(_comparison([0.0, 0.0], [False, False], [1.0, 1.0]), {})
    assert any("bit-identical" in s for s in quiet)
    assert any("For none of the 2 variants" in s for s in quiet)
    assert any("finds 0 of 2 variants" in s for s in quiet)
    loud = stats.conclusion(_comparison([0.01, -0.002], [True, False], [0.001, 0.5], same=0.99, gap=0.02), {})
    assert loud != quiet
    assert any("For 1 of 2 variants" in s and "v0" in s for s in loud)
    assert any("finds 1 of 2 variants" in s and "(v0)" in s for s in loud)
    assert any("99.00–99.00%" in s and "0.0200" in s for s in loud)


def test_conclusion_names_variants_beyond_noise_against_the_baseline():
    table = pd.DataFrame({"description": ["a", "b"], "difference": [0.004, -0.0005], "ci_low": [0.001, -0.002],
                          "ci_high": [0.007, 0.001], "seeds": [3, 3], "beyond_noise": [True, False]})
    text = " ".join(stats.conclusion(pd.DataFrame(), {config.LOSSES[0]: table}))
    assert "1 of 2 variants differ from the baseline" in text and "better: a (+0.0040)" in text
    assert "smallest measured difference is 0.0005" in text


def test_cache_key_depends_on_what_determines_the_result_only(spec):
    training = config.TrainingParams()
    env = {"tensorflow-cpu": "2.20.0", "cpu": "x86_64:avx,avx2,fma"}

    def k(v, s, tr=training, data="d", environment=env):
        return runs.cache_key(runs.variant_config(spec, v, config.LOSSES[0], s), tr, data, "c", environment)

    assert k("baseline", 0) == k("baseline", 0)
    assert len({k("baseline", 0), k("baseline", 1), k("dropout_50", 0), k("baseline", 0, data="e"),
                k("baseline", 0, tr=config.TrainingParams(sample_size=5)),
                k("baseline", 0, environment={**env, "tensorflow-cpu": "2.21.0"}),
                k("baseline", 0, environment={**env, "cpu": "x86_64:avx,avx2,fma,avx512f"})}) == 7
    # the description is not part of the key
    renamed = spec.model_copy(deep=True)
    renamed.variants["baseline"].description = "renamed"
    assert runs.cache_key(runs.variant_config(renamed, "baseline", config.LOSSES[0], 0), training, "d", "c",
                          env) == k("baseline", 0)


def test_the_environment_fingerprint_names_packages_and_cpu():
    from pipeline.core import provenance

    env = provenance.environment_fingerprint()
    assert {"python", "numpy", "keras", "scikit-learn"} <= set(env) and env["cpu"].startswith(("x86_64:", "aarch64:"))


def _probabilities(n: int) -> np.ndarray:
    return np.random.default_rng(n).dirichlet(np.ones(10), n).astype(np.float32)


def _result(spec: runs.RunSpec, **changes) -> runs.RunResult:
    base = dict(loss=spec.loss, variant=spec.variant, seed=spec.seed, test_loss=0.1, test_accuracy=0.97,
                history={k: [0.5 + 1e-9 * i for i in range(spec.epochs)] for k in runs.HISTORY_KEYS},
                probabilities=_probabilities(spec.n_test), fit_seconds=1.0, key=spec.key)
    return runs.RunResult(**{**base, **changes})


def test_a_cached_run_is_used_only_if_every_field_matches(tmp_path):
    spec = runs.RunSpec("categorical_crossentropy", "baseline", 0, epochs=2, n_test=5, key="k" * 24)
    runs.store(tmp_path, _result(spec))
    back = runs.load_cached(tmp_path, spec, log=lambda *_: None)
    assert back.from_cache and back.probabilities.dtype == np.float32
    assert back.probabilities.tobytes() == _probabilities(5).tobytes()  # bit for bit
    assert back.history == _result(spec).history and back.predictions.tolist() == _probabilities(5).argmax(1).tolist()
    said = []
    for bad in ({"seed": 1}, {"variant": "other"}, {"loss": "sparse_categorical_crossentropy"},
                {"probabilities": _probabilities(4)}, {"history": {k: [0.5] for k in runs.HISTORY_KEYS}}, {"test_accuracy": 1.5}):
        runs.store(tmp_path, _result(spec, **bad))
        assert runs.load_cached(tmp_path, spec, log=said.append) is None, bad
    assert len(said) == 6 and all("does not match its run" in s for s in said)
    runs.cache_file(tmp_path, spec.key).write_text("{not json")
    assert runs.load_cached(tmp_path, spec, log=said.append) is None and "unreadable" in said[-1]
    assert runs.load_cached(tmp_path, runs.RunSpec("x", "y", 0, 1, 1, "absent"), log=said.append) is None


def test_a_cache_entry_with_altered_or_missing_probabilities_is_trained_again(tmp_path):
    spec = runs.RunSpec("categorical_crossentropy", "baseline", 0, epochs=2, n_test=5, key="k" * 24)
    runs.store(tmp_path, _result(spec))
    path = runs.cache_file(tmp_path, spec.key)
    entry = json.loads(path.read_text())
    said = []
    tampered = dict(entry, probabilities=runs.encode_array(_probabilities(5) * np.float32(0.5)))
    tampered["probabilities"]["sha256"] = entry["probabilities"]["sha256"]  # bytes no longer match the hash
    half = dict(entry, probabilities=runs.encode_array(_probabilities(5).astype(np.float16)))  # not float32
    old_format = {k: v for k, v in entry.items() if k != "probabilities"} | {"predictions": [1] * 5}
    for bad in (tampered, half, old_format):
        path.write_text(json.dumps(bad))
        assert runs.load_cached(tmp_path, spec, log=said.append) is None
    assert len(said) == 3 and all("unreadable" in s for s in said)


def test_the_cache_format_is_part_of_the_key(spec, monkeypatch):
    cfg = runs.variant_config(spec, "baseline", config.LOSSES[0], 0)
    before = runs.cache_key(cfg, config.TrainingParams(), "d", "c", {})
    monkeypatch.setattr(runs, "CACHE_FORMAT", runs.CACHE_FORMAT + 1)
    assert runs.cache_key(cfg, config.TrainingParams(), "d", "c", {}) != before


def test_unreachable_lists_entries_no_live_run_uses(tmp_path):
    for key in ("a", "b", "c"):
        (tmp_path / f"{key}.json").write_text("{}")
    assert [p.name for p in runs.unreachable(tmp_path, {"a", "c"})] == ["b.json"]
    assert runs.unreachable(tmp_path / "absent", set()) == []


def test_the_split_policy_is_stated_from_the_prepared_arrays(spec):
    from pipeline.core.dataset import Dataset

    rng = np.random.default_rng(3)
    ds = Dataset(name="mnist", title="t", class_names=tuple("0123456789"),
                 x_train=rng.integers(0, 255, (200, 28, 28), dtype=np.uint8),
                 y_train=np.arange(200) % 10, x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
                 y_test=np.arange(20) % 10)
    small = spec.model_copy(update={"seeds": [0, 1]})
    splits = runs.seed_splits(small, ds)
    assert [s.seed for s in splits] == [0, 1] and all(s.distinct == 1 and s.runs == 22 for s in splits)
    assert splits[0].sha256 != splits[1].sha256 and splits[0].fit + splits[0].validation == 200
    text = runs.split_policy(splits)
    assert "one validation split per seed" in text and "all 22 runs of each seed" in text
    assert "the seeds' splits differ" in text
    bad = [dataclasses.replace(splits[0], distinct=2), splits[1]]
    assert "**Not** shared: the runs of seed(s) 0" in runs.split_policy(bad)


def test_bad_sweep_references_are_refused():
    from pipeline.core.config import ParamsError, parse_params

    base = {"variants": {"baseline": {"description": "b", "hidden": [4]}}}
    with pytest.raises(ParamsError, match="unknown variant"):
        parse_params({"sweep": {**base, "claimed": {"categorical_crossentropy": {"nope": [0.1, 0.9]}}}})
    with pytest.raises(ParamsError, match="distinct"):
        parse_params({"sweep": {**base, "seeds": [1, 1]}})
    with pytest.raises(ParamsError, match="sweep.claimed"):
        parse_params({"sweep": {**base, "claimed": {"hinge": {}}}})
