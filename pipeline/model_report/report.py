"""Pieces of the model reports that are HTML or tables: rendered with jinja2 (autoescaped)."""

from __future__ import annotations

from pathlib import Path

import jinja2
import keras
import pandas as pd

from pipeline.core.config import ModelConfig, VerdictParams
from pipeline.core import dataset_words
from pipeline.core.stats import t_quantile
from pipeline.model_report.evaluation import Verdict, source_protocol_text

TEMPLATES = Path(__file__).resolve().parent / "templates"

_COLOURS = {"consistent": ("#15803d", "#f0fdf4", "holds"), "not consistent": ("#b91c1c", "#fef2f2", "fails"),
            "inconclusive": ("#b45309", "#fffbeb", "open"), "other protocol": ("#1d4ed8", "#eff6ff", "other"),
            "no claim": ("#475569", "#f8fafc", "none"), "other dataset": ("#475569", "#f8fafc", "other-dataset")}
VERDICT_LABEL = {"other dataset": dataset_words.NOT_JUDGED}  # a verdict as readers see it, where not as stored


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def rule_text(rule: VerdictParams, n: int) -> str:
    """The verdict rule in words, with the t quantile of ``n`` seeds."""
    c = rule.confidence
    t = f"{t_quantile(0.5 + c / 2, n - 1):.3f}" if n > 1 else "undefined"
    return (f"a claim is consistent when it lies inside the {100 * c:g} % prediction interval for one new run, "
            f"mean ± t·s·√(1 + 1/n) with t the {(0.5 + c / 2):g} quantile of Student's t with n − 1 degrees of "
            f"freedom (n = {n} seeds: t = {t}), widened by half a unit of the printed number's last digit; "
            f"not consistent outside it (a faithful reproduction lands outside about {100 * (1 - c):g} % of the "
            f"time); inconclusive when inside but the interval's half-width exceeds the margin (accuracy "
            f"± {rule.accuracy_margin:g}, loss ± {100 * rule.loss_margin:g} % of the claim).")


def claim_box(verdict: Verdict, source: str, repeats: int) -> str:
    """The claimed-vs-measured box (HTML)."""
    colour, background, css = _COLOURS[verdict.verdict]
    other_dataset = (dataset_words.not_judged(source, list(verdict.claimed), verdict.claim_dataset, verdict.run_dataset) + "."
                     if verdict.other_dataset else "")
    return _env().get_template("claim_box.html.j2").render(
        v=verdict, source=source, repeats=repeats, colour=colour, background=background, css=css,
        label=VERDICT_LABEL.get(verdict.verdict, verdict.verdict), other_dataset=other_dataset,
        source_protocol=source_protocol_text(verdict.protocol), rule_text=rule_text(verdict.rule, repeats))


def warning_box(text: str) -> str:
    return _env().get_template("warning_box.html.j2").render(text=text)


def config_table(cfg: ModelConfig) -> pd.DataFrame:
    """The configuration as a two-column table, in the order a reader needs it."""
    rows = {
        "source report": cfg.source,
        "hidden layers (units)": " → ".join(map(str, cfg.hidden)),
        "hidden activation": cfg.activation,
        "dropout after last hidden layer": f"{cfg.dropout:g}" if cfg.dropout else "none",
        "output activation": cfg.output_activation,
        "optimizer": cfg.optimizer + ("" if cfg.learning_rate is None else f" (learning rate {cfg.learning_rate:g})"),
        "loss": cfg.loss,
        "labels": "one-hot vectors" if cfg.one_hot else "integers 0–9",
        "epochs": cfg.epochs,
        "batch size": cfg.batch_size,
        "validation": (f"seeded stratified split: {cfg.validation_fraction:.0%} of the training images, "
                       "drawn anew with each seed" if cfg.validation == "split" else "the TEST set (as the source did)"),
        "repeats (seeds)": f"{cfg.repeats} (seeds {cfg.seed}–{cfg.seed + cfg.repeats - 1})",
    }
    if cfg.claimed.accuracy is not None or cfg.claimed.loss is not None:
        rows["source's protocol (for its claim)"] = source_protocol_text(cfg.claimed.protocol)
    return pd.DataFrame({"value": [str(v) for v in rows.values()]}, index=pd.Index(list(rows), name="setting"))


def layer_table(model: keras.Model) -> pd.DataFrame:
    """Per layer: output shape, parameters and how they are counted ((inputs + 1) × units)."""
    rows, fan_in = [], None
    for layer in model.layers:
        shape = tuple(layer.output.shape[1:])
        count = layer.count_params()
        how = ""
        if isinstance(layer, keras.layers.Dense):
            how = f"({fan_in} inputs + 1 bias) × {layer.units} units"
        if isinstance(layer, keras.layers.Flatten):
            fan_in = shape[0]
        elif isinstance(layer, keras.layers.Dense):
            fan_in = layer.units
        rows.append({"layer": layer.name, "type": type(layer).__name__, "output shape": str(shape),
                     "parameters": count, "count": how})
    df = pd.DataFrame(rows).set_index("layer")
    df.loc["total"] = ["", "", int(df["parameters"].sum()), ""]
    return df
