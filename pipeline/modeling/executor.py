"""One executor for every training run: local worker processes by default, a Ray cluster
when one is given.

A run is a pure function of its task (configuration, seed, execution settings)
and of the dataset, so where it runs cannot change its numbers: each run pins its own
TensorFlow threads, and the results come back in the order of the tasks, however
many workers there are and whichever finished first.

- **Local (default)**: ``MNIST_REPORTS_WORKERS`` processes (default: the CPU count divided by
  the threads of one run), started by joblib's loky backend. One worker runs the tasks in
  this process instead (no start-up cost). The dataset is memory-mapped once for all workers.
- **Ray**: when ``RAY_ADDRESS`` is set (``auto``, or ``HOST:PORT`` of a head node), the tasks
  go to that cluster, each asking for as many CPUs as it has threads. The dataset is put in
  the object store once; a task whose worker dies is retried (``RAY_RETRIES``).

Every finished run prints one line: which run, its accuracy, its seconds, how many runs are
left and about how long they will take.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import time
from typing import Any, Callable, Sequence

from pipeline.core.errors import PipelineError

WORKERS_ENV = "MNIST_REPORTS_WORKERS"
RAY_ADDRESS_ENV = "RAY_ADDRESS"
RAY_RETRIES = 3


class ExecutorError(PipelineError, RuntimeError):
    """The executor could not be started (bad worker count, unreachable cluster)."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One run: ``fn(argument, data)`` in some worker; ``label`` names it in the progress lines."""

    label: str
    fn: Callable[[Any, Any], Any]
    argument: Any  # what this task runs on (picklable); ``data`` is shared by every task
    threads: int = 1


@dataclasses.dataclass
class Done:
    """A finished task: its result, where it ran and how long it took there."""

    index: int
    result: Any
    seconds: float
    where: str


def _die_with_parent() -> None:
    """Make this local worker process end when the process that started it ends (Linux).

    The notebook's kernel starts the workers; if the kernel is killed (``kill -9`` of a
    ``dvc repro``), its workers must not go on training and holding the terminal open."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: loky's own checks remain
        return
    if os.getppid() == 1:  # the parent is already gone
        os._exit(1)


def _run_pooled(index: int, task: Task, data) -> Done:
    """What a local worker process executes: ``_run_task``, tied to the life of its parent."""
    global _TIED
    if not _TIED:
        _die_with_parent()
        _TIED = True
    return _run_task(index, task, data)


_TIED = False


def _run_task(index: int, task: Task, data) -> Done:
    """What a worker executes (module-level, so that every backend can pickle it)."""
    start = time.perf_counter()
    result = task.fn(task.argument, data)
    return Done(index, result, time.perf_counter() - start, where())


def where() -> str:
    """Names the process a run ran in: the Ray node, or the host and process id.

    Ray is only asked when this process has already imported it (every Ray worker has):
    importing it here would add Ray's import time to the start of every local worker."""
    ray = sys.modules.get("ray")
    try:
        if ray is not None and ray.is_initialized():
            ctx = ray.get_runtime_context()
            return f"ray node {ctx.get_node_id()[:12]}"
    except Exception:  # noqa: BLE001 (no Ray, or not inside a Ray worker)
        pass
    return f"{socket.gethostname()} pid {os.getpid()}"


def default_workers(threads: int) -> int:
    """``$MNIST_REPORTS_WORKERS``, else as many workers as this machine has CPUs per run."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ExecutorError(f"${WORKERS_ENV}={value!r}: expected a whole number of workers ≥ 1 (or unset)")
        return int(value)
    return max(1, (os.cpu_count() or 1) // max(threads, 1))


def progress_line(text: str) -> None:
    """A progress line for the terminal: on stderr, which the runner passes to the terminal and
    leaves out of the reports' HTML (a reader view holds no log lines)."""
    print(text, file=sys.stderr, flush=True)


class Progress:
    """One line per finished run: ``[3/33] baseline seed 2: accuracy 0.9771 in 12.3 s; 30 left, about 3.1 min``."""

    def __init__(self, total: int, workers: int, log=progress_line, describe=None):
        self.total, self.workers, self.log = total, max(workers, 1), log
        self.describe = describe or (lambda r: f"accuracy {r.test_accuracy:.4f}")
        self.started = time.perf_counter()
        self.done = 0

    def __call__(self, task: Task, done: Done) -> None:
        self.done += 1
        left = self.total - self.done
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * left  # runs so far, in parallel as they will be
        tail = f"{left} left, about {_duration(eta)}" if left else "all done"
        self.log(f"[{self.done}/{self.total}] {task.label}: {self.describe(done.result)} in {done.seconds:.1f} s "
                 f"({done.where}); {tail}")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class Executor:
    """Runs tasks and returns their ``Done`` records in the order of the tasks."""

    name = "executor"
    workers = 1

    def run(self, tasks: Sequence[Task], data, *, log=progress_line, describe=None, on_done=None) -> list[Done]:
        """Run every task; ``on_done(task, done)`` is called in this process as each finishes."""
        progress = Progress(len(tasks), self.workers, log, describe)
        out: list[Done | None] = [None] * len(tasks)
        for done in self._completed(tasks, data):
            out[done.index] = done
            if on_done is not None:
                on_done(tasks[done.index], done)
            progress(tasks[done.index], done)
        return out  # type: ignore[return-value]

    def _completed(self, tasks: Sequence[Task], data):
        raise NotImplementedError


class InProcess(Executor):
    """Every task in this process, one after another."""

    name = "in this process"

    def _completed(self, tasks, data):
        for i, task in enumerate(tasks):
            yield _run_task(i, task, data)


class LocalPool(Executor):
    """Tasks in ``workers`` local processes (joblib's loky backend, reused across calls)."""

    def __init__(self, workers: int):
        self.workers = workers
        self.name = f"{workers} local worker processes"

    def _completed(self, tasks, data):
        from joblib import Parallel, delayed

        parallel = Parallel(n_jobs=min(self.workers, len(tasks)), backend="loky", return_as="generator_unordered",
                            max_nbytes="1M")  # arrays over 1 MB are memory-mapped once, not copied per task
        yield from parallel(delayed(_run_pooled)(i, task, data) for i, task in enumerate(tasks))


class RayCluster(Executor):
    """Tasks on a Ray cluster (``address``: ``auto`` or ``HOST:PORT``)."""

    def __init__(self, address: str):
        self.address = address
        self.name = f"Ray cluster at {address}"

    def _check_reachable(self) -> None:
        """Fail in seconds, not minutes, when nothing listens at HOST:PORT (Ray retries for long)."""
        import socket

        host, sep, port = self.address.rpartition(":")
        if self.address in ("auto", "local") or not sep or not port.isdigit():
            return
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
        except OSError as err:
            raise ExecutorError(f"cannot reach the Ray cluster at {self.address!r} ({RAY_ADDRESS_ENV}): "
                                f"{err.strerror or err}; start its head with `ray start --head` "
                                "(README: Running on a Ray cluster)") from None

    def _connect(self):
        import ray

        if not ray.is_initialized():
            self._check_reachable()
            try:  # (the workers pin TensorFlow's numerics themselves: pipeline/modeling/train.py)
                ray.init(address=self.address, log_to_driver=False)
            except Exception as err:  # noqa: BLE001 (ConnectionError, auth errors, …)
                raise ExecutorError(f"cannot reach the Ray cluster at {self.address!r} ({RAY_ADDRESS_ENV}): "
                                    f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from None
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        return ray

    def _completed(self, tasks, data):
        ray = self._connect()
        data_ref = ray.put(data)  # once, in the object store; every task reads it from there
        remote = ray.remote(_run_task)
        pending = {remote.options(num_cpus=t.threads, max_retries=RAY_RETRIES).remote(i, t, data_ref): i
                   for i, t in enumerate(tasks)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pending.pop(ref)
                yield ray.get(ref)


def from_environment(threads: int, tasks: int | None = None) -> Executor:
    """The executor the environment asks for: Ray if ``RAY_ADDRESS`` is set, else local
    processes (or this process, when one worker or one task is all there is)."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    if address:
        return RayCluster(address)
    workers = default_workers(threads)
    if workers == 1 or tasks == 1:
        return InProcess()
    return LocalPool(workers)
