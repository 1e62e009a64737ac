"""``python -m pipeline publish``: a folder to upload as it is, or a clear refusal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from pipeline.site import publish
from tests.conftest import REPO, run


def _site(root: Path, index: str, pages: dict[str, str] | None = None) -> Path:
    reports = root / "reports"
    (reports / "html").mkdir(parents=True)
    (reports / "index.html").write_text(index)
    for name, text in (pages or {}).items():
        (reports / name).write_text(text)
    return reports


def test_copies_exactly_what_the_index_reaches(tmp_path):
    _site(tmp_path, '<a href="html/a.html#top">a</a> <a href="https://example.org/paper">source</a>',
          {"html/a.html": '<a href="../index.html">back</a><a href="b.html">b</a>', "html/b.html": "<p>b</p>",
           "html/orphan.html": "<p>not linked</p>"})
    out, files = publish.publish(tmp_path / "public", root=tmp_path)
    assert sorted(map(str, files)) == ["html/a.html", "html/b.html", "index.html"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        ".nojekyll", "html/a.html", "html/b.html", "index.html"]


@pytest.mark.parametrize("bad, problem", [
    ('<a href="/etc/passwd">x</a>', "absolute link"),
    ('<a href="file:///tmp/x.html">x</a>', "absolute link"),
    ('<a href="../params.yaml">x</a>', "leaves the site folder"),
    ('<a href="html/missing.html">x</a>', "missing file"),
    ('<script src="https://cdn.example.org/require.js"></script>', "from the network"),
    ('<img src="//cdn.example.org/x.png">', "from the network"),
    ('<link rel="stylesheet" href="https://cdn.example.org/x.css">', "from the network"),
])
def test_bad_links_are_refused_and_the_old_folder_kept(tmp_path, bad, problem):
    _site(tmp_path, bad)
    old = tmp_path / "public"
    old.mkdir()
    (old / "index.html").write_text("previous good site")
    with pytest.raises(publish.PublishError, match=problem):
        publish.publish(old, root=tmp_path)
    assert (old / "index.html").read_text() == "previous good site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public", "reports"]  # no staging folder left


def test_a_failed_final_rename_puts_the_previous_site_back(tmp_path, monkeypatch):
    """If the complete new folder cannot take the old one's place, the old site is restored."""
    _site(tmp_path, '<a href="html/a.html">a</a>', {"html/a.html": "<p>new</p>"})
    old = tmp_path / "public"
    old.mkdir()
    (old / "index.html").write_text("previous good site")
    real_rename = Path.rename

    def rename(self, target):
        if self.name.endswith(".tmp") and Path(target) == old:  # staging -> public/
            raise OSError("simulated: the disk refused the rename")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="simulated"):
        publish.publish(old, root=tmp_path)
    assert (old / "index.html").read_text() == "previous good site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public", "reports"]  # no staging or .old left


def test_local_paths_are_refused(tmp_path):
    _site(tmp_path, '<a href="html/a.html">a</a>', {"html/a.html": f"<pre>{tmp_path}/data/dataset.npz</pre>"})
    with pytest.raises(publish.PublishError, match="html/a.html: mentions the local path"):
        publish.publish(root=tmp_path)
    assert not (tmp_path / "public").exists()


def test_no_site_yet_says_what_to_do(tmp_path):
    with pytest.raises(publish.PublishError, match="make report"):
        publish.publish(root=tmp_path)


@pytest.mark.slow  # the built project: a whole `dvc repro` of the test profile
def test_published_pipeline_site_has_no_local_paths(built_project):
    """The real site of the test profile: executed notebooks are scrubbed by the runner."""
    root, _ = built_project
    proc = run([sys.executable, "-m", "pipeline", "publish", "--out", "public-check"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    out = root / "public-check"
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"index.html", "dvc_plots/index.html", "html/01_data_exploration.html",
            "html/01_data_exploration.code.html", "notebooks/01_data_exploration.ipynb"} <= names
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            for marker in (str(root), sys.prefix, str(Path.home()) + "/"):
                assert marker not in text, (path, marker)


def test_github_pages_workflow_builds_and_uploads_the_published_folder():
    flow = yaml.safe_load((REPO / ".github/workflows/pages.yml").read_text())
    steps = flow["jobs"]["build"]["steps"]
    commands = " ".join(s.get("run", "") for s in steps)
    assert "make report" in commands and "make publish" in commands
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "public"  # where `make publish` writes
    assert flow["permissions"]["pages"] == "write"
    assert any(s.get("uses", "").startswith("actions/deploy-pages") for s in flow["jobs"]["deploy"]["steps"])
    assert "publish:" in (REPO / "Makefile").read_text()
    # the build pulls from the default remote (make report), and pushes when a team remote's secrets are set
    assert "python -m pipeline remote --repro" in (REPO / "Makefile").read_text().split("\nreport:")[1].split("\n\n")[0]
    push = next(s for s in steps if "dvc push --run-cache" in s.get("run", ""))
    assert push["if"] == "env.AWS_ACCESS_KEY_ID != ''" and "secrets." in flow["jobs"]["build"]["env"]["AWS_ACCESS_KEY_ID"]
