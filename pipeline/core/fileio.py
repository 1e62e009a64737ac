"""Atomic file writes: readers see the old file or the complete new one, never half of one."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The temporary file lives in the same folder so that ``os.replace`` is atomic. If the
    body raises, the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the suffix: some writers (papermill, numpy) look at it.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


# The names ``atomic_path`` gives its temporary files: ".STEM.XXXXXXXX.tmp.SUFFIX".
TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[^.]+)?$")


def remove_stale_temps(*folders: str | os.PathLike) -> list[Path]:
    """Delete temporary files that a killed writer left in ``folders`` (recursively).

    A SIGKILL gives ``atomic_path`` no chance to clean up: the target is intact (old or
    new), but its ``.NAME.XXXXXXXX.tmp.SUFFIX`` sibling stays. Call this only when no other
    writer is running in those folders (DVC runs one stage at a time and locks the repo).
    """
    removed = []
    for folder in map(Path, folders):
        if folder.is_dir():
            for path in folder.rglob(".*.tmp*"):
                if path.is_file() and TEMP_NAME.match(path.name):
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed


class Terminated(SystemExit):
    """Raised in the main thread when the process gets SIGTERM or SIGHUP."""


@contextlib.contextmanager
def signals_as_exit() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception while the block runs.

    By default these signals end Python at once, without running ``finally`` blocks or
    context managers, so temporary files and kernel processes would be left behind. As an
    exception (a ``SystemExit`` with the shell's exit code 128 + signal number) they unwind
    normally: temporary files are removed and papermill shuts its kernel down. SIGINT
    already raises ``KeyboardInterrupt``. SIGKILL cannot be caught; ``remove_stale_temps``
    cleans up after it on the next run.
    """
    def handler(signum, frame):
        raise Terminated(128 + signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: leave the default behaviour
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """``open`` for writing that only replaces ``path`` once the block finished."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` as indented JSON (keys in the given order) to ``path`` atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def sha256_file(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_json(path: str | os.PathLike) -> dict | None:
    """A JSON file written by ``write_json``, or None if it does not exist."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
