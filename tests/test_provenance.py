"""What a report says it was built from: the commit, and which of the stage's inputs differ."""

from __future__ import annotations

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
