"""What each dataset is called and what its images show, in the words a reader sees.

Next to the class names of ``core/dataset.py`` (kept apart from it: that file's bytes are
part of the loss sweep's cache key, so a change of wording there would train every run
again). Every sentence of a report that names what the images show takes its nouns from
here, never a hard-coded "digit" (the sentences themselves are templates: this file holds
labels and nouns, ``core/templates/not_judged.md.j2`` the line that replaces a verdict on
another dataset); a test checks that every dataset of ``DATASETS`` has its
words.
"""

from __future__ import annotations

import dataclasses

from pipeline.core import prose

NOT_JUDGED = "not judged (other dataset)"  # the verdict of a claim made on another dataset, as readers see it
VERDICT_LABEL = {"other dataset": NOT_JUDGED}  # a stored verdict as readers see it, where the two differ


@dataclasses.dataclass(frozen=True)
class DatasetWords:
    """How reports speak about one dataset."""

    name: str  # as readers know it: "MNIST", "Fashion-MNIST"
    item: str  # what one image shows: "digit", "clothing item"
    items: str  # plural
    medium: str  # where the images come from: "handwriting", "photographs"
    variation: str  # how images of one class differ (a clause that starts a sentence)
    look_alike: str  # classes that are easily confused, in the class names' words
    foreground: str  # what the non-zero pixels are: "the ink", "the item"
    brightest: str  # what a pixel of 255 is: "full ink", "brightest part of the item"
    predict_applies: bool  # `python -m pipeline predict` prepares images the way this dataset was made

    @property
    def heading(self) -> str:
        """The dataset as a first screen names it: ``Fashion-MNIST (clothing items, photographs)``."""
        return f"{self.name} ({self.items}, {self.medium})"


WORDS: dict[str, DatasetWords] = {
    "mnist": DatasetWords(
        name="MNIST", item="digit", items="digits", medium="handwriting",
        variation="Handwriting varies in slant, thickness and style within a class",
        look_alike="4 and 9, 3 and 5, 7 and 1",
        foreground="the ink", brightest="full ink",
        predict_applies=True,
    ),
    "fashion_mnist": DatasetWords(
        name="Fashion-MNIST", item="clothing item", items="clothing items", medium="photographs",
        variation="The photographs vary in cut, pattern and shading within a class",
        look_alike="shirt, T-shirt/top, pullover and coat; sandal, sneaker and ankle boot",
        foreground="the item", brightest="brightest part of the item",
        predict_applies=False,
    ),
}


def words(dataset: str) -> DatasetWords:
    """The words of ``dataset`` (a key of ``core.dataset.DATASETS``)."""
    try:
        return WORDS[dataset]
    except KeyError:
        raise KeyError(f"no words for dataset {dataset!r}; known: {', '.join(WORDS)}") from None


def not_judged(source: str, numbers: list[float], claimed_on: str, run_on: str) -> str:
    """The one line that replaces a verdict when a claim was made on another dataset:
    ``R1's 0.9781 was measured on MNIST; these reports are on Fashion-MNIST, so it is not judged``
    (words: ``core/templates/not_judged.md.j2``)."""
    return _not_judged(source, list(numbers), claimed_on, run_on)


def not_judged_all(source: str, claimed_on: str, run_on: str) -> str:
    """The same line for a table of claims (the loss sweep's): they are neither judged nor shown."""
    return _not_judged(source, None, claimed_on, run_on)


def _not_judged(source: str, numbers: list[float] | None, claimed_on: str, run_on: str) -> str:
    return prose.render(prose.TEMPLATES, "not_judged.md.j2", source=source, numbers=numbers,
                        claimed_on=words(claimed_on), run_on=words(run_on))
