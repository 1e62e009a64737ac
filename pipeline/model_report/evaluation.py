"""Numbers of the model reports: statistics over seeds, per-class scores, mistakes, and the
check of each source's claim against our measurement. Also writes the metrics/plots files
that DVC tracks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_fscore_support

from pipeline.core import fileio, numbers, paths, provenance
from pipeline.core.params.schema import Claim, VerdictParams
from pipeline.core.seed_stats import mean_std, prediction_half_width, rounded_stat, sample_std, seeds_to_reach


# --------------------------------------------------------------------------- rounding


def printed_resolution(x: float) -> float:
    """Half a unit of the last printed decimal of ``x``, read from the digits the source printed
    (``numbers.Printed``: ``"0.980"`` → 0.0005), else from the shortest text of the float:
    0.91 → 0.005, 0.9781 → 0.00005."""
    return numbers.Printed(x).resolution


# --------------------------------------------------------------------------- tables


def seed_table(fits) -> pd.DataFrame:
    """One row per seed: what each repeat measured."""
    rows = []
    for r in fits.runs:
        rows.append({
            "seed": r.seed,
            "test accuracy": r.test_accuracy,
            "test loss": r.test_loss,
            "val accuracy (last epoch)": r.history["val_accuracy"][-1],
            "train accuracy": r.train_accuracy,
            **{f"dead ReLU units in {layer}": n for layer, n in sorted(r.dead_units.items())},
            "fit time (s)": r.fit_seconds,
        })
    return pd.DataFrame(rows).set_index("seed")


def epoch_curves(fits) -> pd.DataFrame:
    """Per epoch: mean and std over seeds of loss/accuracy for training and validation."""
    keys = ["accuracy", "val_accuracy", "loss", "val_loss"]
    out = {"epoch": np.arange(1, fits.config.epochs + 1)}
    for key in keys:
        stack = np.array([r.history[key] for r in fits.runs], dtype=np.float64)
        out[key] = stack.mean(axis=0)
        out[f"{key}_std"] = sample_std(stack, axis=0)
    return pd.DataFrame(out)


def class_report(y_true: np.ndarray, y_pred: np.ndarray, class_names) -> pd.DataFrame:
    """Precision, recall, F1 and support per class (zero where a class is never predicted)."""
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=np.arange(len(class_names)),
                                                 zero_division=0)
    return pd.DataFrame({"precision": p, "recall": r, "F1": f, "support": s},
                        index=pd.Index(class_names, name="class"))


def confident_mistakes(probabilities: np.ndarray, y_true: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` wrong predictions made with the highest confidence."""
    pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probabilities[wrong, pred[wrong]]
    return wrong[np.argsort(-conf, kind="stable")[:k]]


# --------------------------------------------------------------------------- claims

OUTCOMES = ("consistent", "not consistent", "inconclusive")
# each quantity a claim is checked against → the SeedRun attribute (and metrics key) that holds it
QUANTITY_FIELD = {"test accuracy": "test_accuracy", "test loss": "test_loss", "training accuracy": "train_accuracy",
                  "unscaled test accuracy": "unscaled_test_accuracy", "unscaled test loss": "unscaled_test_loss"}


@dataclasses.dataclass(frozen=True)
class ClaimCheck:
    """One printed number against our per-seed values of one quantity, by ``VerdictParams``'s rule."""

    quantity: str  # "test accuracy", "test loss", "training accuracy", "unscaled test accuracy", …
    claimed: numbers.Printed  # as the source printed it (its ``text``)
    values: tuple[float, ...]  # one per seed
    confidence: float
    half_width: float  # of the prediction interval for one new run (inf for one seed)
    rounding: float  # half a unit of the claim's last printed digit
    margin: float  # the widest half-width that still decides
    outcome: str  # one of OUTCOMES
    seeds_needed: int | None  # inconclusive: seeds whose interval would be narrower than the margin

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return mean_std(self.values)[0]

    @property
    def std(self) -> float:
        return mean_std(self.values)[1]

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    @property
    def floor(self) -> float | None:
        """The lowest value the quantity can take (0 for a loss), where the printed interval stops."""
        return numbers.floor_of(self.quantity)

    @property
    def cut(self) -> bool:
        """Whether the printed interval is cut at ``floor`` (its formula's low end lies below it)."""
        return self.n > 1 and numbers.interval_cut(self.low, self.floor)

    @property
    def rounding_text(self) -> str:
        """The printed rounding as a plain decimal (0.00005, not 5e-05)."""
        return f"{self.rounding:.12f}".rstrip("0").rstrip(".")

    @property
    def by_rounding(self) -> bool:
        """Consistent only thanks to the printed rounding: outside the interval, within rounding of it."""
        return self.outcome == "consistent" and abs(self.claimed - self.mean) > self.half_width

    @property
    def beyond(self) -> float:
        """How far the claim lies outside the interval widened by the rounding (≤ 0: inside);
        the claim box says why an outcome is what it is (``templates/claim_box.html.j2``)."""
        return abs(self.claimed - self.mean) - self.half_width - self.rounding


def margin_for(quantity: str, claimed: float, rule: VerdictParams) -> float:
    """The margin of a quantity: absolute for accuracies, a share of the claim for losses."""
    return rule.accuracy_margin if "accuracy" in quantity else rule.loss_margin * claimed


def per_number_confidence(rule: VerdictParams, k: int = 1) -> float:
    """The confidence of each printed number's interval when a verdict combines ``k`` of
    them: 1 − (1 − c)/k (Bonferroni), so that a faithful reproduction is judged not consistent
    at most 1 − c of the time whatever k is (0.975 each for accuracy and loss at c = 0.95)."""
    if k < 1:
        raise ValueError(f"a verdict combines at least one printed number, got {k}")
    return 1 - (1 - rule.confidence) / k


def check_quantity(quantity: str, claimed: float, values, rule: VerdictParams, k: int = 1) -> ClaimCheck:
    """One claimed number against our per-seed ``values``, in a verdict that combines ``k``
    printed numbers.

    Consistent: ``|claimed − mean| ≤ h + r``, with h = t_{(1+c)/2, n−1} · s · √(1 + 1/n) the
    half-width of the prediction interval for one new run at the per-number confidence c
    (``per_number_confidence``) and r the claim's printed rounding; not consistent: outside
    that; inconclusive: inside, but the interval widened by the rounding, h + r, is wider than
    the margin (or there is a single seed).
    """
    values = tuple(float(v) for v in values)
    confidence = per_number_confidence(rule, k)
    m, sd = mean_std(values)
    half = prediction_half_width(sd, len(values), confidence)
    rounding = printed_resolution(claimed)
    margin = margin_for(quantity, claimed, rule)
    needed = None
    if abs(claimed - m) > half + rounding:
        outcome = "not consistent"
    elif half + rounding > margin:
        outcome = "inconclusive"
        reachable = len(values) > 1 and margin > rounding
        needed = seeds_to_reach(sd, margin - rounding, confidence) if reachable else None
    else:
        outcome = "consistent"
    return ClaimCheck(quantity, numbers.Printed(claimed), values, confidence, half, rounding, margin, outcome, needed)


def combined(checks: list[ClaimCheck]) -> str:
    """Not consistent if any check is, else inconclusive if any is, else consistent."""
    outcomes = {c.outcome for c in checks}
    for outcome in ("not consistent", "inconclusive"):
        if outcome in outcomes:
            return outcome
    return "consistent"


def protocol_text(validation: str, n_fit: int, n_val: int) -> str:
    """How a run used the data, in words."""
    if validation == "test":
        return f"fitted on all {n_fit:,} training images, validated on the TEST set"
    return f"fitted on {n_fit:,} training images, validated on {n_val:,} held-out training images"


def source_protocol_text(protocol: str) -> str:
    return ("fitted on every training image and validated on the test set" if protocol == "test"
            else "validated on held-out training images")


# A reason is a record ``{"kind": …, facts}`` that ``templates/reasons.html.j2`` puts in words.


def accuracy_explanations(claimed: float, fits, rule: VerdictParams, k: int = 1) -> tuple[list[ClaimCheck], list[dict]]:
    """A claimed accuracy above ours: is it our training accuracy (by the same rule, at the
    per-number level of a verdict of ``k`` printed numbers)?"""
    train_acc = [r.train_accuracy for r in fits.runs]
    if any(v is None for v in train_acc) or claimed <= mean_std(r.test_accuracy for r in fits.runs)[0]:
        return [], []
    check = check_quantity("training accuracy", claimed, train_acc, rule, k)
    reasons = []
    if check.outcome == "consistent":
        reasons.append({"kind": "training accuracy", "claimed": claimed, "low": check.low, "high": check.high,
                        "by_rounding": check.by_rounding})
    return [check], reasons


def unscaled_explanations(claim: Claim, fits, rule: VerdictParams, k: int = 1) -> tuple[list[ClaimCheck], list[dict]]:
    """Both printed numbers against our models evaluated on test pixels left at 0..255."""
    runs = fits.runs
    if any(r.unscaled_test_loss is None or r.unscaled_test_accuracy is None for r in runs):
        return [], []
    checks = []
    if claim.accuracy is not None:
        checks.append(check_quantity("unscaled test accuracy", claim.accuracy,
                                     [r.unscaled_test_accuracy for r in runs], rule, k))
    if claim.loss is not None:
        checks.append(check_quantity("unscaled test loss", claim.loss, [r.unscaled_test_loss for r in runs], rule, k))
    fitting = [c for c in checks if c.outcome == "consistent"]
    if not fitting:
        return checks, []
    return checks, [{"kind": "unscaled", "fitting": [c for c in checks if c.outcome == "consistent"],
                     "others": [c for c in checks if c.outcome != "consistent"]}]


def dead_unit_reasons(fits) -> list[dict]:
    """Dead ReLU units in the narrowest hidden layer, for the seeds where some died (a narrow
    layer or a tenth of its units), and the other layers where units died (``elsewhere``: the
    seed table counts every layer, the sentence says which)."""
    cfg, runs = fits.config, fits.runs
    narrow = min(range(len(cfg.hidden)), key=lambda i: cfg.hidden[i])
    layer, width = f"hidden_{narrow + 1}", cfg.hidden[narrow]
    dead = [r.dead_units.get(layer) for r in runs]
    outputs = runs[0].test_probabilities.shape[1]
    if any(d is None for d in dead) or not (width <= 2 * outputs or max(dead) >= 0.1 * width):
        return []
    died = [(r, d) for r, d in zip(runs, dead) if d > 0]
    others = sorted({k for r in runs for k, v in r.dead_units.items() if k != layer and v > 0})
    return [{"kind": "dead units", "layer": layer, "width": width, "seeds": len(runs), "outputs": outputs,
             "narrow": width <= 2 * outputs,
             "died": [{"seed": r.seed, "dead": d, "test_accuracy": r.test_accuracy} for r, d in died],
             "elsewhere": [{"layer": k, "dead": [r.dead_units.get(k, 0) for r in runs]} for k in others],
             "seed_ids": [r.seed for r in runs]}]


def output_sum_reasons(fits) -> list[dict]:
    """Outputs that do not sum to 1 (a sigmoid output trained with a softmax-style loss)."""
    sums = np.concatenate([r.test_probabilities.sum(axis=1) for r in fits.runs])
    if np.allclose(sums, 1.0, atol=1e-3):
        return []
    return [{"kind": "output sums", "mean": float(sums.mean()), "low": float(sums.min()), "high": float(sums.max()),
             "activation": fits.config.output_activation}]


@dataclasses.dataclass(frozen=True)
class Verdict:
    verdict: str  # an outcome, "no claim", or "other protocol" (judged by a same-protocol run)
    outcome: str  # the combined outcome of ``checks`` ("no claim" without checks)
    checks: list[ClaimCheck]  # the printed numbers against our test numbers
    explanations: list[ClaimCheck]  # the printed numbers against other measurements of ours
    reasons: list[dict]  # records that ``templates/reasons.html.j2`` puts in words
    source_note: str
    protocol: str  # the source's (``claimed.protocol``)
    run_protocol: str  # this run's (``validation``)
    run_protocol_text: str
    rule: VerdictParams
    claimed: tuple[float, ...] = ()  # the printed numbers (accuracy, then loss)
    claim_dataset: str = "mnist"  # where the source measured them (``claimed.dataset``)
    run_dataset: str = "mnist"  # where this run measured ours

    @property
    def other_dataset(self) -> bool:
        """A printed number made on another dataset than this run's: it is not judged (no checks)."""
        return bool(self.claimed) and self.claim_dataset != self.run_dataset

    @property
    def judged_here(self) -> bool:
        return self.protocol == self.run_protocol

    @property
    def matched(self) -> list[ClaimCheck]:
        """The explanations of a measurement that matches at least one printed number (shown in full)."""
        hits = {_measurement(c) for c in self.explanations if c.outcome == "consistent"}
        return [c for c in self.explanations if _measurement(c) in hits]

    @property
    def unmatched(self) -> list[ClaimCheck]:
        """The measurements tried that match no printed number."""
        shown = {id(c) for c in self.matched}
        return [c for c in self.explanations if id(c) not in shown]


def _measurement(c: ClaimCheck) -> str:
    """What an explanation measured: 'training' or 'unscaled' (its quantity's first word)."""
    return c.quantity.split()[0]


def judge_claim(claim: Claim, fits, rule: VerdictParams, dataset: str | None = None) -> Verdict:
    """Compare the source's printed numbers with ours by ``rule``; explain differences with measurements.

    The verdict belongs to a run with the source's protocol (``claim.protocol`` equal to the
    configuration's ``validation``); a run with another protocol shows the same checks as
    ``other protocol``. Every reason is measured in this run and given only where it applies:
    a claim inside the interval of our training accuracy (tried when a claimed accuracy above ours
    is not consistent), or of our numbers on unscaled test pixels (tried, for both printed
    numbers, when the printed loss is not consistent); dead ReLU units where some died; outputs that do not sum to 1; a test-set validation.

    ``dataset`` is the dataset this run measured on (None: the claim's). A claim made on
    another dataset is not judged: no checks, verdict ``other dataset``; only the
    measurements of this run remain as reasons.
    """
    checks, explanations, reasons = [], [], []
    printed = tuple(x for x in (claim.accuracy, claim.loss) if x is not None)
    run_dataset = dataset or claim.dataset
    if printed and run_dataset != claim.dataset:
        reasons += dead_unit_reasons(fits) + output_sum_reasons(fits)
        return Verdict(verdict="other dataset", outcome="not judged", checks=[], explanations=[], reasons=reasons,
                       source_note=claim.note, protocol=claim.protocol, run_protocol=fits.validation_on,
                       run_protocol_text=protocol_text(fits.validation_on, fits.n_fit, fits.n_val), rule=rule,
                       claimed=printed, claim_dataset=claim.dataset, run_dataset=run_dataset)
    k = len(printed)  # the numbers this verdict combines: each is judged at level 1 − (1 − c)/k
    if claim.accuracy is not None:
        checks.append(check_quantity("test accuracy", claim.accuracy, [r.test_accuracy for r in fits.runs], rule, k))
    if claim.loss is not None:
        checks.append(check_quantity("test loss", claim.loss, [r.test_loss for r in fits.runs], rule, k))
    if any(c.outcome == "not consistent" for c in checks):
        acc = next((c for c in checks if c.quantity == "test accuracy" and c.outcome == "not consistent"), None)
        if acc is not None:
            extra, why = accuracy_explanations(acc.claimed, fits, rule, k)
            explanations += extra
            reasons += why
        if any(c.quantity == "test loss" and c.outcome == "not consistent" for c in checks):
            extra, why = unscaled_explanations(claim, fits, rule, k)  # a loss far off: were pixels left unscaled?
            explanations += extra
            reasons += why
    reasons += dead_unit_reasons(fits) + output_sum_reasons(fits)
    if fits.validation_on == "test":
        reasons.append({"kind": "test validation"})
    outcome = combined(checks) if checks else "no claim"
    verdict = outcome if not checks or claim.protocol == fits.validation_on else "other protocol"
    return Verdict(verdict=verdict, outcome=outcome, checks=checks, explanations=explanations, reasons=reasons,
                   source_note=claim.note, protocol=claim.protocol, run_protocol=fits.validation_on,
                   run_protocol_text=protocol_text(fits.validation_on, fits.n_fit, fits.n_val), rule=rule,
                   claimed=printed, claim_dataset=claim.dataset, run_dataset=run_dataset)


def check_record(c: ClaimCheck) -> dict:
    """A check for the metrics file (rounded: deterministic text)."""
    return {"claimed": c.claimed, "confidence": round(c.confidence, 6), "mean": round(c.mean, 6), "std": round(c.std, 6), "n": c.n,
            "half_width": round(c.half_width, 6) if c.n > 1 else None, "rounding": c.rounding,
            "margin": round(c.margin, 6), "outcome": c.outcome, "seeds_needed": c.seeds_needed}


def claim_record(v: Verdict) -> dict:
    """The claim part of the metrics file."""
    key = lambda c: QUANTITY_FIELD[c.quantity]  # noqa: E731
    record = {"verdict": v.verdict, "outcome": v.outcome,
              "protocol": {"source": v.protocol, "run": v.run_protocol, "run_text": v.run_protocol_text},
              "rule": v.rule.model_dump(),
              "checks": {key(c): check_record(c) for c in v.checks},
              "explanations": {key(c): check_record(c) for c in v.explanations}}
    if v.other_dataset:  # only then: a claim judged on its own dataset keeps the file as it was
        record["dataset"] = {"claim": v.claim_dataset, "run": v.run_dataset, "claimed": list(v.claimed)}
    return record


# --------------------------------------------------------------------------- files DVC tracks


def metrics(fits, verdict: Verdict) -> dict:
    """The metrics file of one configuration (deterministic: no times, no dates), with every
    seed's values, so that each verdict can be recomputed from the file alone."""
    runs = fits.runs
    per_seed = tuple(QUANTITY_FIELD.values())
    return {
        "test_accuracy": rounded_stat(r.test_accuracy for r in runs),
        "test_loss": rounded_stat(r.test_loss for r in runs),
        "val_accuracy": rounded_stat(r.history["val_accuracy"][-1] for r in runs),
        "train_accuracy": rounded_stat(r.train_accuracy for r in runs),
        "unscaled_test_accuracy": rounded_stat(r.unscaled_test_accuracy for r in runs),
        "unscaled_test_loss": rounded_stat(r.unscaled_test_loss for r in runs),
        "seeds": {str(r.seed): {**{k: round(getattr(r, k), 6) for k in per_seed},
                                "val_accuracy": round(r.history["val_accuracy"][-1], 6),
                                "dead_units": dict(sorted(r.dead_units.items()))}
                  for r in runs},
        "repeats": len(runs),
        "epochs": fits.config.epochs,
        "images": {"fit": fits.n_fit, "validation": fits.n_val, "test": fits.n_test},
        "validation_on": fits.validation_on,
        "split": "one stratified split of the training images per seed, drawn with that seed"
                 if fits.validation_on == "split" else "none: validated on the test set",
        "claim": claim_record(verdict),
    }


def timings(fits) -> dict:
    """Seconds per fit (a DVC-cached output: it differs from machine to machine)."""
    seconds = [r.fit_seconds for r in fits.runs]
    return {"fit_seconds": [round(x, 2) for x in seconds],
            "seconds_per_epoch": round(sum(seconds) / (fits.config.epochs * len(seconds)), 3),
            "where": [r.where for r in fits.runs]}


def write_outputs(name: str, fits, verdict: Verdict, root: Path | None = None) -> list[Path]:
    """Metrics JSON, per-epoch CSV, the first seed's ``.keras`` model and timings, atomically;
    returns the paths written (the report's notebook and HTML are the runner's)."""
    files = paths.model_files(name, root)
    fileio.write_json(files.metrics, metrics(fits, verdict))
    fileio.write_text(files.plots, epoch_curves(fits).to_csv(index=False, float_format="%.6f"))
    with fileio.atomic_path(files.model) as tmp:
        fits.first_model.save(tmp)
    provenance.write_timing(files.timing, timings(fits))
    return [files.metrics, files.plots, files.model, files.timing]
