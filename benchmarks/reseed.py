"""Do the verdicts survive a reseed? Run by hand (not in CI): prints a markdown table.

    python benchmarks/reseed.py                      # the cheap configurations, seeds 3–5 against 0–2
    python benchmarks/reseed.py basic r3_split --from 3

For each configuration it judges the claim twice by the rule of params.yaml (`verdicts`):
with the seeds of the committed run (read from reports/metrics/<name>.json, written by
`dvc repro`) and with as many NEW seeds, starting at ``--from``, trained here with the
pipeline's own `train` (and its executor, so both cores work). A verdict that changes from
one set of seeds to the other is what a reader would see after an honest rerun.
Trained seeds are kept in build/reseed/ (keyed by configuration and seeds) so a second
call only prints.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHEAP = ("basic", "basic_faithful", "baseline", "baseline_faithful", "r1_onehot", "r1_faithful", "r3_split")


def committed_seeds(name: str) -> dict:
    """Per-seed values of the committed run (the metrics file of model@NAME)."""
    from pipeline.core import paths

    path = paths.model_files(name, ROOT).metrics
    if not path.is_file():
        raise SystemExit(f"{path} missing: run `dvc repro model@{name}` first")
    return json.loads(path.read_text(encoding="utf-8"))["seeds"]


def new_seeds(name: str, first: int, count: int) -> dict:
    """Per-seed values of ``count`` new seeds from ``first``, trained here (or read from build/reseed)."""
    from pipeline.core import dataset
    from pipeline.core.params import load_params
    from pipeline.model_report import evaluation

    params = load_params(ROOT / "params.yaml")
    cfg = params.models[name].model_copy(update={"seed": first, "repeats": count})
    settings = params.training.for_model(cfg)
    key = hashlib.sha256(json.dumps([cfg.model_dump(), settings.model_dump()], sort_keys=True).encode()).hexdigest()[:16]
    cache = ROOT / "build" / "reseed" / f"{name}-{first}-{count}-{key}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    from pipeline.modeling import train

    ds = dataset.load(ROOT / "data" / "dataset.npz", sample_size=settings.sample_size)
    fits = train.train(cfg, ds, settings, keep_models=0, name=f"{name} (reseed)",
                       log=lambda line: print(line, file=sys.stderr, flush=True))
    seeds = {str(r.seed): {f: getattr(r, f) for f in evaluation.QUANTITY_FIELD.values()} for r in fits.runs}
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(seeds, indent=1))
    return seeds


def verdict(name: str, seeds: dict) -> tuple[str, list]:
    """The verdict of the configuration's claim from these per-seed values (same code as the reports)."""
    from pipeline.core.params import load_params
    from pipeline.model_report import evaluation

    params = load_params(ROOT / "params.yaml")
    claim = params.models[name].claimed
    checks = [evaluation.check_quantity(q, v, [s[evaluation.QUANTITY_FIELD[q]] for s in seeds.values()],
                                        params.verdicts)
              for q, v in (("test accuracy", claim.accuracy), ("test loss", claim.loss)) if v is not None]
    return (evaluation.combined(checks) if checks else "no claim"), checks


def _cell(checks: list) -> str:
    return "; ".join(f"{c.quantity.removeprefix('test ')} {c.mean:.4f} ± {c.half_width:.4f}: {c.outcome}" for c in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", default=list(CHEAP), help="configurations (default: the cheap ones)")
    parser.add_argument("--from", dest="first", type=int, default=None,
                        help="first new seed (default: right after the configuration's seeds)")
    parser.add_argument("--train-only", action="store_true", help="train (and keep) the new seeds, print nothing")
    args = parser.parse_args(argv)
    from pipeline.core.params import load_params

    params = load_params(ROOT / "params.yaml")
    lines = ["| configuration | claim | committed seeds | verdict | new seeds | verdict | same? |",
             "|---|---|---|---|---|---|---|"]
    flips = 0
    cfgs = {name: params.models[name] for name in args.names}
    news = {name: new_seeds(name, cfg.seed + cfg.repeats if args.first is None else args.first, cfg.repeats)
            for name, cfg in cfgs.items()}  # train first: the committed run may still be on its way
    if args.train_only:
        return 0
    for name in args.names:
        old, new = committed_seeds(name), news[name]
        (v_old, c_old), (v_new, c_new) = verdict(name, old), verdict(name, new)
        flips += v_old != v_new
        claim = params.models[name].claimed
        printed = ", ".join(f"{k} {v:g}" for k, v in (("acc", claim.accuracy), ("loss", claim.loss)) if v is not None)
        lines.append(f"| {name} | {printed} | {min(map(int, old))}–{max(map(int, old))}: {_cell(c_old)} | "
                     f"**{v_old}** | {min(map(int, new))}–{max(map(int, new))}: {_cell(c_new)} | **{v_new}** | "
                     f"{'yes' if v_old == v_new else 'NO'} |")
    lines.append(f"\n{len(args.names) - flips} of {len(args.names)} verdicts unchanged by a new set of seeds "
                 f"(rule: {params.verdicts.confidence:g} prediction interval, margins "
                 f"{params.verdicts.accuracy_margin:g} / {params.verdicts.loss_margin:g}).")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
