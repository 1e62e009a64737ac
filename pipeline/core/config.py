"""The validated contents of ``params.yaml``: its schema (pydantic), loading, and the
one way a notebook gets its sections (``section``).
"""

from __future__ import annotations

import os
import re
import reprlib
import types
import typing
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError,
                      field_validator, model_validator)
from pydantic.fields import FieldInfo

from pipeline.core.dataset import DATASETS
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
#
# Every count has an upper bound (``le=``) whose reason is the field's description: a value
# beyond it is a typo (an extra zero, an exponent), not an experiment, and would otherwise
# start a run that never ends or exhausts memory.

MAX_TRAIN_IMAGES = max(spec.n_train for spec in DATASETS.values())  # 60,000 (core/dataset.py)
SAMPLE_DESCRIPTION = (f"0 = all images, N = first N of train and of test; at most {MAX_TRAIN_IMAGES:,}: "
                      f"the training images of MNIST and Fashion-MNIST (core/dataset.py)")
SEED_MAX = 2**32 - 1
SEED_DESCRIPTION = "random seed; at most 2^32-1: the range NumPy and TensorFlow accept"
THREADS_DESCRIPTION = ("TensorFlow intra- and inter-op threads (0 = TF's default); at most 1,024: "
                       "more cores than one machine has")
STEPS_DESCRIPTION = "batches per compiled call; at most 65,536: more batches than one epoch has at batch 1"
BATCH_DESCRIPTION = "images per gradient step; at most 65,536: more than MNIST's 60,000 training images"
EPOCHS_DESCRIPTION = "passes over the training images; at most 10,000: the sources train for 5 to 100"
WIDTH_DESCRIPTION = ("units of one Dense layer; at most 65,536: a first layer that wide already has "
                     "51 million weights")
LAYERS_DESCRIPTION = "units per Dense layer, one entry per layer; at most 64 layers: deeper plain Dense stacks do not train"


class _Section(BaseModel):
    """A params.yaml section: unknown keys are refused, values are checked, never coerced,
    and no number may be infinite or NaN (YAML's ``.inf`` / ``.nan``)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class DataParams(_Section):
    """``data``: which dataset the data stage prepares."""

    dataset: Literal["mnist", "fashion_mnist"] = "mnist"


class ExploreParams(_Section):
    """``explore``: parameters of notebooks/01_data_exploration.ipynb."""

    sample_size: int = Field(0, ge=0, le=MAX_TRAIN_IMAGES, description=SAMPLE_DESCRIPTION)
    samples_per_class: int = Field(10, ge=1, le=50, description="columns of the sample grid; at most 50: "
                                                                "a wider grid is unreadable")
    pca_points: int = Field(5000, ge=10, le=70_000, description="images in the PCA projection; at most "
                                                                "70,000: all of MNIST's training and test images")


DatasetName = Literal["mnist", "fashion_mnist"]  # the keys of core/dataset.py's DATASETS (a test checks)
CLAIMS_DATASET_DESCRIPTION = ("the dataset the source measured its numbers on (all five sources used MNIST); "
                              "a claim is judged only on reports of that dataset")


class Claim(_Section):
    """What a source report printed for its test result (``None`` where it printed nothing)."""

    accuracy: float | None = Field(None, ge=0, le=1)
    loss: float | None = Field(None, ge=0)
    note: str = ""
    protocol: Literal["split", "test"] = Field("split", description=(
        "how the source validated: split = on held-out training images, test = fitted on every "
        "training image and validated on the test set; the claim is judged only by a configuration "
        "with the same `validation`, the others show it for reference"))
    dataset: DatasetName = Field("mnist", description=CLAIMS_DATASET_DESCRIPTION)


class VerdictParams(_Section):
    """``verdicts``: the rule that checks a source's printed number against our runs.

    A claim is *consistent* when it lies inside the ``confidence`` prediction interval for one
    new run (t with n−1 degrees of freedom from our n seeds), widened by the rounding of the
    printed number; *not consistent* when it lies outside; *inconclusive* when it lies inside
    but the interval is wider than the margin (it would admit numbers that differ by more).
    """

    confidence: float = Field(0.95, ge=0.5, le=0.999, description=(
        "coverage of the prediction interval; from 0.5 to 0.999: beyond that, a few seeds give an "
        "interval wider than any accuracy range"))
    accuracy_margin: float = Field(0.01, gt=0, le=0.5, description=(
        "widest accuracy interval half-width that still decides (0.01 = one percentage point); at "
        "most 0.5: half of the accuracy scale"))
    loss_margin: float = Field(0.25, gt=0, le=10, description=(
        "widest loss interval half-width that still decides, as a share of the claimed loss "
        "(0.25 = a quarter); at most 10"))


class Execution(_Section):
    """``models.<name>.execution``: speed settings of one configuration that differ from
    ``training``'s (how Keras runs the computation, never what is computed)."""

    steps_per_execution: int | None = Field(None, ge=1, le=65_536, description=STEPS_DESCRIPTION)
    jit_compile: bool | None = Field(None, description="XLA-compile the train step")
    threads: int | None = Field(None, ge=0, le=1024, description=THREADS_DESCRIPTION)


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
    hidden: list[Annotated[int, Field(ge=1, le=65_536, description=WIDTH_DESCRIPTION)]] = Field(
        min_length=1, max_length=64, description=LAYERS_DESCRIPTION)
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    dropout: float = Field(0.0, ge=0, lt=1, description="one Dropout after the last hidden layer")
    output_activation: Literal["softmax", "sigmoid"] = "softmax"
    optimizer: Literal["adam", "sgd", "rmsprop"] = "adam"
    learning_rate: float | None = Field(None, gt=0, le=10, description="None = Keras's default; at most 10: "
                                                                     "the sources use 0.001 to 0.01")
    loss: Loss
    epochs: int = Field(ge=1, le=10_000, description=EPOCHS_DESCRIPTION)
    batch_size: int = Field(32, ge=1, le=65_536, description=BATCH_DESCRIPTION)
    validation: Literal["split", "test"] = "split"
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    repeats: int = Field(3, ge=1, le=1000, description="training runs with different seeds; at most 1,000: "
                                                       "each is a whole training run")
    seed: int = Field(0, ge=0, le=SEED_MAX, description=SEED_DESCRIPTION)
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

    sample_size: int = Field(0, ge=0, le=MAX_TRAIN_IMAGES, description=SAMPLE_DESCRIPTION)
    plain_keras: bool = Field(False, description="every Keras default: no speed setting, no override")
    steps_per_execution: int = Field(32, ge=1, le=65_536, description=STEPS_DESCRIPTION)
    jit_compile: bool = Field(False, description="XLA-compile the train step")
    threads: int = Field(1, ge=0, le=1024, description=THREADS_DESCRIPTION)
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

    sample_size: int = Field(0, ge=0, le=MAX_TRAIN_IMAGES, description=SAMPLE_DESCRIPTION)
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="held out exactly as the networks do")
    seed: int = Field(0, ge=0, le=SEED_MAX, description=SEED_DESCRIPTION)
    knn_neighbors: int = Field(3, ge=1, le=1000, description="neighbours of k-NN; at most 1,000: a vote over "
                                                             "more neighbours only blurs the classes")
    forest_trees: int = Field(100, ge=1, le=10_000, description="trees of the random forest; at most 10,000: "
                                                                "accuracy stops improving after a few hundred")
    svm_c: float = Field(0.05, gt=0, le=1e6, description="LinearSVC regularisation C; at most 10^6: "
                                                         "beyond that the model is unregularised")
    logistic_c: float = Field(1.0, gt=0, le=1e6, description="LogisticRegression regularisation C; at most "
                                                             "10^6: beyond that the model is unregularised")
    max_iter: int = Field(200, ge=1, le=100_000, description="iterations of the linear models' solvers; "
                                                             "at most 100,000: they converge in hundreds")


class Variant(_Section):
    """One row of R4's sweep: layer widths and dropout (everything else is the sweep's)."""

    description: str
    hidden: list[Annotated[int, Field(ge=1, le=65_536, description=WIDTH_DESCRIPTION)]] = Field(
        min_length=1, max_length=64, description=LAYERS_DESCRIPTION)
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
    epochs: int = Field(20, ge=1, le=10_000, description=EPOCHS_DESCRIPTION)
    batch_size: int = Field(512, ge=1, le=65_536, description=BATCH_DESCRIPTION)
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    seeds: list[Annotated[int, Field(ge=0, le=SEED_MAX, description=SEED_DESCRIPTION)]] = Field(
        [0, 1, 2], min_length=1, max_length=1000,
        description="every variant trains once per seed and loss; at most 1,000: each seed trains "
                    "every variant twice")
    variants: dict[ConfigName, Variant] = Field(min_length=1, max_length=1000, description=(
        "the first is the baseline; at most 1,000: each trains once per seed and loss"))
    claimed: dict[Loss, dict[str, LossAccuracy]] = {}
    claimed_dataset: DatasetName = Field("mnist", description=CLAIMS_DATASET_DESCRIPTION)

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


SECTIONS = ("data", "explore", "training", "models", "verdicts", "classical", "sweep")


class Params(_Section):
    """The whole of ``params.yaml``. Every section is required and may not be empty: the
    stages of dvc.yaml read each one (``foreach: ${models}``, ``params: [sweep]``...)."""

    data: DataParams
    explore: ExploreParams
    training: TrainingParams
    models: dict[ConfigName, ModelConfig] = Field(min_length=1, max_length=1000, description=(
        "at least one configuration (dvc.yaml's model@NAME stages); at most 1,000: each is a DVC stage"))
    verdicts: VerdictParams
    classical: ClassicalParams
    sweep: SweepParams

    @field_validator(*SECTIONS, mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        if value is None or (isinstance(value, dict) and not value):
            raise ValueError("empty section (nothing under the section's name; every stage of dvc.yaml "
                             "reads its section)")
        return value


class ParamsError(PipelineError, ValueError):
    """params.yaml is missing, not YAML, or does not match the schema.

    The first line of the message says where (the key path, or the line or byte offset) and
    what; further lines list more problems of the same file. No value is echoed whole.
    """


# --------------------------------------------------------------------------- messages

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


# --------------------------------------------------------------------------- loading

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
