"""``figure_files``: the published site holds each inlined figure once, as a file both views link."""

from __future__ import annotations

import base64
import hashlib

from pathlib import Path

import matplotlib.pyplot as plt

from pipeline.core import shared_figures
from pipeline.site import figure_files, publish


def _png() -> bytes:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1, 2], [1, 0, 1])
    data = shared_figures.png(fig)
    plt.close(fig)
    return data


def _page(data: bytes, back: str = "../index.html") -> str:
    inline = base64.b64encode(data).decode()
    return (f'<a href="{back}">home</a><img alt="a curve" src="data:image/png;base64,{inline}">'
            f'<p>data:image/png;base64,{inline[:12]} is quoted text, not an image</p>')


def test_both_views_link_one_file_holding_the_same_bytes(tmp_path):
    data = _png()
    (tmp_path / "html").mkdir()
    for name in ("a.html", "a.code.html"):
        (tmp_path / "html" / name).write_text(_page(data))
    written = figure_files.share(tmp_path, [Path("html/a.html"), Path("html/a.code.html")])
    name = hashlib.sha256(data).hexdigest()[:20] + ".png"
    assert written == {name: len(data)}
    assert (tmp_path / "figures" / name).read_bytes() == data
    for page in ("a.html", "a.code.html"):
        text = (tmp_path / "html" / page).read_text()
        assert f'<img alt="a curve" src="../figures/{name}">' in text
        assert "is quoted text" in text and text.count("base64,") == 1  # only the quoted text is left


def test_publish_writes_figures_the_pages_reach_and_keeps_the_reports_self_contained(tmp_path):
    data = _png()
    reports = tmp_path / "reports"
    (reports / "html").mkdir(parents=True)
    (reports / "index.html").write_text(_page(data, back="html/a.html"))
    (reports / "html" / "a.html").write_text(_page(data))
    out, files = publish.publish(tmp_path / "public", root=tmp_path)
    figures = [f for f in files if f.parts[0] == figure_files.FOLDER]
    assert len(figures) == 1 and (out / figures[0]).read_bytes() == data
    assert f'src="{figures[0].as_posix()}"' in (out / "index.html").read_text()
    assert f'src="../{figures[0].as_posix()}"' in (out / "html" / "a.html").read_text()
    assert publish.reachable(out)[1] == []  # every link of the published pages resolves
    assert "data:image/png;base64," + base64.b64encode(data).decode() in (reports / "html" / "a.html").read_text()
