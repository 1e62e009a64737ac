"""The parts of ``bench.py`` that issue 24 asks for: ``configs``, ``pipeline`` and ``peers``,
the arithmetic they share (FLOP bounds, idle worker-seconds, stage times from dvc's output) and
``results.json``.

- ``configs``: per configuration (every ``models`` entry and every sweep variant), the seconds
  of the second epoch of ``train.fit_seed`` with one TensorFlow thread, with XLA on and off,
  against the FLOP bound of one epoch at the one-thread matmul rate of part ``machine``;
- ``pipeline``: ``dvc repro --force`` of a clean clone (``--workdir``) on 1 worker and on the
  default workers, the whole and per stage, against the FLOP bound of all its fits at the
  measured rate of the default workers side by side; idle worker-seconds per training stage;
- ``peers``: the seeds' own code (plain Keras, every default) for R1 and R4b as printed, against
  our stages' wall time.

The pure functions here are unit-tested in tests/test_bench.py; nothing at module level imports
TensorFlow.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).with_name("bench.py")
ENV = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")

N_TRAIN, N_TEST, INPUTS, CLASSES = 60_000, 10_000, 28 * 28, 10
CONFIGS_LOSS = "categorical_crossentropy"  # the sweep's losses differ only in the label encoding
XLA_MARGIN = 1.3  # XLA only where it is faster by more than the noise of one timing here (±30 %)
TARGETS = {"epoch_bound": 4.0, "pipeline_bound": 2.5, "pipeline_speedup": 1.4, "peers": 3.0}
PEERS = (("r1", "R1", "r1_faithful"), ("r4b", "R4b", "baseline_faithful"))  # results.json key, label, models entry
# environment variables of this shell that must not reach the timed pipeline: another tree's
# code on the path, a worker count or a Ray cluster chosen for it
PIPELINE_ENV_DROP = ("PYTHONPATH", "VIRTUAL_ENV", "MNIST_REPORTS_WORKERS", "RAY_ADDRESS")


def run_worker(*args: str, timeout: int = 3600, env: dict | None = None) -> dict:
    """``bench.py worker ARGS`` in a fresh process (TensorFlow's thread pools are fixed once per
    process); its last line of stdout is the JSON result."""
    proc = subprocess.run([sys.executable, str(BENCH), "worker", *args], cwd=ROOT, env={**ENV, **(env or {})},
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_workers_together(n: int, *args: str) -> list[dict]:
    """``n`` copies of ``bench.py worker ARGS READY_DIR n`` side by side; the worker waits until
    all ``n`` are ready (``wait_for_peers``) before it measures."""
    with tempfile.TemporaryDirectory() as ready, ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: run_worker(*args, ready, str(n)), range(n)))


def wait_for_peers(ready_dir: str, n: int, timeout: float = 600.0) -> None:
    """Mark this process ready in ``ready_dir`` and wait until ``n`` processes are."""
    if not ready_dir:
        return
    Path(ready_dir, f"ready.{os.getpid()}").touch()
    deadline = time.monotonic() + timeout
    while len(list(Path(ready_dir).glob("ready.*"))) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{n} side-by-side workers: not all ready after {timeout:.0f} s")
        time.sleep(0.01)


def default_workers(threads: int) -> int:
    """The workers a pipeline run uses with no ``MNIST_REPORTS_WORKERS`` (executor.default_workers)."""
    from pipeline.modeling import executor

    saved = os.environ.pop(executor.WORKERS_ENV, None)
    try:
        return executor.default_workers(threads)
    finally:
        if saved is not None:
            os.environ[executor.WORKERS_ENV] = saved


# --------------------------------------------------------------------------- FLOP bounds


def dense_parameters(hidden: Iterable[int], inputs: int = INPUTS, classes: int = CLASSES) -> int:
    """Weights and biases of ``Flatten → Dense(h) … → Dense(classes)``: sum of (fan_in + 1) × units."""
    sizes = [inputs, *hidden, classes]
    return sum((fan_in + 1) * units for fan_in, units in zip(sizes, sizes[1:]))


def images_fitted(cfg, n_train: int = N_TRAIN) -> int:
    """Training images one epoch of ``cfg`` fits: all of them with ``validation: test``, else
    those left by its validation split (sklearn's train_test_split holds out ceil(fraction × n))."""
    if cfg.validation == "test":
        return n_train
    return n_train - math.ceil(cfg.validation_fraction * n_train)


def epoch_flops(parameters: int, n_fit: int) -> float:
    """FLOPs of one training epoch: 6 per parameter per fitted image (forward 2, backward 4)."""
    return 6.0 * parameters * n_fit


def fit_flops(cfg, n_train: int = N_TRAIN) -> float:
    """FLOPs of one whole fit of ``cfg`` (training only; the validation passes are left out)."""
    return cfg.epochs * epoch_flops(dense_parameters(cfg.hidden), images_fitted(cfg, n_train))


def pipeline_fits(params) -> dict[str, list]:
    """Every fit of the default pipeline, per stage: each ``models`` entry × its repeats, each
    sweep variant × seeds, once per loss (stage ``sweep@LOSS``)."""
    from pipeline.loss_sweep import runs as sweeps

    fits = {f"model@{name}": [cfg] * cfg.repeats for name, cfg in params.models.items()}
    sweep = params.sweep
    for loss in sweep.losses:
        fits[f"sweep@{loss}"] = [sweeps.variant_config(sweep, v, loss, seed) for v in sweep.variants
                                 for seed in sweep.seeds]
    return fits


def pipeline_flops(params) -> dict[str, float]:
    """FLOPs of the fits of each training stage of the pipeline (``pipeline_fits``)."""
    return {stage: sum(fit_flops(cfg) for cfg in cfgs) for stage, cfgs in pipeline_fits(params).items()}


# --------------------------------------------------------------------------- idle worker-seconds


def greedy_makespan(seconds: Iterable[float], workers: int) -> float:
    """Wall seconds of tasks of ``seconds`` (in task order) on ``workers`` workers, each task
    handed to the first worker that is free (as the executor's pool hands them out)."""
    free = [0.0] * max(workers, 1)  # when each worker is next free
    for s in seconds:
        heapq.heappush(free, heapq.heappop(free) + s)
    return max(free)


def idle_worker_seconds(seconds: list[float], workers: int) -> float:
    """W × M − Σ fits: worker-seconds left idle while the stage's fits run, M the greedy makespan."""
    if not seconds:
        return 0.0
    return workers * greedy_makespan(seconds, workers) - sum(seconds)


def stage_fit_seconds(workdir: Path, stage: str) -> list[float] | None:
    """The seconds of the fits a training stage ran, in task order, from its timing file (the
    sweep's runs taken from its own cache are left out: they did not train); None for a stage
    that trains nothing."""
    from pipeline.core import paths

    kind, _, key = stage.partition("@")
    if kind == "model":
        return [float(s) for s in json.loads(paths.model_files(key, workdir).timing.read_text())["fit_seconds"]]
    if kind == "sweep":
        runs = json.loads(paths.sweep_files(key, workdir).timing.read_text())["runs"]
        return [float(r["fit_seconds"]) for r in runs if not r.get("from_cache")]
    return None


# --------------------------------------------------------------------------- dvc's output

RUNNING = re.compile(r"^Running stage '([^']+)':")
SKIPPED = re.compile(r"^Stage '([^']+)' (?:didn't change, skipping|is cached - skipping run)")


def stage_seconds(events: Iterable[tuple[float, str]], end: float) -> dict[str, float]:
    """Wall seconds per stage from dvc's output lines, each with the seconds at which it was read:
    a stage runs from its ``Running stage 'NAME':`` line to the next line that names a stage (or
    ``end``, when dvc exits); a skipped stage costs 0."""
    out: dict[str, float] = {}
    current, started = None, 0.0
    for t, line in events:
        run, skip = RUNNING.match(line), SKIPPED.match(line)
        if not (run or skip):
            continue
        if current is not None:
            out[current] = t - started
            current = None
        if run:
            current, started = run[1], t
        else:
            out[skip[1]] = 0.0
    if current is not None:
        out[current] = end - started
    return out


def timed_repro(workdir: Path, env: dict, log: Path, echo=None) -> tuple[float, dict[str, float], int]:
    """``dvc repro --force`` in ``workdir``: wall seconds, seconds per stage, exit status. Every
    output line goes to ``log`` with the seconds at which it came."""
    dvc = workdir / ".venv/bin/dvc"
    start = time.perf_counter()
    events = []
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([str(dvc), "repro", "--force"], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in proc.stdout:
            t = time.perf_counter() - start
            line = line.rstrip("\n")
            events.append((t, line))
            out.write(f"{t:8.1f} {line}\n")
            out.flush()
            if echo and (RUNNING.match(line) or SKIPPED.match(line)):
                echo(f"  {t / 60:5.1f} min  {line}")
        code = proc.wait()
    total = time.perf_counter() - start
    return total, stage_seconds(events, total), code


def read_timed_log(log: Path) -> tuple[float, dict[str, float]]:
    """The wall seconds and seconds per stage of a run that ``timed_repro`` logged (each line
    starts with the second it came at): the run ended with its last line."""
    events = []
    for line in log.read_text(encoding="utf-8").splitlines():
        stamp, _, text = line.strip(" ").partition(" ")
        try:
            events.append((float(stamp), text))
        except ValueError:
            raise SystemExit(f"{log}: not a log of timed_repro (line {line[:60]!r})") from None
    if not events:
        raise SystemExit(f"{log}: empty")
    total = events[-1][0]
    return total, stage_seconds(events, total)


def pipeline_env(workdir: Path, workers: int | None) -> dict:
    """The environment of a timed pipeline run: the clone's venv first on PATH (the stages run
    ``python -m pipeline``), unbuffered output (the stage lines are timestamped as they come),
    none of this shell's PYTHONPATH, worker count or Ray address; ``workers`` sets
    ``MNIST_REPORTS_WORKERS`` (None: the default)."""
    env = {k: v for k, v in ENV.items() if k not in PIPELINE_ENV_DROP}
    env["PATH"] = f"{workdir / '.venv/bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    if workers is not None:
        env["MNIST_REPORTS_WORKERS"] = str(workers)
    return env


# --------------------------------------------------------------------------- worker: configs


def config_names(params, only: Iterable[str] | None = None) -> list[str]:
    """The configurations of part ``configs``: every ``models`` entry by name and every sweep
    variant as ``sweep.VARIANT``; ``only`` keeps those named (an unknown name is an error)."""
    names = [*params.models, *(f"sweep.{v}" for v in params.sweep.variants)]
    if only:
        unknown = [n for n in only if n not in names]
        if unknown:
            raise SystemExit(f"--configs: unknown {', '.join(unknown)}; known: {', '.join(names)}")
        names = [n for n in names if n in only]
    return names


def config_and_settings(params, name: str, epochs: int | None = None):
    """The ModelConfig and execution settings of a ``config_names`` entry, as the pipeline builds
    them (a sweep variant as ``runs.variant_config`` does, with the first seed and CONFIGS_LOSS,
    trained with ``training``'s settings as the sweep notebook does)."""
    from pipeline.loss_sweep import runs as sweeps

    if name.startswith("sweep."):
        cfg = sweeps.variant_config(params.sweep, name.removeprefix("sweep."), CONFIGS_LOSS, params.sweep.seeds[0])
        settings = params.training.for_model()
    else:
        cfg = params.models[name]
        settings = params.training.for_model(cfg)
    if epochs:
        cfg = cfg.model_copy(update={"epochs": epochs})
    return cfg, settings


def worker_configs(jit: str, epochs: int, names: list[str]) -> dict:
    """In this process (one TensorFlow thread: every configuration's setting), ``fit_seed`` of each
    configuration for ``epochs`` epochs with XLA ``jit`` ("on"/"off"): seconds of each epoch's
    training, parameters, images fitted."""
    import keras

    from pipeline.core import dataset, paths
    from pipeline.core.params import load_params
    from pipeline.modeling import train

    params = load_params(ROOT / "params.yaml")
    ds = dataset.load(paths.prepared_data_file(ROOT))
    out = {}
    for name in names:
        cfg, settings = config_and_settings(params, name, epochs)
        if settings.threads != 1:
            raise RuntimeError(f"{name}: {settings.threads} threads; part configs runs every configuration "
                               "with one thread in one process")
        settings = settings.model_copy(update={"jit_compile": jit == "on"})
        keras.backend.clear_session()
        run, model = train.fit_seed(cfg, ds, settings, cfg.seed, diagnostics=False, label=name)
        seconds, source = list(run.epoch_seconds), "SeedRun.epoch_seconds"
        parameters = model.count_params()
        if parameters != dense_parameters(cfg.hidden):
            raise RuntimeError(f"{name}: {parameters} parameters, the hand count says {dense_parameters(cfg.hidden)}")
        out[name] = {"epoch_seconds": seconds, "source": source, "fit_seconds": run.fit_seconds,
                     "parameters": parameters, "n_fit": len(train.prepare(cfg, ds, cfg.seed).x_fit),
                     "batch_size": cfg.batch_size, "epochs": cfg.epochs,
                     "settings": settings.model_dump(include={"steps_per_execution", "jit_compile", "threads"})}
        print(f"{name} XLA {jit}: {', '.join(f'{s:.2f}' for s in seconds)} s per epoch ({source})",
              file=sys.stderr, flush=True)
    return out


# --------------------------------------------------------------------------- parts


def _verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"


def _target(state: dict, what: str, measured: str, target: str, ok: bool) -> str:
    state.setdefault("targets", []).append((what, measured, target, ok))
    return f"- target: {what}: {measured} (target {target}) {_verdict(ok)}"


def _load_params(root: Path = ROOT):
    from pipeline.core.params import load_params

    return load_params(root / "params.yaml")


def part_configs(lines: list[str], state: dict, epochs: int = 2, only: list[str] | None = None,
                 worker=run_worker) -> None:
    """Seconds of one epoch per configuration, XLA on and off, against its FLOP bound."""
    params = _load_params()
    names = config_names(params, only)
    gflops = state["gflops_1"]
    runs = {jit: worker("configs", jit, str(epochs), *names) for jit in ("off", "on")}
    which = min(epochs, 2) - 1  # the second epoch: the first includes tracing and compiling
    lines += ["## Seconds per epoch per configuration, against its FLOP bound", "",
              f"`train.fit_seed` with each configuration's settings, one TensorFlow thread, full MNIST, "
              f"{epochs} epochs, `diagnostics=False`, seed = the configuration's; the seconds of epoch "
              f"{which + 1} (the first includes tracing and compiling), training only (no validation pass). "
              "Every configuration with XLA off runs in one process, with XLA on in another. FLOP bound of an "
              f"epoch = 6 × parameters × images fitted ÷ {gflops:.1f} GFLOP/s (one-thread matmul rate, part "
              f"machine). The sweep's variants are timed with {CONFIGS_LOSS} only: its two losses differ only "
              "in the label encoding (one-hot vs integers), not in the network. XLA is the better choice "
              f"when it is faster by more than {XLA_MARGIN - 1:.0%}.", "",
              "| configuration | batch | parameters | images fitted | params.yaml | s/epoch, no XLA | "
              "s/epoch, XLA | no XLA ÷ XLA | this run's choice | FLOP bound s/epoch | ours ÷ bound |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    results, disagree, misses, sources = {}, [], [], set()
    for name in names:
        off, on = runs["off"][name], runs["on"][name]
        t_off, t_on = off["epoch_seconds"][which], on["epoch_seconds"][which]
        sources |= {off["source"], on["source"]}
        _, settings = config_and_settings(params, name)
        configured = settings.jit_compile
        ours = t_on if configured else t_off
        measured = t_off / t_on > XLA_MARGIN
        bound = epoch_flops(off["parameters"], off["n_fit"]) / (gflops * 1e9)
        ratio = ours / bound
        if measured != configured:
            disagree.append(f"{name} (params.yaml: {'XLA' if configured else 'no XLA'}; measured no XLA ÷ XLA "
                            f"= {t_off / t_on:.2f})")
        if ratio > TARGETS["epoch_bound"]:
            misses.append(f"{name} {ratio:.1f}×")
        results[name] = {"epoch_seconds": ours, "bound_ratio": ratio, "bound_seconds": bound,
                         "xla_faster": t_on < t_off, "jit_compile": configured, "xla_chosen_by_this_run": measured,
                         "epoch_seconds_no_xla": t_off, "epoch_seconds_xla": t_on,
                         "parameters": off["parameters"], "n_fit": off["n_fit"], "batch_size": off["batch_size"]}
        lines.append(f"| {name} | {off['batch_size']} | {off['parameters']:,} | {off['n_fit']:,} | "
                     f"{'XLA' if configured else 'no XLA'} | {t_off:.2f} | {t_on:.2f} | {t_off / t_on:.2f} | "
                     f"{'XLA' if measured else 'no XLA'} | {bound:.3f} | {ratio:.2f}× |")
        print(lines[-1], flush=True)
    lines += ["", f"- epoch seconds from: {', '.join(sorted(sources))}",
              "- params.yaml's XLA choice agrees with this run's measurement for every configuration" if not disagree
              else "- **params.yaml's XLA choice disagrees with this run's measurement** for: " + "; ".join(disagree),
              _target(state, f"every configuration's epoch ≤ {TARGETS['epoch_bound']:g}× its FLOP bound",
                      f"worst {max(r['bound_ratio'] for r in results.values()):.2f}×"
                      + (f"; over: {', '.join(misses)}" if misses else ""),
                      f"≤ {TARGETS['epoch_bound']:g}×", not misses), ""]
    state["configs"] = results
    state["xla_disagreements"] = disagree


def part_pipeline(lines: list[str], state: dict, workdir: Path, logs: Path | None = None, echo=None,
                  from_logs: Path | None = None) -> None:
    """``dvc repro --force`` of a clean clone on 1 worker, then on the default workers; with
    ``from_logs``, the two runs' logs (``1_worker.log``, ``default.log``) of an earlier
    measurement instead, the default one being the last run in ``workdir``."""
    workdir = workdir.resolve()
    for need in ("dvc.yaml", "params.yaml", ".venv/bin/dvc"):
        if not (workdir / need).exists():
            raise SystemExit(f"--workdir {workdir}: no {need} (a clean clone with `make env` done is needed)")
    logs = logs or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    logs.mkdir(parents=True, exist_ok=True)
    echo = echo or (lambda text: print(text, file=sys.stderr, flush=True))
    params = _load_params(workdir)
    workers = default_workers(params.training.threads or 1)
    cache = workdir / "data" / "sweep-cache"
    aside = cache.with_name("sweep-cache.before-bench")
    if aside.exists():
        raise SystemExit(f"{aside} exists (left by an interrupted benchmark?): put it back as {cache.name} "
                         "or delete it first")
    if cache.exists() and from_logs is None:  # the sweep's own cache would return its runs untrained
        cache.rename(aside)
    runs = {}
    if from_logs is not None:
        runs = {label: read_timed_log(from_logs / f"{label}.log") for label in ("1_worker", "default")}
        logs = from_logs
    try:
        for label, count in (() if runs else (("1_worker", 1), ("default", None))):
            shutil.rmtree(cache, ignore_errors=True)  # the runs the previous repro cached
            echo(f"pipeline, {label.replace('_', ' ')}: dvc repro --force in {workdir} (log: {logs / label}.log)")
            total, stages, code = timed_repro(workdir, pipeline_env(workdir, count), logs / f"{label}.log", echo)
            if code != 0:
                tail = (logs / f"{label}.log").read_text(encoding="utf-8")[-3000:]
                raise RuntimeError(f"dvc repro --force ({label}) exited {code}:\n{tail}")
            runs[label] = (total, stages)
    finally:
        if aside.exists():
            shutil.rmtree(cache, ignore_errors=True)
            aside.rename(cache)
    idle = {}
    for stage in runs["default"][1]:
        try:
            fits = stage_fit_seconds(workdir, stage)
        except FileNotFoundError:
            fits = None
        if fits is not None:
            idle[stage] = {"fits": len(fits), "fit_seconds": sum(fits), "makespan": greedy_makespan(fits, workers),
                           "idle_worker_seconds": idle_worker_seconds(fits, workers),
                           "stage_seconds": runs["default"][1][stage]}
    bound_parts = {k: v / (state["gflops_workers"] * 1e9) for k, v in pipeline_flops(params).items()}
    bound = sum(bound_parts.values())
    one, default = runs["1_worker"][0], runs["default"][0]
    state["pipeline"] = {"seconds_1_worker": one, "seconds_default": default, "workers": workers,
                         "bound_ratio": default / bound, "bound_seconds": bound, "speedup": one / default,
                         "rate_gflops": state["gflops_workers"], "logs": str(logs)}
    state["stages"] = {label: stages for label, (_, stages) in runs.items()}
    state["idle"] = idle
    lines += ["## Full default pipeline", "",
              f"`dvc repro --force` in {workdir} (every stage from scratch; the sweep's own cache set aside "
              f"before each run and put back after), first with `MNIST_REPORTS_WORKERS=1`, then with the default "
              f"workers ({workers} here: CPUs ÷ threads). Logs with the second each line came: {logs}.", "",
              f"- 1 worker: {one / 60:.1f} min; {workers} workers: {default / 60:.1f} min",
              f"- FLOP bound of all {sum(len(v) for v in pipeline_fits(params).values())} fits (every models entry × "
              "repeats, every sweep variant × seeds × losses; 6 × parameters × images fitted × epochs each, "
              f"validation passes left out) at {state['gflops_workers']:.1f} GFLOP/s ({workers} one-thread matmul "
              f"processes side by side, part machine): {bound / 60:.1f} min",
              _target(state, f"full default pipeline ≤ {TARGETS['pipeline_bound']:g}× the FLOP bound of its fits",
                      f"{default / bound:.2f}×", f"≤ {TARGETS['pipeline_bound']:g}×",
                      default / bound <= TARGETS["pipeline_bound"]),
              _target(state, f"full pipeline, {workers} workers vs 1", f"{one / default:.2f}×",
                      f"≥ {TARGETS['pipeline_speedup']:g}×", one / default >= TARGETS["pipeline_speedup"]), "",
              "| stage | 1 worker s | default s | FLOP bound s | fits | Σ fit s | simulated makespan s | "
              "idle worker-s |", "|---|---|---|---|---|---|---|---|"]
    for stage in runs["default"][1]:
        i = idle.get(stage)
        cells = ([f"{i['fits']}", f"{i['fit_seconds']:.0f}", f"{i['makespan']:.0f}",
                  f"{i['idle_worker_seconds']:.0f}"] if i else ["–"] * 4)
        b = bound_parts.get(stage)
        lines.append(f"| {stage} | {runs['1_worker'][1].get(stage, float('nan')):.0f} | "
                     f"{runs['default'][1][stage]:.0f} | {'–' if b is None else f'{b:.0f}'} | {' | '.join(cells)} |")
    total_idle = sum(i["idle_worker_seconds"] for i in idle.values())
    lines += ["", f"Idle worker-seconds (default-workers run): per training stage, its fits' seconds (timing file, "
              f"task order) handed greedily to the first free of {workers} workers, as the executor does; "
              "idle = workers × that makespan − Σ fit seconds. It counts only the fits (not the workers' "
              f"start, evaluation or the notebook around them). In all: {total_idle:.0f} worker-seconds "
              f"({total_idle / max(workers * default, 1e-9):.0%} of {workers} workers × the run's wall time).", ""]


def read_stage_seconds(path: Path) -> dict[str, float]:
    """Stage seconds of an earlier run: a results.json (its ``stages.default``) or ``{stage: seconds}``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "stages" in data:
        data = data["stages"]["default"]
    return {str(k): float(v) for k, v in data.items()}


def part_peers(lines: list[str], state: dict, stage_seconds_from: Path | None = None, worker=run_worker) -> None:
    """The seeds' own code (plain Keras, every default) for R1 and R4b as printed, against our stages."""
    params = _load_params()
    ours_from, ours = None, {}
    if "stages" in state:
        ours_from, ours = "the default-workers pipeline run above", state["stages"]["default"]
    elif stage_seconds_from:
        ours_from, ours = str(stage_seconds_from), read_stage_seconds(stage_seconds_from)
    lines += ["## The seeds' own code beside ours", "",
              "Plain Keras as the sources wrote it: TensorFlow's default threads, `model.compile(optimizer, loss, "
              "metrics=['accuracy'])`, `model.fit(x, y, epochs, batch_size, validation_data=test set)`, then "
              "`model.evaluate` of the test set, one seed, timed (fit and evaluate; no progress bar printed, "
              "which only favours the seeds); × the configuration's repeats = the seeds' time for the same fits. "
              f"Ours: the stage's wall time ({ours_from or 'not measured: run part pipeline or give --stage-seconds-from'}), "
              "everything in it (notebook, figures, evaluation) included.", "",
              "| | configuration | epochs | batch | seeds' s per fit | × repeats | seeds' s | our stage s | seeds ÷ ours |",
              "|---|---|---|---|---|---|---|---|---|"]
    peers = {}
    for key, label, name in PEERS:
        cfg = params.models[name]
        res = worker("train", name, "plain", str(cfg.epochs), str(cfg.seed))
        per_fit = res["fit_seconds"][0] + res["evaluate_seconds"][0]
        seeds = per_fit * cfg.repeats
        stage = f"model@{name}"
        our = ours.get(stage)
        peers[f"{key}_seeds_seconds"] = seeds
        if our:
            peers[key] = seeds / our
            peers[f"{key}_stage_seconds"] = our
        lines.append(f"| {label} | {name} | {cfg.epochs} | {cfg.batch_size} | {per_fit:.1f} | {cfg.repeats} | "
                     f"{seeds:.0f} | {'–' if not our else f'{our:.0f}'} | "
                     f"{'–' if not our else f'**{seeds / our:.2f}×**'} |")
        print(lines[-1], flush=True)
    lines.append("")
    for key, label, name in PEERS:
        if key in peers:
            lines.append(_target(state, f"{label} stage ({name}) vs the seeds' own code for the same fits",
                                 f"{peers[key]:.2f}× faster", f"≥ {TARGETS['peers']:g}×",
                                 peers[key] >= TARGETS["peers"]))
    lines.append("")
    state["peers"] = peers


def targets_section(state: dict) -> list[str]:
    """Every target measured in this run with PASS/MISS."""
    rows = state.get("targets", [])
    if not rows:
        return []
    return ["## Targets (issue 24)", "", "| target | measured | wanted | |", "|---|---|---|---|",
            *(f"| {what} | {measured} | {target} | {_verdict(ok)} |" for what, measured, target, ok in rows), ""]


def results_json(state: dict) -> dict:
    """What this run measured, in results.json's schema (parts not run leave their keys out)."""
    out: dict = {}
    if "gflops_1" in state:
        out["machine"] = {k: state[k] for k in ("gflops_1", "parallel_ratio", "parallel_workers", "gflops_workers")
                          if k in state}
    if "configs" in state:
        out["configs"] = state["configs"]
        out["xla_disagreements"] = state.get("xla_disagreements", [])
    if "pipeline" in state:
        out["pipeline"] = state["pipeline"]
        out["stages"] = state["stages"]
        out["idle_worker_seconds"] = {k: v["idle_worker_seconds"] for k, v in state["idle"].items()}
    if "peers" in state:
        out["peers"] = state["peers"]
    if state.get("targets"):
        out["targets"] = [{"target": what, "measured": measured, "wanted": target, "pass": ok}
                          for what, measured, target, ok in state["targets"]]
    return out
