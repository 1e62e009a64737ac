"""R4's loss sweep, run by run: the baseline and ten variants, each trained with categorical
cross-entropy on one-hot labels and with sparse categorical cross-entropy on integer labels,
over the same seeds.

Every (loss, variant, seed) run is cached under a key that hashes everything that
determines its result: the run's configuration, the training settings, the dataset's array
hashes, the training code, the versions of the numerical packages and the CPU's instruction
set. Adding a seed or a variant trains only the new runs; a change of code, data, packages
or CPU trains everything again. A cached run is used only if every field matches what was
asked; ``unreachable`` lists the entries that no run of the current ``params.yaml`` uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from pipeline.core import fileio, paths, provenance
from pipeline.core.config import ModelConfig, SweepParams, TrainingParams
from pipeline.core.dataset import ARRAY_NAMES, Dataset, get_spec

# The code that trains and evaluates a run; its bytes are part of every cache key.
TRAINING_CODE = ("modeling/train.py", "core/dataset.py")
HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


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
                          "environment": environment}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


@dataclasses.dataclass
class RunResult:
    """One (loss, variant, seed) run, as stored in the cache."""

    loss: str
    variant: str
    seed: int
    test_loss: float
    test_accuracy: float
    history: dict[str, list[float]]
    predictions: list[int]  # predicted class of every test image
    fit_seconds: float
    key: str
    from_cache: bool = False
    where: str = ""  # the process (or Ray node) it was trained in; not stored in the cache


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """What one run must be: the cache entry for ``key`` is used only if it matches all of it."""

    loss: str
    variant: str
    seed: int
    epochs: int
    n_test: int
    key: str

    def mismatches(self, r: RunResult) -> list[str]:
        """The fields of a cached run that differ from this specification (empty: usable)."""
        wrong = [f"{f}={getattr(r, f)!r} (asked {getattr(self, f)!r})" for f in ("key", "loss", "variant", "seed")
                 if getattr(r, f) != getattr(self, f)]
        for k in HISTORY_KEYS:
            n = len(r.history.get(k, []))
            if n != self.epochs:
                wrong.append(f"history {k} has {n} epochs (asked {self.epochs})")
        if len(r.predictions) != self.n_test:
            wrong.append(f"{len(r.predictions)} predictions (asked {self.n_test} test images)")
        if not (0.0 <= r.test_accuracy <= 1.0 and r.test_loss >= 0.0):
            wrong.append(f"test accuracy {r.test_accuracy} / loss {r.test_loss} out of range")
        return wrong


def cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key}.json"


def load_cached(cache_dir: Path, spec: RunSpec, log=print) -> RunResult | None:
    """The cached run for ``spec``, or None if absent, unreadable or not matching (then it is
    trained again and the entry replaced)."""
    path = cache_file(cache_dir, spec.key)
    try:
        result = RunResult(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as err:
        log(f"cache entry {path.name} is unreadable ({type(err).__name__}): training the run again")
        return None
    wrong = spec.mismatches(result)
    if wrong:
        log(f"cache entry {path.name} does not match its run ({'; '.join(wrong)}): training the run again")
        return None
    result.from_cache = True
    return result


def store(cache_dir: Path, result: RunResult) -> None:
    data = dataclasses.asdict(result)
    data.pop("from_cache")
    data.pop("where")
    fileio.write_text(cache_file(cache_dir, result.key), json.dumps(data))


def run_specs(sweep: SweepParams, loss: str, ds: Dataset, settings: TrainingParams) -> list[tuple[ModelConfig, RunSpec]]:
    """Every run of ``loss`` in the order of the report (variant, then seed), with its key."""
    code, data, environment = code_fingerprint(), data_id(ds), provenance.environment_fingerprint()
    out = []
    for variant in sweep.variants:
        for seed in sweep.seeds:
            cfg = variant_config(sweep, variant, loss, seed)
            key = cache_key(cfg, settings, data, code, environment)
            out.append((cfg, RunSpec(loss, variant, seed, sweep.epochs, len(ds.y_test), key)))
    return out


@dataclasses.dataclass(frozen=True)
class SweepTask:
    """What a worker needs for one run of the sweep (picklable; the dataset travels separately)."""

    cfg: ModelConfig
    settings: TrainingParams
    spec: RunSpec


def run_one(task: SweepTask, ds: Dataset) -> RunResult:
    """Train and evaluate one (loss, variant, seed) run: an executor task."""
    import tensorflow as tf

    from pipeline.modeling import train

    tf.get_logger().setLevel("ERROR")  # one process builds many models: no retracing warnings
    label = f"{task.spec.loss} {task.spec.variant} seed {task.spec.seed}"
    r, _ = train.fit_seed(task.cfg, ds, task.settings, task.spec.seed, diagnostics=False, label=label)
    return RunResult(loss=task.spec.loss, variant=task.spec.variant, seed=task.spec.seed, test_loss=r.test_loss,
                     test_accuracy=r.test_accuracy, history=r.history,
                     predictions=r.test_probabilities.argmax(axis=1).astype(int).tolist(),
                     fit_seconds=r.fit_seconds, key=task.spec.key)


def run(sweep: SweepParams, loss: str, ds: Dataset, settings: TrainingParams, cache_dir: Path,
        log=print, store_new: bool = True, executor=None) -> list[RunResult]:
    """Every (variant, seed) of ``loss``: from the cache where present, else trained on
    ``executor`` (default: ``executor.from_environment``) and cached as each run finishes.

    ``store_new=False`` reads the cache but adds nothing to it: a notebook opened by hand
    must not change the folder that DVC tracks as the sweep stage's output.
    """
    from pipeline.modeling import executor as executors

    if store_new:
        cache_dir.mkdir(parents=True, exist_ok=True)
    specs = run_specs(sweep, loss, ds, settings)
    results: list[RunResult | None] = [load_cached(cache_dir, spec, log) for _, spec in specs]
    todo = [i for i, r in enumerate(results) if r is None]
    tasks = [executors.Task(f"{loss} {specs[i][1].variant} seed {specs[i][1].seed}", run_one,
                            SweepTask(specs[i][0], settings, specs[i][1]), settings.threads or 1) for i in todo]

    def keep(task, done):  # in this process, as each run finishes: a killed stage loses no finished run
        if store_new:
            store(cache_dir, done.result)

    if tasks:
        executor = executor or executors.from_environment(settings.threads or 1, len(tasks))
        log(f"{loss}: {len(tasks)} of {len(specs)} runs to train on {executor.name}")
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
