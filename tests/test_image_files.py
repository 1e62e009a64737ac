"""Reading a user's image file (pipeline/modeling/image_files.py): modes, formats, EXIF
orientation, transparency, and every refusal with its message (through ``predict.prepare_file``,
the path a user's file takes)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from pipeline.modeling import image_files, predict


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


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


def test_own_pixel_limit_keeps_its_message(tmp_path):
    """Above MAX_PIXELS (40 M) but below Pillow's own limit: refused by name, not as 'damaged'."""
    path = tmp_path / "big.png"
    path.write_bytes(_png_header_only(7000, 7000))
    with pytest.raises(predict.PredictError) as info:
        predict.prepare_file(path)
    assert str(info.value) == (f"{path}: 7000×7000 = 49,000,000 pixels is more than the 40,000,000 allowed "
                               "(possible decompression bomb); refused before decoding")


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(predict.PredictError, match=r"is a folder, not an image file"):
        predict.prepare_file(tmp_path)


def _eps(path):
    path.write_text("%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\nnewpath 4 4 moveto 24 24 lineto stroke\n"
                    "showpage\n%%EOF\n")
    return path


@pytest.mark.parametrize("kind", ["EPS", "ICO", "PCX", "TGA"])
def test_formats_outside_the_allowlist_are_refused_by_name(tmp_path, kind):
    path = tmp_path / f"digit.{kind.lower()}"
    if kind == "EPS":
        _eps(path)
    else:
        predict.draw_digit("7", size=64).convert("RGB").save(path, format=kind)
        with Image.open(path) as img:  # Pillow itself would read it
            assert img.format == kind
    with pytest.raises(predict.PredictError) as info:
        predict.prepare_file(path)
    assert str(info.value) == f"{path}: {kind} images are not accepted (accepted: PNG, JPEG, GIF, BMP, TIFF, WebP)"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"])
def test_allowed_formats_are_read(tmp_path, fmt):
    path = _save(predict.draw_digit("4").convert("RGB"), tmp_path / f"four.{fmt.lower()}", format=fmt)
    reference = predict.prepare_file(_save(predict.draw_digit("4"), tmp_path / "ref.png"))
    assert np.abs(predict.prepare_file(path) - reference).max() < (0.2 if fmt in ("JPEG", "WEBP") else 0.02)


def _oriented(img: Image.Image, orientation: int) -> Image.Image:
    """``img`` as a camera stores it: rotated so that the EXIF ``orientation`` undoes it."""
    return img.transpose({3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90,
                          8: Image.Transpose.ROTATE_270}[orientation])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(tmp_path, fmt, orientation):
    upright = predict.draw_digit("7").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    path = tmp_path / f"photo.{fmt.lower()}"
    _oriented(upright, orientation).save(path, format=fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))
    with Image.open(path) as img:  # the file really is stored sideways, with the tag
        assert img.getexif()[0x0112] == orientation
    reference = predict.prepare_file(_save(upright, tmp_path / "upright.png"))
    assert np.abs(predict.prepare_file(path) - reference).max() < 0.15
    # without the tag the stored picture is a different (rotated) digit: the test can fail
    _oriented(upright, orientation).save(tmp_path / "untagged.png")
    assert np.abs(predict.prepare_file(tmp_path / "untagged.png") - reference).max() > 0.5


def _on_transparent(ink_rgb: tuple[int, int, int], paper_rgb: tuple[int, int, int]) -> Image.Image:
    """The drawn 1 as ink of one colour on a transparent sheet (the sheet's hidden colour given)."""
    coverage = 255 - np.asarray(predict.draw_digit("1"))  # 255 where the ink is
    rgba = np.zeros((*coverage.shape, 4), np.uint8)
    rgba[..., :3] = paper_rgb
    rgba[coverage > 0, :3] = ink_rgb
    rgba[..., 3] = coverage
    return Image.fromarray(rgba, mode="RGBA")


@pytest.mark.parametrize("ink, paper", [((255, 255, 255), (0, 0, 0)), ((255, 255, 255), (255, 255, 255)),
                                        ((255, 250, 200), (0, 0, 0)), ((0, 0, 0), (0, 0, 0))])
def test_ink_on_a_transparent_sheet_is_the_digit(tmp_path, ink, paper):
    """White (or any one-colour) ink on transparency: the alpha channel is the ink."""
    x = predict.prepare_file(_save(_on_transparent(ink, paper), tmp_path / "t.png"))
    reference = predict.prepare_file(_save(predict.draw_digit("1"), tmp_path / "ref.png"))
    assert np.abs(x - reference).max() < 0.05


def test_opaque_picture_with_transparent_corners_uses_its_colours(tmp_path):
    """A screenshot of a digit on paper, with transparent rounded corners: not a filled box."""
    rgba = np.asarray(predict.draw_digit("7").convert("RGBA")).copy()
    rgba[:12, :12, 3] = 0
    rgba[:12, :12, :3] = 0
    x = predict.prepare_file(_save(Image.fromarray(rgba, mode="RGBA"), tmp_path / "corners.png"))
    reference = predict.prepare_file(_save(predict.draw_digit("7"), tmp_path / "ref.png"))
    assert np.abs(x - reference).max() < 0.05


def test_oversized_file_is_refused(tmp_path, monkeypatch):
    path = _save(predict.draw_digit("7"), tmp_path / "seven.png")
    monkeypatch.setattr(image_files, "MAX_FILE_BYTES", 100)
    with pytest.raises(predict.PredictError, match="larger than"):
        predict.prepare_file(path)
