"""The DVC remote of a clone (pipeline/sharing/remotes.py), with the real git and DVC on toy projects."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
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
    assert proc.stdout.splitlines()[1] == "  a: runs here"  # one line per stage that runs
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


# --------------------------------------------------------------------------- real remotes, real pipeline


GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
TRACKED_NUMBERS = ("reports/metrics", "reports/plots", "reports/sweep")


def _free_port() -> int:
    return _closed_port()  # free now; the server binds it next


def _committed_copy(built: Path, dest: Path) -> Path:
    """The built test-profile project with its results committed (dvc.lock, metrics...)."""
    shutil.copytree(built, dest, symlinks=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*GIT, "commit", "-qm", "results"], cwd=dest, check=True)
    return dest


def _numbers(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for folder in TRACKED_NUMBERS for p in sorted((root / folder).glob("*")) if p.suffix in {".json", ".csv"}}


def _assert_clone_has_everything(clone: Path, source: Path, repro: subprocess.CompletedProcess) -> None:
    assert repro.returncode == 0, repro.stdout[-2000:] + repro.stderr[-2000:]
    assert "Running stage" not in repro.stdout, repro.stdout[-3000:]
    status = run([bin_path("dvc"), "status", "--json"], cwd=clone)
    assert status.returncode == 0 and json.loads(status.stdout) == {}, status.stdout
    again = run([bin_path("dvc"), "repro"], cwd=clone)
    assert again.returncode == 0 and "Running stage" not in again.stdout, again.stdout[-2000:]
    numbers = _numbers(clone)
    assert numbers and numbers == _numbers(source)
    site = run([sys.executable, "-m", "pipeline", "publish", "--no-dvc", "--out", str(clone.parent / "pub-check")],
               cwd=clone)
    assert site.returncode == 0, site.stderr  # every page the front page links to is there
    assert run(["git", "status", "--porcelain"], cwd=clone).stdout.strip() == ""


@pytest.fixture()
def s3_server(monkeypatch):
    """A real S3 server (moto's) on 127.0.0.1 with an empty bucket; DVC reaches it through
    the remote's endpointurl, with the server's fixed test credentials."""
    boto3 = pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("NO_PROXY", "127.0.0.1")):
        monkeypatch.setenv(name, value)
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="team")
    yield endpoint
    server.stop()


@pytest.mark.slow
def test_a_team_s3_remote_gives_a_fresh_clone_every_result_without_training(built_project, tmp_path, s3_server):
    src = _committed_copy(built_project[0], tmp_path / "src")
    for cmd in (["remote", "add", "-d", "team", "s3://team/dvc"], ["remote", "modify", "team", "endpointurl", s3_server]):
        subprocess.run([bin_path("dvc"), *cmd], cwd=src, check=True, capture_output=True)
    subprocess.run([*GIT, "commit", "-qam", "the team's remote"], cwd=src, check=True)  # set once, committed
    push = run([bin_path("dvc"), "push", "--run-cache"], cwd=src)
    assert push.returncode == 0, push.stdout[-2000:] + push.stderr[-2000:]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(src), str(clone)], check=True)
    assert remotes.ensure_default(clone) == ("team", "s3://team/dvc", False)
    pull = run([bin_path("dvc"), "pull", "--run-cache"], cwd=clone)
    assert pull.returncode == 0, pull.stdout[-2000:] + pull.stderr[-2000:]
    _assert_clone_has_everything(clone, src, run([bin_path("dvc"), "repro"], cwd=clone))


@pytest.mark.slow
def test_the_published_site_is_an_http_remote_for_make_report(built_project, tmp_path):
    src = _committed_copy(built_project[0], tmp_path / "src")
    pub = tmp_path / "site"
    proc = run([sys.executable, "-m", "pipeline", "publish", "--out", str(pub)], cwd=src)
    assert proc.returncode == 0, proc.stderr
    assert "MiB of it the DVC remote in dvc/" in proc.stdout
    assert list((pub / "dvc" / "files" / "md5").glob("??/*")) and list((pub / "dvc" / "runs").rglob("*"))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(pub)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", str(src), str(clone)], check=True)
        url = f"http://127.0.0.1:{port}/dvc"
        subprocess.run([bin_path("dvc"), "remote", "add", "-d", "--local", "site", url], cwd=clone, check=True)
        for _ in range(50):  # the server is up once it answers
            if remotes.probe(clone, seconds=5).reachable:
                break
            time.sleep(0.1)
        repro = run([sys.executable, "-m", "pipeline", "remote", "--repro"], cwd=clone)  # what `make report` runs
        assert repro.stdout.startswith(f"DVC remote 'site' ({url}) holds this commit's results"), repro.stdout[:500]
        _assert_clone_has_everything(clone, src, repro)
    finally:
        server.terminate()
        server.wait(timeout=10)
