"""Pieces of the model reports that are HTML or tables: rendered with jinja2 (autoescaped)."""

from __future__ import annotations

from pathlib import Path

import keras
import pandas as pd

from pipeline.core import dataset_words, numbers, prose
from pipeline.core.dataset_words import VERDICT_LABEL, DatasetWords
from pipeline.core.params.schema import ModelConfig, VerdictParams
from pipeline.core.seed_stats import t_quantile
from pipeline.model_report.evaluation import Verdict, per_number_confidence, source_protocol_text

TEMPLATES = Path(__file__).resolve().parent / "templates"

_COLOURS = {"consistent": ("#15803d", "#f0fdf4", "holds"), "not consistent": ("#b91c1c", "#fef2f2", "fails"),
            "inconclusive": ("#b45309", "#fffbeb", "open"), "other protocol": ("#1d4ed8", "#eff6ff", "other"),
            "no claim": ("#475569", "#f8fafc", "none"), "other dataset": ("#475569", "#f8fafc", "other-dataset")}


def rule_quantile(rule: VerdictParams, n: int, k: int = 1) -> float | None:
    """The t quantile of the verdict rule for ``n`` seeds and a verdict of ``k`` printed numbers
    (None for one seed: no spread)."""
    return t_quantile(0.5 + per_number_confidence(rule, k) / 2, n - 1) if n > 1 else None


def claim_box(verdict: Verdict, source: str, repeats: int) -> str:
    """The claimed-vs-measured box (HTML); the rule's words are ``core/templates/verdict_rule.html.j2``."""
    colour, background, css = _COLOURS[verdict.verdict]
    other_dataset = (dataset_words.not_judged(source, verdict.claimed, verdict.claim_dataset, verdict.run_dataset) + "."
                     if verdict.other_dataset else "")
    return prose.render(TEMPLATES, "claim_box.html.j2",
                        v=verdict, source=source, repeats=repeats, colour=colour, background=background, css=css,
                        label=VERDICT_LABEL.get(verdict.verdict, verdict.verdict), other_dataset=other_dataset,
                        source_protocol=source_protocol_text(verdict.protocol), t=rule_quantile(verdict.rule, repeats, max(len(verdict.checks), 1)))


def reason_text(reason: dict) -> str:
    """One measured reason (``evaluation.judge_claim``) in words, as the claim box shows it."""
    macro = prose.environment(TEMPLATES).get_template("reasons.html.j2").module.reason
    return " ".join(str(macro(reason)).split())


def check_text(check) -> str:
    """Why a check has its outcome (``evaluation.ClaimCheck``), as the claim box says it."""
    macro = prose.environment(TEMPLATES).get_template("reasons.html.j2").module.why
    return " ".join(str(macro(check)).split())


def claim_section_text(verdict: Verdict) -> str:
    """The paragraph above the claim box: how a claim is judged, or why it is not (Markdown)."""
    return prose.render(TEMPLATES, "claim_section.md.j2", other_dataset=verdict.other_dataset,
                        claimed_on=dataset_words.words(verdict.claim_dataset),
                        run_on=dataset_words.words(verdict.run_dataset))


def mistakes_text(words: DatasetWords) -> str:
    """The paragraph above the gallery of confident mistakes, in the dataset's words (Markdown)."""
    return prose.render(TEMPLATES, "mistakes.md.j2", words=words)


def own_images_text(words: DatasetWords, photos: int = 4, drawings: int = 2) -> str:
    """'Your own images': what ``predict`` does and what the figure shows (``photos`` photos of
    test images, one of each kind of ``predict_photos``, then ``drawings`` drawn digits), or why
    the section is left out (Markdown)."""
    return prose.render(TEMPLATES, "own_images.md.j2", words=words, photos=photos, drawings=drawings)


def warning_box(text: str) -> str:
    return prose.render(TEMPLATES, "warning_box.html.j2", text=text)


def heading_text(cfg: ModelConfig) -> str:
    """The report's heading: the configuration's title and description (Markdown)."""
    return prose.render(TEMPLATES, "heading.md.j2", cfg=cfg)


def test_validation_warning() -> str:
    """The warning box of a configuration validated on the test set (HTML)."""
    return warning_box(prose.render(TEMPLATES, "test_validation.md.j2"))


def data_text(title: str, split: bool, fit: int, val: int, test: int) -> str:
    """How many images are fitted, validated and tested on (Markdown)."""
    return prose.render(TEMPLATES, "data_split.md.j2", title=title, split=split, fit=fit, val=val, test=test)


def curves_text(cfg: ModelConfig) -> str:
    """What the training curves show; the dropout sentence only where there is dropout (Markdown)."""
    return prose.render(TEMPLATES, "curves.md.j2", cfg=cfg)


def files_text(files: list[str]) -> str:
    """The files this run wrote, as one sentence (Markdown)."""
    return prose.render(TEMPLATES, "files_written.md.j2", files=files)


def test_summary_text(accuracy: str, loss: str, n: int) -> str:
    """The headline test result: accuracy and loss as mean ± std over ``n`` seeds (Markdown)."""
    return prose.render(TEMPLATES, "test_summary.md.j2", accuracy=accuracy, loss=loss, n=n)


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
        "validation": (f"seeded stratified split: {numbers.pct(cfg.validation_fraction, 0)} of the training images, "
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
