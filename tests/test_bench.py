"""benchmarks/bench.py and bench_pipeline.py: the arithmetic of issue 24's benchmark (FLOP bounds,
idle worker-seconds, stage times from dvc's output) and the plumbing of its parts, with fake
workers and a fake dvc (no TensorFlow, no training)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from pipeline.core.params import load_params
from pipeline.core.params.schema import ModelConfig

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import bench  # noqa: E402
import bench_pipeline as bp  # noqa: E402


def _cfg(**kw) -> ModelConfig:
    base = {"source": "T", "title": "t", "hidden": [16], "loss": "categorical_crossentropy", "epochs": 3,
            "batch_size": 32}
    return ModelConfig(**{**base, **kw})


# --------------------------------------------------------------------------- FLOP bounds


def test_flops_of_a_small_config_by_hand():
    # 784 inputs → 16 → 10: (784 + 1) × 16 + (16 + 1) × 10 = 12,560 + 170 = 12,730 parameters;
    # a 10 % split of 60,000 fits 54,000 images; 3 epochs × 6 FLOPs per parameter per image
    cfg = _cfg()
    assert bp.dense_parameters(cfg.hidden) == 12_730
    assert bp.images_fitted(cfg) == 54_000
    assert bp.epoch_flops(12_730, 54_000) == 6 * 12_730 * 54_000 == 4_124_520_000
    assert bp.fit_flops(cfg) == 3 * 4_124_520_000


def test_images_fitted_follow_the_validation():
    assert bp.images_fitted(_cfg(validation="test")) == 60_000
    assert bp.images_fitted(_cfg(validation_fraction=0.2)) == 48_000
    assert bp.images_fitted(_cfg(validation_fraction=0.15), n_train=1001) == 1001 - 151  # sklearn: ceil


def test_the_hand_count_agrees_with_the_model_builders():
    from pipeline.modeling import train  # (imports keras: the one slow test here)

    params = load_params(REPO / "params.yaml")
    for name in bp.config_names(params):
        cfg, _ = bp.config_and_settings(params, name)
        assert bp.dense_parameters(cfg.hidden) == train.expected_parameter_count(cfg), name


def test_pipeline_fits_count_repeats_seeds_and_losses():
    params = load_params(REPO / "params.yaml")
    fits = bp.pipeline_fits(params)
    for name, cfg in params.models.items():
        assert len(fits[f"model@{name}"]) == cfg.repeats
    sweep = params.sweep
    for loss in sweep.losses:
        runs = fits[f"sweep@{loss}"]
        assert len(runs) == len(sweep.variants) * len(sweep.seeds)
        assert {c.loss for c in runs} == {loss} and {c.seed for c in runs} == set(sweep.seeds)
    flops = bp.pipeline_flops(params)
    r1 = params.models["r1_faithful"]
    assert flops["model@r1_faithful"] == r1.repeats * r1.epochs * 6 * bp.dense_parameters(r1.hidden) * 60_000
    assert flops[f"sweep@{sweep.losses[0]}"] == flops[f"sweep@{sweep.losses[1]}"]  # only the labels differ


# --------------------------------------------------------------------------- idle worker-seconds


@pytest.mark.parametrize("fits, workers, makespan, idle", [
    ([10.0] * 3, 2, 20.0, 10.0),  # the third fit runs alone: one fit's seconds idle
    ([10.0] * 4, 2, 20.0, 0.0),
    ([10.0], 2, 10.0, 10.0),
    ([30.0, 10.0, 10.0, 10.0], 2, 30.0, 0.0),  # the short ones fill the other worker
    ([10.0, 10.0, 30.0], 2, 40.0, 30.0),  # the long one last: 10 + 30 on one worker, 10 on the other
    ([5.0, 7.0, 3.0], 1, 15.0, 0.0),
    ([4.0, 4.0], 3, 4.0, 4.0),
    ([], 2, 0.0, 0.0),
])
def test_idle_worker_seconds(fits, workers, makespan, idle):
    if fits:
        assert bp.greedy_makespan(fits, workers) == pytest.approx(makespan)
    assert bp.idle_worker_seconds(fits, workers) == pytest.approx(idle)


# --------------------------------------------------------------------------- dvc's output

# lines as a real `dvc repro` printed them (DVC 3.67), with the seconds they came at
DVC_SAMPLE = [
    (0.0, "Running stage 'data':"),
    (0.1, "> python -m pipeline data"),
    (5.0, "Updating lock file 'dvc.lock'"),
    (5.2, ""),
    (5.3, "Running stage 'explore':"),
    (5.4, "> python -m pipeline run notebooks/01_data_exploration.ipynb --sections explore --no-progress"),
    (16.0, "Updating lock file 'dvc.lock'"),
    (16.5, "Stage 'model@basic' didn't change, skipping"),
    (16.6, "Stage 'model@basic_faithful' is cached - skipping run, checking out outputs"),
    (17.0, "Running stage 'model@r1_onehot':"),
    (17.1, "> python -m pipeline run notebooks/02_model_report.ipynb --sections model=models.r1_onehot "
           "training verdicts --no-progress"),
    (30.0, "[1/5] r1_onehot seed 1: accuracy 0.9740 in 12.9 s (vm pid 9402); 4 left, about 52 s"),
    (60.0, "  Running stage 'fake': an indented line is no stage"),
    (117.0, "Updating lock file 'dvc.lock'"),
    (117.5, "Running stage 'site':"),
    (117.6, "> python -m pipeline site"),
    (119.0, "Use `dvc push` to send your updates to remote storage."),
]


def test_stage_seconds_from_dvc_output():
    seconds = bp.stage_seconds(DVC_SAMPLE, end=120.0)
    assert list(seconds) == ["data", "explore", "model@basic", "model@basic_faithful", "model@r1_onehot", "site"]
    assert seconds["data"] == pytest.approx(5.3)
    assert seconds["explore"] == pytest.approx(16.5 - 5.3)  # ends at the next line naming a stage
    assert seconds["model@basic"] == seconds["model@basic_faithful"] == 0.0
    assert seconds["model@r1_onehot"] == pytest.approx(100.5)
    assert seconds["site"] == pytest.approx(2.5)  # the last ends when dvc exits
    assert bp.stage_seconds([], end=3.0) == {}


# --------------------------------------------------------------------------- parts, with fake workers


def _fake_worker(calls):
    params = load_params(REPO / "params.yaml")

    def worker(kind, *args):
        calls.append((kind, *args))
        if kind == "configs":
            jit, epochs, *names = args
            out = {}
            for name in names:
                cfg, _ = bp.config_and_settings(params, name, int(epochs))
                # XLA 2× faster at batch 32 and 1.02× (within the margin) at batch 512
                second = 1.0 if jit == "off" else (0.5 if cfg.batch_size == 32 else 1 / 1.02)
                out[name] = {"epoch_seconds": [9.0, second], "source": "test", "fit_seconds": 9.0 + second,
                             "parameters": bp.dense_parameters(cfg.hidden), "n_fit": bp.images_fitted(cfg),
                             "batch_size": cfg.batch_size, "epochs": int(epochs), "settings": {}}
            return out
        if kind == "train":
            name, mode, epochs, seed = args
            return {"fit_seconds": [40.0], "evaluate_seconds": [2.0], "epoch_seconds": [[8.0] * int(epochs)]}
        raise AssertionError(kind)

    return worker


def test_part_configs_reports_bounds_and_xla_disagreements():
    calls, lines, state = [], [], {"gflops_1": 500.0}
    bp.part_configs(lines, state, epochs=2, only=["r1_onehot", "baseline", "sweep.baseline"],
                    worker=_fake_worker(calls))
    assert [c[:3] for c in calls] == [("configs", "off", "2"), ("configs", "on", "2")]  # one process each
    r1, base = state["configs"]["r1_onehot"], state["configs"]["baseline"]
    assert r1["epoch_seconds"] == 0.5 and r1["jit_compile"] and r1["xla_chosen_by_this_run"]  # params: XLA
    assert base["epoch_seconds"] == 1.0 and not base["jit_compile"] and not base["xla_chosen_by_this_run"]
    assert base["bound_seconds"] == pytest.approx(6 * 118_282 * 54_000 / 500e9)
    assert base["bound_ratio"] == pytest.approx(1.0 / base["bound_seconds"])
    assert state["xla_disagreements"] == []
    text = "\n".join(lines)
    assert "agrees with this run's measurement for every configuration" in text
    assert "categorical_crossentropy only" in text and "**MISS**" in text  # 1 s > 4 × 0.077 s


def test_part_peers_ratio_is_the_seeds_time_over_our_stage(tmp_path):
    calls, lines = [], []
    state = {"stages": {"default": {"model@r1_faithful": 70.0, "model@baseline_faithful": 600.0}}}
    bp.part_peers(lines, state, worker=_fake_worker(calls))
    params = load_params(REPO / "params.yaml")
    r1, r4b = params.models["r1_faithful"], params.models["baseline_faithful"]
    assert calls == [("train", "r1_faithful", "plain", str(r1.epochs), str(r1.seed)),
                     ("train", "baseline_faithful", "plain", str(r4b.epochs), str(r4b.seed))]
    assert state["peers"]["r1"] == pytest.approx(42.0 * r1.repeats / 70.0)
    assert state["peers"]["r4b"] == pytest.approx(42.0 * r4b.repeats / 600.0)
    # without a pipeline run: from a file of stage seconds (a results.json or a plain mapping)
    (tmp_path / "r.json").write_text(json.dumps({"stages": {"default": {"model@r1_faithful": 10}}}))
    state = {}
    bp.part_peers([], state, stage_seconds_from=tmp_path / "r.json", worker=_fake_worker([]))
    assert state["peers"]["r1"] == pytest.approx(42.0 * r1.repeats / 10.0) and "r4b" not in state["peers"]


FAKE_DVC = """#!/bin/sh
# a stand-in for `dvc repro --force`: stage lines as dvc prints them, the timing files of a run
test "$1 $2" = "repro --force" || exit 2
echo "workers=${MNIST_REPORTS_WORKERS:-default} pythonpath=${PYTHONPATH:-none} python=$(command -v python)" >> calls.txt
test -d data/sweep-cache && echo "sweep-cache present" >> calls.txt
mkdir -p data/sweep-cache/categorical_crossentropy reports/timing
touch data/sweep-cache/categorical_crossentropy/run.json
echo "Running stage 'data':"
echo "> python -m pipeline data"
echo "Updating lock file 'dvc.lock'"
echo "Running stage 'model@r1_faithful':"
echo '{"fit_seconds": [10, 10, 10]}' > reports/timing/r1_faithful.json
sleep 1
echo "Running stage 'sweep@categorical_crossentropy':"
echo '{"runs": [{"fit_seconds": 4, "from_cache": false}, {"fit_seconds": 6, "from_cache": true}]}' \
  > reports/timing/sweep_categorical_crossentropy.json
echo "Running stage 'site':"
"""


def test_part_pipeline_with_a_fake_dvc(tmp_path, monkeypatch):
    work = tmp_path / "clone"
    (work / ".venv/bin").mkdir(parents=True)
    dvc = work / ".venv/bin/dvc"
    dvc.write_text(FAKE_DVC)
    dvc.chmod(dvc.stat().st_mode | stat.S_IXUSR)
    (work / ".venv/bin/python").symlink_to(sys.executable)
    (work / "dvc.yaml").write_text("stages: {}\n")
    (work / "params.yaml").write_text((REPO / "params.yaml").read_text())
    old = work / "data/sweep-cache/categorical_crossentropy"
    old.mkdir(parents=True)
    (old / "before.json").write_text("{}")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setattr(bp, "ENV", dict(os.environ, MNIST_REPORTS_WORKERS="7"))
    monkeypatch.setattr(bp, "default_workers", lambda threads: 2)
    lines, state = [], {"gflops_workers": 100.0}
    bp.part_pipeline(lines, state, work, logs=tmp_path / "logs", echo=lambda text: None)

    calls = (work / "calls.txt").read_text().splitlines()
    python = f"python={work / '.venv/bin/python'}"
    assert calls == [f"workers=1 pythonpath=none {python}", f"workers=default pythonpath=none {python}"]
    assert sorted(p.name for p in (work / "data/sweep-cache/categorical_crossentropy").iterdir()) == ["before.json"]
    assert not (work / "data/sweep-cache.before-bench").exists()
    assert (tmp_path / "logs/1_worker.log").exists() and (tmp_path / "logs/default.log").exists()

    stages = state["stages"]["default"]
    assert list(stages) == ["data", "model@r1_faithful", "sweep@categorical_crossentropy", "site"]
    assert stages["model@r1_faithful"] >= 0.5  # slept 1 s (the lines are read as they come; loaded hosts lag)
    assert state["idle"]["model@r1_faithful"]["idle_worker_seconds"] == pytest.approx(10.0)  # 3 fits, 2 workers
    assert state["idle"]["sweep@categorical_crossentropy"]["idle_worker_seconds"] == pytest.approx(4.0)  # 1 trained
    p = state["pipeline"]
    assert p["workers"] == 2 and p["speedup"] == pytest.approx(p["seconds_1_worker"] / p["seconds_default"])
    bound = sum(bp.pipeline_flops(load_params(work / "params.yaml")).values()) / 100e9
    assert p["bound_seconds"] == pytest.approx(bound)
    assert p["bound_ratio"] == pytest.approx(p["seconds_default"] / bound)
    assert "Idle worker-seconds" in "\n".join(lines)

    # The same section again from the two logs just written, without running anything
    calls_before = (work / "calls.txt").read_text()
    again_lines, again = [], {"gflops_workers": 100.0}
    bp.part_pipeline(again_lines, again, work, echo=lambda text: None, from_logs=tmp_path / "logs")
    assert (work / "calls.txt").read_text() == calls_before  # dvc did not run
    assert list(again["stages"]["default"]) == list(stages)
    assert again["pipeline"]["seconds_1_worker"] == pytest.approx(p["seconds_1_worker"], abs=0.2)
    assert again["idle"]["model@r1_faithful"]["idle_worker_seconds"] == pytest.approx(10.0)


def test_a_log_that_timed_repro_did_not_write_is_refused(tmp_path):
    log = tmp_path / "default.log"
    log.write_text("Running stage 'data':\n")
    with pytest.raises(SystemExit, match="not a log of timed_repro"):
        bp.read_timed_log(log)


def test_results_json_has_the_issues_schema():
    state = {"gflops_1": 50.0, "parallel_ratio": 1.8, "parallel_workers": 2, "gflops_workers": 90.0,
             "configs": {"r1_onehot": {"epoch_seconds": 1.0, "bound_ratio": 2.0, "xla_faster": True}},
             "pipeline": {"seconds_1_worker": 100.0, "seconds_default": 60.0, "workers": 2, "bound_ratio": 2.0},
             "stages": {"1_worker": {"data": 1.0}, "default": {"data": 1.0}},
             "idle": {"model@r1_onehot": {"idle_worker_seconds": 3.0}},
             "peers": {"r1": 4.0, "r4b": 3.5}, "targets": [("t", "1×", "≤ 2×", True)]}
    out = bp.results_json(state)
    assert set(out["configs"]["r1_onehot"]) >= {"epoch_seconds", "bound_ratio"}
    assert set(out["pipeline"]) >= {"seconds_1_worker", "seconds_default", "workers", "bound_ratio"}
    assert set(out["peers"]) >= {"r1", "r4b"}
    assert out["stages"]["default"] == {"data": 1.0}
    assert out["idle_worker_seconds"] == {"model@r1_onehot": 3.0}
    assert json.loads(json.dumps(out)) == out
    # a partial run writes only what it measured
    assert set(bp.results_json({"gflops_1": 50.0})) == {"machine"}
    assert bp.results_json({}) == {}


def test_bench_command_line():
    assert bench.PARTS.index("pipeline") < bench.PARTS.index("peers")
    with pytest.raises(SystemExit):
        bench.main(["--parts", "pipeline"])  # needs --workdir
    params = load_params(REPO / "params.yaml")
    assert bp.config_names(params, ["r1_onehot", "sweep.dropout_50"]) == ["r1_onehot", "sweep.dropout_50"]
    with pytest.raises(SystemExit):
        bp.config_names(params, ["nope"])
