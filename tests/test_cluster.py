"""The pipeline on a real two-node Ray cluster on 127.0.0.1 (no mock): a model report and a
loss sweep through `dvc repro` with RAY_ADDRESS set land on both nodes and write metrics
byte-identical to the local run's; and a task whose worker dies is run again (Ray's retry),
shown by a task that kills its own worker on its first attempt."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import bin_path, run

pytestmark = pytest.mark.slow

# Ray picks the machine's outward address for its nodes unless told that this is a
# single-host setup: keep every connection on the loopback interface.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in LOOPBACK}
    os.environ.update(LOOPBACK)
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    c.shutdown()
    for k, v in saved.items():
        os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


def test_a_task_whose_worker_dies_is_run_again_once(cluster, tmp_path):
    """The first attempt of one task kills its own Ray worker (SIGKILL, as the OOM killer
    would), after leaving a marker; Ray runs it again, and that attempt finds the marker and
    finishes. Every attempt is written down: exactly two for that task, one for the others."""
    import ray

    from pipeline.modeling import executor

    def die_once(spec, data):  # defined here: Ray ships it by value, no import of tests/ needed
        import os
        import signal
        from pathlib import Path

        folder, i = Path(spec[0]), spec[1]
        with open(folder / f"attempts-{i}", "a") as f:
            f.write(f"{os.getpid()}\n")
        marker = folder / f"died-{i}"
        if i == 1 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return i * 10 + data

    tasks = [executor.Task(f"t{i}", die_once, (str(tmp_path), i)) for i in range(3)]
    try:
        done = executor.RayCluster(cluster.address).run(tasks, 5, log=lambda _: None, describe=str)
    finally:
        ray.shutdown()
    assert [d.result for d in done] == [5, 15, 25]
    attempts = {i: (tmp_path / f"attempts-{i}").read_text().split() for i in range(3)}
    assert {i: len(a) for i, a in attempts.items()} == {0: 1, 1: 2, 2: 1}
    assert attempts[1][0] != attempts[1][1], "the second attempt ran in a new worker process"
    assert executor.RAY_RETRIES >= 1


def test_model_report_and_sweep_on_two_nodes_match_the_local_run(built_project, cluster, tmp_path):
    src, _ = built_project
    root = tmp_path / "on-ray"
    shutil.copytree(src, root, symlinks=True)
    loss = "categorical_crossentropy"
    shutil.rmtree(root / "data" / "sweep-cache" / loss)  # every run of the sweep is trained again
    env = {"RAY_ADDRESS": cluster.address, **LOOPBACK}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # tests.conftest.run passes the environment on
    try:
        proc = run([bin_path("dvc"), "repro", "--force", "--single-item", "model@baseline"], cwd=root)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        proc = run([bin_path("dvc"), "repro", "--force", "--single-item", f"sweep@{loss}"], cwd=root)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert f"on Ray cluster at {cluster.address}" in proc.stdout
    for rel in ("reports/metrics/baseline.json", "reports/plots/baseline.csv", f"reports/metrics/sweep_{loss}.json",
                f"reports/sweep/{loss}_runs.csv"):
        assert (root / rel).read_bytes() == (src / rel).read_bytes(), f"{rel} differs from the local run's"
    import json

    model_nodes = set(json.loads((root / "reports/timing/baseline.json").read_text())["where"])
    sweep_nodes = {r["where"] for r in json.loads((root / f"reports/timing/sweep_{loss}.json").read_text())["runs"]}
    assert len(model_nodes) == 2 and all(w.startswith("ray node ") for w in model_nodes), model_nodes
    assert len(sweep_nodes) == 2 and all(w.startswith("ray node ") for w in sweep_nodes), sweep_nodes
    local = {r["where"] for r in json.loads((src / f"reports/timing/sweep_{loss}.json").read_text())["runs"]}
    assert not any(w.startswith("ray node") for w in local), "the default run used a cluster"
