"""Keras models built from a ``models`` entry of ``params.yaml``, and their training.

Every configuration is ``Input(28, 28) → Flatten → Dense(h, activation) … → [Dropout] →
Dense(10, output_activation)``: the architectures of the five source reports differ only in
these values, so one builder serves them all. ``train`` fits one configuration once per
seed on a validation split drawn with that seed (never the test set), and evaluates each fit once
on the test set.
"""

from __future__ import annotations

import dataclasses
import os
import time

# Pinned before TensorFlow is imported, in every process that trains (the kernel, local
# workers, Ray workers started from any shell): oneDNN changes TensorFlow's numerics.
os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from pipeline.core.params.schema import ModelConfig, TrainingParams  # noqa: E402
from pipeline.core.dataset import Dataset, scale, validation_split  # noqa: E402
from pipeline.modeling import keras_fit, lean_fit  # noqa: E402

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
EVAL_BATCH = 1000  # evaluation/prediction batch: does not change any result, only speed


def build_model(cfg: ModelConfig, num_classes: int = NUM_CLASSES) -> keras.Model:
    """The (uncompiled) Keras model of ``cfg``."""
    layers = [keras.Input(shape=IMAGE_SHAPE, name="image"), keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(cfg.hidden, start=1):
        layers.append(keras.layers.Dense(units, activation=cfg.activation, name=f"hidden_{i}"))
    if cfg.dropout > 0:
        layers.append(keras.layers.Dropout(cfg.dropout, name="dropout"))
    layers.append(keras.layers.Dense(num_classes, activation=cfg.output_activation, name="output"))
    return keras.Sequential(layers, name=cfg.source.replace(" ", "_"))


def expected_parameter_count(cfg: ModelConfig, inputs: int = 28 * 28, num_classes: int = NUM_CLASSES) -> int:
    """Weights + biases of the Dense stack, by hand: sum of (fan_in + 1) × units."""
    sizes = [inputs, *cfg.hidden, num_classes]
    return sum((fan_in + 1) * units for fan_in, units in zip(sizes, sizes[1:]))


def make_optimizer(cfg: ModelConfig) -> keras.optimizers.Optimizer:
    """The optimizer by name, with Keras's default learning rate unless ``cfg`` sets one."""
    kwargs = {} if cfg.learning_rate is None else {"learning_rate": cfg.learning_rate}
    return {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
            "rmsprop": keras.optimizers.RMSprop}[cfg.optimizer](**kwargs)


# --------------------------------------------------------------------------- execution settings


def configure_tensorflow(settings: TrainingParams) -> None:
    """Threads and op determinism; call before the first TensorFlow operation of the process.

    With ``deterministic`` and a fixed thread count, the same seed gives bit-identical
    weights and metrics on the same machine and software.
    """
    import tensorflow as tf

    if settings.threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(settings.threads)
            tf.config.threading.set_inter_op_parallelism_threads(settings.threads)
        except RuntimeError as err:  # TensorFlow already initialised in this process
            if tf.config.threading.get_intra_op_parallelism_threads() != settings.threads:
                raise RuntimeError(f"cannot set {settings.threads} TensorFlow thread(s): {err}; "
                                   "call configure_tensorflow before any TensorFlow operation") from None
    if settings.deterministic:
        tf.config.experimental.enable_op_determinism()


def compile_model(model: keras.Model, cfg: ModelConfig) -> keras.Model:
    """The optimizer, loss and accuracy metric of ``cfg``, with every other Keras default.

    The lean loop (``lean_fit``) trains with this optimizer; ``plain_keras`` (``model.fit``)
    uses the rest, and a saved model keeps them. The execution settings (steps per call, XLA) belong to
    the loop, not to the model, so a saved model carries none of them.
    """
    model.compile(optimizer=make_optimizer(cfg), loss=cfg.loss, metrics=["accuracy"])
    return model


# --------------------------------------------------------------------------- data


def encode_labels(y: np.ndarray, cfg: ModelConfig, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """One-hot rows for categorical cross-entropy, the integer labels for the sparse loss."""
    return keras.utils.to_categorical(y, num_classes).astype(np.float32) if cfg.one_hot else y.astype(np.int64)


# --------------------------------------------------------------------------- training


@dataclasses.dataclass
class SeedRun:
    """One fit of a configuration with one seed, and everything measured on it."""

    seed: int
    history: dict[str, list[float]]  # per epoch: loss, accuracy, val_loss, val_accuracy
    test_loss: float
    test_accuracy: float
    train_loss: float | None  # on the fitted images, in inference mode (no dropout)
    train_accuracy: float | None
    unscaled_test_loss: float | None  # the test set fed as raw 0..255 pixels (a common mistake)
    unscaled_test_accuracy: float | None  # (these four are None when train(..., diagnostics=False))
    dead_units: dict[str, int]  # ReLU units of each hidden layer that output 0 for every test image
    test_probabilities: np.ndarray
    fit_seconds: float
    epoch_seconds: list[float] = dataclasses.field(default_factory=list)  # training only
    model: keras.Model | None = None
    model_bytes: bytes | None = None  # the model as a .keras file, on its way back from a worker
    where: str = ""  # the process (or Ray node) the fit ran in


@dataclasses.dataclass
class Fits:
    """The result of ``train``: one ``SeedRun`` per repeat, and how the data was used."""

    config: ModelConfig
    runs: list[SeedRun]
    n_fit: int
    n_val: int
    n_test: int
    validation_on: str  # "split" or "test"

    @property
    def first_model(self) -> keras.Model:
        return self.runs[0].model


def predict_with_dead_units(model: keras.Model, x: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """The model's outputs for ``x`` and, per ReLU hidden layer, how many units never activate
    (output 0 for every input in ``x``), from one forward pass."""
    hidden = [layer for layer in model.layers if layer.name.startswith("hidden_")
              and getattr(layer.activation, "__name__", "") == "relu"]
    probe = keras.Model(model.inputs, [*(layer.output for layer in hidden), model.outputs[0]])
    outputs = probe.predict(x, batch_size=EVAL_BATCH, verbose=0)
    *activations, probabilities = outputs if isinstance(outputs, list) else [outputs]
    return probabilities, {layer.name: int((out.max(axis=0) <= 0).sum()) for layer, out in zip(hidden, activations)}


def _float(value) -> float | None:
    return None if value is None else float(value)


def seeds(cfg: ModelConfig) -> list[int]:
    """The seeds of the repeats: ``seed``, ``seed + 1``, …"""
    return [cfg.seed + i for i in range(cfg.repeats)]


@dataclasses.dataclass(frozen=True)
class Prepared:
    """The arrays one configuration is fitted, validated and tested on."""

    x_fit: np.ndarray
    t_fit: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    x_test_raw: np.ndarray  # the test images left at 0..255 (a common mistake, measured)


_PREPARED: dict[tuple, Prepared] = {}  # one entry: a worker runs many fits of the same split
_SCALED: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # one entry: every seed's split is cut from it


def _scaled(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The training and test images scaled to [0, 1], once per dataset in this process (a
    worker fits many seeds, each with its own split of the same images)."""
    key = (ds.name, len(ds.y_train), len(ds.y_test), id(ds.x_train))
    if key not in _SCALED:
        _SCALED.clear()
        _SCALED[key] = scale(ds.x_train), scale(ds.x_test)
    return _SCALED[key]


def prepare(cfg: ModelConfig, ds: Dataset, seed: int | None = None) -> Prepared:
    """Scaled images and encoded labels of the split of one run.

    ``validation: split`` holds out ``validation_fraction`` of the training images, drawn with
    the run's ``seed`` (default ``cfg.seed``): one split per seed, in the model reports as in
    the loss sweep, so the spread over seeds includes the choice of the held-out images.
    ``validation: test`` uses the test set for validation, as some sources did.
    """
    seed = cfg.seed if seed is None else seed
    key = (ds.name, len(ds.y_train), len(ds.y_test), cfg.validation, cfg.validation_fraction,
           seed if cfg.validation == "split" else None, cfg.one_hot)
    if key in _PREPARED:
        return _PREPARED[key]
    x_train, x_test = _scaled(ds)
    if cfg.validation == "split":
        split = validation_split(ds.y_train, cfg.validation_fraction, seed)
        x_fit, y_fit = x_train[split.fit], ds.y_train[split.fit]
        x_val, y_val = x_train[split.val], ds.y_train[split.val]
    else:
        x_fit, y_fit, x_val, y_val = x_train, ds.y_train, x_test, ds.y_test
    t_fit, t_val, t_test = (encode_labels(y, cfg) for y in (y_fit, y_val, ds.y_test))
    _PREPARED.clear()
    _PREPARED[key] = Prepared(x_fit, t_fit, x_val, t_val, x_test, t_test, ds.x_test.astype(np.float32))
    return _PREPARED[key]


def fit_seed(cfg: ModelConfig, ds: Dataset, settings: TrainingParams, seed: int, *,
             diagnostics: bool = True, label: str = "") -> tuple[SeedRun, keras.Model]:
    """Fit ``cfg`` with one seed and measure it: a pure function of its arguments (with the
    thread count and op determinism of ``settings`` applied to this process)."""
    configure_tensorflow(settings)
    data = prepare(cfg, ds, seed)
    keras.utils.set_random_seed(seed)
    model = compile_model(build_model(cfg, num_classes=ds.num_classes), cfg)
    progress = keras_fit.EpochProgress(label or f"{cfg.source} seed {seed}", cfg.epochs)
    evaluate = lean_fit.compiled_evaluation(model, cfg.loss, cfg.one_hot, EVAL_BATCH)
    start = time.perf_counter()
    if settings.plain_keras:
        history, epoch_seconds = keras_fit.plain_fit(model, data, epochs=cfg.epochs, batch_size=cfg.batch_size,
                                                     on_epoch_end=progress)
    else:
        history, epoch_seconds = lean_fit.fit(
            model, data, loss=cfg.loss, one_hot=cfg.one_hot, epochs=cfg.epochs, batch_size=cfg.batch_size,
            seed=seed, steps_per_call=settings.steps_per_execution, jit_compile=settings.jit_compile,
            evaluate=evaluate, on_epoch_end=progress)
    fit_seconds = time.perf_counter() - start
    probabilities, dead = predict_with_dead_units(model, data.x_test)
    test_loss, test_acc = evaluate(data.x_test, data.t_test)
    train_loss = train_acc = raw_loss = raw_acc = None
    if diagnostics:
        train_loss, train_acc = evaluate(data.x_fit, data.t_fit)
        raw_loss, raw_acc = evaluate(data.x_test_raw, data.t_test)
    run = SeedRun(
        seed=seed,
        history=history,
        test_loss=float(test_loss), test_accuracy=float(test_acc),
        train_loss=_float(train_loss), train_accuracy=_float(train_acc),
        unscaled_test_loss=_float(raw_loss), unscaled_test_accuracy=_float(raw_acc),
        dead_units=dead, test_probabilities=probabilities,
        fit_seconds=fit_seconds, epoch_seconds=epoch_seconds,
    )
    return run, model


@dataclasses.dataclass(frozen=True)
class SeedTask:
    """What a worker needs to fit one seed (picklable; the dataset travels separately)."""

    cfg: ModelConfig
    settings: TrainingParams
    seed: int
    diagnostics: bool
    keep_model: bool
    label: str = ""


def fit_seed_task(task: SeedTask, ds: Dataset) -> SeedRun:
    """``fit_seed`` as an executor task: the model comes back as the bytes of a ``.keras`` file."""
    run, model = fit_seed(task.cfg, ds, task.settings, task.seed, diagnostics=task.diagnostics, label=task.label)
    if task.keep_model:
        run.model_bytes = model_to_bytes(model)
    return run


def model_to_bytes(model: keras.Model) -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def model_from_bytes(data: bytes) -> keras.Model:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return keras.saving.load_model(path, safe_mode=True)


def train(cfg: ModelConfig, ds: Dataset, settings: TrainingParams, *, keep_models: int = 1,
          diagnostics: bool = True, log=None, executor=None, name: str | None = None) -> Fits:
    """Fit ``cfg`` once per seed and evaluate every fit once on the test set.

    The seeds run on ``executor`` (default: ``executor.from_environment``: local worker
    processes, or a Ray cluster when ``RAY_ADDRESS`` is set); results come back in seed
    order, identical whatever the number of workers. ``diagnostics=False`` skips the
    evaluations on the fitted images and on unscaled test pixels (about a second per fit),
    for callers that show neither, such as the loss sweep. ``name`` labels the progress lines,
    which go to ``log`` (default: stderr, the terminal's and never the report's).
    """
    from pipeline.modeling import executor as executors

    labels = [f"{name or cfg.source} seed {seed}" for seed in seeds(cfg)]
    tasks = [executors.Task(label, fit_seed_task, SeedTask(cfg, settings, seed, diagnostics, i < keep_models, label),
                            settings.threads or 1)
             for i, (seed, label) in enumerate(zip(seeds(cfg), labels))]
    executor = executor or executors.from_environment(settings.threads or 1, len(tasks))
    runs = []
    for done in executor.run(tasks, ds, log=log or executors.progress_line):
        runs.append(done.result)
        done.result.where = done.where
    for run in runs:
        if run.model_bytes is not None:
            run.model, run.model_bytes = model_from_bytes(run.model_bytes), None
    data = prepare(cfg, ds)
    return Fits(config=cfg, runs=runs, n_fit=len(data.x_fit), n_val=len(data.x_val), n_test=len(data.x_test),
                validation_on=cfg.validation)
