"""What a report says it was built from: the commit, and which of the stage's inputs differ."""

from __future__ import annotations

import json
import platform
import subprocess

from pipeline.core import provenance


def _repo(tmp_path):
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c"]):
        subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)


def test_a_clean_checkout_is_clean_and_only_inputs_count(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_STAGE", raising=False)
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "a.py").write_text("x = 1\n")
    (tmp_path / "params.yaml").write_text("training:\n  threads: 1\nmodels:\n  a: {epochs: 1}\n")
    (tmp_path / "dvc.lock").write_text("old\n")
    _repo(tmp_path)
    src = provenance.source(tmp_path)
    assert src.clean and src.commit and "clean" in src.describe()
    (tmp_path / "dvc.lock").write_text("rewritten by dvc\n")  # not an input: still clean
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "x.json").write_text("{}")
    assert provenance.source(tmp_path).clean
    (tmp_path / "pipeline" / "a.py").write_text("x = 2\n")
    (tmp_path / "params.yaml").write_text("training:\n  threads: 2\nmodels:\n  a: {epochs: 1}\n")
    src = provenance.source(tmp_path)
    assert not src.clean and set(src.changed) == {"pipeline/a.py", "params.yaml (training)"}
    assert "local changes" in src.describe() and "pipeline/a.py" in src.describe()


def test_outside_git_nothing_is_claimed(tmp_path, monkeypatch):
    monkeypatch.delenv("DVC_STAGE", raising=False)
    (tmp_path / "params.yaml").write_text("{}\n")
    src = provenance.source(tmp_path)
    assert not src.clean and src.describe() == "not built from a git checkout"


def test_each_stage_records_where_it_ran_and_the_site_collects_it(tmp_path):
    timing = tmp_path / "reports" / "timing"
    provenance.write_timing(timing / "basic.json", {"fit_seconds": [1.5]})
    (timing / "old.json").write_text('{"fit_seconds": [2.0]}')  # written before environments were kept
    record = json.loads((timing / "basic.json").read_text())
    assert record["fit_seconds"] == [1.5]
    env = record[provenance.ENVIRONMENT_KEY]
    assert env["cpu"].startswith(platform.machine() + ":") and env["python"] == platform.python_version()
    assert env == provenance.run_environment()
    assert provenance.stage_environments(tmp_path) == {"basic": env}
