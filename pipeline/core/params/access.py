"""What a notebook (and the runner) gets from the params: one part, validated.

The pipeline's runner passes every part a notebook needs whole, as a mapping, and the
kernel validates that mapping alone: ``params.yaml`` is read once, by the runner. A notebook
opened by hand passes None, or a mapping of only the keys it changes: then ``params.yaml``
is read and those keys replace its values.
"""

from __future__ import annotations

import os
import typing

from pydantic import BaseModel

from pipeline.core.params.loading import load_params
from pipeline.core.params.messages import ParamsError, _unwrap
from pipeline.core.params.schema import Params
from pipeline.core.paths import SAMPLE_ENV


def quick_sample(sample_size: int) -> int:
    """``sample_size``, or ``$MNIST_REPORTS_SAMPLE`` when it is set (a quick look).

    For notebooks opened by hand (``MNIST_REPORTS_SAMPLE=2000 jupyter lab``): they then
    train and evaluate on the first N training and N test images. The pipeline's runner
    removes the variable from the kernel's environment, so reports built by ``dvc repro``
    always follow ``params.yaml``.
    """
    value = os.environ.get(SAMPLE_ENV, "").strip()
    if not value:
        return sample_size
    if not value.isdigit() or int(value) < 1:
        raise ParamsError(f"${SAMPLE_ENV}={value!r}: expected a whole number of images ≥ 1 (or unset)")
    return int(value)


def value_at(params: Params, path: str):
    """The part of ``params`` at a dotted ``path``: a section (``training``), one entry of a
    mapping section (``models.r0_deep``, ``sweep.variants.baseline``) or one item of a list,
    named by its value (``sweep.losses.categorical_crossentropy``)."""
    node = params
    for i, key in enumerate(path.split(".")):
        where = ".".join(path.split(".")[:i]) or "params.yaml"
        if isinstance(node, BaseModel) and key in type(node).model_fields:
            node = getattr(node, key)
        elif isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key in node:
            node = key
        else:
            known = list(type(node).model_fields) if isinstance(node, BaseModel) else list(node or {})
            raise ParamsError(f"{path}: {where} has no {key!r}; known: {', '.join(map(str, known)) or '(none)'}")
        if node is None:
            raise ParamsError(f"{path}: {where}.{key} is not set in params.yaml")
    return node


def entry_key(params: Params, path: str) -> str | None:
    """KEY when ``path`` is ``PARENT.KEY``, one entry of a mapping or list of ``params``
    (``models.r0_deep``, ``sweep.losses.categorical_crossentropy``); None for a section."""
    parent, _, key = path.rpartition(".")
    return key if parent and isinstance(value_at(params, parent), (dict, list)) else None


def schema_at(path: str) -> type[BaseModel] | None:
    """The section class of the part at ``path`` (``models.r0_deep`` → ModelConfig), read
    from the schema alone; None where the part is no section (a value, a list item)."""
    tp = Params
    for key in path.split("."):
        tp, _ = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and key in tp.model_fields:
            tp = tp.model_fields[key].annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    tp, _ = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def section(path: str, passed: dict | None = None, params_file: str | os.PathLike | None = None):
    """What a notebook gets for the params part at ``path`` (see ``value_at``), validated.

    ``passed`` with every key of the part (what the pipeline passes) is validated as it is,
    without reading ``params.yaml``. None, or a mapping of some keys (a notebook opened by
    hand), reads ``params.yaml``; the keys given replace its values.
    """
    model = schema_at(path)
    if model is not None and passed and set(model.model_fields) <= set(passed):
        return model.model_validate(passed)
    current = value_at(load_params(params_file), path)
    if not passed:
        return current
    return type(current).model_validate({**current.model_dump(), **passed})
