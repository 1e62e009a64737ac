"""The loss sweep's paragraphs (notebooks 04 and 05), rendered from ``templates/*.md.j2`` with
the numbers of ``families`` and ``runs``: change the numbers, the words change. Markdown."""

from __future__ import annotations

from pathlib import Path

from pipeline.core import dataset_words, prose
from pipeline.core.params.schema import LOSS_LABEL, SweepParams
from pipeline.loss_sweep import claims, families, sweep_tables
from pipeline.loss_sweep.families import Family, LossComparison
from pipeline.loss_sweep.runs import SeedSplit

TEMPLATES = Path(__file__).resolve().parent / "templates"


def statement(family: Family) -> str:
    """The family, its size and its error control."""
    return prose.render(TEMPLATES, "statement.md.j2", family=family, power=families.POWER)


def identity(comparison: LossComparison) -> str:
    """What is exactly identical between the two losses' runs, counted, and what it means."""
    return prose.render(TEMPLATES, "identity.md.j2", identity=families.identity_counts(comparison.identity))


def baseline(family: Family, loss: str) -> str:
    """Family A of ``loss`` in one paragraph."""
    return prose.render(TEMPLATES, "baseline.md.j2", findings=families.baseline_findings(family, loss))


def conclusion(comparison: LossComparison | None, baseline_families: dict[str, Family],
               r4_verdicts: dict[str, list] | None = None) -> str:
    """Notebook 05's conclusion as a list: identity, families B and C, family A per loss, then
    R4's printed pairs judged per loss (``claims.judge``), counted."""
    return prose.render(
        TEMPLATES, "conclusion.md.j2",
        r4=[(LOSS_LABEL[loss], len(v), claims.counts(v)) for loss, v in (r4_verdicts or {}).items() if v],
        identity=families.identity_counts(comparison.identity) if comparison is not None else None,
        paired=families.paired_findings(comparison.paired) if comparison is not None else None,
        mcnemar=families.mcnemar_findings(comparison.mcnemar) if comparison is not None else None,
        baseline=[families.baseline_findings(f, loss) for loss, f in baseline_families.items()])


def split_policy(splits: list[SeedSplit]) -> str:
    """The split policy in one paragraph, from ``runs.seed_splits``."""
    return prose.render(TEMPLATES, "split_policy.md.j2", splits=splits,
                        shared=all(s.distinct == 1 for s in splits),
                        unshared=[s.seed for s in splits if s.distinct != 1],
                        differ=len({s.sha256 for s in splits}) == len(splits))


def r4_columns(sweep: SweepParams, dataset: str) -> str:
    """The columns of ``sweep_tables.r4_table`` on ``dataset``: where R4's numbers are, or why
    they are left out (R4 measured them on ``sweep.claimed_dataset``)."""
    same = sweep_tables.claims_apply(sweep, dataset)
    return prose.render(TEMPLATES, "r4_columns.md.j2", not_judged="" if same else dataset_words.not_judged_all(
        "R4", sweep.claimed_dataset, dataset))


def heading(sweep: SweepParams, loss: str) -> str:
    """The sweep report's heading: the loss, the variants, seeds and shared settings."""
    return prose.render(TEMPLATES, "heading.md.j2", sweep=sweep, loss_label=LOSS_LABEL[loss])


def single_loss(sweep: SweepParams) -> str:
    """What the comparison says when the sweep trained one loss only."""
    return prose.render(TEMPLATES, "single_loss.md.j2", loss_label=LOSS_LABEL[sweep.losses[0]])


def identical(comparison: LossComparison | None) -> bool:
    """Whether every pair of runs (same variant and seed, one per loss) is bit-identical: test
    probabilities and every per-epoch history value."""
    counts = families.identity_counts(comparison.identity) if comparison is not None else None
    return bool(counts) and counts["probabilities"] == counts["pairs"] == counts["histories"]


def same_runs(family: Family) -> str:
    """Said once in place of a family's table when the two losses' runs are bit-identical."""
    return prose.render(TEMPLATES, "same_runs.md.j2", m=family.m)


def r4_losses(sweep: SweepParams, dataset: str) -> str:
    """R4's own printed accuracies, sparse against categorical CE per variant, counted ('' on
    another dataset than R4's, or without both losses' numbers)."""
    a, b = families.loss_pair(sweep) if len(sweep.losses) == 2 else (None, None)
    cat, sparse = (sweep.claimed.get(loss, {}) for loss in ("categorical_crossentropy", "sparse_categorical_crossentropy"))
    both = [v for v in sweep.variants if v in cat and v in sparse]
    counts = None
    if a and both and sweep_tables.claims_apply(sweep, dataset):
        diff = [sparse[v][1] - cat[v][1] for v in both]
        counts = {"variants": len(both), "higher": sum(d > 1e-12 for d in diff),
                  "lower": sum(d < -1e-12 for d in diff), "equal": sum(abs(d) <= 1e-12 for d in diff),
                  "largest": max(abs(d) for d in diff)}
    return prose.render(TEMPLATES, "r4_losses.md.j2", counts=counts)
