"""Property: ``prepare_file`` on any bytes gives a 28×28 image in [0, 1] or a PredictError
naming the file, never another exception, and quickly.

Inputs: random bytes, real PNG/JPEG/GIF/BMP/TIFF/WebP files (made with Pillow, in every
common mode) cut short or with bytes flipped, and PNG headers that claim huge sizes.
"""

from __future__ import annotations

import io
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings, strategies as st
from PIL import Image

from pipeline.modeling import predict

MODES = ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I", "F", "CMYK"]
# what each format can store (Pillow converts nothing on save)
SAVES = {"PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}, "TIFF": {"1", "L", "LA", "P", "RGB", "RGBA",
         "I;16", "I", "F", "CMYK"}, "JPEG": {"L", "RGB", "CMYK"}, "GIF": {"L", "P"}, "BMP": {"1", "L", "P", "RGB"},
         "WEBP": {"RGB", "RGBA"}}
PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _image(mode: str, w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = predict.draw_digit("7", size=max(w, h), dark_background=bool(seed % 2)).resize((w, h))
    noise = rng.integers(0, 40, (h, w), dtype=np.uint8)
    base = Image.fromarray(np.clip(np.asarray(img, np.int16) - noise, 0, 255).astype(np.uint8))
    if mode == "PA":
        return base.convert("P").convert("PA")
    if mode in ("I;16", "I", "F"):
        scale = {"I;16": 257, "I": 1000, "F": 1 / 255}[mode]
        dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
        img = Image.fromarray((np.asarray(base, np.float64) * scale).astype(dtype))
        assert img.mode == mode
        return img
    return base.convert(mode)


@st.composite
def image_files(draw) -> bytes:
    mode = draw(st.sampled_from(MODES))
    fmt = draw(st.sampled_from([f for f, modes in SAVES.items() if mode in modes] or ["TIFF"]))
    w, h = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    buf = io.BytesIO()
    _image(mode, w, h, draw(st.integers(0, 2**16))).save(buf, format=fmt)
    data = buf.getvalue()
    damage = draw(st.sampled_from(["none", "cut", "flip"]))
    if damage == "cut":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif damage == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    return data


def _png_header(width: int, height: int, bit_depth: int, colour: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


huge_pngs = st.builds(_png_header, st.integers(1, 100_000), st.integers(1, 100_000),
                      st.sampled_from([1, 8, 16]), st.sampled_from([0, 2, 3, 4, 6]))
inputs = st.one_of(st.binary(max_size=2048), image_files(), huge_pngs,
                   st.builds(lambda n: _png_header(100_000, 100_000, 8, 0)[:n], st.integers(0, 80)))


@PROPERTY
@given(data=inputs)
def test_prepare_file_gives_an_mnist_image_or_a_predict_error(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.img"
        path.write_bytes(data)
        try:
            x = predict.prepare_file(path)
        except predict.PredictError as err:
            assert str(err).startswith(f"{path}: "), str(err)
            event(f"refused: {str(err)[len(str(path)) + 2:].split(' (')[0][:40]}")
            return
        event("read")
        assert x.shape == (28, 28) and x.dtype == np.float32
        assert np.isfinite(x).all() and 0.0 <= x.min() and x.max() <= 1.0


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(mode=st.sampled_from(MODES), w=st.integers(24, 64), h=st.integers(24, 64), seed=st.integers(0, 2**16))
def test_undamaged_images_in_every_mode_are_read(mode, w, h, seed):
    """Every mode saved losslessly (TIFF stores all of them) is a digit, not an error."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "digit.tiff"
        _image(mode, w, h, seed).save(path, format="TIFF")
        x = predict.prepare_file(path)
        assert x.shape == (28, 28) and 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.5
