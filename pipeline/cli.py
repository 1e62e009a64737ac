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
    parameters = getattr(params, args.section).model_dump() if args.section else {}
    start = time.perf_counter()
    written = runner.run(Path(args.notebook), parameters, root=root, progress=not args.no_progress)
    for kind, path in written.items():
        print(f"{kind}: {path.relative_to(root)}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from pipeline import site

    print(f"wrote {site.build()}")
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
    p.add_argument("--section", help="params.yaml section whose keys are the notebook's parameters")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("site", help="render reports/index.html")
    p.set_defaults(func=cmd_site)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pipeline.assets import AssetError
    from pipeline.config import ParamsError
    from pipeline.dataset import DataError
    from pipeline.runner import RunnerError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ParamsError, DataError, RunnerError, AssetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
