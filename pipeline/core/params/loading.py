"""Reading ``params.yaml``: a hardened YAML loader (nothing executed, bounded in size, depth
and aliases, duplicate keys refused as DVC refuses them), then validation (``messages``).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from pipeline.core.params.messages import ParamsError, _cut, _key_path, parse_params
from pipeline.core.params.schema import Params
from pipeline.core.paths import PARAMS_FILE, project_root

MAX_FILE_BYTES = 1 << 20  # params.yaml is about 12 kB
MAX_ALIASES = 100  # the real file has none
MAX_NODES = 10_000  # values after alias expansion; the real file has about 500
MAX_DEPTH = 32  # nesting; the real file's deepest value is 5 levels down
MAX_INT_CHARS = 1000  # an integer literal longer than this is refused before int() reads it


class _Refused(Exception):
    """A document refused while composing, before any Python object is built."""


class _Loader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses what DVC refuses or what cannot be a params file:
    duplicate keys (DVC's ruamel.yaml refuses them), more than MAX_ALIASES aliases, and a
    document that expands to more than MAX_NODES values or nests deeper than MAX_DEPTH
    (an alias bomb: refused from the composed nodes, before anything is expanded)."""

    def __init__(self, stream):
        super().__init__(stream)
        self.aliases = 0
        self.visited = 0
        self.depth = 0

    def compose_node(self, parent, index):
        line = self.peek_event().start_mark.line + 1
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(f"line {line}: more than {MAX_ALIASES} aliases (*name); a params file needs none")
        self.depth += 1  # checked while composing: a deep document is refused before it is read whole
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(f"line {line}: nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def get_single_data(self):
        node = self.get_single_node()
        if node is None:
            return None
        self._check(node, (), set())
        return self.construct_document(node)

    def _check(self, node, path: tuple, above: set) -> None:
        """Count the values ``node`` expands to; refuse cycles, depth and duplicate keys."""
        self.visited += 1
        where = f"line {node.start_mark.line + 1}: {_key_path(path)}"
        if self.visited > MAX_NODES:
            raise _Refused(f"{where}: the document expands to more than {MAX_NODES:,} values "
                           f"(aliases repeated inside aliases?); the real params.yaml has about 500")
        if len(path) > MAX_DEPTH:
            raise _Refused(f"{where}: nested more than {MAX_DEPTH} levels deep")
        if id(node) in above:
            raise _Refused(f"{where}: an alias refers to a value that contains it (a recursive structure)")
        if isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                self._check(child, path + (i,), above | {id(node)})
        elif isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":  # `<<: *base` (its keys may be overridden)
                    self._check(value, path, above | {id(node)})
                    continue
                self._check(key, path + ("[key]",), above | {id(node)})
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        raise _Refused(f"{_key_path(path + (key.value,))}: duplicate key (lines {seen[key.value]} "
                                       f"and {line}); DVC refuses a file with a key given twice")
                    seen[key.value] = line
                self._check(value, path + (_cut(str(key.value)),), above | {id(node)})

    def construct_yaml_int(self, node):
        if len(node.value) > MAX_INT_CHARS:
            raise _Refused(f"line {node.start_mark.line + 1}: an integer of {len(node.value):,} digits "
                           f"(at most {MAX_INT_CHARS} are read)")
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _line_col(data: bytes, offset: int) -> str:
    line, line_start = data.count(b"\n", 0, offset) + 1, data.rfind(b"\n", 0, offset) + 1
    return f"line {line}, column {offset - line_start + 1}"


def _decode(data: bytes, path: Path) -> str:
    """The text of a UTF-8 file; otherwise ParamsError naming the first bad byte and its offset."""
    bom = {b"\xff\xfe": "UTF-16 (little-endian)", b"\xfe\xff": "UTF-16 (big-endian)"}.get(data[:2])
    if bom:
        raise ParamsError(f"{path}: not UTF-8: byte 0x{data[0]:02x} at offset 0 ({_line_col(data, 0)}): "
                          f"the file starts with a {bom} byte-order mark; save it as UTF-8")
    nul = data.find(b"\x00")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = err.start if nul < 0 or err.start < nul else nul
        raise ParamsError(f"{path}: not UTF-8: byte 0x{data[bad]:02x} at offset {bad} ({_line_col(data, bad)}); "
                          f"save the file as UTF-8 (Latin-1 or UTF-16?)") from None
    if nul >= 0:
        raise ParamsError(f"{path}: not UTF-8 text: byte 0x00 at offset {nul} ({_line_col(data, nul)}); "
                          f"a NUL byte (UTF-16?); save the file as UTF-8")
    return text


def _yaml_problem(err: yaml.YAMLError, text: str) -> str:
    """A YAML error as ``line L, column C: not valid YAML: what``."""
    if isinstance(err, yaml.reader.ReaderError):
        line = text.count("\n", 0, err.position) + 1
        char = chr(err.character) if isinstance(err.character, int) else err.character
        where, what = f"line {line}", f"character {char!r} is not allowed in YAML ({err.reason})"
    else:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(top level)"
        parts = [getattr(err, "context", None), getattr(err, "problem", None)]
        what = "; ".join(p for p in parts if p) or type(err).__name__
    what = what if len(what) <= 200 else what[:199] + "…"
    return f"{where}: not valid YAML: {what}"


def load_yaml(path: Path) -> object:
    """The parsed YAML of a params file, refused with ParamsError if it is not a readable,
    bounded, UTF-8 YAML document without duplicate keys (see ``_Loader``)."""
    try:
        if path.is_dir():
            raise ParamsError(f"{path}: is a directory, expected a params YAML file")
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except OSError as err:
        raise ParamsError(f"{path}: cannot be read: {err.strerror or err}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ParamsError(f"{path}: (whole file): larger than {MAX_FILE_BYTES:,} bytes; the real params.yaml "
                          f"is about 12 kB")
    text = _decode(data, path)
    loader = None
    try:
        loader = _Loader(text)  # the reader refuses control characters here already
        return loader.get_single_data()
    except _Refused as err:
        raise ParamsError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: {_yaml_problem(err, text)}") from None
    except RecursionError:
        raise ParamsError(f"{path}: (whole file): nested too deeply to read") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_params(path: str | os.PathLike | None = None) -> Params:
    """Read and validate ``params.yaml`` (a safe YAML loader: nothing is executed)."""
    path = Path(path) if path else project_root() / PARAMS_FILE
    return parse_params(load_yaml(path), str(path))
