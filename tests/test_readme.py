"""The README's annotated tree of the package matches the folders."""

from __future__ import annotations

import re

from tests.conftest import REPO

ENTRY = re.compile(r"^((?:│   |    )*)[├└]── (\S+)")


def readme_tree() -> set[str]:
    """Paths of the README's layout block, rebuilt from the tree's indentation."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## Layout"):]
    block = block[block.index("```") + 3:]
    block = block[:block.index("```")]
    stack: list[str] = []
    out = set()
    for line in block.splitlines():
        m = ENTRY.match(line)
        if not m:
            continue
        depth = len(m.group(1)) // 4
        stack = stack[:depth] + [m.group(2).rstrip("/")]
        out.add("/".join(stack))
    return out


def test_the_readme_tree_lists_every_module_and_folder_of_the_package():
    tree = {p for p in readme_tree() if p.startswith("pipeline")}
    real = {"pipeline"} | {p.relative_to(REPO).as_posix() for p in (REPO / "pipeline").rglob("*.py")}
    real |= {p.relative_to(REPO).as_posix() for p in (REPO / "pipeline").rglob("*")
             if p.is_dir() and p.name != "__pycache__" and "templates/" not in p.relative_to(REPO).as_posix()}
    listed_files = {p for p in tree if p.endswith(".py")}
    sub_inits = {p for p in real if p.endswith("/__init__.py") and p != "pipeline/__init__.py"}
    assert real - sub_inits - tree == set(), "in the package, not in the README tree"
    assert listed_files - real == set() and {p for p in tree if not p.endswith(".py")} - real == set(), \
        "in the README tree, not in the package"
