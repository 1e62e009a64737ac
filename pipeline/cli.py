"""``python -m pipeline COMMAND``: the commands that the DVC stages and users run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline.core import config, paths
from pipeline.core.errors import PipelineError


def cmd_check(args: argparse.Namespace) -> int:
    params = config.load_params(args.params)
    print(f"{args.params or paths.PARAMS_FILE}: valid ({', '.join(type(params).model_fields)})")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from pipeline.core import dataset

    root = paths.project_root()
    name = args.dataset or config.load_params(root / paths.PARAMS_FILE).data.dataset
    out = Path(args.out) if args.out else paths.prepared_data_file(root)
    start = time.perf_counter()
    origin = dataset.prepare(name, out, paths.download_cache_dir())
    print(f"{name}: wrote {out} from {origin} in {time.perf_counter() - start:.1f} s (sha256 verified)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.core import runner

    root = paths.project_root()
    params = config.load_params(root / paths.PARAMS_FILE)
    notebook = Path(args.notebook)
    parameters = runner.stage_parameters(root / notebook, args.sections or [], args.set or [], params)
    title, summary = args.title, None
    if args.about:  # a params entry with a title and a description (e.g. models.r0_deep)
        about = config.value_at(params, args.about)
        title, summary = title or about.title, about.description
    start = time.perf_counter()
    written = runner.run(notebook, parameters, root=root, progress=not args.no_progress,
                         name=args.name, title=title, summary=summary)
    for path in written.all():
        print(f"wrote {path.relative_to(root)}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Print the predicted class and confidence of each image; non-zero exit if any was refused."""
    from pipeline.modeling import predict

    names = None
    if args.dataset == "fashion_mnist":
        from pipeline.core.dataset import get_spec

        names = get_spec("fashion_mnist").class_names
    ready, failed = {}, 0
    for image in args.images:
        try:
            ready[image] = predict.prepare_file(image)
        except predict.PredictError as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
    if ready:
        model = predict.load_model(args.model)
        import numpy as np

        probs = predict.predict(model, np.stack(list(ready.values())))
        for image, p in zip(ready, probs):
            k = int(p.argmax())
            label = names[k] if names else str(k)
            print(f"{image}: {label} (confidence {100 * float(p[k]):.1f}%)")
    return 1 if failed else 0


def cmd_plots(args: argparse.Namespace) -> int:
    from pipeline.site import dvcplots

    print(f"wrote {dvcplots.show(Path(args.out) if args.out else None)}")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from pipeline.site import index

    print(f"wrote {index.build()}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from pipeline.site import publish

    out, files = publish.publish(Path(args.out).resolve() if args.out else None)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"published {len(files)} files ({size / 2**20:.1f} MiB) to {out}: relative links only, "
          f"nothing fetched from the network, no local paths. Upload the folder as it is.")
    return 0


def cmd_sweep_cache(args: argparse.Namespace) -> int:
    """List (or with --prune delete) the sweep's cached runs that no current run uses."""
    from pipeline.core import dataset
    from pipeline.loss_sweep import runs

    root = paths.project_root()
    params = config.load_params(root / paths.PARAMS_FILE)
    sweep = config.value_at(params, "sweep")
    settings = params.training.for_model()
    ds = dataset.load(paths.prepared_data_file(root), sample_size=settings.sample_size)
    found = 0
    for loss in config.LOSSES:
        folder = paths.sweep_files(loss, root).cache
        live = {spec.key for _, spec in runs.run_specs(sweep, loss, ds, settings)}
        stale = runs.unreachable(folder, live)
        kept = len(list(folder.glob("*.json"))) - len(stale) if folder.is_dir() else 0
        for path in stale:
            if args.prune:
                path.unlink()
        found += len(stale)
        print(f"{folder.relative_to(root)}: {kept} entries used by params.yaml, {len(stale)} unreachable"
              + (" (deleted)" if args.prune and stale else ""))
    if found and not args.prune:
        print("run `python -m pipeline sweep-cache --prune` to delete the unreachable entries")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="validate params.yaml against the schema")
    p.add_argument("params", nargs="?", help="params file (default: params.yaml of the project)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("data", help="fetch, verify and write the prepared dataset (data/dataset.npz)")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], help="default: params.yaml data.dataset")
    p.add_argument("--out", help="output file (default: data/dataset.npz)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("run", help="execute a notebook with papermill and render its HTML views")
    p.add_argument("notebook", help="e.g. notebooks/01_data_exploration.ipynb")
    p.add_argument("--sections", nargs="+", metavar="NAME[=PATH]",
                   help="parts of params.yaml passed whole, each as the mapping parameter NAME: the "
                        "section NAME, or the part at the dotted PATH (model=models.r0_deep)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="a string parameter (repeatable)")
    p.add_argument("--name", help="output name (default: the notebook's stem)")
    p.add_argument("--title", help="report title (default: --about's title, else the notebook's first heading)")
    p.add_argument("--about", metavar="PATH", help="a params.yaml entry whose title and description "
                                                   "head the report and its line in the index")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("predict", help="classify your own digit images with a trained .keras model")
    p.add_argument("model", help="a trained model, e.g. models/r0_deep.keras")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, …), any size, light or dark background")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist", help="class names to print")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("sweep-cache", help="list the loss sweep's cached runs that params.yaml no longer reaches")
    p.add_argument("--prune", action="store_true", help="delete them")
    p.set_defaults(func=cmd_sweep_cache)

    p = sub.add_parser("plots", help="`dvc plots show` with an offline template → reports/dvc_plots/index.html")
    p.add_argument("--out", help="output folder (default: reports/dvc_plots)")
    p.set_defaults(func=cmd_plots)

    p = sub.add_parser("site", help="render reports/index.html")
    p.set_defaults(func=cmd_site)

    p = sub.add_parser("publish", help="copy the site reachable from reports/index.html into a folder to upload")
    p.add_argument("--out", help="output folder (default: public/ in the project); replaced when complete")
    p.set_defaults(func=cmd_publish)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PipelineError as err:  # params, data, runner, assets, predict
        print(f"error: {err}", file=sys.stderr)
        return 1
