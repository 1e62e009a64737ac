"""MNIST-style preprocessing of users' images (pipeline/modeling/predict.py: crop, levelling, edge ink),
drawn digits, and model files refused before Keras loads them. Reading files: test_image_files.py."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pipeline.modeling import image_files, predict

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


def test_scaled_digit_is_size_normalised(tmp_path):
    small = predict.prepare_file(_save(predict.draw_digit("7", size=60), tmp_path / "s.png"))
    large = predict.prepare_file(_save(predict.draw_digit("7", size=600), tmp_path / "b.png"))
    assert np.abs(small - large).mean() < 0.05


def test_blank_image_is_refused(tmp_path):
    path = _save(Image.new("L", (50, 50), 255), tmp_path / "blank.png")
    with pytest.raises(predict.PredictError, match="blank"):
        predict.prepare_file(path)


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
        a = np.clip((1.0 - gray) - np.median(image_files.border(1.0 - gray)), 0, None)
        a /= a.max()
        (r0, r1), (c0, c1), same = predict._digit_box(a)
        rows = np.flatnonzero((a > predict.INK_THRESHOLD).any(axis=1))
        cols = np.flatnonzero((a > predict.INK_THRESHOLD).any(axis=0))
        assert (r0, r1, c0, c1) == (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
        assert same is a


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
