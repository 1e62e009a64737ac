"""Classify a user's own digit images with a trained model, preprocessed the way MNIST was made.

MNIST's digits were size-normalised to fit a 20×20 box (keeping their aspect ratio) and
then centred by centre of mass in a 28×28 image, white ink on black. ``to_mnist`` does the
same to any photo or drawing: grayscale, invert if the background is light, crop to the
digit, fit into 20×20, centre by centre of mass, scale to [0, 1].

The digit is the largest connected group of ink pixels (8-connectivity) together with the
smaller groups that overlap or nearly touch its box (within ``NEAR`` of its larger side:
the detached bar of a 5 or 7, a gap in a pencil stroke); groups farther away (specks of
dust, a mark at the edge of a photo) are dropped, so they neither widen the crop nor move
the centre of mass. An image with one group of ink is cropped exactly as before.

Photos: the paper's level is the median of the whole image (not of its edges, which may show a
dark table), and uneven light is levelled by subtracting a smooth (quadratic) surface fitted
to the paper alone (``_background``). Ink that touches the image's edge and lies (almost) all
within ``EDGE_MARGIN`` of it (a table, a scanner's lid), or touches it while the middle holds
more ink than it, is background (``_drop_edge_ink``); when nothing else remains the image is
refused. A digit cropped to its own edges reaches into the middle and is kept.

Files are read by ``pipeline.modeling.image_files`` (untrusted input: bounded, allow-listed
formats, refused with a message naming the file). Models are checked (a .keras file, a zip
archive with a config.json) before Keras is imported and then load with Keras ``safe_mode``
(no arbitrary code from Lambda layers).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from pipeline.modeling.image_files import PredictError, read_image, regular_file

__all__ = ["PredictError", "read_image", "to_mnist", "prepare_file", "draw_digit", "check_model_file", "load_model",
           "predict"]

INK_THRESHOLD = 0.2  # fraction of full ink that counts as part of the digit for the bounding box
NEAR = 0.1  # ink groups within this fraction of the digit's larger side of its box belong to it
EDGE_MARGIN = 0.2  # ink touching the edge with EDGE_SHARE of it within this fraction of the sides is a border
EDGE_SHARE = 0.9
BOX = 20
SIZE = 28


# --------------------------------------------------------------------------- MNIST-style digits


def _digit_box(a: np.ndarray) -> tuple[tuple[int, int], tuple[int, int], np.ndarray]:
    """The box (rows, cols, end exclusive) of the digit in ``a`` (ink in [0, 1] on 0), and
    ``a`` with the ink of dropped groups set to 0.

    The digit is the largest group of connected ink pixels (above ``INK_THRESHOLD``,
    8-connectivity; largest by total ink) and every other group whose box overlaps the
    digit's box grown by ``NEAR`` of its larger side. Other groups are dropped.
    """
    labels, n = ndimage.label(a > INK_THRESHOLD, structure=np.ones((3, 3), dtype=bool))
    boxes = ndimage.find_objects(labels)
    if n == 1:
        rows, cols = boxes[0]
        return (rows.start, rows.stop), (cols.start, cols.stop), a
    mass = ndimage.sum_labels(a, labels, index=np.arange(1, n + 1))
    main = boxes[int(np.argmax(mass))]
    margin = NEAR * max(main[0].stop - main[0].start, main[1].stop - main[1].start)
    lo_r, hi_r = main[0].start - margin, main[0].stop + margin
    lo_c, hi_c = main[1].start - margin, main[1].stop + margin
    kept = [k for k, (rows, cols) in enumerate(boxes, start=1)
            if rows.start < hi_r and rows.stop > lo_r and cols.start < hi_c and cols.stop > lo_c]
    r0 = min(boxes[k - 1][0].start for k in kept)
    r1 = max(boxes[k - 1][0].stop for k in kept)
    c0 = min(boxes[k - 1][1].start for k in kept)
    c1 = max(boxes[k - 1][1].stop for k in kept)
    if len(kept) < n:
        a = a.copy()
        a[(labels > 0) & ~np.isin(labels, kept)] = 0.0
    return (r0, r1), (c0, c1), a


def _background(a: np.ndarray) -> np.ndarray:
    """The paper's level under ``a`` (ink bright on dark paper): a quadratic surface fitted to
    the paper alone, on at most 64×64 sampled pixels; ink, borders and shadows brighter than the
    paper by more than 3 robust standard deviations are left out of the fit, three times over.
    Uniform paper gives exactly its level."""
    h, w = a.shape
    step = max(1, max(h, w) // 64)
    yy, xx = np.mgrid[0:h:step, 0:w:step]
    y, x, v = yy.ravel() / h, xx.ravel() / w, a[::step, ::step].ravel()
    terms = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    paper = v <= np.median(v)
    for _ in range(4):
        coef = np.linalg.lstsq(terms[paper], v[paper], rcond=None)[0]
        resid = v - terms @ coef
        spread = 1.4826 * np.median(np.abs(resid[paper] - np.median(resid[paper])))
        paper = resid <= 3 * spread + 0.01
    y, x = (np.arange(h) / h)[:, None], (np.arange(w) / w)[None, :]  # broadcast: one h×w array
    return coef[0] + coef[1] * x + coef[2] * y + coef[3] * x * x + coef[4] * x * y + coef[5] * y * y


def _drop_edge_ink(a: np.ndarray) -> np.ndarray:
    """``a`` (ink in [0, 1]) without the ink groups that touch its edge and have ``EDGE_SHARE``
    of their ink within ``EDGE_MARGIN`` of the sides, or that touch it while the groups inside
    hold more ink than they do."""
    labels, n = ndimage.label(a > INK_THRESHOLD, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return a
    sides = (labels[0], labels[-1], labels[:, 0], labels[:, -1])
    touching = np.unique(np.concatenate(sides))
    touching = touching[touching > 0]
    if touching.size == 0:
        return a
    h, w = a.shape
    rows, cols = np.arange(h), np.arange(w)
    near = (np.minimum(rows, h - 1 - rows) < EDGE_MARGIN * h)[:, None] | \
        (np.minimum(cols, w - 1 - cols) < EDGE_MARGIN * w)[None, :]
    index = np.arange(n + 1)
    mass = ndimage.sum_labels(a, labels, index=index)
    near_mass = ndimage.sum_labels(a * near, labels, index=index)
    inside = mass[np.setdiff1d(index[1:], touching)].sum()
    drop = [k for k in touching if inside > mass[k] or near_mass[k] >= EDGE_SHARE * mass[k]]
    if not drop:
        return a
    a = a.copy()
    a[np.isin(labels, drop)] = 0.0
    return a


def to_mnist(gray: np.ndarray) -> np.ndarray:
    """A grayscale image in [0, 1] (any size) → a 28×28 float32 MNIST-style digit in [0, 1]."""
    a = np.asarray(gray, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise PredictError(f"expected a 2-D grayscale image, got shape {a.shape}")
    if np.median(a) > 0.5:  # light paper: make it ink-on-black like MNIST
        a = 1.0 - a
    a = np.clip(a - _background(a), 0, None)  # paper to 0, however unevenly lit
    peak = a.max()
    if peak <= 0.05:
        raise PredictError("no digit found: the image is blank (no pixel differs from the background)")
    a = _drop_edge_ink(a / peak)
    if a.max() <= INK_THRESHOLD:
        raise PredictError("no digit found: all the ink touches the image's edge (a table or a scanner's "
                           "border?); crop the photo to the digit")
    a = a / a.max()
    (r0, r1), (c0, c1), a = _digit_box(a)
    crop = a[r0:r1, c0:c1]
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


def check_model_file(path: str | os.PathLike) -> Path:
    """Refuse what cannot be a ``.keras`` model, without importing Keras (or TensorFlow)."""
    path = regular_file(Path(path), "a .keras model file", missing="no such model file")
    if path.suffix != ".keras":
        raise PredictError(f"{path}: expected a .keras model file (Keras 3 format)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise PredictError(f"{path}: not a Keras model archive (.keras files are zip archives)") from None
    except OSError as err:
        raise PredictError(f"{path}: cannot be read ({err.strerror or err})") from None
    if "config.json" not in names:
        raise PredictError(f"{path}: not a Keras model archive (a zip archive without config.json)")
    return path


def load_model(path: str | os.PathLike):
    """Load a ``.keras`` model with ``safe_mode=True``; refuse anything else with a message."""
    path = check_model_file(path)
    import keras

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
