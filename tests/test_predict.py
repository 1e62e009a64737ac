"""MNIST-style preprocessing of users' images, and refusal of files that are not usable images."""

from __future__ import annotations

import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.modeling import predict

REPO = Path(__file__).resolve().parents[1]


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


def test_a_speck_far_from_the_digit_does_not_move_the_crop(tmp_path):
    clean = predict.draw_digit("7", size=200)
    speckled = clean.copy()
    speckled.paste(0, (192, 192, 198, 198))  # a 6×6 black speck in the bottom right corner
    x = predict.prepare_file(_save(speckled, tmp_path / "speck.png"))
    reference = predict.prepare_file(_save(clean, tmp_path / "clean.png"))
    assert np.abs(x - reference).max() < 1e-6
    # the speck is ink: the bounding box of every ink pixel (the old rule) reaches it
    ink = np.asarray(speckled) < 128
    assert np.flatnonzero(ink.any(axis=0))[-1] == 197 and np.flatnonzero(ink.any(axis=1))[-1] == 197


def test_a_detached_stroke_near_the_digit_is_kept(tmp_path):
    """A 7 whose bar does not touch its stem: both parts are the digit."""
    img = Image.new("L", (200, 200), 255)
    d = ImageDraw.Draw(img)
    d.line([(40, 30), (160, 30)], fill=0, width=18)  # the bar
    d.line([(150, 55), (84, 180)], fill=0, width=18)  # the stem, 16 px below the bar
    x = predict.prepare_file(_save(img, tmp_path / "seven.png"))
    rows = np.flatnonzero((x > 0.05).any(axis=1))
    assert rows[-1] - rows[0] + 1 >= 19  # bar and stem both inside the 20-pixel box
    top = np.flatnonzero(x[rows[0]:rows[0] + 2].max(axis=0) > 0.5)
    assert top[-1] - top[0] + 1 >= 14  # the top rows are the wide bar, not the tip of the stem


def test_ordinary_digits_are_cropped_as_by_the_bounding_box(tmp_path):
    """One group of ink: the crop is the bounding box of every ink pixel, as before."""
    for digit in "0147":
        gray = np.asarray(predict.draw_digit(digit), dtype=np.float64) / 255.0
        a = np.clip((1.0 - gray) - np.median(predict._border(1.0 - gray)), 0, None)
        a /= a.max()
        (r0, r1), (c0, c1), same = predict._digit_box(a)
        rows = np.flatnonzero((a > predict.INK_THRESHOLD).any(axis=1))
        cols = np.flatnonzero((a > predict.INK_THRESHOLD).any(axis=0))
        assert (r0, r1, c0, c1) == (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
        assert same is a


def test_oversized_file_is_refused(tmp_path, monkeypatch):
    path = _save(predict.draw_digit("7"), tmp_path / "seven.png")
    monkeypatch.setattr(predict, "MAX_FILE_BYTES", 100)
    with pytest.raises(predict.PredictError, match="larger than"):
        predict.prepare_file(path)


def test_not_a_model_is_refused(tmp_path):
    fake = tmp_path / "model.keras"
    fake.write_bytes(b"not a zip")
    with pytest.raises(predict.PredictError, match=r"model\.keras: not a Keras model archive \(\.keras files are zip"):
        predict.load_model(fake)
    h5 = tmp_path / "model.h5"
    h5.write_bytes(b"x")
    with pytest.raises(predict.PredictError, match=r"expected a \.keras"):
        predict.load_model(h5)
    with pytest.raises(predict.PredictError, match="no such model file"):
        predict.load_model(tmp_path / "missing.keras")
    folder = tmp_path / "folder.keras"
    folder.mkdir()
    with pytest.raises(predict.PredictError, match="is a folder"):
        predict.load_model(folder)
    other_zip = tmp_path / "other.keras"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "not a model")
    with pytest.raises(predict.PredictError, match="without config.json"):
        predict.load_model(other_zip)


def test_model_file_is_checked_without_importing_keras(tmp_path):
    """The checks before loading need neither Keras nor TensorFlow (6 s of start-up)."""
    fake = tmp_path / "x.keras"
    fake.write_text("hello")
    code = ("import sys; from pipeline.modeling import predict\n"
            "try:\n    predict.check_model_file(sys.argv[1])\n"
            "except predict.PredictError as e:\n    print(e)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow')))")
    proc = subprocess.run([sys.executable, "-c", code, str(fake)], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{fake}: not a Keras model archive (.keras files are zip archives)", "[]"]


def test_model_with_lambda_layer_is_refused_by_safe_mode(tmp_path):
    import keras

    inputs = keras.Input((28, 28))
    outputs = keras.layers.Lambda(lambda t: t * 2.0)(keras.layers.Flatten()(inputs))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(predict.PredictError, match="safe_mode"):
        predict.load_model(path)
