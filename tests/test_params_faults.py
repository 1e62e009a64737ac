"""Fault suite of ``python -m pipeline check``: every bad params file is refused cleanly.

Each case of tests/fault_cases/bad_params.yaml is a small mistake made on a copy of the real
params.yaml (or a whole file that is not a params file). For each one the real command, run
as a subprocess, must exit 1 without a Python traceback, print a message that names the
faulty key (and the allowed values where there is a fixed list), and leave the file as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

CASES = yaml.safe_load((REPO / "tests" / "fault_cases" / "bad_params.yaml").read_text(encoding="utf-8"))


def check(path: Path) -> subprocess.CompletedProcess:
    """Run the real ``python -m pipeline check PATH`` from the file's folder (this checkout's
    package first on the path, not an installed copy's)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "pipeline", "check", str(path)], cwd=path.parent,
                          capture_output=True, text=True, timeout=120, env=env)


def bad_params_text(case: dict) -> str:
    """The file content of a case: ``raw`` as is, or the real params.yaml with ``set``/``delete`` applied."""
    if "raw" in case:
        return case["raw"]
    data = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for dotted, value in case.get("set", {}).items():
        *parents, key = dotted.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[key] = value
    for dotted in case.get("delete", []):
        *parents, key = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[key]
    return yaml.safe_dump(data, sort_keys=False)


def test_case_file_is_complete():
    names = [c["name"] for c in CASES]
    assert len(names) >= 24 and len(set(names)) == len(names)
    for case in CASES:
        assert case["why"] and case["expect"], case["name"]
        assert sum(k in case for k in ("set", "delete", "raw")) == 1, case["name"]


def test_real_params_file_is_valid():
    result = check(REPO / "params.yaml")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_params_are_refused(case, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(bad_params_text(case), encoding="utf-8")
    before = path.read_bytes()
    result = check(path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for expected in case["expect"]:
        assert expected in result.stderr, f"{expected!r} not in:\n{result.stderr}"
    assert path.read_bytes() == before
