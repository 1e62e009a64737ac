"""The DVC remote of a clone (pipeline/sharing/remotes.py), with the real git and DVC on toy projects."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.sharing import remotes
from tests.conftest import bin_path, run


@pytest.mark.parametrize("origin, url", [
    ("https://github.com/Alice/mnist-reports.git", "https://alice.github.io/mnist-reports/dvc"),
    ("https://github.com/Alice/mnist-reports", "https://alice.github.io/mnist-reports/dvc"),
    ("git@github.com:Alice/mnist-reports.git", "https://alice.github.io/mnist-reports/dvc"),
    ("ssh://git@github.com/alice/mnist.reports/", "https://alice.github.io/mnist.reports/dvc"),
    ("https://token@github.com/alice/r.git", "https://alice.github.io/r/dvc"),
    ("https://github.com/alice/alice.github.io.git", "https://alice.github.io/dvc"),
    ("https://gitlab.com/alice/mnist-reports.git", None),
    ("/srv/git/mnist-reports.git", None),
    ("", None),
])
def test_the_site_remote_is_derived_from_a_github_origin(origin, url):
    assert remotes.site_remote_url(origin) == url


def _toy(root: Path, origin: str | None = None) -> Path:
    """A git + DVC project with one stage that ran (its output in the local cache)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "in.txt").write_text("1\n")
    (root / "dvc.yaml").write_text("stages:\n  a:\n    cmd: cp in.txt out.txt\n    deps: [in.txt]\n    outs: [out.txt]\n")
    cmds = [["git", "init", "-q"], [bin_path("dvc"), "init", "-q"], [bin_path("dvc"), "repro", "-q"]]
    if origin:
        cmds.append(["git", "remote", "add", "origin", origin])
    for cmd in cmds:
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
    return root


def _config_local(root: Path) -> str:
    path = root / ".dvc" / "config.local"
    return path.read_text() if path.is_file() else ""


def test_a_github_clone_gets_the_site_remote_in_its_local_config(tmp_path):
    root = _toy(tmp_path / "p", "git@github.com:alice/mnist-reports.git")
    assert remotes.ensure_default(root) == ("site", "https://alice.github.io/mnist-reports/dvc", True)
    assert "https://alice.github.io/mnist-reports/dvc" in _config_local(root)
    assert remotes.ensure_default(root) == ("site", "https://alice.github.io/mnist-reports/dvc", False)
    assert "remote" not in (root / ".dvc" / "config").read_text()  # nothing to commit


def test_a_teams_default_remote_wins(tmp_path):
    root = _toy(tmp_path / "p", "https://github.com/alice/mnist-reports")
    subprocess.run([bin_path("dvc"), "remote", "add", "-d", "team", "s3://bucket/dvc"], cwd=root, check=True)
    assert remotes.ensure_default(root) == ("team", "s3://bucket/dvc", False)
    assert _config_local(root) == ""


def test_without_a_github_origin_no_remote_is_set(tmp_path):
    root = _toy(tmp_path / "p")
    assert remotes.ensure_default(root) is None and _config_local(root) == ""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_remote_trains_here_and_says_so_in_one_line(tmp_path):
    root = _toy(tmp_path / "p")
    url = f"http://127.0.0.1:{_closed_port()}/dvc"
    subprocess.run([bin_path("dvc"), "remote", "add", "-d", "gone", url], cwd=root, check=True)
    state = remotes.probe(root)
    assert not state.reachable and state.reason
    (root / "out.txt").unlink()
    subprocess.run(["rm", "-rf", str(root / ".dvc" / "cache")], check=True)
    proc = run([sys.executable, "-m", "pipeline", "remote", "--repro"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"DVC remote 'gone' ({url})") and "does not answer (Connection refused)" in first
    assert "runs here" in first
    assert "Running stage 'a'" in proc.stdout and (root / "out.txt").read_text() == "1\n"


def test_a_pushed_folder_has_dvcs_layout_and_a_clone_pulls_instead_of_running(tmp_path):
    root = _toy(tmp_path / "p")
    folder = tmp_path / "remote"
    assert remotes.push_to_folder(root, folder) >= 2  # the output and the run-cache entry
    md5 = "b026324c6904b2a9cb4b88d6d61c81d1"  # of "1\n"
    assert remotes.object_file(folder, md5).read_text() == "1\n"
    assert list((folder / "runs").rglob("*")), "no run-cache entry"
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"], cwd=root, check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(root), str(clone)], check=True)
    subprocess.run([bin_path("dvc"), "remote", "add", "-d", "--local", "r", str(folder)], cwd=clone, check=True)
    assert remotes.probe(clone).has_results
    proc = run([sys.executable, "-m", "pipeline", "remote", "--repro"], cwd=clone)
    assert proc.returncode == 0, proc.stderr
    assert "holds this commit's results" in proc.stdout.splitlines()[0]
    assert "Running stage" not in proc.stdout and (clone / "out.txt").read_text() == "1\n"


def test_pushing_refuses_when_an_output_is_not_in_the_local_cache(tmp_path):
    root = _toy(tmp_path / "p")
    subprocess.run(["rm", "-rf", str(root / ".dvc" / "cache")], check=True)
    with pytest.raises(remotes.RemoteError, match="out.txt.*make report"):
        remotes.push_to_folder(root, tmp_path / "remote")
