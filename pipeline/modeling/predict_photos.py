"""Photos of real digits as users take them, for trying ``predict`` on realistic input.

Each photo is made from a real 28×28 digit (e.g. an MNIST test image), upscaled and printed
as dark ink onto paper, then photographed the way a phone or scanner does it:

- ``uneven light``: a strong lighting gradient across the paper, sensor noise, a warm tint;
- ``rotated (EXIF)``: the same, stored sideways or upside down with the EXIF orientation that
  tells viewers (and ``predict.read_image``) how to turn it upright, as phones save photos;
- ``small in a corner``: the digit takes an eighth of the picture, near one of its corners;
- ``dark border``: the ``uneven light`` photo of the same digit with a dark table or
  scanner lid along two adjacent edges (its twin without the border is ``uneven light``).

Photos are saved as JPEG files (what phones write); ``photo_set`` writes a set of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

KINDS = ("uneven light", "rotated (EXIF)", "small in a corner", "dark border")
SIDE = 240  # pixels of a photo's shorter side
ORIENTATION_TAG = 0x0112  # EXIF "Orientation"
# How the stored pixels are turned from upright so that EXIF ``orientation`` turns them back
# (ImageOps.exif_transpose applies the inverse of each).
_STORED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


@dataclass(frozen=True)
class Photo:
    path: Path
    label: int  # the digit's true class
    kind: str  # one of KINDS
    twin: Path | None = None  # for a ``dark border`` photo: the same photo without the border


def _paper(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Paper under uneven light: brightness from 0.5 to 0.95 along a random direction, noise."""
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
    return 0.5 + 0.45 * ramp + rng.normal(0, 0.015, (h, w))


def _ink(digit: np.ndarray, side: int) -> np.ndarray:
    """A 28×28 digit (0–255 or [0, 1], white on black) upscaled to side×side ink in [0, 1]."""
    d = np.asarray(digit, dtype=np.float64)
    d = d / 255.0 if d.max() > 1 else d
    img = Image.fromarray((d * 255).astype(np.uint8)).resize((side, side), Image.BICUBIC)
    return np.asarray(img, dtype=np.float64) / 255.0


def print_on_paper(digit: np.ndarray, rng: np.random.Generator, *, size: tuple[int, int] = (SIDE, SIDE),
                   side: int | None = None, at: tuple[int, int] | None = None) -> np.ndarray:
    """Gray photo in [0, 1] (h×w) of ``digit`` printed in ``side`` pixels at ``at`` (top, left;
    default: about the middle) on paper under uneven light."""
    h, w = size
    side = side or int(0.6 * min(h, w))
    top, left = at if at is not None else (int(rng.integers((h - side) // 3, 2 * (h - side) // 3 + 1)),
                                           int(rng.integers((w - side) // 3, 2 * (w - side) // 3 + 1)))
    ink = np.zeros((h, w))
    ink[top:top + side, left:left + side] = _ink(digit, side)
    return np.clip(_paper(h, w, rng) * (1 - 0.85 * ink), 0, 1)


def add_dark_border(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A dark table or scanner lid along two adjacent edges (8–16 % of the side each)."""
    out = gray.copy()
    h, w = out.shape
    rows = int(rng.uniform(0.08, 0.16) * h)
    cols = int(rng.uniform(0.08, 0.16) * w)
    dark = np.clip(0.12 + rng.normal(0, 0.03, out.shape), 0, 1)
    row_side = slice(0, rows) if rng.integers(2) else slice(h - rows, h)
    col_side = slice(0, cols) if rng.integers(2) else slice(w - cols, w)
    out[row_side, :] = dark[row_side, :]
    out[:, col_side] = dark[:, col_side]
    return out


def save_photo(gray: np.ndarray, path: str | os.PathLike, *, orientation: int = 1) -> Path:
    """Save a gray photo (upright) as a warm-tinted RGB JPEG; with ``orientation`` 3, 6 or 8 the
    pixels are stored turned and the EXIF orientation says how to turn them upright."""
    rgb = np.stack([gray, gray * 0.97, gray * 0.9], axis=-1)
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8), mode="RGB")
    exif = Image.Exif()
    if orientation != 1:
        img = img.transpose(_STORED[orientation])
        exif[ORIENTATION_TAG] = orientation
    path = Path(path)
    img.save(path, format="JPEG", quality=90, exif=exif.tobytes())
    return path


def photo_set(digits: np.ndarray, labels: np.ndarray, folder: str | os.PathLike, *, seed: int = 0) -> list[Photo]:
    """Photos of each digit in ``digits`` (28×28), in every kind of ``KINDS``, written to
    ``folder`` as JPEG files: ``4 × len(digits)`` photos, in the order of ``KINDS`` per digit."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = []
    for i, (digit, label) in enumerate(zip(digits, labels)):
        label = int(label)
        plain = print_on_paper(digit, rng)
        twin = save_photo(plain, folder / f"{i:02d}_light_{label}.jpg")
        turned = print_on_paper(digit, rng, size=(SIDE, SIDE * 4 // 3))
        orientation = int(rng.choice([3, 6, 8]))
        small = SIDE // 6
        corner = (int(rng.choice([small // 2, SIDE - 3 * small // 2])), int(rng.choice([small // 2, SIDE - 3 * small // 2])))
        photos += [
            Photo(twin, label, KINDS[0]),
            Photo(save_photo(turned, folder / f"{i:02d}_rotated_{label}.jpg", orientation=orientation), label, KINDS[1]),
            Photo(save_photo(print_on_paper(digit, rng, side=small, at=corner), folder / f"{i:02d}_corner_{label}.jpg"),
                  label, KINDS[2]),
            Photo(save_photo(add_dark_border(plain, rng), folder / f"{i:02d}_border_{label}.jpg"), label, KINDS[3], twin),
        ]
    return photos


def one_of_each(digits: np.ndarray, labels: np.ndarray, folder: str | os.PathLike, *, seed: int = 0) -> list[Photo]:
    """One photo of each kind in ``KINDS``, the k-th kind made from the k-th digit (at least
    ``len(KINDS)`` digits are needed)."""
    n = len(KINDS)
    if len(digits) < n:
        raise ValueError(f"one_of_each needs {n} digits, got {len(digits)}")
    photos = photo_set(digits[:n], labels[:n], folder, seed=seed)
    return [photos[k * n + k] for k in range(n)]
