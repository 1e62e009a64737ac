"""The numbers behind the exploration figures, on a real slice of MNIST."""

import matplotlib.pyplot as plt
import numpy as np

from pipeline.core import dataset, dataset_words, shared_figures
from pipeline.exploration import data_figures
from pipeline.exploration import summary as explore


def test_scale_maps_to_unit_interval(small):
    x = dataset.scale(small.x_train)
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0


def test_class_counts_sum_to_split_sizes(small):
    counts = explore.class_counts(small)
    assert counts["train"].sum() == len(small.y_train) and counts["test"].sum() == len(small.y_test)
    assert np.isclose(counts["train %"].sum(), 100.0)
    assert counts.loc[5, "train"] == int((small.y_train == 5).sum())


def test_first_indices_per_class_pick_the_right_labels(small):
    idx = explore.first_indices_per_class(small.y_train, 3, 10)
    assert idx.shape == (10, 3)
    for c in range(10):
        assert (small.y_train[idx[c]] == c).all()
        assert idx[c, 0] == np.flatnonzero(small.y_train == c)[0]


def test_first_indices_marks_missing_with_minus_one():
    idx = explore.first_indices_per_class(np.array([0, 0, 1], np.uint8), 2, 3)
    assert idx.tolist() == [[0, 1], [2, -1], [-1, -1]]


def test_class_means_are_in_unit_range_and_match_numpy(small):
    means = explore.class_means(small.x_train, small.y_train, 10)
    assert means.shape == (10, 28, 28) and 0 <= means.min() and means.max() <= 1
    np.testing.assert_allclose(means[3], small.x_train[small.y_train == 3].mean(axis=0) / 255)


def test_pixel_histogram_counts_every_pixel(small):
    hist = explore.pixel_histogram(small.x_train)
    assert hist.shape == (256,) and hist.sum() == small.x_train.size
    assert hist[0] == int((small.x_train == 0).sum())


def test_pixel_range_table(small):
    table = explore.pixel_range_table(small)
    assert table.loc["raw (uint8)", "max"] == 255 and table.loc["scaled (÷255)", "max"] == 1.0


def test_array_table_lists_the_four_arrays(small):
    table = explore.array_table(small)
    assert list(table.index) == ["x_train", "y_train", "x_test", "y_test"]
    assert table.loc["x_train", "shape"] == str(small.x_train.shape)


def test_pca_2d_shape_and_variance(small):
    coords, ratio = explore.pca_2d(small.x_train, 200)
    assert coords.shape == (200, 2)
    assert 0 < ratio[1] <= ratio[0] < 1


def test_every_figure_draws(small):
    shared_figures.setup()
    coords, ratio = explore.pca_2d(small.x_train, 100)
    figures = [
        data_figures.class_counts(explore.class_counts(small)),
        data_figures.sample_grid(small, per_class=3),
        data_figures.mean_images(small),
        data_figures.pixel_histogram(explore.pixel_histogram(small.x_train), dataset_words.words("mnist")),
        data_figures.pca_scatter(coords, small.y_train[:100], small.class_names, ratio),
    ]
    for fig in figures:
        assert fig.axes, "figure has no axes"
        plt.close(fig)


def test_the_paragraphs_that_name_what_the_images_show_take_the_datasets_words():
    from pipeline.core import dataset_words

    mnist, fashion = dataset_words.words("mnist"), dataset_words.words("fashion_mnist")
    assert explore.sample_grid_text(mnist) == (
        "The first training images of every class, one class per row. Handwriting varies in slant, thickness and "
        "style within a class; some digits of different classes look alike (4 and 9, 3 and 5, 7 and 1), which is "
        "where models will make their mistakes.")
    assert "clothing items of different classes look alike (shirt," in explore.sample_grid_text(fashion)
    assert "digit" not in explore.sample_grid_text(fashion).lower()


def test_the_histogram_paragraph_is_computed_from_the_counts_in_the_datasets_words():
    counts = np.zeros(256, dtype=np.int64)
    counts[0], counts[100], counts[255] = 700, 100, 200
    mnist, fashion = dataset_words.words("mnist"), dataset_words.words("fashion_mnist")
    text = explore.histogram_text(counts, mnist)
    assert text.startswith("70.0 % of the training pixels are background (0), 20.0 % lie near the top of the scale "
                           "(250 to 255) and 10.0 % in between (1 to 249).")
    assert "show the ink on a linear scale" in text
    assert "the item" in explore.histogram_text(counts, fashion) and "ink" not in explore.histogram_text(counts, fashion)
    for words in (mnist, fashion):
        assert words.brightest in explore.pixel_scale_text(words)
        assert f"where {words.foreground} of that class" in explore.class_means_text(words)
    assert "ink" not in explore.pixel_scale_text(fashion) + explore.class_means_text(fashion)


def test_the_facts_table_speaks_readers_words_and_keeps_the_metrics_keys(small):
    _, explained = explore.pca_2d(small.x_train, 2)
    facts = explore.summary(small, explained)
    shown = explore.reader_facts(facts, dataset_words.words(small.name).name)
    assert shown["dataset"] == "MNIST" and shown["training images"] == len(small.x_train)
    assert not any("_" in k or "per class" in k for k in shown), list(shown)
    assert "ink" not in " ".join(shown)  # a photograph has no ink: the words fit every dataset
    assert "ink_fraction" in facts and facts["dataset"] == "mnist"  # the metrics file is unchanged
