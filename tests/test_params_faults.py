"""Fault suite of ``python -m pipeline check``: every bad params file is refused cleanly.

Each case of tests/fault_cases/bad_params.yaml is a small mistake made on a copy of the real
params.yaml (or a whole file that is not a params file). For each one the real command, run
as a subprocess, must exit 1 without a Python traceback, print a message that names the
faulty key (and the allowed values where there is a fixed list), and leave the file as it was.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.core.params import loading as config
from pipeline.core.dataset import DATASETS
from tests.conftest import REPO

REAL = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
CASES = yaml.safe_load((REPO / "tests" / "fault_cases" / "bad_params.yaml").read_text(encoding="utf-8"))


def check(path: Path) -> subprocess.CompletedProcess:
    """Run the real ``python -m pipeline check PATH`` from the file's folder (this checkout's
    package first on the path, not an installed copy's)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "pipeline", "check", str(path)], cwd=path.parent,
                          capture_output=True, text=True, timeout=120, env=env)


def bad_params_text(case: dict) -> str:
    """The file content of a case: ``raw`` as is, the real params.yaml with ``raw_replace``'s
    text replacements, or the real params.yaml with ``set``/``delete`` applied."""
    real = (REPO / "params.yaml").read_text(encoding="utf-8")
    if "raw" in case:
        return case["raw"]
    if "raw_replace" in case:
        for old, new in case["raw_replace"].items():
            assert real.count(old) == 1, f"{case['name']}: {old!r} is not once in params.yaml"
            real = real.replace(old, new)
        return real
    data = yaml.safe_load(real)
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
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_case(case: dict, path: Path) -> None:
    """Write a case's file in its ``encoding`` (UTF-8 unless the case says otherwise)."""
    path.write_bytes(bad_params_text(case).encode(case.get("encoding", "utf-8")))


def test_case_file_is_complete():
    names = [c["name"] for c in CASES]
    assert len(names) >= 24 and len(set(names)) == len(names)
    for case in CASES:
        assert case["why"] and case["expect"], case["name"]
        assert sum(k in case for k in ("set", "delete", "raw", "raw_replace")) == 1, case["name"]
        assert set(case) <= {"name", "why", "expect", "set", "delete", "raw", "raw_replace", "encoding"}, case["name"]


def test_real_params_file_is_valid():
    result = check(REPO / "params.yaml")
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_params_are_refused(case, tmp_path):
    path = tmp_path / "params.yaml"
    write_case(case, path)
    before = path.read_bytes()
    result = check(path)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    first, *more = result.stderr.splitlines()
    assert first.startswith(f"error: {path}: ") and not any(line.startswith("error:") for line in more), result.stderr
    for expected in case["expect"]:
        assert expected in result.stderr, f"{expected!r} not in:\n{result.stderr}"
    assert path.read_bytes() == before


def test_first_line_names_the_key_and_the_value():
    """The first line of a schema error is ``FILE: key.path = value: problem``, value cut short."""
    long_title = "x" * 10_000
    with pytest.raises(config.ParamsError) as err:
        config.parse_params({**REAL, "models": {**REAL["models"], "basic": {**REAL["models"]["basic"],
                                                                           "batch_size": 10**12,
                                                                           "title": 5, "epoch": long_title}}},
                            "p.yaml")
    first, *more = str(err.value).splitlines()
    assert first.startswith("p.yaml: models.basic.title = 5: Input should be a valid string"), first
    assert any(line.startswith("  - models.basic.batch_size = 1000000000000: must be at most 65536 (more than")
               for line in more), more
    assert all(len(line) < 400 for line in [first, *more]), "a value was echoed whole"


def test_sample_size_is_compared_with_the_selected_dataset(monkeypatch):
    """``sample_size`` beyond the training images of ``data.dataset`` (the schema's bound is the
    largest dataset's; a smaller one is checked against its own size)."""
    small = dataclasses.replace(DATASETS["fashion_mnist"], n_train=1000)
    monkeypatch.setitem(DATASETS, "fashion_mnist", small)
    data = {**REAL, "data": {"dataset": "fashion_mnist"}, "classical": {**REAL["classical"], "sample_size": 1001}}
    with pytest.raises(config.ParamsError) as err:
        config.parse_params(data, "p.yaml")
    assert str(err.value).splitlines()[0] == ("p.yaml: classical.sample_size = 1001: more than the 1,000 "
                                              "training images of fashion_mnist (data.dataset); 0 means all of them")
    data["classical"]["sample_size"] = 1000
    assert config.parse_params(data, "p.yaml").classical.sample_size == 1000


def test_real_file_is_well_within_the_loader_limits():
    """The limits that stop alias bombs leave ample room for the real params.yaml."""
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    loader = config._Loader(text)
    try:
        loader.get_single_data()
    finally:
        loader.dispose()
    assert loader.visited * 10 < config.MAX_NODES and loader.aliases == 0
    assert len(text.encode()) * 20 < config.MAX_FILE_BYTES


# hostile YAML and the words of its refusal; benchmarks/bench.py --parts params times these
HOSTILE = [
    ("a: &a [1]\nb: *a\n" + "".join(f"c{i}: *a\n" for i in range(101)), "more than 100 aliases"),
    ("a: &a [1, *a]\n", "recursive"),
    ("a: " + "[" * 40 + "]" * 40 + "\n", "nested more than 32 levels"),
    ("a: " + "[" * 5000 + "\n", "line 1"),  # the composer's own recursion, or YAML syntax
    ("a: 1" + "0" * 5000 + "\n", "an integer of 5,001 digits"),
    ("a: 1\n\x07b: 2\n", "line 2: not valid YAML: character '\\x07'"),
    ("data:\n  x: 1\n  x: 2\n", "data.x: duplicate key (lines 2 and 3)"),
    ("base: &b {x: 1}\nover: {<<: *b, x: 2}\n", "unknown key"),  # a merge key's override is no duplicate
]


@pytest.mark.parametrize("text, expected", HOSTILE)
def test_loader_refuses_hostile_yaml(tmp_path, text, expected):
    """Refused by a limit (the words say which), not by running out of time or memory."""
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(config.ParamsError) as err:
        config.load_params(path)
    first = str(err.value).splitlines()[0]
    assert first.startswith(f"{path}: ") and expected in str(err.value), str(err.value)
    assert len(str(err.value)) < 3000


def test_directory_and_missing_file_are_one_line(tmp_path):
    for target, expected in [(tmp_path, "is a directory, expected a params YAML file"),
                             (tmp_path / "absent.yaml", "file not found")]:
        result = check_path(target)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr == f"error: {target}: {expected}\n"


def check_path(target: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pipeline", "check", str(target)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=env)
