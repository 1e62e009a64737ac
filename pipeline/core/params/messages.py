"""Why a params file is refused, in one line per problem: ``key.path = value: what is wrong``.

``parse_params`` validates a parsed mapping against the schema and turns pydantic's errors
into these lines; the YAML loader (``loading``) uses the same ``ParamsError`` and key paths.
"""

from __future__ import annotations

import re
import reprlib
import types
import typing
from typing import Annotated

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from pipeline.core.dataset import DATASETS
from pipeline.core.errors import PipelineError
from pipeline.core.params.schema import SECTIONS, Params
from pipeline.core.paths import PARAMS_FILE


class ParamsError(PipelineError, ValueError):
    """params.yaml is missing, not YAML, or does not match the schema.

    The first line of the message says where (the key path, or the line or byte offset) and
    what; further lines list more problems of the same file. No value is echoed whole.
    """


SHOW_CHARS = 60  # an echoed value (or key) is cut to this many characters
MORE_LINES = 10  # problems listed after the first line
_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxdict, _repr.maxlist = 2, 4, 6
_repr.maxstring = _repr.maxother = _repr.maxlong = SHOW_CHARS


def _cut(text: str) -> str:
    return text if len(text) <= SHOW_CHARS else text[:SHOW_CHARS - 1] + "…"


def _show(value: object) -> str:
    """``repr(value)``, at most SHOW_CHARS characters (built without printing a whole value)."""
    if isinstance(value, int) and value.bit_length() > 13_000:  # str() refuses over 4,300 digits
        return "(an integer of over 4,000 digits)"
    try:
        return _cut(_repr.repr(value))
    except Exception:  # a value whose repr fails is shown by its type only
        return f"(a {type(value).__name__})"


def _key_path(loc: tuple) -> str:
    """``a.b.0``; a key that is not printable text (a line break, a control character) as its repr."""
    return ".".join(_cut(str(p) if str(p).isprintable() and str(p) else repr(p)) for p in loc) or "(top level)"


_NUMBER_TEXT = re.compile(r"[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?")
_BOOL_TEXT = {"true", "false", "yes", "no", "on", "off"}


def _text_hint(value: object, error_type: str) -> str:
    """The hint for a number or boolean written as text (``"1e-3"``, ``"100"``, ``"false"``)."""
    if not isinstance(value, str) or error_type not in ("int_type", "float_type", "bool_type"):
        return ""
    text = value.strip()
    if error_type == "bool_type" and text.lower() in _BOOL_TEXT:
        return f"; written as text: write {text.lower()} without quotes"
    match = _NUMBER_TEXT.fullmatch(text)
    if error_type == "bool_type" or not match:
        return ""
    if match.group(2):  # YAML 1.1 reads a float only with a dot and a signed exponent
        mantissa, exponent = re.split("[eE]", text)
        mantissa += "" if "." in mantissa else ".0"
        exponent = exponent if exponent[0] in "+-" else "+" + exponent
        return f"; written as text; YAML reads {text} as a string: write {mantissa}e{exponent}"
    return f"; written as text: write {text} without quotes"


def _unwrap(tp):
    """``tp`` without ``Annotated`` and ``| None``, and the FieldInfo found in its metadata."""
    info = None
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp, *meta = typing.get_args(tp)
            info = next((m for m in meta if isinstance(m, FieldInfo)), info)
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, info
            tp = args[0]
        else:
            return tp, info


def _schema_at(loc: tuple) -> tuple[FieldInfo | None, type[BaseModel] | None]:
    """The schema at an error's ``loc``: the last FieldInfo on the way, and the model class
    that holds the last key (for an unknown key: the class whose fields are allowed)."""
    tp, info, owner = Params, None, None
    for part in loc:
        tp, meta = _unwrap(tp)
        info = meta or info
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            owner = tp
            if part not in tp.model_fields:
                return info, owner
            info = tp.model_fields[part]
            tp = info.annotation
        elif typing.get_origin(tp) is dict and part != "[key]":
            tp, owner = typing.get_args(tp)[1], None
        elif typing.get_origin(tp) is list:
            tp, owner = typing.get_args(tp)[0], None
        else:
            return info, None
    _, meta = _unwrap(tp)
    return meta or info, owner


def _reason(description: str) -> str:
    """The reason of a bound: what follows ``at most N:`` in a field's description."""
    match = re.search(r"at most [^:]*: (.*)$", description)
    return match.group(1) if match else description


def _problem(e: dict) -> str:
    """One pydantic error as ``key.path = value: what is wrong``."""
    loc = tuple(e["loc"])
    info, owner = _schema_at(loc)
    kind, msg = e["type"], e["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = ", ".join(owner.model_fields) if owner else "(see the schema)"
        msg = f"unknown key (not in the schema; check the spelling); allowed: {allowed}"
    elif kind == "missing":
        what = "a required section: the stages of dvc.yaml read it" if len(loc) == 1 else "a required key"
        return f"{_key_path(loc)}: Field required ({what})"
    elif kind == "less_than_equal" and info is not None and info.description:
        msg = f"must be at most {e['ctx']['le']} ({_reason(info.description)})"
    elif kind == "too_long" and info is not None and info.description:
        msg = f"{msg} ({_reason(info.description)})"
    msg += _text_hint(e.get("input"), kind)
    return f"{_key_path(loc)} = {_show(e.get('input'))}: {msg}"


def _refuse(source: str, problems: list[str]) -> ParamsError:
    lines = [f"{source}: {problems[0]}"]
    if len(problems) > 1:
        lines.append(f"  {len(problems) - 1} more problem(s):")
        lines += [f"  - {p}" for p in problems[1:1 + MORE_LINES]]
        if len(problems) > 1 + MORE_LINES:
            lines.append(f"  - … and {len(problems) - 1 - MORE_LINES} more")
    return ParamsError("\n".join(lines))


def _format_validation_error(err: ValidationError, source: str) -> str:
    return str(_refuse(source, [_problem(e) for e in err.errors(include_url=False)]))


def _dataset_problems(params: Params) -> list[str]:
    """``sample_size`` beyond the training images of the dataset that ``data.dataset`` names."""
    spec = DATASETS[params.data.dataset]
    return [f"{name}.sample_size = {size}: more than the {spec.n_train:,} training images of "
            f"{spec.name} (data.dataset); 0 means all of them"
            for name in ("explore", "training", "classical")
            if (size := getattr(params, name).sample_size) > spec.n_train]


def parse_params(data: object, source: str = PARAMS_FILE) -> Params:
    """Validate an already-parsed params mapping."""
    if data is None:
        raise ParamsError(f"{source}: (top level): empty file (nothing but comments or blank lines); "
                          f"expected the sections {', '.join(SECTIONS)}")
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: (top level) = {_show(data)}: expected a mapping of sections, "
                          f"got {type(data).__name__}")
    try:
        params = Params.model_validate(data)
    except ValidationError as err:
        raise ParamsError(_format_validation_error(err, source)) from None
    problems = _dataset_problems(params)
    if problems:
        raise _refuse(source, problems)
    return params

