"""Property-based test of the params loader (Hypothesis): mutations of the real params.yaml.

Each example drops, duplicates, retypes, enlarges or renames one key of the real file, or
corrupts its bytes. The file is then either valid, or ``load_params`` raises ParamsError
whose first line says where: the key path of the mutation (or a part of it), or the line or
byte offset for YAML syntax and encoding problems. Never another exception. No time limit per
example (``deadline=None``): on a busy machine a limit fails with nothing wrong.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.core import params as config
from tests.conftest import REPO

config.load_params(REPO / "params.yaml")  # first-use set-up (pydantic, regexes), once before the examples

TEXT = (REPO / "params.yaml").read_text(encoding="utf-8")
DATA = yaml.safe_load(TEXT)
# 6 mutation kinds × 50 examples (about 30 s on two busy cores); derandomized for CI.
SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def paths_of(node, prefix=()) -> list[tuple]:
    """Every key path (mapping keys and list indices) of a parsed YAML value."""
    found = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        found.append(prefix + (key,))
        found += paths_of(value, prefix + (key,))
    return found


PATHS = paths_of(DATA)


def get(node, path):
    for part in path:
        node = node[part]
    return node


NUMBER_PATHS = [p for p in PATHS if type(get(DATA, p)) in (int, float)]
MAPPING_KEY_PATHS = [p for p in PATHS if isinstance(get(DATA, p[:-1]), dict)]


def block_key_lines() -> list[tuple[int, tuple]]:
    """(line index, key path) of every key of a block-style mapping of the real file."""
    found = []

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not node.flow_style:
                    found.append((key.start_mark.line, path + (key.value,)))
                walk(value, path + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                walk(value, path + (i,))

    walk(yaml.compose(TEXT), ())
    return found


KEY_LINES = block_key_lines()


def dotted(path: tuple) -> str:
    """A key path as messages write it: printable keys as they are, any other key as its repr,
    each cut to SHOW_CHARS characters."""
    def key(part) -> str:
        text = str(part)
        text = text if text.isprintable() and text else repr(part)
        return text if len(text) <= config.SHOW_CHARS else text[:config.SHOW_CHARS - 1] + "…"
    return ".".join(map(key, path))


def load(tmp_path: Path, content: bytes) -> tuple[config.Params | None, str | None]:
    """(params, None) or (None, the error message); anything but ParamsError fails the test."""
    path = tmp_path / "params.yaml"
    path.write_bytes(content)
    try:
        return config.load_params(path), None
    except config.ParamsError as err:
        message = str(err)
        first = message.splitlines()[0]
        assert first.startswith(f"{path}: "), first
        assert len(first) < 500 and len(message) < 5000, "a value was echoed whole"
        return None, first.removeprefix(f"{path}: ")


def key_path_of(first: str) -> str | None:
    """The key path a first line names (``path = value: ...`` or ``path: ...``)."""
    match = re.match(r"([^\s=:]+)(?: = |: )", first)
    return match.group(1) if match else None


def assert_names(first: str, path: tuple) -> None:
    """The first line names the mutated key, a key above it, or (for a new name) its parent."""
    for i in range(len(path), 0, -1):  # keys may hold any character, ':' and ' = ' included
        if first.startswith((f"{dotted(path[:i])} = ", f"{dotted(path[:i])}: ")):
            return
    named = key_path_of(first)
    assert named is not None, first
    assert dotted(path).startswith(named) or named.startswith(dotted(path[:-1])), (first, path)


DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: the examples stay well under a second


def dump(data) -> bytes:
    return yaml.dump(data, Dumper=DUMPER, sort_keys=False, allow_unicode=True).encode("utf-8")


def mutated(path: tuple, value=None, delete=False):
    data = copy.deepcopy(DATA)
    parent = get(data, path[:-1])
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


OTHER_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                         st.text(max_size=30), st.lists(st.integers(), max_size=3),
                         st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@SETTINGS
@given(path=st.sampled_from(PATHS))
def test_dropping_a_key(tmp_path, path):
    params, first = load(tmp_path, dump(mutated(path, delete=True)))
    if first is not None:
        assert_names(first, path)


@SETTINGS
@given(key=st.sampled_from(KEY_LINES))
def test_duplicating_a_key(tmp_path, key):
    line, path = key
    lines = TEXT.splitlines(keepends=True)
    text = "".join(lines[:line + 1] + [lines[line]] + lines[line + 1:])
    params, first = load(tmp_path, text.encode())
    assert params is None
    assert first.startswith(f"{dotted(path)}: duplicate key (lines {line + 1} and {line + 2})"), first


@SETTINGS
@given(path=st.sampled_from(PATHS), value=OTHER_VALUES)
def test_retyping_a_value(tmp_path, path, value):
    old = get(DATA, path)
    params, first = load(tmp_path, dump(mutated(path, value)))
    if first is not None:
        assert_names(first, path)
    elif type(value) is not type(old) and not (isinstance(old, float) and type(value) is int):
        # accepted: only where the schema allows both types (an optional value, a free mapping)
        # a number a source printed is a number or its text ("0.980"): either is accepted for the other
        printed = "claimed" in path[:-1] and not isinstance(value, bool) and isinstance(value, (int, float, str))
        assert value is None or isinstance(old, (dict, list)) or path[-1] in ("claimed", "execution") or printed, \
            (path, value)


@SETTINGS
@given(path=st.sampled_from(NUMBER_PATHS), power=st.integers(10, 400))
def test_enlarging_a_number(tmp_path, path, power):
    old = get(DATA, path)
    sentinel = "__BIG_NUMBER__"
    text = dump(mutated(path, sentinel)).decode()
    assert text.count(sentinel) == 1
    big = str(int(abs(old) * 10**power) or 10**power) if type(old) is int else f"{abs(old) or 1.0}e+{power}"
    params, first = load(tmp_path, text.replace(sentinel, big).encode())
    if first is not None:
        assert_names(first, path)
    else:  # accepted: only a loss that a source printed has no upper bound
        assert path[-1] == "loss" or (path[:2] == ("sweep", "claimed") and path[-1] == 0), (path, big)


@SETTINGS
@given(path=st.sampled_from(MAPPING_KEY_PATHS),
       name=st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), st.text(min_size=1, max_size=80)))
@example(path=("explore", "sample_size"), name=":\ud7fc")  # not printable: named by its repr (CI, stop 19)
@example(path=("explore", "sample_size"), name="x" * 80)  # cut short in the message
def test_renaming_a_key(tmp_path, path, name):
    data = copy.deepcopy(DATA)
    parent = get(data, path[:-1])
    parent_items = list(parent.items())
    parent.clear()
    parent.update({(name if k == path[-1] else k): v for k, v in parent_items})
    params, first = load(tmp_path, dump(data))
    if first is not None:
        assert_names(first, path[:-1] + (name,))


LOCATED = re.compile(r"(line \d+(, column \d+)?: |not UTF-8( text)?: byte 0x[0-9a-f]{2} at offset \d+ )")


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, len(TEXT.encode()) - 1), st.binary(min_size=0, max_size=4),
                                st.integers(0, 3)), min_size=1, max_size=3))
def test_corrupting_bytes(tmp_path, edits):
    content = bytearray(TEXT.encode())
    for offset, new, removed in edits:  # replace `removed` bytes at `offset` by `new`
        content[offset:offset + removed] = new
    params, first = load(tmp_path, bytes(content))
    if first is not None:
        assert LOCATED.match(first) or key_path_of(first), first


# --------------------------------------------------------------------------- the command


def check(path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pipeline", "check", str(path)], cwd=path.parent,
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("name, content, where", [
    ("duplicated", TEXT.replace("  seed: 0\n", "  seed: 0\n  seed: 1\n", 1).encode(), "classical.seed: duplicate key"),
    ("enlarged", TEXT.replace("  knn_neighbors: 3", "  knn_neighbors: 3" + "0" * 30).encode(),
     "classical.knn_neighbors = 3000000000000000000000000000000: must be at most 1000"),
    ("retyped", TEXT.replace("  forest_trees: 100", '  forest_trees: "1e2"').encode(),
     "classical.forest_trees = '1e2': Input should be a valid integer; written as text"),
    ("renamed", TEXT.replace("  max_iter: 200", "  max_iters: 200").encode(), "classical.max_iters = 200: unknown key"),
    ("bytes", TEXT.encode().replace(b"R0's deep funnel", b"R0's deep \xff\xfe funnel"), "not UTF-8: byte 0xff at offset"),
    ("syntax", TEXT.replace("  seeds: [0, 1, 2]", "  seeds: [0, 1, 2").encode(), "line "),
])
def test_check_command_prints_one_error_line(tmp_path, name, content, where):
    path = tmp_path / "params.yaml"
    path.write_bytes(content)
    result = check(path)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"error: {path}: {where}"), lines[0]
    assert sum(line.startswith("error:") for line in lines) == 1, result.stderr
