"""The validated contents of ``params.yaml``: its schema (pydantic), loading, and the
one way a notebook gets its sections (``section``).
"""

from __future__ import annotations

import os
import typing
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError,
                      field_validator, model_validator)

from pipeline.core.errors import PipelineError
from pipeline.core.paths import PARAMS_FILE, SAMPLE_ENV, project_root



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


# --------------------------------------------------------------------------- params schema


class _Section(BaseModel):
    """A params.yaml section: unknown keys are refused, values are checked, never coerced,
    and no number may be infinite or NaN (YAML's ``.inf`` / ``.nan``)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class DataParams(_Section):
    """``data``: which dataset the data stage prepares."""

    dataset: Literal["mnist", "fashion_mnist"] = "mnist"


class ExploreParams(_Section):
    """``explore``: parameters of notebooks/01_data_exploration.ipynb."""

    sample_size: int = Field(0, ge=0, description="0 = all images, N = first N of train and of test")
    samples_per_class: int = Field(10, ge=1, le=50)
    pca_points: int = Field(5000, ge=10)


class Claim(_Section):
    """What a source report printed for its test result (``None`` where it printed nothing)."""

    accuracy: float | None = Field(None, ge=0, le=1)
    loss: float | None = Field(None, ge=0)
    note: str = ""


class Execution(_Section):
    """``models.<name>.execution``: speed settings of one configuration that differ from
    ``training``'s (how Keras runs the computation, never what is computed)."""

    steps_per_execution: int | None = Field(None, ge=1, description="batches per compiled call")
    jit_compile: bool | None = Field(None, description="XLA-compile the train step")
    threads: int | None = Field(None, ge=0, description="TensorFlow intra- and inter-op threads (0 = TF's default)")


Loss = Literal["categorical_crossentropy", "sparse_categorical_crossentropy"]
LOSSES: tuple[str, ...] = typing.get_args(Loss)  # the one list of the two losses (stage sweep@LOSS)
LOSS_LABEL = {"categorical_crossentropy": "categorical CE (one-hot labels)",
              "sparse_categorical_crossentropy": "sparse categorical CE (integer labels)"}
assert tuple(LOSS_LABEL) == LOSSES


class ModelConfig(_Section):
    """One model configuration of ``models`` (a source report's experiment)."""

    source: str = Field(min_length=1, description="id in shared/reference/source-reports.md, e.g. R4a")
    title: str = Field(min_length=1)
    description: str = ""
    hidden: list[Annotated[int, Field(ge=1)]] = Field(min_length=1, description="units per Dense layer")
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    dropout: float = Field(0.0, ge=0, lt=1, description="one Dropout after the last hidden layer")
    output_activation: Literal["softmax", "sigmoid"] = "softmax"
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float | None = Field(None, gt=0, description="None = Keras's default")
    loss: Loss
    epochs: int = Field(ge=1)
    batch_size: int = Field(32, ge=1)
    validation: Literal["split", "test"] = "split"
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    repeats: int = Field(3, ge=1)
    seed: int = Field(0, ge=0)
    claimed: Claim = Claim()
    execution: Execution = Execution()

    @property
    def one_hot(self) -> bool:
        """Categorical cross-entropy takes one-hot labels; the sparse loss takes integers."""
        return self.loss == "categorical_crossentropy"


# A configuration's name becomes part of file names and DVC stage names (model@NAME).
ConfigName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class TrainingParams(_Section):
    """``training``: how every model configuration is trained (not what is trained).

    The speed settings change how Keras executes the same computation, not the experiment. A
    configuration's ``execution`` entry overrides them for that configuration (``for_model``);
    ``plain_keras: true`` ignores both and uses every Keras default.
    """

    sample_size: int = Field(0, ge=0, description="0 = all images, N = first N of train and of test")
    plain_keras: bool = Field(False, description="every Keras default: no speed setting, no override")
    steps_per_execution: int = Field(32, ge=1, description="batches per compiled call")
    jit_compile: bool = Field(False, description="XLA-compile the train step")
    threads: int = Field(1, ge=0, description="TensorFlow intra- and inter-op threads (0 = TF's default)")
    deterministic: bool = Field(True, description="tf op determinism: same seed → bit-identical metrics")

    def for_model(self, cfg: ModelConfig | None = None) -> TrainingParams:
        """The settings one configuration is trained with: ``cfg.execution`` over these, or
        Keras's defaults (``steps_per_execution: 1, jit_compile: false, threads: 0``) with
        ``plain_keras``."""
        if self.plain_keras:
            return self.model_copy(update={"steps_per_execution": 1, "jit_compile": False, "threads": 0})
        overrides = cfg.execution.model_dump(exclude_none=True) if cfg is not None else {}
        return self.model_copy(update=overrides)


class ClassicalParams(_Section):
    """``classical``: the scikit-learn comparison (notebooks/03_classical_ml.ipynb)."""

    sample_size: int = Field(0, ge=0, description="0 = all images, N = first N of train and of test")
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="held out exactly as the networks do")
    seed: int = Field(0, ge=0)
    knn_neighbors: int = Field(3, ge=1)
    forest_trees: int = Field(100, ge=1)
    svm_c: float = Field(0.05, gt=0, description="LinearSVC regularisation C")
    logistic_c: float = Field(1.0, gt=0, description="LogisticRegression regularisation C")
    max_iter: int = Field(200, ge=1, description="iterations of the linear models' solvers")


class Variant(_Section):
    """One row of R4's sweep: layer widths and dropout (everything else is the sweep's)."""

    description: str
    hidden: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    dropout: float = Field(0.0, ge=0, lt=1)




def _loss_accuracy(pair: list[float]) -> list[float]:
    """A sweep claim is ``[test loss, test accuracy]``: loss >= 0, accuracy a fraction in [0, 1]."""
    loss, accuracy = pair
    if loss < 0 or not 0 <= accuracy <= 1:
        raise ValueError(f"expected [test loss >= 0, test accuracy in [0, 1]], got {pair}")
    return pair


LossAccuracy = Annotated[list[float], Field(min_length=2, max_length=2), AfterValidator(_loss_accuracy)]


class SweepParams(_Section):
    """``sweep``: R4's baseline and variants, trained with both losses over the same seeds."""

    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(512, ge=1)
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    seeds: list[Annotated[int, Field(ge=0)]] = Field([0, 1, 2], min_length=1)
    variants: dict[ConfigName, Variant] = Field(min_length=1, description="the first is the baseline")
    claimed: dict[Loss, dict[str, LossAccuracy]] = {}

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct, got {seeds}")
        return seeds

    @model_validator(mode="after")
    def _references(self) -> "SweepParams":
        for loss, rows in self.claimed.items():
            unknown = sorted(set(rows) - set(self.variants))
            if unknown:
                raise ValueError(f"claimed.{loss} names unknown variant(s) {', '.join(unknown)}; "
                                 f"variants are: {', '.join(self.variants)}")
        return self


class Params(_Section):
    """The whole of ``params.yaml``."""

    data: DataParams = DataParams()
    explore: ExploreParams = ExploreParams()
    training: TrainingParams = TrainingParams()
    models: dict[ConfigName, ModelConfig] = {}
    classical: ClassicalParams = ClassicalParams()
    sweep: SweepParams | None = None


class ParamsError(PipelineError, ValueError):
    """params.yaml is missing, not YAML, or does not match the schema."""


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: {err.error_count()} invalid parameter(s):"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not in the schema; check the spelling)"
        got = repr(e.get("input"))
        got = got if len(got) <= 80 else got[:77] + "..."  # a whole section is not worth printing
        lines.append(f"  - {loc}: {msg} (got {got})")
    return "\n".join(lines)


def parse_params(data: object, source: str = PARAMS_FILE) -> Params:
    """Validate an already-parsed params mapping."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    try:
        return Params.model_validate(data)
    except ValidationError as err:
        raise ParamsError(_format_validation_error(err, source)) from None


def load_params(path: str | os.PathLike | None = None) -> Params:
    """Read and validate ``params.yaml`` (``yaml.safe_load``; nothing is executed)."""
    path = Path(path) if path else project_root() / PARAMS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return parse_params(data, str(path))


# --------------------------------------------------------------------------- notebooks


def value_at(params: Params, path: str):
    """The part of ``params`` at a dotted ``path``: a section (``training``) or one entry of a
    mapping section (``models.r0_deep``, ``sweep.variants.baseline``)."""
    node = params
    for i, key in enumerate(path.split(".")):
        where = ".".join(path.split(".")[:i]) or "params.yaml"
        if isinstance(node, BaseModel) and key in type(node).model_fields:
            node = getattr(node, key)
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            known = list(type(node).model_fields) if isinstance(node, BaseModel) else list(node or {})
            raise ParamsError(f"{path}: {where} has no {key!r}; known: {', '.join(map(str, known)) or '(none)'}")
        if node is None:
            raise ParamsError(f"{path}: {where}.{key} is not set in params.yaml")
    return node


def section(path: str, passed: dict | None = None, params_file: str | os.PathLike | None = None):
    """What a notebook gets for the params.yaml part at ``path`` (see ``value_at``), validated.

    The pipeline passes the whole part as a mapping (``passed``), which is then used as it
    is. A notebook opened by hand passes None, or a mapping of the keys it wants to change:
    those replace the values of ``params.yaml``.
    """
    current = value_at(load_params(params_file), path)
    if not passed:
        return current
    return type(current).model_validate({**current.model_dump(), **passed})
