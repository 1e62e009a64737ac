"""``python -m pipeline COMMAND``: the commands that the DVC stages and users run."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline import config


def cmd_check(args: argparse.Namespace) -> int:
    params = config.load_params(args.params)
    print(f"{args.params or config.PARAMS_FILE}: valid ({', '.join(type(params).model_fields)})")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from pipeline import dataset

    root = config.project_root()
    name = args.dataset or config.load_params(root / config.PARAMS_FILE).data.dataset
    out = Path(args.out) if args.out else config.prepared_data_file(root)
    start = time.perf_counter()
    origin = dataset.prepare(name, out, config.download_cache_dir())
    print(f"{name}: wrote {out} from {origin} in {time.perf_counter() - start:.1f} s (sha256 verified)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline import runner

    root = config.project_root()
    params = config.load_params(root / config.PARAMS_FILE)
    notebook = Path(args.notebook)
    name = title = summary = None
    if args.model:
        if args.model not in params.models:
            raise config.ParamsError(f"models.{args.model}: no such configuration in params.yaml; "
                                     f"known: {', '.join(params.models) or '(none)'}")
        cfg = params.models[args.model]
        parameters = {"config_name": args.model, "config": cfg.model_dump(mode="json"),
                      "training": params.training.model_dump(mode="json"), "write_outputs": True}
        name, title, summary = f"{notebook.stem}_{args.model}", cfg.title, cfg.description
    else:
        parameters = getattr(params, args.section).model_dump(mode="json") if args.section else {}
        for section in args.sections or []:  # whole sections as mapping parameters
            parameters[section] = getattr(params, section).model_dump(mode="json")
        for item in args.set or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise config.ParamsError(f"--set {item!r}: expected KEY=VALUE")
            parameters[key] = value
        if "write_outputs" in runner.declared_parameters(root / notebook):
            parameters["write_outputs"] = True  # a pipeline run writes the files DVC tracks
        name, title = args.name, args.title
    start = time.perf_counter()
    written = runner.run(notebook, parameters, root=root, progress=not args.no_progress,
                         name=name, title=title, summary=summary)
    for kind, path in written.items():
        print(f"{kind}: {path.relative_to(root)}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Print the predicted class and confidence of each image; non-zero exit if any was refused."""
    from pipeline import predict

    names = None
    if args.dataset == "fashion_mnist":
        from pipeline.dataset import get_spec

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
    from pipeline import dvcplots

    print(f"wrote {dvcplots.show(Path(args.out) if args.out else None)}")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from pipeline import site

    print(f"wrote {site.build()}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from pipeline import publish

    out, files = publish.publish(Path(args.out).resolve() if args.out else None)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"published {len(files)} files ({size / 2**20:.1f} MiB) to {out}: relative links only, "
          f"nothing fetched from the network, no local paths. Upload the folder as it is.")
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
    group = p.add_mutually_exclusive_group()
    group.add_argument("--section", help="params.yaml section whose keys are the notebook's parameters")
    group.add_argument("--model", help="a `models` entry: run the model-report template for it "
                                       "(outputs named NOTEBOOK_MODEL)")
    p.add_argument("--sections", nargs="+", choices=["data", "explore", "training", "classical", "sweep"],
                   help="params.yaml sections passed whole, each as a mapping parameter of that name")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a string parameter (repeatable)")
    p.add_argument("--name", help="output name (default: the notebook's stem)")
    p.add_argument("--title", help="report title (default: the notebook's first heading)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("predict", help="classify your own digit images with a trained .keras model")
    p.add_argument("model", help="a trained model, e.g. models/r0_deep.keras")
    p.add_argument("images", nargs="+", help="image files (PNG, JPEG, …), any size, light or dark background")
    p.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist", help="class names to print")
    p.set_defaults(func=cmd_predict)

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
    except config.PipelineError as err:  # params, data, runner, assets, predict
        print(f"error: {err}", file=sys.stderr)
        return 1
