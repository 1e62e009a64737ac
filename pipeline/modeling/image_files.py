"""Reading a user's image file: untrusted input, read as a grayscale array in [0, 1] or refused
with a message that names the file and the problem (``PredictError``).

Reading (``read_image``): the EXIF orientation is applied (phone photos come out upright),
the first frame of an animation is used, and an image with transparency is read in one of
two ways: its colours composited onto white paper, or, when that shows no digit (less
than ``ALPHA_INK_CONTRAST`` of contrast, e.g. white ink on a transparent sheet) or every
visible pixel has the same colour, its alpha channel as the ink.

Input files are untrusted: size and pixel count are bounded before decoding, only PNG,
JPEG, GIF, BMP, TIFF and WebP are decoded (others, such as EPS, which Pillow would hand to
Ghostscript, are refused by name), and anything Pillow cannot read is refused with a message
naming the file. ``pipeline.modeling.predict`` makes the array an MNIST-style digit.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.core.errors import PipelineError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000  # above this a file is refused before it is decoded (decompression bombs)
ALPHA_INK_CONTRAST = 0.2  # below this contrast on white paper, a transparent image's alpha is its ink
# Pillow's names of the formats that are decoded. Pillow's JPEG reader also opens "MPO", the
# JPEG that phones write with a second (depth or preview) picture in it.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP")
FORMATS_TEXT = "PNG, JPEG, GIF, BMP, TIFF, WebP"
# Formats Pillow does not identify (or not without a plugin), by their first bytes.
_SIGNATURES = ((b"%PDF", "PDF"), (b"<svg", "SVG"), (b"<?xml", "SVG/XML"), (b"%!PS", "EPS"),
               (b"\xc5\xd0\xd3\xc6", "EPS"), (b"8BPS", "PSD"))
_FTYP = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF"}


class PredictError(PipelineError, ValueError):
    """An image or model that cannot be used; the message says which and why."""


def border(a: np.ndarray) -> np.ndarray:
    """The outermost rows and columns of ``a``, as one array: where the paper shows."""
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def _contrast(a: np.ndarray) -> float:
    """How far the strongest pixel is from the background (the border's median), 0 to 1."""
    return float(np.abs(a - np.median(border(a))).max()) if a.size else 0.0


def _scaled(a: np.ndarray, top: float | None = None) -> np.ndarray:
    """A numeric array → [0, 1]: divided by ``top``, or min-max scaled when out of [0, 1]."""
    a = np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if top is not None:
        return np.clip(a / top, 0, 1)
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0 and hi <= 1:
        return a
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _to_gray_float(img: Image.Image) -> np.ndarray:
    """Any Pillow mode → 2-D float array in [0, 1].

    Transparency: the colours composited onto white paper, unless that leaves less than
    ``ALPHA_INK_CONTRAST`` of contrast while the alpha channel has more, or every visible
    pixel has the same colour: then the alpha channel is the ink (white ink on a
    transparent sheet would otherwise become a blank image).
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return _scaled(np.asarray(img), 65535.0)
    if img.mode == "I":
        a = np.asarray(img, dtype=np.float64)
        return _scaled(a, 65535.0 if a.max() > 255 else 255.0)
    if img.mode == "F":
        return _scaled(np.asarray(img))
    if not img.has_transparency_data:
        return np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    if img.mode in ("La", "RGBa"):  # premultiplied alpha
        img = img.convert(img.mode[:-1] + "A")
    rgba = img.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    on_white = np.asarray(Image.alpha_composite(white, rgba).convert("L"), dtype=np.float64) / 255.0
    visible = alpha > 0.5
    colours = np.asarray(rgba.convert("L"), dtype=np.float64)[visible] / 255.0
    one_colour = colours.size > 0 and float(colours.max() - colours.min()) <= 0.02
    if (one_colour or _contrast(on_white) < ALPHA_INK_CONTRAST) and _contrast(alpha) > _contrast(on_white):
        return alpha
    return on_white


def _format_name(path: Path) -> str | None:
    """The name of a file's format when it is none of ``FORMATS`` (read from its header)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    for magic, name in _SIGNATURES:
        if head.lstrip().startswith(magic):
            return name
    if head[4:8] == b"ftyp" and head[8:12] in _FTYP:
        return _FTYP[head[8:12]]
    try:  # identifies by header only; nothing is decoded
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                return img.format
    except Exception:  # noqa: BLE001 - an unknown file is reported as unknown
        return None


def regular_file(path: Path, what: str, missing: str = "no such file") -> Path:
    """``path`` when it is a regular file; else a ``PredictError`` saying what it is instead
    (``what``: the kind of file expected, e.g. "an image file")."""
    if path.is_dir():
        raise PredictError(f"{path}: is a folder, not {what}")
    if not path.exists():
        raise PredictError(f"{path}: {missing}")
    if not path.is_file():
        raise PredictError(f"{path}: not a regular file")
    return path


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as grayscale in [0, 1]; refuse what is not a usable image.

    Only ``FORMATS`` are decoded, the EXIF orientation is applied, the first frame of an
    animation is used; transparency as in ``_to_gray_float``.
    """
    path = regular_file(Path(path), "an image file")
    size = path.stat().st_size
    if size == 0:
        raise PredictError(f"{path}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise PredictError(f"{path}: {size / 2**20:.1f} MiB is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    try:
        # Pillow's own warnings (EXIF, palette transparency, its looser bomb limit) would only
        # add lines to the output: every refusal here is a PredictError with a message.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path, formats=FORMATS) as img:
                if img.format not in (*FORMATS, "MPO"):  # never expected: the readers are FORMATS'
                    raise PredictError(f"{path}: {img.format} images are not accepted (accepted: {FORMATS_TEXT})")
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise PredictError(f"{path}: {w}×{h} = {w * h:,} pixels is more than the {MAX_PIXELS:,} "
                                       "allowed (possible decompression bomb); refused before decoding")
                if w < 1 or h < 1:
                    raise PredictError(f"{path}: image has no pixels ({w}×{h})")
                img.load()
                try:
                    upright = ImageOps.exif_transpose(img)
                except Exception:  # noqa: BLE001 - a damaged EXIF block: use the picture as stored
                    upright = img
                return _to_gray_float(upright)
    except PredictError:
        raise
    except PermissionError as err:
        raise PredictError(f"{path}: cannot be read ({err.strerror})") from None
    except UnidentifiedImageError:
        name = _format_name(path)
        if name:
            raise PredictError(f"{path}: {name} images are not accepted (accepted: {FORMATS_TEXT})") from None
        raise PredictError(f"{path}: not an image in an accepted format ({FORMATS_TEXT})") from None
    except Image.DecompressionBombError as err:
        raise PredictError(f"{path}: refused as a possible decompression bomb ({err})") from None
    except MemoryError:
        raise PredictError(f"{path}: too large to decode in the available memory") from None
    except Exception as err:  # noqa: BLE001 - any failure of a decoder on an untrusted file
        raise PredictError(f"{path}: damaged or unsupported image ({type(err).__name__}: {err})") from None
