"""``python -m pipeline COMMAND``: the commands that the DVC stages and users run.

Bad arguments (unknown names, missing files, folders where files are expected, files of the
wrong kind, output folders that cannot be written) are refused with one line on stderr,
``error: …`` naming the argument, and exit status 1 (2 for what argparse refuses), before
anything slow is imported (TensorFlow, nbconvert) wherever the check allows it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import typing
import warnings
from pathlib import Path

from pipeline.core import paths
from pipeline.core.errors import PipelineError
from pipeline.core.params.access import entry_key, value_at
from pipeline.core.params.loading import load_params
from pipeline.core.params.messages import ParamsError
from pipeline.core.params.schema import Loss, Params

DEBUG_ENV = "PIPELINE_DEBUG"  # =1: unexpected errors show their traceback
# Set before TensorFlow is imported (as the Makefile does for `dvc repro`, and runner.KERNEL_ENV
# for the kernel): oneDNN off (its start-up lines, printed twice, and TensorFlow's numerics as in
# training), C++ log level 2 (no INFO or WARNING start-up lines; errors still show). A value
# the caller set is kept.
TENSORFLOW_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}


class UsageError(PipelineError, ValueError):
    """A command-line argument that cannot be used; the message names it."""


def _writable_folder(folder: Path, what: str) -> None:
    """Refuse ``folder`` unless it is an existing folder in which a file can be created."""
    if not folder.exists():
        raise UsageError(f"{what}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise UsageError(f"{what}: {folder} is not a folder")
    try:  # a real probe: permissions, read-only file systems, root's exceptions included
        with tempfile.TemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as err:
        raise UsageError(f"{what}: cannot write into {folder} ({err.strerror or err})") from None


def _output_folder(value: str, what: str) -> Path:
    """An output folder (made by the command if missing): not a file, under a writable folder."""
    out = Path(value).resolve()
    if out.exists() and not out.is_dir():
        raise UsageError(f"{what} {value}: is a file, not a folder")
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"{what} {value}: {existing} is a file, not a folder")
    _writable_folder(existing, f"{what} {value}")
    return out


def _notebook_path(root: Path, value: str) -> Path:
    """The notebook argument of ``run``: an existing .ipynb file that is a notebook's JSON."""
    notebook = root / value  # relative to the project (an absolute path stays as it is)
    if notebook.is_dir():
        raise UsageError(f"{value}: is a folder, not a notebook file")
    if not notebook.exists():
        raise UsageError(f"{value}: notebook not found (looked for {notebook})")
    if notebook.suffix != ".ipynb":
        raise UsageError(f"{value}: not a Jupyter notebook (.ipynb)")
    try:
        data = json.loads(notebook.read_bytes())
    except (UnicodeDecodeError, ValueError) as err:
        raise UsageError(f"{value}: not a Jupyter notebook (not valid JSON: {err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or "nbformat" not in data:
        raise UsageError(f"{value}: not a Jupyter notebook (no 'cells' and 'nbformat' in its JSON)")
    return notebook


def _check_sections(params: Params, sections: list[str]) -> None:
    """Each ``NAME[=PATH]`` of ``--sections`` names a part of params.yaml that is a section
    (or one item of a list: ``loss=sweep.losses.categorical_crossentropy``), and at most one
    is an entry (it names the run's files)."""
    from pydantic import BaseModel

    entries = []
    for item in sections:
        name, _, where = item.partition("=")
        if not name.isidentifier():
            raise UsageError(f"--sections {item}: {name!r} is not a parameter name (NAME or NAME=PATH)")
        try:
            value = value_at(params, where or name)
        except ParamsError as err:
            raise UsageError(f"--sections {item}: {str(err).removeprefix(f'{where or name}: ')}") from None
        if entry_key(params, where or name) is not None:
            entries.append(item)
            if not isinstance(value, (BaseModel, dict)):
                continue  # a list item (a loss of sweep.losses) is passed as itself
        if not isinstance(value, BaseModel):
            kind = "a mapping of entries" if isinstance(value, dict) else f"a single value ({type(value).__name__})"
            raise UsageError(f"--sections {item}: {where or name} is {kind}, not a section "
                             f"(pass one part, e.g. model=models.r0_deep)")
    if len(entries) > 1:
        raise UsageError(f"--sections {' '.join(entries)}: a run is for one entry at most (it names the run's files)")



def cmd_check(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    print(f"{args.params or paths.PARAMS_FILE}: valid ({', '.join(type(params).model_fields)})")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from pipeline.core import dataset

    root = paths.project_root()
    if args.out:
        out = Path(args.out)
        if out.is_dir():
            raise UsageError(f"--out {args.out}: is a folder; name the file to write (e.g. data/dataset.npz)")
        _writable_folder(out.resolve().parent, f"--out {args.out}")
    name = args.dataset or load_params(root / paths.PARAMS_FILE).data.dataset
    out = Path(args.out) if args.out else paths.prepared_data_file(root)
    start = time.perf_counter()
    origin = dataset.prepare(name, out, paths.download_cache_dir())
    print(f"{name}: wrote {out} from {origin} in {time.perf_counter() - start:.1f} s (sha256 verified)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    root = paths.project_root()
    params = load_params(root / paths.PARAMS_FILE)
    notebook = _notebook_path(root, args.notebook)
    _check_sections(params, args.sections or [])
    for item in args.set or []:
        name, sep, _ = item.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--set {item}: expected NAME=VALUE")

    import nbformat

    from pipeline.core import runner

    try:
        with warnings.catch_warnings():  # nbformat's warnings about old notebooks: not errors
            warnings.simplefilter("ignore")
            parameters = runner.stage_parameters(notebook, args.sections or [], args.set or [], params)
            names = runner.run_names(notebook, args.sections or [], params)
    except (nbformat.ValidationError, nbformat.reader.NotJSONError) as err:
        raise UsageError(f"{args.notebook}: not a valid Jupyter notebook ({_one_line(err)})") from None
    notebook = Path(args.notebook)
    start = time.perf_counter()
    written = runner.run(notebook, parameters, root=root, progress=not args.no_progress,
                         name=names.name, title=names.title, summary=names.summary)
    for path in written.all():
        print(f"wrote {path.relative_to(root)}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Print the predicted class and confidence of each image; non-zero exit if any was refused."""
    from pipeline.modeling import predict

    predict.check_model_file(args.model)  # before the images, and before Keras is imported
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

    out = _output_folder(args.out, "--out") if args.out else None  # dvc runs in the project folder
    print(f"wrote {dvcplots.show(out)}")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from pipeline.site import index

    print(f"wrote {index.build()}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from pipeline.site import publish

    out = None
    if args.out:
        out = _output_folder(args.out, "--out")
        reports = paths.reports_dir().resolve()
        if out.is_relative_to(reports) or reports.is_relative_to(out):
            raise UsageError(f"--out {args.out}: inside (or around) {reports}, the folder being published; "
                             f"choose a folder outside it")
        if out.is_dir() and any(out.iterdir()) and not (out / ".nojekyll").is_file():
            raise UsageError(f"--out {args.out}: a folder with other files in it (not a site published "
                             f"before): publishing replaces the whole folder; choose a new or empty one")
    out, files = publish.publish(out, dvc_remote=not args.no_dvc)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    dvc = out / "dvc"
    dvc_size = sum(f.stat().st_size for f in dvc.rglob("*") if f.is_file()) if dvc.is_dir() else 0
    remote = f"; {dvc_size / 2**20:.1f} MiB of it the DVC remote in dvc/" if dvc.is_dir() else ""
    print(f"published {len(files)} files ({size / 2**20:.1f} MiB{remote}) to {out}: relative links only, "
          f"nothing fetched from the network, no local paths. Upload the folder as it is.")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Recompute everything (unless --compare-only), then compare with the results of --rev."""
    import shutil
    import subprocess

    from pipeline.core import provenance
    from pipeline.sharing import reproduce

    root = paths.project_root()
    if not args.compare_only:
        caches = paths.data_dir(root) / "sweep-cache"
        aside = caches.with_name("sweep-cache.before-reproduce")
        if caches.exists():  # the sweep's own cache would return the committed runs untrained
            shutil.rmtree(aside, ignore_errors=True)
            caches.rename(aside)
        dvc = str(Path(sys.executable).parent / "dvc")
        proc = subprocess.run([dvc, "repro", "--force"], cwd=root)
        if aside.exists():
            if caches.exists():
                shutil.rmtree(aside)
            else:
                aside.rename(caches)
        if proc.returncode != 0:
            raise PipelineError("dvc repro --force failed: nothing was compared")
    old_env = reproduce.committed_environment(root, args.rev)
    new_env = reproduce.merged_environment(provenance.stage_environments(root)) or provenance.run_environment()
    result = reproduce.compare(reproduce.committed_files(root, args.rev), reproduce.current_files(root))
    page = reproduce.write_page(root, result, args.rev, old_env, new_env)
    if paths.site_files(root).index.is_file():  # the front page links the new page
        from pipeline.site import index

        index.build(root, environment_file=False)
    print(f"{result.summary()} (details: {page.relative_to(root)})")
    return 0 if result.agrees else 1


def cmd_remote(args: argparse.Namespace) -> int:
    """Show (and for a GitHub clone without one, set) the default DVC remote; with --repro, run
    `dvc repro`, pulling what the remote holds when it answers."""
    from dvc.repo import Repo

    from pipeline.sharing import remotes

    root = Path(Repo.find_root())  # the DVC project around the working directory
    found = remotes.ensure_default(root)
    pull = False
    if found is None:
        print("no DVC remote (none set, and git's origin is no GitHub repository): every stage runs here")
    else:
        name, url, added = found
        state = remotes.probe(root)
        where = f"DVC remote '{name}' ({url}{', derived from git origin' if added else ''})"
        if not state.reachable:
            print(f"{where} does not answer ({state.reason}): every stage runs here")
        elif state.has_results:
            print(f"{where} holds this commit's results: stages that match dvc.lock are fetched, not run")
        else:
            print(f"{where} answers but lacks this commit's results: run-cache matches are fetched, the rest runs here")
        pull = state.reachable
    if not args.repro:
        return 0
    if not pull:  # one line per stage that will run, before DVC's own output
        for stage in remotes.stages_to_run(root):
            print(f"  {stage}: runs here")
    sys.stdout.flush()
    dvc = str(Path(sys.executable).parent / "dvc")
    os.execv(dvc, [dvc, "repro", *(["--pull"] if pull else [])])


def cmd_sweep_cache(args: argparse.Namespace) -> int:
    """List (or with --prune delete) the sweep's cached runs that no current run uses."""
    from pipeline.core import dataset
    from pipeline.loss_sweep import runs

    root = paths.project_root()
    params = load_params(root / paths.PARAMS_FILE)
    sweep = params.sweep
    settings = params.training.for_model()
    ds = dataset.load(paths.prepared_data_file(root), sample_size=settings.sample_size)
    found = 0
    for loss in typing.get_args(Loss):  # a loss that sweep.losses leaves out: none of its runs is used
        folder = paths.sweep_files(loss, root).cache
        live = ({expected.key for _, expected in runs.planned_runs(sweep, loss, ds, settings)}
                if loss in sweep.losses else set())
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


class _Parser(argparse.ArgumentParser):
    """argparse that refuses bad usage in one line (``error: …``), not a usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pipeline", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
                   help="parts of params.yaml passed whole, each as the parameter NAME: the section NAME, "
                        "or the part at the dotted PATH (model=models.r0_deep); an entry of a mapping or "
                        "list names the run: files NOTEBOOK_KEY, the entry's title and description")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="a string parameter (repeatable)")
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

    p = sub.add_parser("plots", help="training curves as images (index.html) and `dvc plots show` offline "
                                      "(interactive.html) → reports/dvc_plots/")
    p.add_argument("--out", help="output folder (default: reports/dvc_plots)")
    p.set_defaults(func=cmd_plots)

    p = sub.add_parser("site", help="render reports/index.html")
    p.set_defaults(func=cmd_site)

    p = sub.add_parser("publish", help="copy the site reachable from reports/index.html into a folder to upload")
    p.add_argument("--out", help="output folder (default: public/ in the project); replaced when complete")
    p.add_argument("--no-dvc", action="store_true", help="leave out the DVC remote folder dvc/")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("reproduce", help="recompute everything, then compare with the committed results")
    p.add_argument("--rev", default="HEAD", help="the git revision whose results are compared (default HEAD)")
    p.add_argument("--compare-only", action="store_true", help="compare the workspace's results, recompute nothing")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("remote", help="show the default DVC remote (a GitHub clone derives one from its origin)")
    p.add_argument("--repro", action="store_true", help="then run `dvc repro`, with --pull when the remote answers")
    p.set_defaults(func=cmd_remote)
    return parser


def _file_of(err: BaseException) -> str:
    """The file being read when ``err`` (a UnicodeDecodeError, which names none) was raised:
    the innermost frame's path-like local (``Path.read_text``'s ``self``, a ``path``...)."""
    tb, found = err.__traceback__, None
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, os.PathLike):
                found = value
                break
        tb = tb.tb_next
    return os.fspath(found) if found is not None else "a file"


def _one_line(text: object) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


def main(argv: list[str] | None = None) -> int:
    for name, value in TENSORFLOW_ENV.items():
        os.environ.setdefault(name, value)
    args = build_parser().parse_args(argv)
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return args.func(args)
    except PipelineError as err:  # params, data, runner, assets, predict, usage
        print(f"error: {err}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as err:
        if debug:
            raise
        print(f"error: {_file_of(err)}: not UTF-8 text ({err.reason} at byte {err.start})", file=sys.stderr)
        return 1
    except OSError as err:  # a file argument that is a folder, unreadable, missing...
        if debug:
            raise
        where = ": ".join(os.fsdecode(f) for f in (err.filename, err.filename2) if f is not None)
        print(f"error: {where + ': ' if where else ''}{err.strerror or _one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - a bug: one line, the traceback on request
        if debug:
            raise
        print(f"error: unexpected {type(err).__name__}: {_one_line(err)} "
              f"(run with {DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return 1
