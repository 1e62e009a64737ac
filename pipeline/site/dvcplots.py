"""The training curves of dvc.yaml's top-level ``plots``: ``reports/dvc_plots/index.html``
draws them as images when the site is built (``static_plots``: readable without JavaScript),
and ``interactive.html`` is ``dvc plots show``'s Vega version, rendered offline.

DVC's default HTML loads vega, vega-lite and vega-embed from a CDN, so its plots are blank
without internet. ``write_template`` writes an HTML template for ``dvc plots show
--html-template`` that inlines the same three libraries (the versions DVC's renderer asks
for, fetched with ``npm pack`` and pinned by sha256); ``show`` runs DVC with it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from pipeline.core import assets, fileio, paths

# The versions dvc-render's VegaRenderer names in its CDN <script> tags.
VEGA = assets.Asset("vega", "5.20.2", "package/build/vega.min.js",
                    "4794d0169cb1f3ebad8117fe98ba5bd652dd725905ec0384e832391dbccb03be")
VEGA_LITE = assets.Asset("vega-lite", "5.2.0", "package/build/vega-lite.min.js",
                         "d73157451b3978015ab31dacd55ff90d986ab8663fc0abed50f97b3cd90002cb")
VEGA_EMBED = assets.Asset("vega-embed", "6.18.2", "package/build/vega-embed.min.js",
                          "1ba9826431ddc9805e815ad92acc811c819f2bfd32bda2a128b8c4b5070fab5e")
LIBRARIES = (VEGA, VEGA_LITE, VEGA_EMBED)
INTERACTIVE = "interactive.html"  # the Vega page, next to the images page

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Training curves, interactive (dvc plots)</title>
{inline_scripts}
<style>
  body {{ font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1rem auto; max-width: 72rem; padding: 0 1rem; }}
  nav a {{ font-weight: 600; }}
  table {{ border-spacing: 15px; }}
  .plots {{ max-width: 100%; overflow-x: auto; }}  /* charts wider than a phone scroll in their box */
</style>
</head>
<body>
<nav><a href="../index.html">&larr; All reports</a> <a href="index.html">The same charts as images</a></nav>
<main>
<h1>Training curves of every configuration, interactive</h1>
<p>Mean over seeds per epoch, drawn by <code>dvc plots show</code> from <code>reports/plots/*.csv</code>
   (definitions in <code>dvc.yaml</code>). Vega is inlined: this page needs no network, but it needs JavaScript.</p>
<script>  /* no actions menu: its <summary> has no accessible name (axe-core: summary-name) */
  const embedWithActions = window.vegaEmbed;
  window.vegaEmbed = (el, spec, opts) => embedWithActions(el, spec, Object.assign({{actions: false}}, opts));
</script>
<div class="plots">
{{plot_divs}}
</div>
</main>
</body>
</html>
"""


def write_template(path: Path) -> Path:
    """The offline template, with the three libraries inlined; DVC fills ``{plot_divs}``."""
    scripts = "\n".join(f"<script>/* {a.package}@{a.version} */\n{assets.read_text(a)}\n</script>" for a in LIBRARIES)
    fileio.write_text(path, PAGE.format(inline_scripts=scripts))
    return path


def plot_definitions(root: Path) -> list[str]:
    """``dvc plots show`` targets for exactly the top-level ``plots`` definitions of dvc.yaml.

    Git-tracked curves and tables are also declared as stages' ``plots`` outputs (so that DVC's
    run-cache stays on for those stages); without targets DVC would draw each of them a second
    time with default axes. Targets are regular expressions matched from the start of a plot's
    id, so each is anchored at its end too (``reports/plots/`` but not ``reports/plots/basic.csv``).
    """
    spec = yaml.safe_load((root / "dvc.yaml").read_text()) or {}
    ids = [next(iter(d)) if isinstance(d, dict) else d for d in spec.get("plots", [])]
    return [re.escape(i) + "$" for i in ids]


def show(out: Path | None = None, root: Path | None = None) -> Path:
    """Write ``out/index.html`` (the charts as images, ``static_plots``) and ``out/interactive.html``
    (``dvc plots show`` with the offline template on the top-level plot definitions); return the
    index page."""
    from pipeline.site import static_plots

    root = root or paths.project_root()
    out = out or paths.site_files(root).dvc_plots
    dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or "dvc"
    with tempfile.TemporaryDirectory() as tmp:  # the template is no output of the stage
        template = write_template(Path(tmp) / "dvc-plots-template.html")
        proc = subprocess.run([dvc, "plots", "show", "--html-template", str(template), "-o", str(Path(tmp) / "vega"),
                               *plot_definitions(root)],
                              cwd=root, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise assets.AssetError(f"dvc plots show failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
        out.mkdir(parents=True, exist_ok=True)
        shutil.move(Path(tmp) / "vega" / "index.html", out / INTERACTIVE)
    return static_plots.write_page(out / "index.html", root, interactive=INTERACTIVE)
