"""R4's printed sweep numbers judged against our runs, by the rule that judges every model claim.

R4 printed one ``[test loss, test accuracy]`` pair per variant and loss (``sweep.claimed``), one
run each, validated on the test set. Each printed number is checked by
``model_report.evaluation.check_quantity`` against our per-seed values of the same variant
and loss (a prediction interval for one new run, widened by the printed rounding, at the
per-number level of a verdict of two numbers); the pair's verdict is
``evaluation.combined`` of its two checks. No second implementation of the rule lives here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from pipeline.core import numbers, prose
from pipeline.core.params.schema import LOSS_LABEL, SweepParams, VerdictParams
from pipeline.core.seed_stats import t_quantile
from pipeline.model_report.evaluation import OUTCOMES, ClaimCheck, check_quantity, check_record, combined

TEMPLATES = Path(__file__).resolve().parent / "templates"
ORDER = ("test_loss", "test_accuracy")  # R4's order within a printed pair


def claims_apply(sweep: SweepParams, dataset: str | None) -> bool:
    """R4's printed numbers stand beside ours only on the dataset R4 measured them on
    (``sweep.claimed_dataset``); None: the claims' own."""
    return dataset is None or dataset == sweep.claimed_dataset


@dataclasses.dataclass(frozen=True)
class PairVerdict:
    variant: str
    description: str
    checks: tuple[ClaimCheck, ClaimCheck]  # test loss, test accuracy

    @property
    def outcome(self) -> str:
        return combined(list(self.checks))


def judge(runs: pd.DataFrame, sweep: SweepParams, loss: str, rule: VerdictParams,
          dataset: str | None = None) -> list[PairVerdict]:
    """One verdict per variant of ``loss`` that R4 printed a pair for and that we ran (none on
    another dataset than R4's): each number against our seeds of that variant and loss."""
    if not claims_apply(sweep, dataset):
        return []
    mine = runs[runs["loss"] == loss]
    out = []
    for name, pair in sweep.claimed.get(loss, {}).items():
        rows = mine[mine["variant"] == name]
        if rows.empty:
            continue
        checks = tuple(check_quantity(field.replace("_", " "), claimed, rows[field].astype(float).tolist(), rule,
                                      len(pair))
                       for field, claimed in zip(ORDER, pair))
        out.append(PairVerdict(name, sweep.variants[name].description, checks))
    return out


def counts(verdicts: list[PairVerdict]) -> dict[str, int]:
    """How many pairs have each outcome (every outcome named, 0 where none)."""
    return {o: sum(v.outcome == o for v in verdicts) for o in OUTCOMES}


def record(verdicts: list[PairVerdict]) -> dict:
    """The sweep metrics file's part: the counts and each pair's checks (rounded, as a model's)."""
    return {"pairs": len(verdicts), "counts": counts(verdicts),
            "variants": {v.variant: {"outcome": v.outcome,
                                     "checks": {f: check_record(c) for f, c in zip(ORDER, v.checks)}}
                         for v in verdicts}}


def table(verdicts: list[PairVerdict]) -> pd.DataFrame:
    """One row per printed pair: R4's numbers as printed, our intervals, each outcome, the verdict."""
    rows = []
    for v in verdicts:
        loss, acc = v.checks
        rows.append({"variant": v.description,
                     "R4 loss": numbers.claimed(loss.claimed),
                     "our loss interval": numbers.interval(loss.low, loss.high, loss.floor),
                     "loss": loss.outcome,
                     "R4 accuracy": numbers.claimed(acc.claimed),
                     "our accuracy interval": numbers.interval(acc.low, acc.high),
                     "accuracy": acc.outcome, "verdict": v.outcome})
    return pd.DataFrame(rows)


def text(verdicts: list[PairVerdict], sweep: SweepParams, loss: str, rule: VerdictParams) -> str:
    """The paragraph above the table: the counts, the rule, and how R4's protocol differs (Markdown)."""
    seeds = min((v.checks[0].n for v in verdicts), default=0)
    level = verdicts[0].checks[0].confidence if verdicts else None
    return prose.render(TEMPLATES, "r4_claims.md.j2", verdicts=verdicts, counts=counts(verdicts),
                        loss_label=LOSS_LABEL[loss], sweep=sweep, rule=rule, seeds=seeds, level=level,
                        t=t_quantile(0.5 + level / 2, seeds - 1) if seeds > 1 else None,
                        by_rounding=sum(c.by_rounding for v in verdicts for c in v.checks))
