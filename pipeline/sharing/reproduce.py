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

from pipeline.core import fileio, hypothesis_tests, paths, prose
from pipeline.site import index

ALPHA = 0.05
TRACKED = ("reports/metrics/*.json", "reports/plots/*.csv", "reports/sweep/*_runs.csv")
ENVIRONMENT = "reports/reproduction/environment.json"
TEMPLATES = Path(__file__).parent / "templates"
PAGE_TEMPLATE = "reproduction.html.j2"  # the page's words and layout
PAGE = f"reports/{index.REPRODUCTION_PAGE}"  # index.reproduction_page(paths.site_files())


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
        seeds = json.loads(data).get("seeds")  # a model's {seed: {quantity: value}}; a sweep's lists its seeds only
        for seed in seeds.values() if isinstance(seeds, dict) else []:
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




def machine_words(cpu: str | None) -> str:
    """``x86_64:sse4_2,avx2,avx512f,…`` → ``an x86_64 CPU with AVX-512``: the widest vector unit,
    which decides the last digits of TensorFlow's sums (the full list stays in the table)."""
    if not cpu:
        return "this machine"
    arch, _, listed = cpu.partition(":")
    flags = set(listed.split(","))
    widest = ("AVX-512" if any(f.startswith("avx512") for f in flags) else "AVX2" if "avx2" in flags
              else "AVX" if "avx" in flags else "")
    return f"an {arch} CPU with {widest}" if widest else f"an {arch} CPU"


def write_page(root: Path, c: Comparison, rev: str, old_env: dict, new_env: dict) -> Path:
    keys = sorted(set(old_env) | set(new_env))
    named = subprocess.run(["git", "rev-parse", "--short", rev], cwd=root, capture_output=True, text=True)
    rev = named.stdout.strip() if named.returncode == 0 and named.stdout.strip() else rev  # HEAD moves; a hash does not
    page = prose.environment(TEMPLATES).get_template(PAGE_TEMPLATE)
    html = page.render(c=c, summary=c.summary(), rev=rev, old=old_env, new=new_env,
                       machine=machine_words(new_env.get("cpu")), keys=keys, alpha=ALPHA)
    fileio.write_text(root / PAGE, html)
    fileio.write_json(root / ENVIRONMENT, new_env)
    if paths.site_files(root).index.is_file():  # the front page links the new page
        index.build(root, environment_file=False)
    return root / PAGE
