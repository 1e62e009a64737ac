"""R4's loss sweep, run by run: the baseline and ten variants, each trained with categorical
cross-entropy on one-hot labels and with sparse categorical cross-entropy on integer labels,
over the same seeds.

Every (loss, variant, seed) run is cached under a key that hashes everything that
determines its result: the run's configuration, the training settings, the dataset's array
hashes, the training code, the versions of the numerical packages and the CPU's instruction
set. Adding a seed or a variant trains only the new runs; a change of code, data, packages
or CPU trains everything again. A cached run is used only if every field matches what was
asked; ``unreachable`` lists the entries that no run of the current ``params.yaml`` uses.

An entry stores the full float32 test probabilities (zlib-compressed, base64, with the
sha256 of their raw bytes) and the per-epoch histories at full precision, so that two runs
can be compared bit for bit. ``CACHE_FORMAT`` is part of every key: entries of an older
format are never read, and ``unreachable`` lists them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import zlib
from pathlib import Path

import numpy as np

from pipeline.core import fileio, paths, provenance
from pipeline.core.params.schema import ModelConfig, SweepParams, TrainingParams
from pipeline.core.dataset import ARRAY_NAMES, Dataset, get_spec
from pipeline.modeling.executor import progress_line

# The code that trains and evaluates a run; its bytes are part of every cache key
# (tests/test_sweep.py: every module of pipeline/modeling that train.py imports is here).
TRAINING_CODE = ("modeling/train.py", "modeling/lean_fit.py", "modeling/keras_fit.py", "core/dataset.py")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
CACHE_FORMAT = 2  # 2: full float32 test probabilities (1 stored only the predicted classes)


def variant_config(sweep: SweepParams, variant: str, loss: str, seed: int) -> ModelConfig:
    """The model configuration of one run of the sweep."""
    v = sweep.variants[variant]
    return ModelConfig(source="R4c", title=f"{v.description} ({loss})", hidden=list(v.hidden), dropout=v.dropout,
                       optimizer=sweep.optimizer, loss=loss, epochs=sweep.epochs, batch_size=sweep.batch_size,
                       validation="split", validation_fraction=sweep.validation_fraction, repeats=1, seed=seed)


def code_fingerprint() -> str:
    """sha256 of the code that trains and evaluates a run (part of every cache key)."""
    h = hashlib.sha256()
    for name in TRAINING_CODE:
        h.update((paths.PACKAGE_DIR / name).read_bytes())
    return h.hexdigest()


def data_id(ds: Dataset) -> str:
    """Identifies the images a run saw: the pinned dataset (its array hashes) and how many of them."""
    pins = "".join(get_spec(ds.name).sha256[k] for k in ARRAY_NAMES)
    return f"{ds.name}:{len(ds.y_train)}:{len(ds.y_test)}:{hashlib.sha256(pins.encode()).hexdigest()[:16]}"


def cache_key(cfg: ModelConfig, settings: TrainingParams, data: str, code: str, environment: dict) -> str:
    """Hash of everything that determines a run's numbers (titles and texts excluded)."""
    relevant = cfg.model_dump(exclude={"source", "title", "description", "claimed"})
    payload = json.dumps({"run": relevant, "training": settings.model_dump(), "data": data, "code": code,
                          "environment": environment, "format": CACHE_FORMAT}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


@dataclasses.dataclass
class RunResult:
    """One (loss, variant, seed) run, as stored in the cache."""

    loss: str
    variant: str
    seed: int
    test_loss: float
    test_accuracy: float
    history: dict[str, list[float]]  # per epoch, at full precision
    probabilities: np.ndarray  # float32, one row of class probabilities per test image
    fit_seconds: float
    key: str
    from_cache: bool = False
    where: str = ""  # the process (or Ray node) it was trained in; not stored in the cache

    @property
    def predictions(self) -> np.ndarray:
        """The predicted class of every test image."""
        return self.probabilities.argmax(axis=1)


def sha256_of(array: np.ndarray) -> str:
    """sha256 of an array's raw bytes (C order): equal hashes, bit-identical arrays."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def encode_array(array: np.ndarray) -> dict:
    """An array as JSON, bytes as they are: dtype, shape, sha256 of the raw bytes, zlib +
    base64 bytes."""
    a = np.ascontiguousarray(array)
    return {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": sha256_of(a),
            "zlib_base64": base64.b64encode(zlib.compress(a.tobytes(), 6)).decode("ascii")}


def decode_array(data: dict) -> np.ndarray:
    """``encode_array``'s float32 array; ValueError for another dtype or when its bytes do
    not match the stored sha256."""
    if data.get("dtype") != np.dtype(np.float32).str:
        raise ValueError(f"dtype {data.get('dtype')!r}, expected float32")
    raw = zlib.decompress(base64.b64decode(data["zlib_base64"], validate=True))
    a = np.frombuffer(raw, dtype=np.float32).reshape(data["shape"])
    if sha256_of(a) != data["sha256"]:
        raise ValueError("the probabilities' bytes do not match their sha256")
    return a.copy()


@dataclasses.dataclass(frozen=True)
class ExpectedRun:
    """What one run must be: the cache entry for ``key`` is used only if it matches all of it."""

    loss: str
    variant: str
    seed: int
    epochs: int
    n_test: int
    key: str

    def mismatches(self, r: RunResult) -> list[str]:
        """The fields of a cached run that differ from what is expected (empty: usable)."""
        wrong = [f"{f}={getattr(r, f)!r} (asked {getattr(self, f)!r})" for f in ("key", "loss", "variant", "seed")
                 if getattr(r, f) != getattr(self, f)]
        for k in HISTORY_KEYS:
            n = len(r.history.get(k, []))
            if n != self.epochs:
                wrong.append(f"history {k} has {n} epochs (asked {self.epochs})")
        p = r.probabilities
        if p.dtype != np.float32 or p.ndim != 2 or p.shape[0] != self.n_test:
            wrong.append(f"probabilities {p.dtype} {p.shape} (asked float32 for {self.n_test} test images)")
        elif not np.isfinite(p).all():
            wrong.append("probabilities not finite")
        if not (0.0 <= r.test_accuracy <= 1.0 and r.test_loss >= 0.0):
            wrong.append(f"test accuracy {r.test_accuracy} / loss {r.test_loss} out of range")
        return wrong


def cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key}.json"


def load_cached(cache_dir: Path, expected: ExpectedRun, log=progress_line) -> RunResult | None:
    """The cached run for ``expected``, or None if absent, unreadable or not matching (then it is
    trained again and the entry replaced)."""
    path = cache_file(cache_dir, expected.key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["probabilities"] = decode_array(data["probabilities"])
        result = RunResult(**data)
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError, KeyError, ValueError, zlib.error) as err:
        log(f"cache entry {path.name} is unreadable ({type(err).__name__}): training the run again")
        return None
    wrong = expected.mismatches(result)
    if wrong:
        log(f"cache entry {path.name} does not match its run ({'; '.join(wrong)}): training the run again")
        return None
    result.from_cache = True
    return result


def store(cache_dir: Path, result: RunResult) -> None:
    """Write ``result`` as its cache entry (probabilities encoded by ``encode_array``)."""
    data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
            if f.name not in ("from_cache", "where")}
    data["probabilities"] = encode_array(result.probabilities)
    fileio.write_text(cache_file(cache_dir, result.key), json.dumps(data))


def planned_runs(sweep: SweepParams, loss: str, ds: Dataset,
                 settings: TrainingParams) -> list[tuple[ModelConfig, ExpectedRun]]:
    """Every run of ``loss`` in the order of the report (variant, then seed), with its key."""
    code, data, environment = code_fingerprint(), data_id(ds), provenance.environment_fingerprint()
    out = []
    for variant in sweep.variants:
        for seed in sweep.seeds:
            cfg = variant_config(sweep, variant, loss, seed)
            key = cache_key(cfg, settings, data, code, environment)
            out.append((cfg, ExpectedRun(loss, variant, seed, sweep.epochs, len(ds.y_test), key)))
    return out


@dataclasses.dataclass(frozen=True)
class SweepTask:
    """What a worker needs for one run of the sweep (picklable; the dataset travels separately)."""

    cfg: ModelConfig
    settings: TrainingParams
    expected: ExpectedRun


def run_one(task: SweepTask, ds: Dataset) -> RunResult:
    """Train and evaluate one (loss, variant, seed) run: an executor task."""
    import tensorflow as tf

    from pipeline.modeling import train

    tf.get_logger().setLevel("ERROR")  # one process builds many models: no retracing warnings
    label = f"{task.expected.loss} {task.expected.variant} seed {task.expected.seed}"
    r, _ = train.fit_seed(task.cfg, ds, task.settings, task.expected.seed, diagnostics=False, label=label)
    return RunResult(loss=task.expected.loss, variant=task.expected.variant, seed=task.expected.seed, test_loss=r.test_loss,
                     test_accuracy=r.test_accuracy, history=r.history,
                     probabilities=np.asarray(r.test_probabilities, dtype=np.float32),
                     fit_seconds=r.fit_seconds, key=task.expected.key)


def run(sweep: SweepParams, loss: str, ds: Dataset, settings: TrainingParams, cache_dir: Path,
        log=progress_line, store_new: bool = True, executor=None) -> list[RunResult]:
    """Every (variant, seed) of ``loss``: from the cache where present, else trained on
    ``executor`` (default: ``executor.from_environment``) and cached as each run finishes.

    ``store_new=False`` reads the cache but adds nothing to it: a notebook opened by hand
    must not change the folder that DVC tracks as the sweep stage's output.
    """
    from pipeline.modeling import executor as executors

    if store_new:
        cache_dir.mkdir(parents=True, exist_ok=True)
    planned = planned_runs(sweep, loss, ds, settings)
    results: list[RunResult | None] = [load_cached(cache_dir, expected, log) for _, expected in planned]
    todo = [i for i, r in enumerate(results) if r is None]
    tasks = [executors.Task(f"{loss} {planned[i][1].variant} seed {planned[i][1].seed}", run_one,
                            SweepTask(planned[i][0], settings, planned[i][1]), settings.threads or 1) for i in todo]

    def keep(task, done):  # in this process, as each run finishes: a killed stage loses no finished run
        if store_new:
            store(cache_dir, done.result)

    if tasks:
        executor = executor or executors.from_environment(settings.threads or 1, len(tasks))
        log(f"{loss}: {len(tasks)} of {len(planned)} runs to train on {executor.name}")
        for i, done in zip(todo, executor.run(tasks, ds, log=log, on_done=keep)):
            results[i] = done.result
            done.result.where = done.where
    trained = len(tasks)
    log(f"{loss}: {len(results)} runs, {trained} trained now, {len(results) - trained} from the cache")
    return results  # type: ignore[return-value]


def unreachable(cache_dir: Path, live_keys: set[str]) -> list[Path]:
    """Cache entries of ``cache_dir`` whose key no run of the current parameters has."""
    if not cache_dir.is_dir():
        return []
    return sorted(p for p in cache_dir.glob("*.json") if p.stem not in live_keys)


# --------------------------------------------------------------------------- the split policy


@dataclasses.dataclass(frozen=True)
class SeedSplit:
    """The validation split that the runs of one seed were trained with."""

    seed: int
    runs: int  # runs of the sweep (variants × losses) with this seed
    distinct: int  # distinct splits among them (1: all share one)
    fit: int  # images fitted on
    validation: int  # images held out for validation
    sha256: str  # of the validation images' bytes and labels (the first run's)


def seed_splits(sweep: SweepParams, ds: Dataset) -> list[SeedSplit]:
    """Per seed, the split each of its runs (every variant, every loss) is prepared with,
    hashed from the arrays that training really gets (``train.prepare``), not from the
    configuration: a sweep whose variants or losses drew different splits shows it here."""
    from pipeline.modeling import train

    out = []
    for seed in sweep.seeds:
        hashes, sizes = set(), set()
        for loss in sweep.losses:
            for variant in sweep.variants:
                data = train.prepare(variant_config(sweep, variant, loss, seed), ds)
                labels = data.t_val.argmax(axis=1) if data.t_val.ndim == 2 else data.t_val
                h = hashlib.sha256(np.ascontiguousarray(data.x_val).tobytes())
                h.update(np.asarray(labels, dtype=np.int64).tobytes())
                hashes.add(h.hexdigest())
                sizes.add((len(data.x_fit), len(data.x_val)))
        fit, val = sorted(sizes)[0]
        out.append(SeedSplit(seed, len(sweep.losses) * len(sweep.variants), len(hashes), fit, val, sorted(hashes)[0]))
    return out
