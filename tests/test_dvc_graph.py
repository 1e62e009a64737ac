"""The DVC graph cannot drift from the code.

For every stage that runs the package, the import closure of its command (the CLI verb it
calls) and of its notebook, read from the code with ``ast``, must lie inside the stage's
deps; every part of params.yaml a notebook gets must be a declared param of its stage; and
the stage's outs must be exactly the files that ``pipeline/core/paths.py`` names for it. The
slow tests then check what really happened: every file the pipeline wrote is a declared
out, and an edit of a module a stage imports makes ``dvc status`` list that stage.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from dvc.repo import Repo

from pipeline import cli
from pipeline.core import paths, runner
from pipeline.core.params import load_params
from tests.conftest import REPO, bin_path, run

PACKAGE = "pipeline"


# --------------------------------------------------------------------------- reading the code


def module_file(module: str) -> Path | None:
    """The file of a module of this package (a package's ``__init__.py``), or None."""
    base = REPO.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def imported_modules(tree: ast.AST, package: str = "") -> set[str]:
    """Modules of this package that ``tree`` imports anywhere (function bodies included):
    ``from pipeline.core import paths`` gives ``pipeline.core`` and ``pipeline.core.paths``."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(m)}


ENTRY = {"pipeline.__main__", "pipeline.cli"}  # their imports are read per verb (verb_imports)


def closure(modules: set[str]) -> set[Path]:
    """The files of ``modules``, of everything they import, and of their parent packages."""
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        mod = todo.pop()
        parts = mod.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
            name = ".".join(parts[:i])
            if name in seen or module_file(name) is None:
                continue
            seen.add(name)
            path = module_file(name)
            package = name if path.name == "__init__.py" else ".".join(name.split(".")[:-1])
            if name not in ENTRY:
                todo.extend(imported_modules(ast.parse(path.read_text()), package) - seen)
    return {module_file(m).relative_to(REPO) for m in seen}


def notebook_imports(notebook: Path) -> set[str]:
    """Modules of this package that the notebook's code cells import (magics dropped)."""
    nb = json.loads(notebook.read_text())
    found = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            code = "\n".join(ln for ln in "".join(cell["source"]).splitlines() if not ln.lstrip().startswith(("%", "!")))
            found |= imported_modules(ast.parse(code))
    return found


def verb_imports(argv: list[str]) -> set[str]:
    """Modules the CLI imports to run ``python -m pipeline ARGV``: its module-level imports and
    those inside the verb's function (found by parsing the arguments with the real parser)."""
    func = cli.build_parser().parse_args(argv).func
    tree = ast.parse((REPO / "pipeline" / "cli.py").read_text())
    top = ast.Module(body=[n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], type_ignores=[])
    body = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func.__name__)
    return ENTRY | imported_modules(top) | imported_modules(body)


# --------------------------------------------------------------------------- the stages


def stages():
    """Every stage of dvc.yaml, as DVC resolves it (foreach expanded)."""
    with Repo(str(REPO)) as repo:
        return [(s.addressing, s.cmd, s.deps, s.outs) for s in repo.index.stages]


def package_stages():
    for name, cmd, deps, outs in stages():
        argv = shlex.split(cmd)
        if argv[:3] == ["python", "-m", PACKAGE]:
            yield name, argv[3:], deps, outs


def _covered(path: Path, deps) -> bool:
    return any(path == Path(d) or Path(d) in path.parents for d in deps)


def _option(argv: list[str], flag: str) -> list[str]:
    """The values of ``flag`` (nargs="+" or repeated) in ``argv``."""
    out, on = [], False
    for a in argv:
        if a.startswith("--"):
            on = a == flag
        elif on:
            out.append(a)
    return out


@pytest.mark.parametrize("name,argv,deps,outs", list(package_stages()), ids=lambda x: x if isinstance(x, str) else "")
def test_every_module_a_stage_runs_is_one_of_its_deps(name, argv, deps, outs):
    dep_paths = [d.def_path for d in deps if not hasattr(d, "params")]
    modules = verb_imports(argv)
    if argv[0] == "run":
        modules |= notebook_imports(REPO / argv[1])
        assert argv[1] in dep_paths, f"{name}: its notebook {argv[1]} is not a dependency"
    missing = sorted(str(f) for f in closure(modules) if not _covered(f, dep_paths))
    assert not missing, f"{name} runs {missing} but does not depend on them"
    assert "requirements.lock" in dep_paths, f"{name}: the locked environment is not a dependency"


@pytest.mark.parametrize("name,argv,deps,outs", [s for s in package_stages() if s[1][0] == "run"],
                         ids=lambda x: x if isinstance(x, str) else "")
def test_every_params_part_a_notebook_gets_is_declared(name, argv, deps, outs):
    declared = [p for d in deps if hasattr(d, "params") for p in (d.params or [])]
    passed = [item.partition("=")[2] or item for item in _option(argv, "--sections")]
    for path in passed:
        assert any(path == p or path.startswith(p + ".") for p in declared), \
            f"{name} passes params.yaml's {path} to its notebook but declares only {declared}"


def expected_outs(name: str) -> list[Path]:
    """The files pipeline/core/paths.py names for a stage."""
    family, _, item = name.partition("@")
    files = {
        "data": lambda: [paths.prepared_data_file()],
        "explore": lambda: paths.explore_files().all(),
        "model": lambda: paths.model_files(item).all(),
        "classical": lambda: paths.classical_files().all(),
        "sweep": lambda: paths.sweep_files(item).all(),
        "loss_comparison": lambda: paths.comparison_files().all(),
        "dvc_plots": lambda: [paths.site_files().dvc_plots],
        "site": lambda: [paths.site_files().index, paths.site_files().environment],
    }[family]()
    return sorted(p.relative_to(paths.project_root()) for p in files)


@pytest.mark.parametrize("name,argv,deps,outs", list(package_stages()), ids=lambda x: x if isinstance(x, str) else "")
def test_outs_are_the_files_paths_names(name, argv, deps, outs, monkeypatch):
    monkeypatch.chdir(REPO)
    assert sorted(Path(o.def_path) for o in outs) == expected_outs(name)


def test_the_report_names_the_runner_derives_are_the_ones_paths_names():
    """A stage passes no name: the runner derives it from the entry of ``--sections`` (the
    item of ``foreach``), and it is the name pipeline/core/paths.py gives the stage's outs."""
    params = load_params(REPO / "params.yaml")
    checked = set()
    for name, argv, _, _ in package_stages():
        if argv[0] != "run":
            continue
        family, _, item = name.partition("@")
        derived = runner.run_names(REPO / argv[1], _option(argv, "--sections"), params).name
        if item:
            derive = {"model": paths.model_report_name, "sweep": paths.sweep_report_name}[family]
            assert derived == derive(item), name
        assert paths.report_files(derived).notebook.relative_to(REPO) in expected_outs(name), name
        checked.add(family)
    assert {"explore", "model", "classical", "sweep", "loss_comparison"} <= checked, checked


def test_the_sweep_stages_are_the_params_losses_and_the_model_stages_its_models():
    names = [s[0] for s in stages()]
    params = load_params(REPO / "params.yaml")
    assert [n.split("@")[1] for n in names if n.startswith("sweep@")] == list(params.sweep.losses)
    assert [n.split("@")[1] for n in names if n.startswith("model@")] == list(params.models)


def test_the_closure_reader_finds_function_level_imports():
    # the loss comparison never trains, but the sweep's runs module imports the trainer in a function
    files = closure({"pipeline.loss_sweep.runs"})
    assert Path("pipeline/modeling/train.py") in files and Path("pipeline/core/provenance.py") in files
    assert Path("pipeline/__init__.py") in files and Path("pipeline/loss_sweep/__init__.py") in files


def _run_cache_blockers(outs) -> list[str]:
    """Outs for which DVC keeps no run-cache entry of their stage: persistent ones, and plain
    (neither metrics nor plots) outs with ``cache: false``."""
    return [o.def_path for o in outs if o.persist or not (o.use_cache or o.is_metric or o.is_plot)]


def test_no_stage_has_an_out_that_switches_dvcs_run_cache_off():
    blocked = {name: _run_cache_blockers(outs) for name, _, _, outs in stages() if _run_cache_blockers(outs)}
    assert not blocked, f"DVC keeps no run-cache entry for these stages because of these outs: {blocked}"


# --------------------------------------------------------------------------- what really happens


@pytest.mark.slow
def test_dvc_saved_a_run_cache_entry_for_every_stage(built_project):
    root, _ = built_project
    with Repo(str(root)) as repo:
        missing = [s.addressing for s in repo.index.stages if not repo.stage_cache._load(s)]
    assert not missing, f"no run-cache entry for {missing}"


def test_python_bytecode_is_no_dependency():
    """Importing the package writes ``__pycache__`` beside it (unless PYTHONDONTWRITEBYTECODE
    is set); if DVC hashed it, every stage would look changed after a plain import."""
    for path in ("pipeline/core/params/__pycache__/schema.cpython-311.pyc", "pipeline/__pycache__/cli.cpython-311.pyc",
                 "pipeline/modeling/train.cpython-311.pyc"):
        proc = run([bin_path("dvc"), "check-ignore", path], cwd=REPO)
        assert proc.returncode == 0 and path in proc.stdout, (path, proc.stdout, proc.stderr)
    assert run([bin_path("dvc"), "check-ignore", "pipeline/core/params/schema.py"], cwd=REPO).returncode == 1


@pytest.mark.slow
def test_every_file_the_pipeline_wrote_is_a_declared_out(built_project):
    root, _ = built_project
    with Repo(str(root)) as repo:
        outs = [Path(o.def_path) for s in repo.index.stages for o in s.outs]
    # files the copy was committed with and the pipeline left as they were are not its writing
    tracked = set(run(["git", "ls-files"], cwd=root).stdout.split())
    changed = set(run(["git", "diff", "--name-only"], cwd=root).stdout.split())
    written = [p.relative_to(root) for folder in ("reports", "models", "data") for p in (root / folder).rglob("*")
               if p.is_file() and p.name != ".gitignore"
               and (p.relative_to(root).as_posix() not in tracked or p.relative_to(root).as_posix() in changed)]
    # the sweep's own run cache is read and written by its stages but is no output (paths.py)
    own_caches = [paths.sweep_files(loss, root).cache.relative_to(root) for loss in load_params(root / "params.yaml").sweep.losses]
    strays = [str(p) for p in written if not _covered(p, outs) and not _covered(p, own_caches)]
    assert written and not strays, f"written by the pipeline but no stage's out: {strays}"


@pytest.mark.slow
def test_editing_an_imported_module_makes_dvc_status_list_its_stages(built_project, tmp_path):
    src, _ = built_project
    root = tmp_path / "edited"
    shutil.copytree(src, root, symlinks=True)
    clean = run([bin_path("dvc"), "status", "--json"], cwd=root)
    assert clean.returncode == 0 and json.loads(clean.stdout) == {}, clean.stdout
    for module, stage, untouched in (("pipeline/core/seed_stats.py", "site", None),
                                     ("pipeline/model_report/report.py", "model@baseline", "sweep@categorical_crossentropy")):
        with open(root / module, "a") as fh:
            fh.write("\n# an edit\n")
        status = json.loads(run([bin_path("dvc"), "status", "--json"], cwd=root).stdout)
        assert stage in status, f"editing {module} leaves {stage} up to date: {sorted(status)}"
        if untouched:
            assert untouched not in status, f"editing {module} re-runs {untouched}"
        (root / module).write_text((src / module).read_text())


def _committed_copy(built: Path, dest: Path) -> Path:
    """The built test-profile project with its results committed (experiments start from a commit)."""
    shutil.copytree(built, dest, symlinks=True)
    for cmd in (["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results"]):
        subprocess.run(cmd, cwd=dest, check=True, capture_output=True)
    return dest


def _ran(output: str) -> list[str]:
    return sorted(set(re.findall(r"Running stage '([^']+)'", output)))


@pytest.mark.slow
def test_an_experiment_of_a_value_run_before_is_restored_from_the_run_cache(built_project, tmp_path):
    root = _committed_copy(built_project[0], tmp_path / "exp")
    first = run([bin_path("dvc"), "exp", "run", "-S", "models.baseline.epochs=2"], cwd=root)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert _ran(first.stdout) == ["dvc_plots", "model@baseline", "site"], first.stdout[-3000:]
    back = run([bin_path("dvc"), "exp", "run", "-S", "models.baseline.epochs=1"], cwd=root)  # the committed value
    assert back.returncode == 0, back.stdout[-2000:] + back.stderr[-2000:]
    assert "model@baseline" not in _ran(back.stdout), back.stdout[-3000:]
    assert "Stage 'model@baseline' is cached - skipping run" in back.stdout, back.stdout[-3000:]
    assert (root / "reports/metrics/baseline.json").read_bytes() == \
        (built_project[0] / "reports/metrics/baseline.json").read_bytes()


@pytest.mark.slow
def test_two_queued_experiments_each_run_only_their_model_and_the_site(built_project, tmp_path):
    root = _committed_copy(built_project[0], tmp_path / "queue")
    changes = {"q-baseline": "models.baseline.epochs=2", "q-r0": "models.r0_deep.epochs=2"}
    for name, change in changes.items():
        proc = run([bin_path("dvc"), "exp", "run", "--queue", "-n", name, "-S", change], cwd=root)
        assert proc.returncode == 0, proc.stderr
    start = run([bin_path("dvc"), "queue", "start", "-j", "2"], cwd=root)
    assert start.returncode == 0, start.stderr
    deadline = time.monotonic() + 1500
    while time.monotonic() < deadline:
        status = run([bin_path("dvc"), "queue", "status"], cwd=root).stdout
        if not re.search(r"\b(Queued|Running)\b", status):
            break
        time.sleep(5)
    assert status.count("Success") == 2, status
    for name, change in changes.items():
        logs = run([bin_path("dvc"), "queue", "logs", name], cwd=root).stdout
        model = "model@" + change.split(".")[1]
        assert _ran(logs) == ["dvc_plots", model, "site"], (name, _ran(logs), logs[-3000:])
    shown = json.loads(run([bin_path("dvc"), "exp", "show", "--json"], cwd=root).stdout)
    names = {rev.get("name") for commit in shown for exp in (commit.get("experiments") or [])
             for rev in exp.get("revs", [])}
    assert set(changes) <= names, names
    run([bin_path("dvc"), "queue", "stop"], cwd=root)
