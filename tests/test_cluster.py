"""The pipeline on a real two-node Ray cluster on 127.0.0.1 (no mock): a model report and a
loss sweep through `dvc repro` with RAY_ADDRESS set land on both nodes and write metrics
byte-identical to the local run's, even though one Ray worker is killed in the middle of
the sweep (Ray retries its task)."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

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


class Killer(threading.Thread):
    """SIGKILLs the first Ray worker it sees running one of our tasks, once."""

    def __init__(self):
        super().__init__(daemon=True)
        self.killed: list[int] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set() and not self.killed:
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    text = cmdline.read_bytes().decode(errors="replace")
                except OSError:
                    continue
                if text.startswith("ray::_run_task"):
                    pid = int(cmdline.parent.name)
                    time.sleep(0.3)  # let it get into the fit
                    try:
                        os.kill(pid, signal.SIGKILL)
                        self.killed.append(pid)
                    except ProcessLookupError:
                        continue
                    return
            time.sleep(0.02)


def test_model_report_and_sweep_on_two_nodes_match_the_local_run(built_project, cluster, tmp_path):
    src, _ = built_project
    root = tmp_path / "on-ray"
    shutil.copytree(src, root, symlinks=True)
    loss = "categorical_crossentropy"
    shutil.rmtree(root / "data" / "sweep-cache" / loss)  # every run of the sweep is trained again
    env = {"RAY_ADDRESS": cluster.address, **LOOPBACK}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # tests.conftest.run passes the environment on
    killer = Killer()
    try:
        proc = run([bin_path("dvc"), "repro", "--force", "--single-item", "model@baseline"], cwd=root)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        killer.start()
        proc = run([bin_path("dvc"), "repro", "--force", "--single-item", f"sweep@{loss}"], cwd=root)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    finally:
        killer.stop.set()
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    assert killer.killed, "no Ray worker was seen running a task: the retry was not exercised"
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
