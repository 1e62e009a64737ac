"""``make reproduce``: does a recomputation agree with the committed results?

The git-tracked numbers (``reports/metrics/*.json``, ``reports/plots/*.csv``,
``reports/sweep/*_runs.csv``) of a revision are compared with the workspace's after a rerun:

- files that are byte-identical are listed;
- per configuration and quantity, the committed seeds' values and the new seeds' values are
  compared with Welch's two-sided t-test (unequal variances); the p-values of all comparisons
  are corrected together with Holm's method at ``ALPHA``: a rejected one disagrees beyond the
  seed spread;
- every ``verdict`` and ``outcome`` (claims, checks, explanations) must be the same.

The result is a page (``reports/reproduction.html``), the environment of the new run
(``reports/reproduction/environment.json``: CPU features, package versions) and one line.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import io
import json
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np

from pipeline.core import hypothesis_tests, paths

ALPHA = 0.05
TRACKED = ("reports/metrics/*.json", "reports/plots/*.csv", "reports/sweep/*_runs.csv")
ENVIRONMENT = "reports/reproduction/environment.json"
PAGE = f"reports/{paths.REPRODUCTION_PAGE}"  # paths.site_files().reproduction


def committed_files(root: Path, rev: str = "HEAD") -> dict[str, bytes]:
    """The tracked result files of ``rev`` (path → bytes)."""
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev], cwd=root,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    names = [n for n in listed if any(fnmatch.fnmatchcase(n, pattern) for pattern in TRACKED)]
    return {n: subprocess.run(["git", "show", f"{rev}:{n}"], cwd=root, capture_output=True, check=True).stdout
            for n in names}


def current_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for pattern in TRACKED for p in sorted(root.glob(pattern))}


def seed_values(name: str, data: bytes) -> dict[tuple[str, str], list[float]]:
    """(configuration, quantity) → one value per seed, from a metrics file or a sweep runs table."""
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    if name.endswith("_runs.csv"):
        for row in csv.DictReader(io.StringIO(data.decode())):
            for quantity, value in row.items():
                if quantity not in {"loss", "variant", "seed"}:
                    out[(f"{row['loss']}/{row['variant']}", quantity)].append(float(value))
    elif name.startswith("reports/metrics/"):
        config = Path(name).stem
        for seed in (json.loads(data).get("seeds") or {}).values():
            for quantity, value in seed.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[(config, quantity)].append(float(value))
    return dict(out)


def outcomes(data: bytes, prefix: str = "") -> dict[str, str]:
    """Every ``verdict`` / ``outcome`` string of a metrics file, by its path in the JSON."""
    found = {}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"verdict", "outcome"} and isinstance(value, str):
                    found[f"{path}/{key}"] = value
                walk(value, f"{path}/{key}")

    walk(json.loads(data), prefix)
    return found


def welch_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of Welch's t-test; with no spread at all, 1 if the means agree, else 0."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2 or (np.ptp(a) == 0 and np.ptp(b) == 0):
        return 1.0 if np.isclose(np.mean(a), np.mean(b), rtol=0, atol=1e-12) else 0.0
    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


@dataclasses.dataclass(frozen=True)
class Quantity:
    file: str
    configuration: str
    quantity: str
    committed: float  # mean over the committed seeds
    new: float
    p: float
    p_holm: float
    disagrees: bool


@dataclasses.dataclass(frozen=True)
class Comparison:
    identical: list[str]
    different: list[str]
    missing: list[str]  # committed, not produced now
    quantities: list[Quantity]
    changed_outcomes: list[tuple[str, str, str]]  # (where, committed, new)

    @property
    def disagreeing(self) -> list[Quantity]:
        return [q for q in self.quantities if q.disagrees]

    @property
    def agrees(self) -> bool:
        return not self.disagreeing and not self.changed_outcomes and not self.missing

    def summary(self) -> str:
        files = f"{len(self.identical)} of {len(self.identical) + len(self.different) + len(self.missing)} files byte-identical"
        spread = (f"all {len(self.quantities)} quantities within the seed spread" if not self.disagreeing else
                  f"{len(self.disagreeing)} of {len(self.quantities)} quantities beyond the seed spread")
        verdicts = ("every verdict and outcome the same" if not self.changed_outcomes else
                    f"{len(self.changed_outcomes)} verdicts or outcomes changed")
        missing = f", {len(self.missing)} files not produced" if self.missing else ""
        return f"{'reproduced' if self.agrees else 'NOT reproduced'}: {files}, {spread} (Welch t, Holm {ALPHA}), {verdicts}{missing}"


def compare(old: dict[str, bytes], new: dict[str, bytes], alpha: float = ALPHA) -> Comparison:
    identical = sorted(n for n in old if new.get(n) == old[n])
    different = sorted(n for n in old if n in new and new[n] != old[n])
    missing = sorted(n for n in old if n not in new)
    rows, changed = [], []
    for name in different:
        before, after = seed_values(name, old[name]), seed_values(name, new[name])
        rows += [(name, *key, before[key], after[key]) for key in before if key in after]
        if name.endswith(".json"):
            a, b = outcomes(old[name]), outcomes(new[name])
            changed += [(f"{Path(name).stem}{k}", a[k], b.get(k, "absent")) for k in a if a[k] != b.get(k)]
    p = [welch_p(a, b) for *_, a, b in rows]
    p_holm, reject = hypothesis_tests.holm(p, alpha) if p else ([], [])
    quantities = [Quantity(f, c, q, float(np.mean(a)), float(np.mean(b)), pi, float(ph), bool(r))
                  for (f, c, q, a, b), pi, ph, r in zip(rows, p, p_holm, reject)]
    return Comparison(identical, different, missing, quantities, changed)


def merged_environment(stages: dict[str, dict]) -> dict[str, str]:
    """One value per key over the stages' environments, the distinct ones joined by " / "."""
    keys = sorted({k for env in stages.values() for k in env})
    return {k: " / ".join(sorted({str(env[k]) for env in stages.values() if k in env})) for k in keys}


def _git_json(root: Path, rev: str, path: str) -> dict:
    proc = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True)
    try:
        found = json.loads(proc.stdout) if proc.returncode == 0 else {}
    except json.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def committed_environment(root: Path, rev: str = "HEAD") -> dict[str, str]:
    """The environment ``rev``'s results were made in: the site's record of every stage's
    (``reports/environment.json``), else an earlier reproduction's; empty when neither is committed."""
    site = paths.site_files(root).environment.relative_to(root).as_posix()
    stages = _git_json(root, rev, site).get("stages")
    if isinstance(stages, dict) and stages:
        return merged_environment(stages)
    return _git_json(root, rev, ENVIRONMENT)


PAGE_TEMPLATE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Reproduced on {{ new.cpu }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
.bad{color:#a00;font-weight:bold}</style></head><body>
<p><a href="index.html">← all reports</a></p>
<h1>Reproduced on {{ new.cpu }}</h1>
<p><strong>{{ summary }}</strong>, compared with the results of commit {{ rev }}.</p>
<h2>Environments</h2>
<table><tr><th></th><th>committed run</th><th>this run</th></tr>
{% for key in keys %}<tr><td>{{ key }}</td><td>{{ old.get(key, "not recorded") }}</td><td>{{ new.get(key, "absent") }}</td></tr>
{% endfor %}</table>
<h2>Byte-identical files ({{ c.identical|length }})</h2><ul>{% for f in c.identical %}<li>{{ f }}</li>{% endfor %}</ul>
<h2>Different files ({{ c.different|length }}){% if c.missing %}, not produced: {{ c.missing|join(", ") }}{% endif %}</h2>
<ul>{% for f in c.different %}<li>{{ f }}</li>{% endfor %}</ul>
<h2>Seeds, committed and new</h2>
<p>Per configuration and quantity, Welch's two-sided t-test of the committed seeds' values
against the new seeds' values; Holm's correction over all {{ c.quantities|length }} comparisons
at {{ alpha }}. A corrected p-value at or below it means the new values differ beyond the seed spread.</p>
<table><tr><th>file</th><th>configuration</th><th>quantity</th><th>committed mean</th><th>new mean</th><th>p (Holm)</th></tr>
{% for q in c.quantities %}<tr{% if q.disagrees %} class="bad"{% endif %}><td>{{ q.file }}</td><td>{{ q.configuration }}</td>
<td>{{ q.quantity.replace("_", " ") }}</td><td>{{ "%.5f"|format(q.committed) }}</td><td>{{ "%.5f"|format(q.new) }}</td>
<td>{{ "%.3g"|format(q.p_holm) }}</td></tr>{% endfor %}</table>
<h2>Verdicts and outcomes</h2>
{% if c.changed_outcomes %}<table><tr><th>where</th><th>committed</th><th>new</th></tr>
{% for w, a, b in c.changed_outcomes %}<tr class="bad"><td>{{ w }}</td><td>{{ a }}</td><td>{{ b }}</td></tr>{% endfor %}</table>
{% else %}<p>Every verdict and outcome is the same.</p>{% endif %}
</body></html>
"""


def write_page(root: Path, c: Comparison, rev: str, old_env: dict, new_env: dict) -> Path:
    import jinja2

    env = jinja2.Environment(autoescape=True)
    keys = sorted(set(old_env) | set(new_env))
    html = env.from_string(PAGE_TEMPLATE).render(c=c, summary=c.summary(), rev=rev, old=old_env, new=new_env,
                                                 keys=keys, alpha=ALPHA)
    from pipeline.core import fileio

    fileio.write_text(root / PAGE, html)
    fileio.write_json(root / ENVIRONMENT, new_env)
    return root / PAGE
