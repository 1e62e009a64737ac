"""The order in which the reports tell their story, and which report is another's twin.

One place decides both, from params.yaml: the front page lists its report cards in this
order (``pipeline/site/index.py``) and every report links the one before and after it. The
order is the pipeline's: the data, each model configuration in the order of ``models``, the
classical comparison, the loss sweep per loss, the comparison of the losses.

A twin is the same source's configuration with the other validation protocol (``validation:
split``, our held-out numbers, and ``validation: test``, the source as published).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat

from pipeline.core import paths
from pipeline.core.params.schema import LOSS_LABEL, Params


@dataclasses.dataclass(frozen=True)
class Chapter:
    name: str  # the report's file name (paths.report_files)
    title: str


def entry_title(notebook_title: str, key: str) -> str:
    """The title of a run of one untitled entry: the notebook's, and the entry in words (a loss's
    label, else its key)."""
    return f"{notebook_title}: {LOSS_LABEL.get(key, key)}"


def _notebook_title(root: Path, stem: str) -> str:
    from pipeline.core.runner import notebook_title  # the runner imports this module

    notebook = paths.notebooks_dir(root) / f"{stem}.ipynb"
    return notebook_title(nbformat.read(notebook, as_version=4), stem) if notebook.is_file() else stem


def chapters(params: Params, root: Path) -> list[Chapter]:
    """Every report the pipeline makes from ``params``, in story order."""
    story = [Chapter(paths.EXPLORE_REPORT, _notebook_title(root, paths.EXPLORE_REPORT))]
    story += [Chapter(paths.model_report_name(key), cfg.title) for key, cfg in params.models.items()]
    story.append(Chapter(paths.CLASSICAL_REPORT, _notebook_title(root, paths.CLASSICAL_REPORT)))
    if params.sweep is not None:
        sweep_title = _notebook_title(root, paths.SWEEP_REPORT)
        story += [Chapter(paths.sweep_report_name(loss), entry_title(sweep_title, loss)) for loss in params.sweep.losses]
        story.append(Chapter(paths.COMPARISON_REPORT, _notebook_title(root, paths.COMPARISON_REPORT)))
    return story


def twin(params: Params, key: str) -> tuple[str, str] | None:
    """``(other key, its validation)`` for the configuration ``key``: the same source with the
    other protocol; None if the source has one configuration (or several of each)."""
    cfg = params.models[key]
    others = [(k, c) for k, c in params.models.items() if c.source == cfg.source and c.validation != cfg.validation]
    return (others[0][0], others[0][1].validation) if len(others) == 1 else None


@dataclasses.dataclass(frozen=True)
class Link:
    rel: str  # prev, next or twin
    label: str  # what the link says before the title
    title: str
    href: str  # relative to the reports' html folder


TWIN_LABEL = {"test": "As published (validated on the test set)", "split": "Held-out version (our validation split)"}


def links(name: str, params: Params, root: Path) -> list[Link]:
    """The previous and next report of ``name`` in story order, and its twin, if any."""
    story = chapters(params, root)
    names = [c.name for c in story]
    out: list[Link] = []
    if name in names:
        i = names.index(name)
        if i > 0:
            out.append(Link("prev", "Previous", story[i - 1].title, f"{story[i - 1].name}.html"))
        if i + 1 < len(story):
            out.append(Link("next", "Next", story[i + 1].title, f"{story[i + 1].name}.html"))
    for key in params.models:
        if paths.model_report_name(key) == name and (pair := twin(params, key)):
            other, validation = pair
            out.append(Link("twin", TWIN_LABEL.get(validation, validation), params.models[other].title,
                            f"{paths.model_report_name(other)}.html"))
    return out


def order(names: list[str], params: Params, root: Path) -> list[str]:
    """``names`` in story order; names the story does not know keep their order, at the end."""
    rank = {c.name: i for i, c in enumerate(chapters(params, root))}
    return sorted(names, key=lambda n: rank.get(n, len(rank)))
