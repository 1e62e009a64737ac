"""MNIST-style preprocessing of users' images, and refusal of files that are not usable images."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pipeline.modeling import predict


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


@pytest.fixture()
def seven(tmp_path):
    return _save(predict.draw_digit("7"), tmp_path / "seven.png")


def test_drawn_digit_becomes_an_mnist_style_image(seven):
    x = predict.prepare_file(seven)
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    # light paper was inverted: background (corners) is 0, ink is high
    assert x[0, 0] == 0 and x[-1, -1] == 0
    # the digit fits in a 20×20 box: 4 empty pixels on at least two opposite sides
    rows = np.flatnonzero(x.max(axis=1) > 0.05)
    cols = np.flatnonzero(x.max(axis=0) > 0.05)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 <= 21
    # centre of mass near the image centre, as in MNIST
    cy = (x.sum(axis=1) * np.arange(28)).sum() / x.sum()
    cx = (x.sum(axis=0) * np.arange(28)).sum() / x.sum()
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def test_dark_and_light_paper_give_the_same_digit(tmp_path):
    light = predict.prepare_file(_save(predict.draw_digit("4"), tmp_path / "l.png"))
    dark = predict.prepare_file(_save(predict.draw_digit("4", dark_background=True), tmp_path / "d.png"))
    assert np.abs(light - dark).max() < 0.02


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA", "I;16"])
def test_image_modes_are_handled(tmp_path, mode):
    base = predict.draw_digit("1")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(base, dtype=np.uint16) * 257)
        assert img.mode == "I;16"
    elif mode == "RGBA":  # ink drawn on a transparent sheet: transparency counts as white paper
        a = np.asarray(base)
        rgba = np.zeros((*a.shape, 4), np.uint8)
        rgba[..., 3] = 255 - a  # opaque black where the ink is
        img = Image.fromarray(rgba, mode="RGBA")
    else:
        img = base.convert(mode)
    x = predict.prepare_file(_save(img, tmp_path / "img.png"))
    reference = predict.prepare_file(_save(base, tmp_path / "ref.png"))
    assert np.abs(x - reference).max() < 0.05


def test_scaled_digit_is_size_normalised(tmp_path):
    small = predict.prepare_file(_save(predict.draw_digit("7", size=60), tmp_path / "s.png"))
    large = predict.prepare_file(_save(predict.draw_digit("7", size=600), tmp_path / "b.png"))
    assert np.abs(small - large).mean() < 0.05


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image"),
])
def test_bad_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(predict.PredictError, match=message):
        predict.prepare_file(path)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(predict.PredictError, match="no such file"):
        predict.prepare_file(tmp_path / "nope.png")


def test_blank_image_is_refused(tmp_path):
    path = _save(Image.new("L", (50, 50), 255), tmp_path / "blank.png")
    with pytest.raises(predict.PredictError, match="blank"):
        predict.prepare_file(path)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width×height pixels but carries (almost) no data: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(60_000, 60_000))
    with pytest.raises(predict.PredictError, match="decompression bomb"):
        predict.prepare_file(path)


def test_oversized_file_is_refused(tmp_path, monkeypatch):
    path = _save(predict.draw_digit("7"), tmp_path / "seven.png")
    monkeypatch.setattr(predict, "MAX_FILE_BYTES", 100)
    with pytest.raises(predict.PredictError, match="larger than"):
        predict.prepare_file(path)


def test_not_a_model_is_refused(tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_bytes(b"not a zip")
    with pytest.raises(predict.PredictError, match="not a loadable Keras model"):
        predict.load_model(fake)
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"x")
    with pytest.raises(predict.PredictError, match=r"expected a \.keras"):
        predict.load_model(h5)


def test_model_with_lambda_layer_is_refused_by_safe_mode(tmp_path):
    import keras

    inputs = keras.Input((28, 28))
    outputs = keras.layers.Lambda(lambda t: t * 2.0)(keras.layers.Flatten()(inputs))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(predict.PredictError, match="safe_mode"):
        predict.load_model(path)
