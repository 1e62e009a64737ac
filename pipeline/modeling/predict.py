"""Classify a user's own digit images with a trained model, preprocessed the way MNIST was made.

MNIST's digits were size-normalised to fit a 20×20 box (keeping their aspect ratio) and
then centred by centre of mass in a 28×28 image, white ink on black. ``to_mnist`` does the
same to any photo or drawing: grayscale, invert if the background is light, crop to the
digit's bounding box, fit into 20×20, centre by centre of mass, scale to [0, 1].

Input files are untrusted: size and pixel count are bounded before decoding, anything
Pillow cannot read is refused with a message, and models load with Keras ``safe_mode``
(no arbitrary code from Lambda layers).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError

from pipeline.core.errors import PipelineError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # above this a file is refused before it is decoded (decompression bombs)
INK_THRESHOLD = 0.2  # fraction of full ink that counts as part of the digit for the bounding box
BOX = 20
SIZE = 28


class PredictError(PipelineError, ValueError):
    """An image or model that cannot be used; the message says which and why."""


# --------------------------------------------------------------------------- images


def _to_gray_float(img: Image.Image) -> np.ndarray:
    """Any Pillow mode → 2-D float array in [0, 1], transparency composited onto white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or a.max() > 255 else 255.0
        return np.clip(a / top, 0, 1)
    if img.mode == "F":
        a = np.asarray(img, dtype=np.float64)
        return np.clip(a / (a.max() or 1.0), 0, 1)
    if img.mode in ("P", "PA", "LA", "RGBA", "La") or "transparency" in img.info:
        img = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img)
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as grayscale in [0, 1]; refuse what is not a usable image."""
    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise PredictError(f"{path}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise PredictError(f"{path}: {size / 2**20:.1f} MiB is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise PredictError(f"{path}: {w}×{h} = {w * h:,} pixels is more than the {MAX_PIXELS:,} "
                                   "allowed (possible decompression bomb); refused before decoding")
            if w < 1 or h < 1:
                raise PredictError(f"{path}: image has no pixels ({w}×{h})")
            img.load()
            return _to_gray_float(img)
    except UnidentifiedImageError:
        raise PredictError(f"{path}: not an image Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP…)") from None
    except Image.DecompressionBombError as err:
        raise PredictError(f"{path}: refused as a possible decompression bomb ({err})") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise PredictError(f"{path}: damaged or unsupported image ({type(err).__name__}: {err})") from None


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """A grayscale image in [0, 1] (any size) → a 28×28 float32 MNIST-style digit in [0, 1]."""
    a = np.asarray(gray, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise PredictError(f"expected a 2-D grayscale image, got shape {a.shape}")
    if np.median(_border(a)) > 0.5:  # light background: make it ink-on-black like MNIST
        a = 1.0 - a
    a = a - np.median(_border(a))  # background to 0
    a = np.clip(a, 0, None)
    peak = a.max()
    if peak <= 0.05:
        raise PredictError("no digit found: the image is blank (no pixel differs from the background)")
    a = a / peak
    rows = np.flatnonzero((a > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((a > INK_THRESHOLD).any(axis=0))
    crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    boxed = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.LANCZOS),
                       dtype=np.float64) / 255.0
    # centre of mass of the boxed digit goes to the centre of the 28×28 image
    total = boxed.sum()
    cy = (boxed.sum(axis=1) * np.arange(new_h)).sum() / total
    cx = (boxed.sum(axis=0) * np.arange(new_w)).sum() / total
    top = int(np.clip(round(SIZE / 2 - 0.5 - cy), 0, SIZE - new_h))
    left = int(np.clip(round(SIZE / 2 - 0.5 - cx), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = boxed
    return np.clip(out, 0, 1)


def prepare_file(path: str | os.PathLike) -> np.ndarray:
    """``read_image`` then ``to_mnist``; errors name the file."""
    try:
        return to_mnist(read_image(path))
    except PredictError as err:
        msg = str(err)
        raise PredictError(msg if msg.startswith(str(path)) else f"{path}: {msg}") from None


# --------------------------------------------------------------------------- drawn digits


_STROKES = {  # polylines on a 100×100 canvas, drawn with a thick pen
    "0": None,  # an ellipse, see draw_digit
    "1": [[(38, 28), (55, 15), (55, 88)]],
    "4": [[(62, 88), (62, 12), (18, 62), (80, 62)]],
    "7": [[(20, 16), (80, 16), (42, 90)]],
}


def draw_digit(digit: str, *, size: int = 200, pen: int = 18, dark_background: bool = False) -> Image.Image:
    """A digit drawn with strokes (not from MNIST), as a user might draw it in a paint program."""
    if digit not in _STROKES:
        raise ValueError(f"can draw {', '.join(_STROKES)}, not {digit!r}")
    ink, paper = (255, 0) if dark_background else (0, 255)
    img = Image.new("L", (size, size), paper)
    d = ImageDraw.Draw(img)
    s = size / 100
    if digit == "0":
        d.ellipse([30 * s, 12 * s, 72 * s, 88 * s], outline=ink, width=int(pen * s / 2))
    for line in _STROKES[digit] or []:
        d.line([(x * s, y * s) for x, y in line], fill=ink, width=int(pen * s / 2), joint="curve")
    return img


# --------------------------------------------------------------------------- models


def load_model(path: str | os.PathLike):
    """Load a ``.keras`` model with ``safe_mode=True``; refuse anything else with a message."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{path}: no such model file")
    if path.suffix != ".keras":
        raise PredictError(f"{path}: expected a .keras model file (Keras 3 format)")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except ValueError as err:
        if "safe_mode" in str(err) or "lambda" in str(err).lower():
            raise PredictError(f"{path}: refused by Keras safe_mode (the model contains code, e.g. a "
                               "Lambda layer, that would run on loading)") from None
        raise PredictError(f"{path}: not a loadable Keras model ({err})") from None
    except Exception as err:  # noqa: BLE001 - zip/h5/json errors all mean "not a model"
        raise PredictError(f"{path}: not a loadable Keras model ({type(err).__name__}: {err})") from None


def predict(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities for (N, 28, 28) images in [0, 1]."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[None]
    return np.asarray(model.predict(images, verbose=0))
