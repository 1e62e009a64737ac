"""``python -m pipeline plots`` draws the top-level ``plots`` definitions of dvc.yaml only, once each."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from pipeline.site import dvcplots
from tests.conftest import REPO, bin_path, run


def test_targets_are_the_top_level_definitions_anchored():
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())
    ids = [next(iter(d)) if isinstance(d, dict) else d for d in spec["plots"]]
    targets = dvcplots.plot_definitions(REPO)
    assert len(targets) == len(ids) and all(re.fullmatch(t, i) for t, i in zip(targets, ids))
    assert not any(re.match(t, "reports/plots/basic.csv") for t in targets)  # a stage's plots out


def test_a_file_that_is_a_plots_out_and_in_a_defined_folder_is_drawn_once(tmp_path: Path):
    """The real DVC: a curve declared as a stage's plots out (for the run-cache) and drawn by a
    folder definition appears once, with the definition's axes."""
    (tmp_path / "in.txt").write_text("1\n")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({
        "stages": {"s": {"cmd": "mkdir -p c && printf 'epoch,acc\\n1,0.5\\n2,0.6\\n' > c/a.csv",
                         "deps": ["in.txt"], "plots": [{"c/a.csv": {"cache": False}}]}},
        "plots": [{"c/": {"x": "epoch", "y": ["acc"]}}]}))
    for cmd in (["git", "init", "-q"], [bin_path("dvc"), "init", "-q"], [bin_path("dvc"), "repro", "-q"]):
        subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)
    everything = json.loads(run([bin_path("dvc"), "plots", "show", "--json"], cwd=tmp_path).stdout)["data"]
    assert len([k for k, v in everything.items() if v]) == 2  # what the targets are for
    proc = run([bin_path("dvc"), "plots", "show", "--json", *dvcplots.plot_definitions(tmp_path)], cwd=tmp_path)
    drawn = {k: v for k, v in json.loads(proc.stdout)["data"].items() if v}
    assert list(drawn) == ["c/a.csv"]
    assert drawn["c/a.csv"][0]["content"]["encoding"]["x"]["field"] == "epoch"
