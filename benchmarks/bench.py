"""Performance benchmark, run by hand (not in CI): prints ratios measured in one run.

    python benchmarks/bench.py                     # everything but the full pipeline
    python benchmarks/bench.py --parts epochs      # one part: machine params configs epochs accuracy report
                                                   # dvc executor pipeline peers
    python benchmarks/bench.py --parts configs --configs r1_onehot,baseline --epochs 2
    python benchmarks/bench.py --parts machine pipeline peers --workdir ../clone   # ~2 full runs: hours
    python benchmarks/bench.py --parts peers --stage-seconds-from results.json     # ours from an earlier run
    python benchmarks/bench.py --pipeline-seconds 3000   # add a full `dvc repro` time measured apart

It measures on this machine, in this run:

- ``machine``: CPU, and the matmul rate (GFLOP/s) of TensorFlow with one thread and with our
  thread setting, and of the pipeline's default workers side by side (one thread each) over one
  alone;
- ``params``: the slowest refusal of ``load_params`` (in-process) over every bad params file
  of the fault suite and every hostile YAML text of its tests (alias bombs, deep nesting, huge
  numbers): each must be refused in well under a second;
- ``configs``, ``pipeline``, ``peers`` (issue 24; in bench_pipeline.py): per configuration and
  sweep variant, the seconds of one epoch of ``train.fit_seed`` with XLA on and off against its
  FLOP bound at the one-thread rate; the full pipeline (``dvc repro --force`` of ``--workdir``)
  on 1 worker and on the default workers against the FLOP bound of all its fits at the default
  workers' rate, per stage, with idle worker-seconds; the seeds' own ``model.fit`` for R1 and
  R4b beside our stages;
- ``epochs``: per configuration, the seconds per epoch of plain Keras written the way the
  sources wrote it (``model.compile(optimizer, loss, metrics)``, ``model.fit`` on arrays, every
  default) against our settings (``training`` in params.yaml), and against the FLOP bound
  6 × parameters × training images ÷ matmul rate;
- ``accuracy``: full training of R1 and R3 with every seed, plain vs ours: test accuracy mean
  ± std (the speed settings must not change the experiment);
- ``report``: where the seconds of one report go (kernel + imports, training, the rest of
  the notebook, HTML rendering), from a real run of the runner;
- ``dvc``: `dvc repro` with nothing to do, and after a markdown-only change of one notebook
  (only that report must re-run), in a throw-away git worktree;
- ``executor``: the fixed cost of the training executor (local worker processes: start, and
  the first task that imports TensorFlow), a part of the loss sweep on full MNIST with 1 local
  worker, 2 local workers and a two-node Ray cluster on 127.0.0.1 (1 CPU per node), and from
  those numbers the sweep's time on 8 and 64 workers.

Each part runs in fresh subprocesses (TensorFlow's thread pools are fixed once per process).
Results are printed as a markdown report, with the targets of issue 24 and PASS/MISS for each
measured; ``--out`` also writes it to a file, and the figures go to ``--json`` (default
benchmarks/results.json: only what this run measured).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pipeline as bp  # noqa: E402 (the parts configs, pipeline and peers; results.json)

ENV = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")
BIN = Path(sys.executable).parent
# in the order they run: pipeline before peers, which compares with its stage times
PARTS = ("machine", "params", "configs", "epochs", "accuracy", "report", "dvc", "executor", "pipeline", "peers")
DEFAULT_PARTS = [p for p in PARTS if p != "pipeline"]  # pipeline needs --workdir (and an hour)
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # Ray on 127.0.0.1 only


# --------------------------------------------------------------------------- workers (subprocesses)


# The float32 matmuls of one training step of our largest layers (batch × inputs × units): the
# forward pass, the input gradient and the weight gradient, at batch 512 and 32, and 1024³. The
# best of their rates is the rate the bounds use: on this host's AMD EPYC a 1024³ product ran at
# 72 GFLOP/s while a fit of the 784-300-100 network ran at 112 (its epoch took 0.76× that bound).
MATMUL_SHAPES = ((512, 784, 300), (512, 300, 784), (784, 512, 300), (512, 784, 512), (32, 784, 512),
                 (1024, 1024, 1024))


def worker_matmul(threads: int, ready_dir: str = "", peers: int = 0) -> dict:
    """GFLOP/s of float32 matmuls of the shapes our layers use, with ``threads`` TF threads (the
    best of three 0.7 s rounds each); with ``ready_dir``, measured only once ``peers`` such
    processes are ready (side by side)."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    sizes = {}
    for m, k, n in MATMUL_SHAPES:
        a, b = tf.random.normal((m, k)), tf.random.normal((k, n))
        sizes[(m, k, n)] = tf.function(lambda a=a, b=b: tf.reduce_sum(tf.matmul(a, b)))
        sizes[(m, k, n)]().numpy()
    bp.wait_for_peers(ready_dir, peers)
    rates = {}
    for (m, k, n), f in sizes.items():
        best = 0.0
        for _ in range(3):
            reps, start = 0, time.perf_counter()
            while time.perf_counter() - start < 0.7:
                f().numpy()
                reps += 1
            best = max(best, 2 * m * k * n * reps / (time.perf_counter() - start) / 1e9)
        rates[f"{m}x{k}x{n}"] = best
    return rates


def worker_train(config: str, mode: str, epochs: int, seeds: list[int]) -> dict:
    """Train ``config`` (full data) ``epochs`` epochs per seed; seconds per epoch and test accuracy."""
    import keras

    from pipeline.core.params import load_params
    from pipeline.core import dataset
    from pipeline.modeling import train as modeling

    params = load_params(ROOT / "params.yaml")
    cfg = params.models[config].model_copy(update={"epochs": epochs})
    ours = params.training.for_model(cfg)  # `training` with the configuration's `execution` entry
    if mode == "ours_other_xla":  # the same settings with the other jit_compile choice
        ours = ours.model_copy(update={"jit_compile": not ours.jit_compile})
    if mode != "plain":
        modeling.configure_tensorflow(ours)
    ds = dataset.load(ROOT / "data/dataset.npz")
    x_train, x_test = dataset.scale(ds.x_train), dataset.scale(ds.x_test)
    if cfg.validation == "split":
        split = dataset.validation_split(ds.y_train, cfg.validation_fraction, cfg.seed)
        x_fit, y_fit, x_val, y_val = x_train[split.fit], ds.y_train[split.fit], x_train[split.val], ds.y_train[split.val]
    else:
        x_fit, y_fit, x_val, y_val = x_train, ds.y_train, x_test, ds.y_test

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)

    out = {"epoch_seconds": [], "test_accuracy": [], "parameters": 0, "n_fit": len(x_fit),
           "fit_seconds": [], "evaluate_seconds": [],
           "settings": ours.model_dump(include={"steps_per_execution", "jit_compile", "threads"})}
    for seed in seeds:
        if mode != "plain":  # the pipeline's own training (the lean loop), the test set evaluated once
            run, model = modeling.fit_seed(cfg, ds, ours, seed, diagnostics=False)
            out["fit_seconds"].append(run.fit_seconds)
            out["epoch_seconds"].append(run.epoch_seconds)
            out["evaluate_seconds"].append(0.0)
            out["test_accuracy"].append(run.test_accuracy)
            out["parameters"] = model.count_params()
            continue
        keras.utils.set_random_seed(seed)  # as the sources wrote it: every default of compile and fit
        model = modeling.build_model(cfg)
        model.compile(optimizer=modeling.make_optimizer(cfg), loss=cfg.loss, metrics=["accuracy"])
        times: list[float] = []
        t_fit, y_test = modeling.encode_labels(y_fit, cfg), modeling.encode_labels(ds.y_test, cfg)
        start = time.perf_counter()
        model.fit(x_fit, t_fit, epochs=epochs, batch_size=cfg.batch_size,
                  validation_data=(x_val, modeling.encode_labels(y_val, cfg)), verbose=0,
                  callbacks=[EpochTimer()])
        out["fit_seconds"].append(time.perf_counter() - start)
        out["epoch_seconds"].append(times)
        start = time.perf_counter()  # evaluate's default batch (32), as the sources printed it
        accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
        out["evaluate_seconds"].append(time.perf_counter() - start)
        out["test_accuracy"].append(float(accuracy))
        out["parameters"] = model.count_params()
    return out


def _noop(spec, data):
    return spec


def _import_tensorflow(spec, data):
    import importlib

    importlib.import_module("pipeline.modeling.train")  # keras and TensorFlow, as every training task does
    return spec


def worker_start() -> dict:
    """Seconds to start 2 local workers (a trivial task each), then the first task importing TF."""
    from pipeline.modeling import executor

    pool = executor.LocalPool(2)
    t = time.perf_counter()
    pool.run([executor.Task(f"noop {i}", _noop, i) for i in range(2)], None, log=lambda *_: None, describe=str)
    started = time.perf_counter() - t
    t = time.perf_counter()
    pool.run([executor.Task(f"tf {i}", _import_tensorflow, i) for i in range(2)], None, log=lambda *_: None,
             describe=str)
    return {"start": started, "first_tensorflow_task": time.perf_counter() - t}


def worker_sweep(mode: str, variants: int, seeds: int) -> dict:
    """A part of the categorical sweep (first ``variants`` × ``seeds``, full data, every epoch)."""
    from pipeline.core import dataset, paths
    from pipeline.core.params import load_params
    from pipeline.loss_sweep import runs
    from pipeline.modeling import executor, train

    params = load_params(ROOT / "params.yaml")
    sweep = params.sweep.model_copy(update={"variants": dict(list(params.sweep.variants.items())[:variants]),
                                            "seeds": list(range(seeds))})
    settings = params.training.for_model()
    ds = dataset.load(paths.prepared_data_file(ROOT), sample_size=settings.sample_size)
    if mode == "1":
        train.configure_tensorflow(settings)
        ex = executor.InProcess()
    elif mode == "2":
        ex = executor.LocalPool(2)
    else:
        ex = executor.RayCluster(mode)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        results = runs.run(sweep, sweep.losses[0], ds, settings, Path(tmp), log=lambda *_: None, executor=ex)
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "fit_seconds": [r.fit_seconds for r in results],
            "accuracy": [r.test_accuracy for r in results], "runs": len(results)}


_run_worker = bp.run_worker  # ``bench.py worker ARGS`` in a fresh process; its JSON result


# --------------------------------------------------------------------------- parts


def part_machine(lines: list[str], state: dict) -> None:
    from pipeline.core.params import load_params

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    threads = load_params(ROOT / "params.yaml").training.threads
    lines += ["## Machine", "",
              f"- {cpu}; {os.cpu_count()} CPU(s) visible; Python {platform.python_version()}; "
              f"{platform.system()} {platform.release()}"]
    best, single = 0.0, {}
    for n in sorted({1, threads or os.cpu_count() or 1}):
        rates = _run_worker("matmul", str(n))
        single = single or rates  # one thread
        best = max(best, *rates.values())
        lines.append(f"- TensorFlow float32 matmul with {n} thread(s): "
                     + ", ".join(f"{k}: {v:.1f} GFLOP/s" for k, v in rates.items()))
    state["gflops"] = best
    # the default workers of a pipeline run side by side, one thread each: their summed rate over one's
    workers = bp.default_workers(threads or 1)
    side = max(workers, 2)
    together = bp.run_workers_together(side, "matmul", "1")
    size = max(single, key=single.get)  # the size of the fastest one-thread rate
    ratio = sum(r[size] for r in together) / single[size]
    state.update(gflops_1=single[size], parallel_workers=side, parallel_ratio=ratio,
                 gflops_workers=single[size] * ratio)
    lines += [f"- {side} one-thread matmul processes side by side ({workers} = the pipeline's default workers "
              f"here): {size} " + " + ".join(f"{r[size]:.1f}" for r in together)
              + f" GFLOP/s = **{ratio:.2f}×** one alone",
              f"- the epochs part's bounds use the fastest rate above, {best:.1f} GFLOP/s; part configs uses the "
              f"one-thread rate {single[size]:.1f} GFLOP/s; the pipeline's bound {single[size]:.1f} × {ratio:.2f} "
              f"= {single[size] * ratio:.1f} GFLOP/s", ""]
    print("\n".join(lines[-3:]), flush=True)


def part_params(lines: list[str], state: dict) -> None:
    """Seconds ``load_params`` takes to refuse each bad file of the fault suite; the slowest three."""
    from pipeline.core.params import ParamsError, load_params
    from tests import test_params_faults as faults

    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "params.yaml"
        inputs = [(c["name"], lambda c=c: faults.write_case(c, path)) for c in faults.CASES]
        inputs += [(f"hostile {i}: {text[:30]!r}", lambda text=text: path.write_text(text, encoding="utf-8"))
                   for i, (text, _) in enumerate(faults.HOSTILE)]
        for name, write in inputs:
            write()
            start = time.perf_counter()
            try:
                load_params(path)
            except ParamsError:
                pass
            else:
                raise RuntimeError(f"{name}: accepted, the fault suite says it must be refused")
            seconds[name] = time.perf_counter() - start
    slowest = sorted(seconds.items(), key=lambda kv: -kv[1])[:3]
    lines += ["## Params loader", "",
              f"- {len(seconds)} bad params files refused in {sum(seconds.values()):.2f} s in all; slowest: "
              + ", ".join(f"{name} {t * 1000:.0f} ms" for name, t in slowest)
              + (" (target: each under 1 s)" if slowest[0][1] < 1 else " (**over the 1 s target**)"), ""]
    print("\n".join(lines[-2:]), flush=True)


def _per_epoch(times: list[list[float]]) -> float:
    """Median seconds per epoch, leaving out each seed's first epoch (tracing and compiling)."""
    steady = [t for seed in times for t in seed[1:]] or [t for seed in times for t in seed]
    return statistics.median(steady)


def part_epochs(lines: list[str], state: dict, epochs: int = 5) -> None:
    from pipeline.core.params import load_params

    params = load_params(ROOT / "params.yaml")
    if "gflops" not in state:
        part_machine([], state)
    gflops = state["gflops"]
    lines += ["## Seconds per epoch: plain Keras vs our settings vs the FLOP bound", "",
              f"Full training set, {epochs} epochs per run, median of epochs 2..{epochs} (the first "
              "includes tracing/compilation; each epoch includes its validation pass). FLOP bound = "
              f"6 × parameters × images fitted ÷ {gflops:.1f} GFLOP/s (the machine's fastest matmul rate "
              "above). Plain Keras = "
              "`compile(optimizer, loss, metrics)` and `fit` on arrays with every default (on a CPU-only "
              "machine that means no XLA, one batch per call, TensorFlow's thread pools).", "",
              "| configuration | batch | parameters | our settings | plain Keras s/epoch | ours s/epoch | speed-up | "
              "FLOP bound s/epoch | ours ÷ bound | ours with the other XLA choice s/epoch |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, cfg in params.models.items():
        plain = _run_worker("train", name, "plain", str(epochs), "0")
        ours = _run_worker("train", name, "ours", str(epochs), "0")
        other = _run_worker("train", name, "ours_other_xla", str(epochs), "0")
        p, o, x = (_per_epoch(r["epoch_seconds"]) for r in (plain, ours, other))
        bound = 6 * ours["parameters"] * ours["n_fit"] / (gflops * 1e9)
        st = ours["settings"]
        settings = (f"{'XLA' if st['jit_compile'] else 'no XLA'}, {st['threads'] or 'default'} "
                    f"thread{'s' if st['threads'] != 1 else ''}, {st['steps_per_execution']} steps/call")
        lines.append(f"| {name} | {cfg.batch_size} | {ours['parameters']:,} | {settings} | {p:.2f} | {o:.2f} | "
                     f"**{p / o:.2f}×** | {bound:.2f} | {o / bound:.2f}× | {x:.2f} ({x / o:.2f}× ours) |")
        print(lines[-1], flush=True)
    lines.append("")


def part_accuracy(lines: list[str], state: dict) -> None:
    from pipeline.core.params import load_params

    params = load_params(ROOT / "params.yaml")
    lines += ["## Same experiment: test accuracy, plain Keras vs our settings", "",
              "Full training as configured, every seed of the configuration.", "",
              "| configuration | epochs | seeds | plain Keras | ours | difference of means |",
              "|---|---|---|---|---|---|"]
    for name in ("r1_onehot", "r3_split"):
        cfg = params.models[name]
        seeds = [str(cfg.seed + i) for i in range(cfg.repeats)]
        res = {mode: _run_worker("train", name, mode, str(cfg.epochs), *seeds) for mode in ("plain", "ours")}
        acc = {m: (statistics.mean(r["test_accuracy"]), statistics.stdev(r["test_accuracy"])) for m, r in res.items()}
        lines.append(f"| {name} | {cfg.epochs} | {', '.join(seeds)} | {100 * acc['plain'][0]:.2f} ± "
                     f"{100 * acc['plain'][1]:.2f} % | {100 * acc['ours'][0]:.2f} ± {100 * acc['ours'][1]:.2f} % | "
                     f"{100 * (acc['ours'][0] - acc['plain'][0]):+.2f} points |")
        print(lines[-1], flush=True)
    lines.append("")


def _timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    return time.perf_counter() - start, proc


@contextlib.contextmanager
def _worktree(*copies: str):
    """A throw-away git worktree of HEAD with ``copies`` (ignored build products) copied in."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "p"
        subprocess.run(["git", "worktree", "add", "--detach", str(work)], cwd=ROOT, check=True, capture_output=True)
        try:
            for rel in copies:
                src, dst = ROOT / rel, work / rel
                if src.is_dir():
                    shutil.copytree(src, dst)
                elif src.is_file():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dst)
            yield work
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=ROOT, capture_output=True)


def part_report(lines: list[str], state: dict) -> None:
    """One real model report (R1, full data) through the runner, its seconds broken down."""
    imports, _ = _timed([sys.executable, "-c", "import keras, pipeline.modeling.train, pipeline.core.shared_figures"], ROOT)
    bare, _ = _timed([sys.executable, "-c", "pass"], ROOT)
    with _worktree("data/dataset.npz", "build/vendor") as work:
        total, proc = _timed([sys.executable, "-m", "pipeline", "run", "notebooks/02_model_report.ipynb",
                              "--sections", "model=models.r1_onehot", "training", "--no-progress"], work)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        steps = dict(re.findall(r"^(executed|rendered) in ([\d.]+) s", proc.stdout, re.M))
        fit = sum(json.loads((work / "reports/timing/r1_onehot.json").read_text())["fit_seconds"])
        cells = _cell_seconds(work / "reports/notebooks/02_model_report_r1_onehot.ipynb")
    executed, rendered = float(steps.get("executed", "nan")), float(steps.get("rendered", "nan"))
    fixed = total - fit
    in_cells = cells["imports"] + cells["train"] + cells["other"]
    runner, kernel = total - executed - rendered, executed - in_cells
    startup = runner + kernel + cells["imports"] + rendered
    lines += ["## Where the seconds of one report go (model@r1_onehot, full data, 3 seeds × 5 epochs)", "",
              "From one real `python -m pipeline run` in a clean checkout; cell times are papermill's own.", "",
              "| part | seconds |", "|---|---|",
              f"| **whole `python -m pipeline run`** | **{total:.1f}** |",
              f"| runner before and after papermill (Python start, params check, imports, writing) "
              f"| {runner:.1f} |",
              f"| papermill: kernel start and shut-down, between cells | {kernel:.1f} |",
              f"| cell: imports (numpy, keras/TensorFlow, matplotlib, seaborn, pipeline) | {cells['imports']:.1f} |",
              f"| cell: `train.train` — `model.fit` of 3 seeds | {fit:.1f} |",
              f"| cell: `train.train` — evaluation and measurements besides fit | {cells['train'] - fit:.1f} |",
              f"| the other {cells['n_other']:.0f} cells (tables, figures, predictions, writing) | {cells['other']:.1f} |",
              f"| HTML rendering, both views, in the runner's process | {rendered:.1f} |",
              f"| (apart: `python -c 'import keras, pipeline.modeling, pipeline.plots'` − bare Python) "
              f"| ({imports - bare:.1f}) |",
              f"| **fixed overhead (runner, kernel start, imports, rendering)** | **{startup:.1f}** |",
              f"| work besides `model.fit` (evaluation, figures, tables, writing) | {fixed - startup:.1f} |",
              f"| everything but `model.fit` | {fixed:.1f} ({fixed / total:.0%} of the report) |", ""]
    print("\n".join(lines[-16:]), flush=True)


def _cell_seconds(path: Path) -> dict[str, float]:
    """papermill's per-cell durations of an executed notebook: imports cell, training cell, the rest."""
    out = {"imports": 0.0, "train": 0.0, "other": 0.0, "n_other": 0}
    for cell in json.loads(path.read_text())["cells"]:
        seconds = cell.get("metadata", {}).get("papermill", {}).get("duration") or 0.0
        source = "".join(cell.get("source", ""))
        if cell["cell_type"] != "code":
            continue
        if "train.train(" in source:
            out["train"] += seconds
        elif not out["imports"] and re.search(r"^(import|from) ", source, re.M):
            out["imports"] += seconds
        else:
            out["other"] += seconds
            out["n_other"] += 1
    return out


def part_dvc(lines: list[str], state: dict) -> None:
    """`dvc repro` with nothing to do, and after a markdown-only edit, in a throw-away worktree."""
    with _worktree("build/vendor", "data/sweep-cache") as work:
        dvc = str(BIN / "dvc")
        subprocess.run([dvc, "cache", "dir", "--local", str(ROOT / ".dvc/cache")], cwd=work, check=True)
        subprocess.run([dvc, "checkout", "--quiet"], cwd=work, env=ENV, capture_output=True)
        status = subprocess.run([dvc, "status"], cwd=work, env=ENV, capture_output=True, text=True).stdout
        if "up to date" not in status:  # timing a repro that retrains would measure the wrong thing
            raise RuntimeError("commit a dvc.lock of a complete `dvc repro` first; in a clean "
                               f"checkout of HEAD `dvc status` says:\n{status[:2000]}")
        _timed([dvc, "repro"], work)  # warm DVC's state database once
        noop = [_timed([dvc, "repro"], work)[0] for _ in range(3)]
        dvc_import, _ = _timed([sys.executable, "-c", "import dvc.repo, dvc.cli"], work)
        nb = work / "notebooks/01_data_exploration.ipynb"
        data = json.loads(nb.read_text())
        first_md = next(c for c in data["cells"] if c["cell_type"] == "markdown")
        first_md["source"] = [*first_md["source"], f"\n\n(A markdown-only change made at {time.time_ns()}: unique, so DVC's run cache cannot answer it.)"]
        nb.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        edit, proc = _timed([dvc, "repro"], work)
        ran = re.findall(r"Running stage '([^']+)'", proc.stdout)
        if proc.returncode != 0 or not ran:
            raise RuntimeError(f"`dvc repro` after the markdown edit ran {ran or 'nothing'} and exited "
                               f"{proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    lines += ["## DVC", "",
              "- a clean checkout of HEAD with the DVC cache is up to date before timing (`dvc status`)",
              f"- no-op `dvc repro`: {', '.join(f'{t:.2f}' for t in noop)} s "
              f"(median {statistics.median(noop):.2f} s); `import dvc.repo, dvc.cli` alone: {dvc_import:.2f} s",
              f"- after a markdown-only change of notebooks/01_data_exploration.ipynb: {edit:.1f} s; "
              f"stages run: {', '.join(ran) or '(none)'}", ""]
    print("\n".join(lines[-4:]), flush=True)


def part_executor(lines: list[str], state: dict, variants: int = 2, seeds: int = 2) -> None:
    """Fixed cost of the executor; a part of the sweep on 1 and 2 local workers and on 2 Ray nodes."""
    import math

    from pipeline.modeling.executor import _duration  # one way to print a duration

    start = _run_worker("start")
    one = _run_worker("sweep", "1", str(variants), str(seeds))
    two = _run_worker("sweep", "2", str(variants), str(seeds))
    os.environ.update(LOOPBACK)
    from ray.cluster_utils import Cluster

    t = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    cluster_start = time.perf_counter() - t
    try:
        ray = _run_worker("sweep", cluster.address, str(variants), str(seeds), env=LOOPBACK)
    finally:
        cluster.shutdown()
    same = one["accuracy"] == two["accuracy"] == ray["accuracy"]
    n = one["runs"]
    per_run = one["seconds"] / n  # one worker: a run's whole cost, one after another
    overhead = max(ray["seconds"] - math.ceil(n / 2) * max(ray["fit_seconds"]), 0.0) / n
    sweep = _sweep()
    full = len(sweep.losses) * len(sweep.variants) * len(sweep.seeds)
    # seconds per round of w runs side by side: measured here for 1 and 2 workers; for a cluster,
    # w one-CPU workers each as fast as one worker alone here, plus Ray's cost per task
    per_round = {1: per_run, 2: two["seconds"] / math.ceil(n / 2)}

    def estimate(w: int) -> str:
        rounds = math.ceil(full / w)
        return _duration(rounds * per_round.get(w, per_run + overhead)) + (f" ({rounds} rounds)" if w == 2 else "")
    lines += ["## Executor (parallel runs)", "",
              f"- starting 2 local worker processes: {start['start']:.2f} s; their first task, which imports "
              f"TensorFlow: {start['first_tensorflow_task']:.1f} s (once per stage; one worker runs in the "
              "notebook's process and pays neither)",
              f"- {n} sweep runs ({variants} variants × {seeds} seeds, full MNIST, every epoch), one thread each: "
              f"1 worker {one['seconds']:.1f} s, 2 local workers {two['seconds']:.1f} s "
              f"(**{one['seconds'] / two['seconds']:.2f}×**), 2 Ray nodes of 1 CPU on 127.0.0.1 "
              f"{ray['seconds']:.1f} s ({two['seconds'] / ray['seconds']:.2f}× the local pool; the cluster "
              f"took {cluster_start:.1f} s to start); test accuracies identical in all three: {same}",
              f"- from these: {per_run:.1f} s per run, Ray's cost per task beyond the fit "
              f"{overhead:.1f} s; the {full} runs of both sweeps would take about "
              + ", ".join(f"{w} workers {estimate(w)}" for w in (1, 2, 8, 64))
              + " (1 and 2 workers at this machine's measured rates; 8 and 64 as Ray workers of one CPU "
              "each, every one as fast as a lone worker here, plus Ray's cost per task: the runs are "
              "independent, so the time falls with the workers until one round of runs is left)", ""]


def _sweep():
    """The ``sweep`` section of params.yaml."""
    from pipeline.core.params import load_params

    return load_params(ROOT / "params.yaml").sweep


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "worker":
        kind, *rest = argv[1:]
        if kind == "matmul":
            result = worker_matmul(int(rest[0]), *(rest[1:2]), *(int(r) for r in rest[2:3]))
        elif kind == "start":
            result = worker_start()
        elif kind == "sweep":
            result = worker_sweep(rest[0], int(rest[1]), int(rest[2]))
        elif kind == "configs":
            result = bp.worker_configs(rest[0], int(rest[1]), rest[2:])
        else:
            config, mode, epochs, *seeds = rest
            result = worker_train(config, mode, int(epochs), [int(s) for s in seeds])
        print(json.dumps(result))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS,
                        help=f"default: {' '.join(DEFAULT_PARTS)}, and pipeline when --workdir is given")
    parser.add_argument("--epochs", type=int, help="epochs per timing run (part epochs: default 5; configs: 2)")
    parser.add_argument("--configs", type=lambda text: [n for n in text.split(",") if n],
                        help="part configs: only these, comma-separated (models entries, sweep.VARIANT)")
    parser.add_argument("--workdir", type=Path, help="part pipeline: a clean clone with ../shared beside it and "
                        "its venv built (`make env`); its outputs are rebuilt twice (`dvc repro --force`)")
    parser.add_argument("--logs", type=Path, help="part pipeline: folder for dvc's timestamped output "
                        "(default: a new temporary folder)")
    parser.add_argument("--pipeline-logs", type=Path, help="part pipeline: take both runs from the timestamped "
                        "logs (1_worker.log, default.log) of an earlier measurement instead of running them; "
                        "--workdir is where the default one ran (its timing files give the idle worker-seconds)")
    parser.add_argument("--stage-seconds-from", type=Path, help="part peers without part pipeline: our stage "
                        "seconds from an earlier results.json (stages.default) or a JSON {stage: seconds}")
    parser.add_argument("--pipeline-seconds", type=float, help="a full `dvc repro` wall time measured apart")
    parser.add_argument("--pipeline-note", default="", help="how --pipeline-seconds was measured")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/results.json",
                        help="the figures of this run (only the parts run; replaces the file; default: %(default)s)")
    args = parser.parse_args(argv)
    parts = args.parts or [*DEFAULT_PARTS, *(["pipeline"] if args.workdir else [])]
    if "pipeline" in parts and not args.workdir:
        parser.error("part pipeline needs --workdir")
    start = time.perf_counter()
    lines = [f"# Benchmark results ({dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
             f"`` python benchmarks/bench.py {shlex.join(argv)} `` on this machine, one run; timings here vary "
             "by about ±30 % from run to run, so compare the ratios within one file.", ""]
    state: dict = {}
    calls = {"epochs": lambda: part_epochs(lines, state, epochs=args.epochs or 5),
             "configs": lambda: bp.part_configs(lines, state, epochs=args.epochs or 2, only=args.configs),
             "pipeline": lambda: bp.part_pipeline(lines, state, args.workdir, args.logs, from_logs=args.pipeline_logs),
             "peers": lambda: bp.part_peers(lines, state, args.stage_seconds_from)}
    for part in PARTS:
        if part not in parts:
            continue
        if part in ("configs", "pipeline") and "gflops_1" not in state:
            part_machine(lines, state)  # their bounds use this run's matmul rates
        calls.get(part, lambda: globals()[f"part_{part}"](lines, state))()
    if args.pipeline_seconds:
        lines += ["## Full default pipeline (measured apart)", "",
                  f"- `dvc repro` of every stage: {args.pipeline_seconds / 60:.1f} min"
                  + (f" ({args.pipeline_note})" if args.pipeline_note else "")]
        rate = state.get("gflops_workers") or state.get("gflops")
        if rate:
            per_stage = {k: v / (rate * 1e9) for k, v in bp.pipeline_flops(bp._load_params()).items()}
            total = sum(per_stage.values())
            big = sorted(per_stage.items(), key=lambda kv: -kv[1])[:4]
            lines.append(f"- FLOP bound of every fit in it (6 × parameters × images fitted × epochs, at "
                         f"{rate:.1f} GFLOP/s): {total / 60:.1f} min ({args.pipeline_seconds / total:.2f}×); "
                         "largest: " + ", ".join(f"{k} {v / 60:.1f} min" for k, v in big))
        lines.append("")
    lines += bp.targets_section(state)
    lines.append(f"Benchmark wall time: {(time.perf_counter() - start) / 60:.1f} min.")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    results = bp.results_json(state)
    if results:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
