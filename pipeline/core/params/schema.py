"""The schema of ``params.yaml`` (pydantic): one class per section, one line per key.

Every count has an upper bound (``le=``) whose reason is the field's description: a value
beyond it is a typo (an extra zero, an exponent), not an experiment, and would otherwise
start a run that never ends or exhausts memory. Types that several sections share are
declared once, as annotated types, below.
"""

from __future__ import annotations

import typing
from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, PlainValidator, StringConstraints,
                      ValidationInfo, field_validator, model_validator)

from pipeline.core.dataset import DATASETS
from pipeline.core.numbers import Printed

# --------------------------------------------------------------------------- shared types

MAX_TRAIN_IMAGES = max(spec.n_train for spec in DATASETS.values())  # 60,000 (core/dataset.py)
SEED_MAX = 2**32 - 1

SampleSize = Annotated[int, Field(ge=0, le=MAX_TRAIN_IMAGES, description=(
    f"0 = all images, N = first N of train and of test; at most {MAX_TRAIN_IMAGES:,}: the training images "
    f"of MNIST and Fashion-MNIST (core/dataset.py)"))]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX, description=(
    "random seed; at most 2^32-1: the range NumPy and TensorFlow accept"))]
Threads = Annotated[int, Field(ge=0, le=1024, description=(
    "TensorFlow intra- and inter-op threads (0 = TF's default); at most 1,024: more cores than one machine has"))]
StepsPerExecution = Annotated[int, Field(ge=1, le=65_536, description=(
    "batches per compiled call; at most 65,536: more batches than one epoch has at batch 1"))]
BatchSize = Annotated[int, Field(ge=1, le=65_536, description=(
    "images per gradient step; at most 65,536: more than MNIST's 60,000 training images"))]
Epochs = Annotated[int, Field(ge=1, le=10_000, description=(
    "passes over the training images; at most 10,000: the sources train for 5 to 100"))]
Width = Annotated[int, Field(ge=1, le=65_536, description=(
    "units of one Dense layer; at most 65,536: a first layer that wide already has 51 million weights"))]
Hidden = Annotated[list[Width], Field(min_length=1, max_length=64, description=(
    "units per Dense layer, one entry per layer; at most 64 layers: deeper plain Dense stacks do not train"))]
Fraction = Annotated[float, Field(gt=0, lt=1)]
Dropout = Annotated[float, Field(ge=0, lt=1)]
Optimizer = Literal["adam", "sgd", "rmsprop"]
Loss = Literal["categorical_crossentropy", "sparse_categorical_crossentropy"]
LOSS_LABEL = {"categorical_crossentropy": "categorical CE (one-hot labels)",
              "sparse_categorical_crossentropy": "sparse categorical CE (integer labels)"}
assert tuple(LOSS_LABEL) == typing.get_args(Loss)
# A configuration's name becomes part of file names and DVC stage names (model@NAME).
ConfigName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def _between(low: float, high: float | None = None):
    def check(x: Printed) -> Printed:
        if x < low:
            raise ValueError(f"should be greater than or equal to {low}, got {x.text}")
        if high is not None and x > high:
            raise ValueError(f"should be less than or equal to {high}, got {x.text}")
        return x
    return AfterValidator(check)


# A number a source printed: a YAML number, or a quoted string where its last zeros matter
# ("0.980": its rounding is half a unit of the 3rd decimal). The float keeps the printed text.
PrintedNumber = Annotated[Printed, PlainValidator(Printed), PlainSerializer(lambda x: x.text, when_used="json")]


def _loss_accuracy(pair: list[Printed]) -> list[Printed]:
    """A sweep claim is ``[test loss, test accuracy]``: loss >= 0, accuracy a fraction in [0, 1]."""
    loss, accuracy = pair
    if loss < 0 or not 0 <= accuracy <= 1:
        raise ValueError(f"expected [test loss >= 0, test accuracy in [0, 1]], got {pair}")
    return pair


LossAccuracy = Annotated[list[PrintedNumber], Field(min_length=2, max_length=2), AfterValidator(_loss_accuracy)]


# --------------------------------------------------------------------------- sections


class _Section(BaseModel):
    """A params.yaml section: unknown keys are refused, values are checked, never coerced,
    and no number may be infinite or NaN (YAML's ``.inf`` / ``.nan``)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


DatasetName = Literal["mnist", "fashion_mnist"]  # the keys of core/dataset.py's DATASETS (a test checks)
CLAIMS_DATASET_DESCRIPTION = ("the dataset the source measured its numbers on (all five sources used MNIST); "
                              "a claim is judged only on reports of that dataset")


class DataParams(_Section):
    """``data``: which dataset the data stage prepares."""

    dataset: DatasetName = "mnist"


class ExploreParams(_Section):
    """``explore``: parameters of notebooks/01_data_exploration.ipynb."""

    sample_size: SampleSize = 0
    samples_per_class: int = Field(10, ge=1, le=50, description="columns of the sample grid; at most 50: "
                                                                "a wider grid is unreadable")
    pca_points: int = Field(5000, ge=10, le=70_000, description="images in the PCA projection; at most "
                                                                "70,000: all of MNIST's training and test images")


class Claim(_Section):
    """What a source report printed for its test result (``None`` where it printed nothing)."""

    accuracy: Annotated[PrintedNumber, _between(0, 1)] | None = None
    loss: Annotated[PrintedNumber, _between(0)] | None = None
    note: str = ""
    protocol: Literal["split", "test"] = Field("split", description=(
        "how the source validated: split = on held-out training images, test = fitted on every "
        "training image and validated on the test set; the claim is judged only by a configuration "
        "with the same `validation`, the others show it for reference"))
    dataset: DatasetName = Field("mnist", description=CLAIMS_DATASET_DESCRIPTION)


class VerdictParams(_Section):
    """``verdicts``: the numbers of the rule that checks a source's printed number against our
    runs (``model_report.evaluation.check_quantity`` applies it; its words, shown by every
    report and the front page, are ``pipeline/core/templates/verdict_rule.html.j2``)."""

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

    steps_per_execution: StepsPerExecution | None = None
    jit_compile: bool | None = Field(None, description="XLA-compile the train step")
    threads: Threads | None = None


class ModelConfig(_Section):
    """One model configuration of ``models`` (a source report's experiment)."""

    source: str = Field(min_length=1, description="id in shared/reference/source-reports.md, e.g. R4a")
    title: str = Field(min_length=1)
    description: str = ""
    hidden: Hidden
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    dropout: Dropout = Field(0.0, description="one Dropout after the last hidden layer")
    output_activation: Literal["softmax", "sigmoid"] = "softmax"
    optimizer: Optimizer = "adam"
    learning_rate: float | None = Field(None, gt=0, le=10, description="None = Keras's default; at most 10: "
                                                                     "the sources use 0.001 to 0.01")
    loss: Loss
    epochs: Epochs
    batch_size: BatchSize = 32
    validation: Literal["split", "test"] = "split"
    validation_fraction: Fraction = 0.1
    repeats: int = Field(3, ge=1, le=1000, description="training runs with different seeds; at most 1,000: "
                                                       "each is a whole training run")
    seed: Seed = 0
    claimed: Claim = Claim()
    execution: Execution = Execution()

    @property
    def one_hot(self) -> bool:
        """Categorical cross-entropy takes one-hot labels; the sparse loss takes integers."""
        return self.loss == "categorical_crossentropy"


class TrainingParams(_Section):
    """``training``: how every model configuration is trained (not what is trained).

    The speed settings change how Keras executes the same computation, not the experiment. A
    configuration's ``execution`` entry overrides them for that configuration (``for_model``);
    ``plain_keras: true`` ignores both and uses every Keras default.
    """

    sample_size: SampleSize = 0
    plain_keras: bool = Field(False, description="every Keras default: no speed setting, no override")
    steps_per_execution: StepsPerExecution = 32
    jit_compile: bool = Field(False, description="XLA-compile the train step")
    threads: Threads = 1
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

    sample_size: SampleSize = 0
    validation_fraction: Fraction = Field(0.1, description="held out exactly as the networks do")
    seed: Seed = 0
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
    hidden: Hidden
    dropout: Dropout = 0.0


class SweepParams(_Section):
    """``sweep``: R4's baseline and variants, trained with each loss over the same seeds."""

    losses: list[Loss] = Field(min_length=1, max_length=2, description=(
        "one stage sweep@LOSS each (dvc.yaml: foreach); the comparison needs both"))
    optimizer: Optimizer = "adam"
    epochs: Epochs = 20
    batch_size: BatchSize = 512
    validation_fraction: Fraction = 0.1
    seeds: list[Seed] = Field([0, 1, 2], min_length=1, max_length=1000, description=(
        "every variant trains once per seed and loss; at most 1,000: each seed trains every variant twice"))
    variants: dict[ConfigName, Variant] = Field(min_length=1, max_length=1000, description=(
        "the first is the baseline; at most 1,000: each trains once per seed and loss"))
    claimed: dict[Loss, dict[str, LossAccuracy]] = {}
    claimed_dataset: DatasetName = Field("mnist", description=CLAIMS_DATASET_DESCRIPTION)

    @field_validator("seeds", "losses")
    @classmethod
    def _distinct(cls, values: list, info: ValidationInfo) -> list:
        if len(set(values)) != len(values):
            raise ValueError(f"{info.field_name} must be distinct, got {values}")
        return values

    @model_validator(mode="after")
    def _references(self) -> SweepParams:
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
