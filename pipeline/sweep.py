"""R4's loss comparison: the baseline and ten variants, each trained with categorical
cross-entropy on one-hot labels and with sparse categorical cross-entropy on integer labels,
over the same seeds; plus the statistics that R4 did not do.

Every (loss, variant, seed) run is cached under a key that hashes everything that
determines its result (the run's configuration, the training settings, the dataset's array
hashes and the training code), so adding a seed or a variant trains only the new runs and a
change of code or data trains everything again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config, fileio
from pipeline.config import ModelConfig, SweepParams, TrainingParams
from pipeline.dataset import Dataset

LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")
LOSS_LABEL = {"categorical_crossentropy": "categorical CE (one-hot labels)",
              "sparse_categorical_crossentropy": "sparse categorical CE (integer labels)"}
R4_COLUMNS = ["Description", "First Layer", "Second Layer", "Third Layer", "Dropout",
              "Loss", "+/-", "+/-%", "Accuracy", "+/-", "+/-%"]


def variant_config(sweep: SweepParams, variant: str, loss: str, seed: int) -> ModelConfig:
    """The model configuration of one run of the sweep."""
    v = sweep.variants[variant]
    return ModelConfig(source="R4c", title=f"{v.description} ({loss})", hidden=list(v.hidden), dropout=v.dropout,
                       optimizer=sweep.optimizer, loss=loss, epochs=sweep.epochs, batch_size=sweep.batch_size,
                       validation="split", validation_fraction=sweep.validation_fraction, repeats=1, seed=seed)


def code_fingerprint() -> str:
    """sha256 of the code that trains and evaluates a run (part of every cache key)."""
    h = hashlib.sha256()
    for name in ("modeling.py", "dataset.py"):
        h.update((config.PACKAGE_DIR / name).read_bytes())
    return h.hexdigest()


def cache_key(cfg: ModelConfig, training: TrainingParams, data_id: str, code: str) -> str:
    """Hash of everything that determines a run's numbers (titles and texts excluded)."""
    relevant = cfg.model_dump(exclude={"source", "title", "description", "claimed"})
    payload = json.dumps({"run": relevant, "training": training.model_dump(), "data": data_id, "code": code},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def data_id(ds: Dataset) -> str:
    """Identifies the images a run saw: the pinned dataset (its array hashes) and how many of them."""
    from pipeline.dataset import get_spec

    pins = "".join(get_spec(ds.name).sha256[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    return f"{ds.name}:{len(ds.y_train)}:{len(ds.y_test)}:{hashlib.sha256(pins.encode()).hexdigest()[:16]}"


@dataclasses.dataclass
class RunResult:
    """One (loss, variant, seed) run, as stored in the cache."""

    loss: str
    variant: str
    seed: int
    test_loss: float
    test_accuracy: float
    history: dict[str, list[float]]
    predictions: list[int]  # predicted class of every test image
    fit_seconds: float
    key: str
    from_cache: bool = False


def _cache_file(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"{key}.json"


def load_cached(cache_dir: Path, key: str) -> RunResult | None:
    """A cached run, or None if absent or unreadable (then it is trained again)."""
    path = _cache_file(cache_dir, key)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        result = RunResult(**data)
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None
    if result.key != key:
        return None
    result.from_cache = True
    return result


def store(cache_dir: Path, result: RunResult) -> None:
    data = dataclasses.asdict(result)
    data.pop("from_cache")
    fileio.write_text(_cache_file(cache_dir, result.key), json.dumps(data))


def run(sweep: SweepParams, loss: str, ds: Dataset, training: TrainingParams, cache_dir: Path,
        log=print, store_new: bool = True) -> list[RunResult]:
    """Every (variant, seed) of ``loss``: from the cache where present, else trained (and cached).

    ``store_new=False`` reads the cache but adds nothing to it: a notebook opened by hand
    must not change the folder that DVC tracks as the sweep stage's output.
    """
    import tensorflow as tf

    from pipeline import modeling

    tf.get_logger().setLevel("ERROR")  # one process builds many models: no retracing warnings
    if store_new:
        cache_dir.mkdir(parents=True, exist_ok=True)
    code, dataset_id = code_fingerprint(), data_id(ds)
    results = []
    for variant in sweep.variants:
        for seed in sweep.seeds:
            cfg = variant_config(sweep, variant, loss, seed)
            key = cache_key(cfg, training, dataset_id, code)
            cached = load_cached(cache_dir, key)
            if cached is not None:
                results.append(cached)
                continue
            t = modeling.train(cfg, ds, training, keep_models=0, diagnostics=False, log=lambda *_: None)
            r = t.runs[0]
            result = RunResult(loss=loss, variant=variant, seed=seed, test_loss=r.test_loss,
                               test_accuracy=r.test_accuracy, history=r.history,
                               predictions=r.test_probabilities.argmax(axis=1).astype(int).tolist(),
                               fit_seconds=r.fit_seconds, key=key)
            if store_new:
                store(cache_dir, result)
            results.append(result)
            log(f"trained {variant} seed {seed}: accuracy {r.test_accuracy:.4f} in {r.fit_seconds:.1f} s")
    trained = sum(not r.from_cache for r in results)
    log(f"{loss}: {len(results)} runs, {trained} trained now, {len(results) - trained} from the cache")
    return results


# --------------------------------------------------------------------------- tables


def runs_frame(results: list[RunResult]) -> pd.DataFrame:
    """One row per run (no predictions or histories)."""
    return pd.DataFrame([{"loss": r.loss, "variant": r.variant, "seed": r.seed, "test_loss": r.test_loss,
                          "test_accuracy": r.test_accuracy, "val_accuracy": r.history["val_accuracy"][-1],
                          "fit_seconds": r.fit_seconds, "from_cache": r.from_cache} for r in results])


def curves_frame(results: list[RunResult]) -> pd.DataFrame:
    """Long table of the per-epoch curves of every run."""
    rows = []
    for r in results:
        for e, values in enumerate(zip(*(r.history[k] for k in ("accuracy", "val_accuracy", "loss", "val_loss"))), 1):
            rows.append({"loss": r.loss, "variant": r.variant, "seed": r.seed, "epoch": e,
                         **dict(zip(("accuracy", "val_accuracy", "loss_value", "val_loss"), values))})
    return pd.DataFrame(rows)


def _pct(diff: float, base: float) -> str:
    return f"{100 * diff / base:+.1f}%" if base else ""


def r4_table(runs: pd.DataFrame, sweep: SweepParams, loss: str) -> pd.DataFrame:
    """R4's table with our numbers: mean ± std over seeds, differences against the baseline row,
    and R4's printed loss and accuracy beside ours."""
    base_name = next(iter(sweep.variants))
    g = runs[runs["loss"] == loss].groupby("variant", sort=False)
    mean, std = g[["test_loss", "test_accuracy"]].mean(), g[["test_loss", "test_accuracy"]].std(ddof=1).fillna(0.0)
    rows = []
    for name, v in sweep.variants.items():
        if name not in mean.index:
            continue
        lm, am = mean.loc[name, "test_loss"], mean.loc[name, "test_accuracy"]
        ls, as_ = std.loc[name, "test_loss"], std.loc[name, "test_accuracy"]
        lb, ab = mean.loc[base_name, "test_loss"], mean.loc[base_name, "test_accuracy"]
        first = name == base_name
        claim = sweep.claimed.get(loss, {}).get(name)
        rows.append({
            "Description": v.description,
            "First Layer": v.hidden[0], "Second Layer": v.hidden[1] if len(v.hidden) > 1 else "",
            "Third Layer": v.hidden[2] if len(v.hidden) > 2 else "", "Dropout": f"{v.dropout:.0%}",
            "Loss": f"{lm:.3f} ± {ls:.3f}", "Loss +/-": "" if first else f"{lm - lb:+.3f}",
            "Loss +/-%": "" if first else _pct(lm - lb, lb),
            "Accuracy": f"{am:.4f} ± {as_:.4f}", "Accuracy +/-": "" if first else f"{am - ab:+.4f}",
            "Accuracy +/-%": "" if first else _pct(am - ab, ab),
            "R4 loss": "" if claim is None else f"{claim[0]:.3f}",
            "R4 accuracy": "" if claim is None else f"{claim[1]:.3f}",
        })
    return pd.DataFrame(rows).set_index("Description")


# --------------------------------------------------------------------------- statistics


@dataclasses.dataclass(frozen=True)
class Paired:
    """Mean of paired differences (a − b) over shared seeds with a 95% t confidence interval."""

    n: int
    mean: float
    std: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        return self.n > 1 and (self.low > 0 or self.high < 0)


def paired_difference(a: dict[int, float], b: dict[int, float], confidence: float = 0.95) -> Paired:
    """Paired differences over the seeds present in both ``a`` and ``b`` (seed → value)."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("no shared seeds to pair")
    d = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    mean = float(d.mean())
    if len(d) < 2:
        return Paired(1, mean, 0.0, -math.inf, math.inf)
    std = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1)) * std / math.sqrt(len(d))
    return Paired(len(d), mean, std, mean - half, mean + half)


@dataclasses.dataclass(frozen=True)
class McNemar:
    """Exact McNemar test on paired predictions: b = only A right, c = only B right."""

    only_a: int
    only_b: int
    p_value: float


def mcnemar(pred_a: np.ndarray, pred_b: np.ndarray, y: np.ndarray) -> McNemar:
    ra, rb = pred_a == y, pred_b == y
    b, c = int((ra & ~rb).sum()), int((~ra & rb).sum())
    p = 1.0 if b + c == 0 else float(stats.binomtest(min(b, c), b + c, 0.5).pvalue)
    return McNemar(b, c, p)


def versus_baseline(runs: pd.DataFrame, sweep: SweepParams, loss: str, metric: str = "test_accuracy") -> pd.DataFrame:
    """Per variant: paired difference to the baseline over the shared seeds, and whether its
    95% interval excludes zero (a difference larger than run-to-run noise)."""
    base = next(iter(sweep.variants))
    sub = runs[runs["loss"] == loss]
    by = {v: dict(zip(g["seed"], g[metric])) for v, g in sub.groupby("variant")}
    rows = []
    for name, v in sweep.variants.items():
        if name == base or name not in by:
            continue
        p = paired_difference(by[name], by[base])
        rows.append({"variant": name, "description": v.description, "difference": p.mean, "ci_low": p.low,
                     "ci_high": p.high, "seeds": p.n, "beyond_noise": p.excludes_zero})
    return pd.DataFrame(rows).set_index("variant")


def compare_losses(runs: pd.DataFrame, curves: pd.DataFrame, predictions: dict[tuple[str, str, int], np.ndarray],
                   y_test: np.ndarray, sweep: SweepParams) -> pd.DataFrame:
    """Per variant: categorical minus sparse test accuracy paired over seeds, McNemar on the
    pooled test predictions, how often the two runs predict the same class, and the largest
    per-epoch gap between their validation losses."""
    a, b = LOSSES
    rows = []
    for name, v in sweep.variants.items():
        acc = {loss: dict(zip(g["seed"], g["test_accuracy"]))
               for loss, g in runs[runs["variant"] == name].groupby("loss")}
        if a not in acc or b not in acc:
            continue
        p = paired_difference(acc[a], acc[b])
        seeds = sorted(set(acc[a]) & set(acc[b]))
        pa = np.concatenate([predictions[(a, name, s)] for s in seeds])
        pb = np.concatenate([predictions[(b, name, s)] for s in seeds])
        m = mcnemar(pa, pb, np.tile(y_test, len(seeds)))
        ca = curves[(curves["loss"] == a) & (curves["variant"] == name)].set_index(["seed", "epoch"])["val_loss"]
        cb = curves[(curves["loss"] == b) & (curves["variant"] == name)].set_index(["seed", "epoch"])["val_loss"]
        gap = (ca - cb).abs()
        rows.append({"variant": name, "description": v.description,
                     "categorical": float(np.mean(list(acc[a].values()))),
                     "sparse": float(np.mean(list(acc[b].values()))),
                     "difference": p.mean, "ci_low": p.low, "ci_high": p.high, "seeds": p.n,
                     "beyond_noise": p.excludes_zero, "only_categorical_right": m.only_a,
                     "only_sparse_right": m.only_b, "mcnemar_p": m.p_value,
                     "same_prediction": float((pa == pb).mean()),
                     "max_val_loss_gap": float(gap.max()) if len(gap) else float("nan"),
                     "identical_curves": bool(len(gap) and gap.max() == 0.0)})
    return pd.DataFrame(rows).set_index("variant")


def conclusion(comparison: pd.DataFrame, baseline_tables: dict[str, pd.DataFrame], alpha: float = 0.05) -> list[str]:
    """Plain-words conclusions computed from the numbers (change the numbers, the words change)."""
    out = []
    n = len(comparison)
    if n:
        seeds = int(comparison["seeds"].min())
        beyond = comparison[comparison["beyond_noise"]]
        significant = comparison[comparison["mcnemar_p"] < alpha]
        identical = int(comparison["identical_curves"].sum())
        agree = comparison["same_prediction"]
        out.append(f"Categorical and sparse categorical cross-entropy, trained from the same {seeds} seeds: "
                   f"the accuracy difference (categorical − sparse) lies between {comparison['difference'].min():+.4f} "
                   f"and {comparison['difference'].max():+.4f} across the {n} variants.")
        if identical == n:
            out.append("Every pair of runs has identical validation curves: with the same seed the two losses "
                       "gave bit-identical training, as the mathematics says they should.")
        else:
            out.append(f"The two runs of a pair predict the same class for {100 * agree.min():.2f}–"
                       f"{100 * agree.max():.2f}% of the test images; their validation losses differ by at most "
                       f"{comparison['max_val_loss_gap'].max():.4f}. The losses are the same function of the "
                       "weights, but the two implementations round differently in float32; gradient descent "
                       "amplifies those last-bit differences from step to step"
                       + (f" ({identical} of {n} pairs stayed bit-identical)." if identical else "."))
        if len(beyond):
            out.append(f"For {len(beyond)} of {n} variants the paired 95% interval of the difference excludes 0 "
                       f"({', '.join(beyond['description'])}); with {seeds} seeds, expect about "
                       f"{0.05 * n:.1f} such intervals by chance alone.")
        else:
            out.append(f"For none of the {n} variants does the paired 95% interval of the difference exclude 0: "
                       "the choice between the two losses makes no difference larger than run-to-run noise.")
        out.append(f"McNemar's test on the test predictions finds {len(significant)} of {n} variants with "
                   f"p < {alpha}" + (f" ({', '.join(significant['description'])})." if len(significant) else "."))
    for loss, table in baseline_tables.items():
        if table.empty:
            continue
        beyond = table[table["beyond_noise"]]
        better = beyond[beyond["difference"] > 0]
        worse = beyond[beyond["difference"] < 0]
        text = (f"With {LOSS_LABEL[loss]}, {len(beyond)} of {len(table)} variants differ from the baseline by more "
                f"than run-to-run noise")
        if len(better):
            text += f"; better: {', '.join(f'{d} ({x:+.4f})' for d, x in zip(better['description'], better['difference']))}"
        if len(worse):
            text += f"; worse: {', '.join(f'{d} ({x:+.4f})' for d, x in zip(worse['description'], worse['difference']))}"
        smallest = table["difference"].abs().min()
        out.append(text + f". The smallest measured difference is {smallest:.4f}; R4 ranked variants on "
                   "differences of 0.001, which only a paired comparison over several seeds can tell from noise.")
    return out


# --------------------------------------------------------------------------- files


@dataclasses.dataclass(frozen=True)
class SweepFiles:
    metrics: Path
    runs: Path
    curves: Path
    predictions: Path


def files(loss: str, root: Path | None = None) -> SweepFiles:
    reports = config.reports_dir(root)
    return SweepFiles(metrics=reports / "metrics" / f"sweep_{loss}.json",
                      runs=reports / "sweep" / f"{loss}_runs.csv",
                      curves=reports / "sweep" / f"{loss}_curves.csv",
                      predictions=reports / "sweep" / f"{loss}_predictions.npz")


def cache_dir(loss: str, root: Path | None = None) -> Path:
    """Where the runs of one loss are cached (a DVC output with ``persist: true``)."""
    return config.data_dir(root) / "sweep-cache" / loss


def metrics(results: list[RunResult], sweep: SweepParams) -> dict:
    """Per variant: test accuracy and loss, mean and std over seeds (deterministic)."""
    runs = runs_frame(results)
    out = {}
    for name in sweep.variants:
        g = runs[runs["variant"] == name]
        if g.empty:
            continue
        out[name] = {k: {"mean": round(float(g[k].mean()), 6),
                         "std": round(float(g[k].std(ddof=1)) if len(g) > 1 else 0.0, 6)}
                     for k in ("test_accuracy", "test_loss")}
    return {"variants": out, "seeds": list(sweep.seeds)}


def write_outputs(loss: str, results: list[RunResult], sweep: SweepParams, root: Path | None = None) -> SweepFiles:
    """Metrics JSON, the runs and curves as CSV and the test predictions (npz), each atomically."""
    f = files(loss, root)

    fileio.write_json(f.metrics, metrics(results, sweep))
    fileio.write_text(f.runs, runs_frame(results).drop(columns=["from_cache"]).to_csv(index=False, float_format="%.6f"))
    fileio.write_text(f.curves, curves_frame(results).to_csv(index=False, float_format="%.6f"))
    with fileio.atomic_path(f.predictions) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{f"{r.variant}__{r.seed}": np.asarray(r.predictions, dtype=np.int8)
                                       for r in results})
    return f


def read_outputs(loss: str, root: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """What ``write_outputs`` wrote for ``loss``: runs, curves, {(loss, variant, seed): predictions}."""
    f = files(loss, root)
    runs = pd.read_csv(f.runs)
    curves = pd.read_csv(f.curves)
    with np.load(f.predictions, allow_pickle=False) as npz:
        preds = {(loss, k.split("__")[0], int(k.split("__")[1])): npz[k] for k in npz.files}
    return runs, curves, preds
