"""``shared_figures``: figures carry alt text that says what they show, whole epochs, one column."""

from __future__ import annotations

import base64
import io

import IPython.display
import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from pipeline.core import shared_figures


def _history(epochs: int, seeds: int = 2):
    rng = np.random.default_rng(0)
    keys = ("accuracy", "val_accuracy", "loss", "val_loss")
    return [{k: list(rng.random(epochs)) for k in keys} for _ in range(seeds)]


@pytest.fixture()
def shown(monkeypatch):
    calls = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **kw: calls.append((a, kw)))
    return calls


def test_show_displays_the_png_with_its_alt_text_and_closes_the_figure(shown):
    shared_figures.setup()
    fig = shared_figures.training_curves(_history(3), [0, 1], "validation")
    shared_figures.show(fig)
    (bundle,), kw = shown[0]
    alt = kw["metadata"]["image/png"]["alt"]
    assert alt == bundle["text/plain"] and "accuracy and loss per epoch over 3 epoch(s)" in alt and "seeds 0, 1" in alt
    png = Image.open(io.BytesIO(base64.b64decode(bundle["image/png"])))
    assert png.width <= 700, png.size  # one column: a phone shrinks it by about half, not by three quarters
    assert not plt.fignum_exists(fig.number)


def test_a_figure_without_alt_text_is_refused(shown):
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="alternative text"):
        shared_figures.show(fig)
    assert shown == [] and not plt.fignum_exists(fig.number)


def test_an_explicit_alt_text_wins(shown):
    fig = shared_figures.described(plt.figure(), "old")
    shared_figures.show(fig, alt="  a   new\ntext ")
    assert shown[0][1]["metadata"]["image/png"]["alt"] == "a new text"


@pytest.mark.parametrize("epochs", [1, 5, 40])
def test_epochs_are_ticked_as_whole_numbers(epochs):
    fig = shared_figures.training_curves(_history(epochs), [0, 1], "validation")
    ticks = [t for t in fig.axes[-1].get_xticks() if 0 <= t <= epochs + 1]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    if epochs == 1:
        assert ticks == [1]
    plt.close(fig)


def test_confusion_alt_names_the_most_frequent_error():
    counts = np.diag([50, 40, 30])
    counts[2, 0] = 7
    fig = shared_figures.confusion_heatmap(counts, ["a", "b", "c"], "test set")
    alt = getattr(fig, shared_figures.ALT)
    assert "most frequent error is true c predicted as a (7 times)" in alt
    plt.close(fig)


def _full_colour(fig) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=int), len(buffer.getvalue())


def test_an_opaque_figure_is_stored_with_a_palette_that_looks_the_same():
    shared_figures.setup()
    fig, ax = plt.subplots()
    values = np.linspace(-0.3, 0.3, 40).reshape(8, 5)
    import seaborn as sns

    sns.heatmap(values, cmap="RdBu", center=0, annot=True, ax=ax)
    ax.set_title("a diverging scale with annotated cells")
    full, full_bytes = _full_colour(fig)
    data = shared_figures.png(fig)
    plt.close(fig)
    small = Image.open(io.BytesIO(data))
    assert small.mode == "P" and len(data) < full_bytes / 1.5
    diff = np.abs(np.asarray(small.convert("RGB"), dtype=int) - full)
    assert diff.mean() < 1.0, diff.mean()  # less than one grey level on average
    near_white = (full.min(axis=2) > 240).mean()  # the pale cells near 0 are not flattened into the page
    assert abs((np.asarray(small.convert("RGB")).min(axis=2) > 240).mean() - near_white) < 0.01


def test_a_figure_with_transparent_pixels_keeps_its_colours():
    fig, ax = plt.subplots()
    fig.patch.set_alpha(0.0)
    ax.plot([0, 1], [0, 1])
    image = Image.open(io.BytesIO(shared_figures.png(fig)))
    plt.close(fig)
    assert image.mode == "RGBA" and image.getchannel("A").getextrema()[0] < 255
