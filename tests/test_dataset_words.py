"""The words reports use for each dataset: one entry per dataset, and the one-line refusal
of a claim made on another dataset."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from pipeline.core import dataset_words
from pipeline.core.dataset import DATASETS
from pipeline.core.params import load_params
from pipeline.core.params.schema import Claim, DatasetName
from tests.conftest import REPO


def test_every_dataset_has_its_words_and_every_claim_dataset_is_known():
    assert set(dataset_words.WORDS) == set(DATASETS)
    assert set(typing.get_args(DatasetName)) == set(DATASETS)
    for name, w in dataset_words.WORDS.items():
        assert w.name.replace("-", "") in DATASETS[name].title.replace("-", ""), name  # the title names it too
        assert all(getattr(w, f) for f in ("name", "item", "items", "medium", "variation", "look_alike"))


def test_fashion_mnist_words_never_speak_of_digits_or_handwriting():
    w = dataset_words.words("fashion_mnist")
    text = " ".join(str(v) for v in vars(w).values()).lower()
    assert "digit" not in text and "handwrit" not in text
    assert not w.predict_applies and dataset_words.words("mnist").predict_applies
    assert w.heading == "Fashion-MNIST (clothing items, photographs)"


def test_an_unknown_dataset_is_named_with_the_known_ones():
    with pytest.raises(KeyError, match="'cifar10'.*mnist, fashion_mnist"):
        dataset_words.words("cifar10")


def test_the_not_judged_line_names_both_datasets():
    assert dataset_words.not_judged("R1", [0.9781], "mnist", "fashion_mnist") == (
        "R1's 0.9781 was measured on MNIST; these reports are on Fashion-MNIST, so it is not judged")
    assert dataset_words.not_judged("R4a", [0.91, 35.08], "mnist", "fashion_mnist").startswith(
        "R4a's 0.91 and 35.08 were measured on MNIST;")
    assert dataset_words.not_judged_all("R4", "mnist", "fashion_mnist").endswith(
        "so they are not judged or shown beside ours")


def test_a_claim_records_its_dataset_mnist_by_default_and_only_a_known_one():
    assert Claim(accuracy=0.9).dataset == "mnist"
    assert Claim(accuracy=0.9, dataset="fashion_mnist").dataset == "fashion_mnist"
    with pytest.raises(ValidationError):
        Claim(accuracy=0.9, dataset="cifar10")
    params = load_params(REPO / "params.yaml")
    assert {cfg.claimed.dataset for cfg in params.models.values()} == {"mnist"}
    assert params.sweep.claimed_dataset == "mnist"

