"""Every `pipeline/…` path that the project's own reference files name exists.

README.md, the Makefile, params.yaml and dvc.yaml point readers at modules and folders of the
package; when a module moves, a stale pointer sends a newcomer to a file that is not there.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

FILES = ("README.md", "Makefile", "params.yaml", "dvc.yaml")
# a path of the package: not the tail of another name (mnist-report-pipeline/), up to the first
# character that cannot be part of one (a space, a backquote, `${` of a DVC template…)
POINTER = re.compile(r"(?<![\w./-])pipeline/[\w./-]*")


def pointers(text: str) -> set[str]:
    return {m.group().rstrip(".") for m in POINTER.finditer(text)}


def test_pointers_are_found():
    text = "see `pipeline/core/paths.py`. Or pipeline/modeling, not mnist-report-pipeline/x nor pipeline/${item}"
    assert pointers(text) == {"pipeline/core/paths.py", "pipeline/modeling", "pipeline/"}


@pytest.mark.parametrize("name", FILES)
def test_every_pipeline_path_named_exists(name):
    named = pointers((REPO / name).read_text(encoding="utf-8"))
    assert named, f"{name} names no pipeline/ path: is the pattern still right?"
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert missing == [], f"{name} names paths that do not exist: {missing}"
