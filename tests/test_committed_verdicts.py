"""The committed verdicts agree with their own per-seed values, and every claim is judged.

Reads the metrics files that `dvc repro` wrote and git tracks (reports/metrics/<name>.json):
each check is recomputed from the per-seed values stored beside it, by the rule in
params.yaml (`verdicts`). A verdict that contradicts its own numbers fails here.
"""

from __future__ import annotations

import json

import pytest

from pipeline.core import paths
from pipeline.core.params import load_params
from pipeline.model_report import evaluation
from tests.conftest import REPO

PARAMS = load_params(REPO / "params.yaml")
EDGE = 1e-5  # per-seed values are stored with 6 decimals: a claim this close to an edge is not re-decided


def _metrics(name: str) -> dict:
    path = paths.model_files(name, REPO).metrics
    if not path.is_file():
        pytest.fail(f"{path} missing: run `dvc repro` and commit its metrics")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", list(PARAMS.models))
def test_each_verdict_follows_from_its_own_seeds(name):
    cfg, m = PARAMS.models[name], _metrics(name)
    claim = m["claim"]
    assert claim["rule"] == PARAMS.verdicts.model_dump(), "metrics written with another rule: rerun dvc repro"
    recomputed = []
    for part in ("checks", "explanations"):
        for field, stored in claim[part].items():
            values = [seed[field] for seed in m["seeds"].values()]
            quantity = next(q for q, f in evaluation.QUANTITY_FIELD.items() if f == field)
            check = evaluation.check_quantity(quantity, stored["claimed"], values, PARAMS.verdicts)
            distance = abs(abs(check.claimed - check.mean) - check.half_width - check.rounding)
            if distance > EDGE:
                assert check.outcome == stored["outcome"], (name, field, check, stored)
            if part == "checks":
                recomputed.append(check)
    expected = [q for q, v in (("test_accuracy", cfg.claimed.accuracy), ("test_loss", cfg.claimed.loss))
                if v is not None]
    assert list(claim["checks"]) == expected
    if not expected:
        assert claim["verdict"] == "no claim"
    elif cfg.claimed.protocol != cfg.validation:
        assert claim["verdict"] == "other protocol"
    else:
        assert claim["verdict"] == evaluation.combined(recomputed) == claim["outcome"]


def test_every_claim_is_judged_by_a_run_with_its_protocol():
    by_source: dict[str, set[str]] = {}
    for cfg in PARAMS.models.values():
        by_source.setdefault(cfg.source, set()).add(cfg.validation)
    for name, cfg in PARAMS.models.items():
        if cfg.claimed.accuracy is not None or cfg.claimed.loss is not None:
            assert cfg.claimed.protocol in by_source[cfg.source], (
                f"models.{name}: {cfg.source}'s claim needs a configuration with validation: {cfg.claimed.protocol}")
