"""pipeline/model_report/model_figures.py: the model report's figures say what a reader sees."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from pipeline.model_report import model_figures


def test_probabilities_are_percentages_and_sigmoid_outputs_are_scores():
    assert model_figures.output_label(np.array([0.02, 0.97, 0.01])) == "97%"
    # sigmoid units: each in [0, 1] on its own, summing to 2.3 here: no "100 %"
    assert model_figures.output_label(np.array([0.999, 0.998, 0.3])) == "score 1.00"
    assert model_figures.output_label(np.array([0.2, 0.1, 0.05])) == "score 0.20"


def test_a_gallery_of_sigmoid_outputs_is_titled_with_scores(small):
    images, labels = small.x_test[:4], small.y_test[:4]
    outputs = np.full((4, small.num_classes), 0.9)
    outputs[np.arange(4), labels] = 0.999  # every unit near 1, the true one highest
    fig = model_figures.prediction_gallery(images, labels, outputs, small.class_names, "sigmoid outputs")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    plt.close(fig)
    assert len(titles) == 4 and all("score 1.00" in t and "%" not in t for t in titles), titles
