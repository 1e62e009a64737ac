"""The committed results agree with their own per-seed values, with params.yaml and with dvc.lock.

Reads the metrics files that `dvc repro` wrote and git tracks (reports/metrics/<name>.json).
Every stored check record is recomputed here, field by field, from the per-seed values
stored beside it by the rule in params.yaml (`verdicts`), with scipy's t quantile and not
with the code that wrote it; the summary statistics, the number of seeds, the epochs and the
images are compared with params.yaml; and the md5 that dvc.lock records for each out that git
tracks (metrics, plots, the sweep's runs) must be the file's. `test_a_perturbed_copy_is_caught`
shows that each of these checks fails on a copy with one value changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from pipeline.core import paths
from pipeline.core.params import load_params
from tests.conftest import REPO

PARAMS = load_params(REPO / "params.yaml")
EDGE = 1e-5  # per-seed values are stored with 6 decimals: a claim this close to an edge is not re-decided
CLOSE = 2e-6  # stored statistics are rounded to 6 decimals, and computed from unrounded seeds
PER_SEED = ("test_accuracy", "test_loss", "val_accuracy", "train_accuracy", "unscaled_test_accuracy",
            "unscaled_test_loss")


def _metrics(name: str) -> dict:
    path = paths.model_files(name, REPO).metrics
    if not path.is_file():
        pytest.fail(f"{path} missing: run `dvc repro` and commit its metrics")
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- recomputed by hand


def _half_width(std: float, n: int, confidence: float) -> float:
    """t_{(1+c)/2, n−1} · s · √(1 + 1/n): the prediction interval for one new run."""
    return math.inf if n < 2 else float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std * math.sqrt(1 + 1 / n)


def _seeds_needed(std: float, margin: float, confidence: float) -> int | None:
    if margin <= 0:
        return None
    if std == 0:
        return 2
    return next((n for n in range(2, 1001) if _half_width(std, n, confidence) <= margin), None)


def _printed_exponent(claimed) -> int:
    """The exponent of the last digit the source printed: from its text where params.yaml
    quotes it ("0.980": −3), else from the float's shortest text (0.98: −2)."""
    text = getattr(claimed, "text", None)
    if text is not None:
        return int(Decimal(text).as_tuple().exponent)
    return int(Decimal(repr(float(claimed))).normalize().as_tuple().exponent)


def _expected_check(field: str, claimed: float, values: list[float], rule, k: int = 1) -> tuple[dict, float]:
    """The record a check of ``claimed`` against ``values`` must have, in a verdict of ``k``
    printed numbers (each at confidence 1 − (1 − c)/k, Bonferroni), and how far the claim
    lies from the interval's edge (outcomes this close to it are not re-decided)."""
    v = np.asarray(values, dtype=np.float64)
    n, mean = len(v), float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else 0.0
    confidence = 1 - (1 - rule.confidence) / k
    half = _half_width(std, n, confidence)
    rounding = 0.5 * 10.0 ** min(_printed_exponent(claimed), 0)  # half a unit of the last printed digit
    margin = rule.accuracy_margin if "accuracy" in field else rule.loss_margin * claimed
    needed = None
    if abs(claimed - mean) > half + rounding:
        outcome = "not consistent"
    elif half + rounding > margin:  # the interval as widened for the verdict must fit the margin
        outcome, needed = "inconclusive", _seeds_needed(std, margin - rounding, confidence) if n > 1 else None
    else:
        outcome = "consistent"
    record = {"claimed": claimed, "confidence": round(confidence, 6), "mean": mean, "std": std, "n": n,
              "half_width": half if n > 1 else None, "rounding": rounding, "margin": margin, "outcome": outcome,
              "seeds_needed": needed}
    return record, abs(abs(claimed - mean) - half - rounding)


def _record_problems(where: str, stored: dict, expected: dict, distance: float) -> list[str]:
    if set(stored) != set(expected):
        return [f"{where}: fields {sorted(stored)}, expected {sorted(expected)}"]
    problems = []
    for key, want in expected.items():
        got = stored[key]
        if key in ("mean", "std", "half_width", "margin") and want is not None and got is not None:
            ok = abs(got - want) <= CLOSE * max(1.0, abs(want))
        elif key in ("outcome", "seeds_needed") and distance <= EDGE:
            ok = True  # on the edge: the 6-decimal seeds cannot re-decide it
        else:
            ok = got == want
        if not ok:
            problems.append(f"{where}.{key} = {got!r}, recomputed {want!r}")
    return problems


def _claim_for(field: str, claimed) -> float | None:
    return claimed.accuracy if "accuracy" in field else claimed.loss


def _combined(outcomes: list[str]) -> str:
    for outcome in ("not consistent", "inconclusive"):
        if outcome in outcomes:
            return outcome
    return "consistent"


def problems_of(name: str, m: dict, params=PARAMS, train_images: int | None = None) -> list[str]:
    """Every way the metrics file ``m`` of ``models.NAME`` disagrees with its seeds or params.yaml."""
    cfg, rule, out = params.models[name], params.verdicts, []
    seeds = m["seeds"]
    expected_seeds = [str(cfg.seed + i) for i in range(cfg.repeats)]
    if list(seeds) != expected_seeds:
        out.append(f"seeds {list(seeds)}, params.yaml asks for {expected_seeds}")
    for key, want in (("repeats", cfg.repeats), ("epochs", cfg.epochs), ("validation_on", cfg.validation)):
        if m[key] != want:
            out.append(f"{key} = {m[key]!r}, params.yaml says {want!r}")
    for field in PER_SEED:
        values = [s[field] for s in seeds.values()]
        v = np.asarray(values, dtype=np.float64)
        want = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
        for k in ("mean", "std"):
            if abs(m[field][k] - want[k]) > CLOSE * max(1.0, abs(want[k])):
                out.append(f"{field}.{k} = {m[field][k]}, recomputed from the seeds {want[k]}")
    images = m["images"]
    total = train_images if params.training.sample_size == 0 else params.training.sample_size
    if cfg.validation == "split":
        held = math.ceil(total * cfg.validation_fraction) if total else images["validation"]
        want_images = (total - held if total else images["fit"], held)
    else:
        want_images = (total or images["fit"], images["test"])
    if (images["fit"], images["validation"]) != want_images:
        out.append(f"images {images}, expected fit and validation {want_images}")

    claim = m["claim"]
    if claim["rule"] != rule.model_dump():
        out.append("metrics written with another rule: rerun dvc repro")
    if (claim["protocol"]["source"], claim["protocol"]["run"]) != (cfg.claimed.protocol, cfg.validation):
        out.append(f"protocol {claim['protocol']}, params.yaml: source {cfg.claimed.protocol}, run {cfg.validation}")
    outcomes = []
    numbers = sum(x is not None for x in (cfg.claimed.accuracy, cfg.claimed.loss))  # what the verdict combines
    for part in ("checks", "explanations"):
        for field, stored in claim[part].items():
            claimed = _claim_for(field, cfg.claimed)
            if claimed is None:
                out.append(f"claim.{part}.{field}: params.yaml has no such claim")
                continue
            record, distance = _expected_check(field, claimed, [s[field] for s in seeds.values()], rule, numbers)
            out += _record_problems(f"claim.{part}.{field}", stored, record, distance)
            if part == "checks":
                outcomes.append(stored["outcome"])
    expected = [q for q, v in (("test_accuracy", cfg.claimed.accuracy), ("test_loss", cfg.claimed.loss))
                if v is not None]
    if list(claim["checks"]) != expected:
        out.append(f"checks {list(claim['checks'])}, the claim in params.yaml needs {expected}")
    verdict = ("no claim" if not expected else "other protocol" if cfg.claimed.protocol != cfg.validation
               else _combined(outcomes))
    if claim["verdict"] != verdict:
        out.append(f"verdict {claim['verdict']!r}, expected {verdict!r}")
    if expected and claim["outcome"] != _combined(outcomes):
        out.append(f"outcome {claim['outcome']!r}, its checks give {_combined(outcomes)!r}")
    return out


def _train_images(root: Path = REPO) -> int:
    return json.loads((root / "reports/metrics/explore.json").read_text())["train_images"]


@pytest.mark.parametrize("name", list(PARAMS.models))
def test_each_metrics_file_follows_from_its_own_seeds_and_params(name):
    assert problems_of(name, _metrics(name), train_images=_train_images()) == []


def sweep_problems(loss: str, root: Path = REPO, params=PARAMS) -> list[str]:
    """The sweep's runs table has one row per (variant, seed) of params.yaml, and its metrics
    file one entry per variant, with the mean and std of those rows."""
    runs = root / f"reports/sweep/{loss}_runs.csv"
    import csv

    rows = list(csv.DictReader(runs.open(encoding="utf-8")))
    out = []
    got = [(r["variant"], int(r["seed"])) for r in rows]
    want = [(v, s) for v in params.sweep.variants for s in params.sweep.seeds]
    if sorted(got) != sorted(want) or {r["loss"] for r in rows} != {loss}:
        out.append(f"{runs.name}: runs {sorted(got)[:4]}…, params.yaml asks for {sorted(want)[:4]}…")
    m = json.loads((root / f"reports/metrics/sweep_{loss}.json").read_text())
    if list(m["variants"]) != list(params.sweep.variants):
        out.append(f"sweep_{loss}.json: variants {list(m['variants'])}, params.yaml {list(params.sweep.variants)}")
    for variant, entry in m["variants"].items():
        for field in ("test_accuracy", "test_loss"):
            v = np.array([float(r[field]) for r in rows if r["variant"] == variant])
            if len(v) < 2:
                continue
            for k, want_k in (("mean", v.mean()), ("std", v.std(ddof=1))):
                if abs(entry[field][k] - want_k) > CLOSE * max(1.0, abs(want_k)):
                    out.append(f"sweep_{loss}.json: {variant}.{field}.{k} = {entry[field][k]}, runs give {want_k}")
    return out


def test_the_sweep_results_follow_params_yaml():
    assert PARAMS.sweep is not None
    for loss in sorted(p.name.removeprefix("sweep_").removesuffix(".json")
                       for p in (REPO / "reports/metrics").glob("sweep_*.json")):
        assert sweep_problems(loss) == [], loss


def lock_problems(root: Path = REPO) -> list[str]:
    """Every out of dvc.lock that git tracks whose bytes do not have the md5 dvc.lock records."""
    tracked = set(subprocess.run(["git", "ls-files", "-z", "reports"], cwd=REPO, capture_output=True, text=True,
                                 check=True).stdout.split("\0"))
    lock = yaml.safe_load((root / "dvc.lock").read_text(encoding="utf-8"))
    out, seen = [], 0
    for stage, entry in lock["stages"].items():
        for o in entry.get("outs", []):
            if o["path"] not in tracked:
                continue
            seen += 1
            path = root / o["path"]
            md5 = hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else "missing"
            if md5 != o["md5"]:
                out.append(f"{o['path']} ({stage}): md5 {md5}, dvc.lock records {o['md5']}")
    if not seen:
        out.append("dvc.lock records no out that git tracks")
    return out


def test_the_committed_metrics_are_the_outs_dvc_lock_records():
    assert lock_problems() == []
    tracked = subprocess.run(["git", "ls-files", "reports/metrics", "reports/plots"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    lock = yaml.safe_load((REPO / "dvc.lock").read_text(encoding="utf-8"))
    outs = {o["path"] for e in lock["stages"].values() for o in e.get("outs", [])}
    assert set(tracked) - outs == set(), "committed metrics or plots that no stage of dvc.lock wrote"


def test_a_perturbed_copy_is_caught(tmp_path):
    """Each check above fails when one stored value is changed."""
    name = next(n for n, c in PARAMS.models.items() if c.claimed.accuracy is not None and c.repeats > 1)
    clean = _metrics(name)
    train_images = _train_images()
    assert problems_of(name, clean, train_images=train_images) == []

    def changed(edit) -> list[str]:
        m = copy.deepcopy(clean)
        edit(m)
        return problems_of(name, m, train_images=train_images)

    first_seed = next(iter(clean["seeds"]))
    edits = {
        "check std": lambda m: m["claim"]["checks"]["test_accuracy"].__setitem__(
            "std", m["claim"]["checks"]["test_accuracy"]["std"] + 1e-4),
        "check half_width": lambda m: m["claim"]["checks"]["test_accuracy"].__setitem__(
            "half_width", m["claim"]["checks"]["test_accuracy"]["half_width"] * 1.01),
        "check rounding": lambda m: m["claim"]["checks"]["test_accuracy"].__setitem__("rounding", 0.05),
        "check confidence": lambda m: m["claim"]["checks"]["test_accuracy"].__setitem__("confidence", 0.95 + 0.01),
        "check margin": lambda m: m["claim"]["checks"]["test_accuracy"].__setitem__("margin", 0.02),
        "check n": lambda m: m["claim"]["checks"]["test_accuracy"].__setitem__("n", 99),
        "check seeds_needed": lambda m: m["claim"]["checks"]["test_accuracy"].__setitem__("seeds_needed", 7),
        "check field dropped": lambda m: m["claim"]["checks"]["test_accuracy"].pop("mean"),
        "a seed's value": lambda m: m["seeds"][first_seed].__setitem__(
            "test_accuracy", m["seeds"][first_seed]["test_accuracy"] - 0.01),
        "summary mean": lambda m: m["val_accuracy"].__setitem__("mean", m["val_accuracy"]["mean"] + 1e-4),
        "epochs": lambda m: m.__setitem__("epochs", m["epochs"] + 1),
        "repeats": lambda m: m.__setitem__("repeats", m["repeats"] + 1),
        "images": lambda m: m["images"].__setitem__("fit", m["images"]["fit"] - 1),
        "verdict": lambda m: m["claim"].__setitem__("verdict", "inconclusive"),
    }
    missed = [what for what, edit in edits.items() if not changed(edit)]
    assert missed == [], f"perturbations not caught: {missed}"
    # params.yaml changed after the run: more epochs asked than the file records
    other = PARAMS.model_copy(update={"models": {**PARAMS.models,
                                                 name: PARAMS.models[name].model_copy(update={"epochs": 99})}})
    assert any("epochs" in p for p in problems_of(name, clean, params=other, train_images=train_images))

    # dvc.lock: one committed metrics file with a byte more than dvc.lock's md5 says
    root = tmp_path / "copy"
    for rel in ["dvc.lock", *subprocess.run(["git", "ls-files", "reports"], cwd=REPO, capture_output=True,
                                            text=True, check=True).stdout.split()]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, root / rel)
    assert lock_problems(root) == []
    metrics = root / f"reports/metrics/{name}.json"
    metrics.write_bytes(metrics.read_bytes() + b"\n")
    assert [p for p in lock_problems(root) if p.startswith(f"reports/metrics/{name}.json")]

    # the sweep: one run missing from the runs table
    loss = next(iter(sorted((REPO / "reports/sweep").glob("*_runs.csv")))).name.removesuffix("_runs.csv")
    assert sweep_problems(loss, root) == []
    runs = root / f"reports/sweep/{loss}_runs.csv"
    runs.write_text("".join(runs.read_text().splitlines(keepends=True)[:-1]))
    assert sweep_problems(loss, root)


def test_every_claim_is_judged_by_a_run_with_its_protocol():
    by_source: dict[str, set[str]] = {}
    for cfg in PARAMS.models.values():
        by_source.setdefault(cfg.source, set()).add(cfg.validation)
    for name, cfg in PARAMS.models.items():
        if cfg.claimed.accuracy is not None or cfg.claimed.loss is not None:
            assert cfg.claimed.protocol in by_source[cfg.source], (
                f"models.{name}: {cfg.source}'s claim needs a configuration with validation: {cfg.claimed.protocol}")
