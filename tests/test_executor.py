"""The training executor: the same bits with 1 or 2 local workers, results in task order,
one progress line per run, and clear errors for bad settings."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.params import load_params
from pipeline.core.params.schema import ModelConfig, TrainingParams
from pipeline.modeling import executor, train
from tests.conftest import REPO


def _cfg(**changes) -> ModelConfig:
    base = load_params(REPO / "params.yaml").models["baseline"]
    return base.model_copy(update={"epochs": 1, "repeats": 3, **changes})


SETTINGS = TrainingParams(threads=1, steps_per_execution=8)


def _same(a: train.Fits, b: train.Fits) -> None:
    assert [r.seed for r in a.runs] == [r.seed for r in b.runs]
    for ra, rb in zip(a.runs, b.runs):
        assert ra.history == rb.history and ra.test_loss == rb.test_loss and ra.dead_units == rb.dead_units
        assert np.array_equal(ra.test_probabilities, rb.test_probabilities)


def compare_workers(data_file: str) -> None:
    """In a fresh process (TensorFlow's threads are set once per process): train 3 seeds in this
    process and on 2 local workers, assert the same bits, print the progress lines."""
    from pipeline.core import dataset

    small = dataset.load(data_file, sample_size=600)
    train.configure_tensorflow(SETTINGS)
    lines: list[str] = []
    alone = train.train(_cfg(), small, SETTINGS, executor=executor.InProcess(), log=lines.append)
    pooled = train.train(_cfg(), small, SETTINGS, executor=executor.LocalPool(2), log=lines.append)
    _same(alone, pooled)
    # the first seed's model comes back from its worker and predicts exactly as the run measured
    probs = pooled.first_model.predict(train.prepare(_cfg(), small).x_test, batch_size=1000, verbose=0)
    assert np.array_equal(probs, pooled.runs[0].test_probabilities)
    print("\n".join(lines))


@pytest.mark.slow
def test_one_and_two_local_workers_give_the_same_bits(mnist_file):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", f"from tests.test_executor import compare_workers; compare_workers({str(mnist_file)!r})"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("[")]
    assert len(lines) == 6 and lines[0].startswith("[1/3] ") and "accuracy 0." in lines[0]
    assert "2 left, about" in lines[0] and lines[2].endswith("all done")
    wheres = {ln.split("(")[-1].split(")")[0] for ln in lines[3:]}
    assert len(wheres) == 2, f"two worker processes expected, got {wheres}"  # both workers were used


def _square(n, data):
    import time

    time.sleep(0.2 * (3 - n))  # the first task finishes last
    return n * n + data


def test_results_come_back_in_task_order_whatever_finishes_first():
    tasks = [executor.Task(f"t{i}", _square, i) for i in range(3)]
    said: list[str] = []
    done = executor.LocalPool(2).run(tasks, 10, log=said.append, describe=lambda r: f"value {r}")
    assert [d.result for d in done] == [10, 11, 14]
    assert len(said) == 3 and said[-1].endswith("all done") and "value" in said[0]


def test_the_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(executor.RAY_ADDRESS_ENV, raising=False)
    monkeypatch.setenv(executor.WORKERS_ENV, "1")
    assert isinstance(executor.from_environment(threads=1), executor.InProcess)
    monkeypatch.setenv(executor.WORKERS_ENV, "3")
    pool = executor.from_environment(threads=1)
    assert isinstance(pool, executor.LocalPool) and pool.workers == 3
    assert isinstance(executor.from_environment(threads=1, tasks=1), executor.InProcess)
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(executor.WORKERS_ENV, bad)
        with pytest.raises(executor.ExecutorError, match=executor.WORKERS_ENV):
            executor.from_environment(threads=1)
    monkeypatch.setenv(executor.RAY_ADDRESS_ENV, "127.0.0.1:1")
    assert isinstance(executor.from_environment(threads=1), executor.RayCluster)


def test_an_unreachable_cluster_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(executor.ExecutorError, match="cannot reach the Ray cluster at '127.0.0.1:9'"):
        executor.RayCluster("127.0.0.1:9").run([executor.Task("t", _square, 1)], 0)
