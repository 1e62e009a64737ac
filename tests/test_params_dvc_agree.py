"""``python -m pipeline check`` and DVC agree: whenever the real DVC refuses a params file,
``check`` refuses it too (so ``check`` passing means ``dvc repro`` can read the file).

A sample of the fault suite's files (tests/fault_cases/bad_params.yaml), including the
duplicate-key and missing-section ones, is put in a copy of the repository in turn and read
by ``dvc status``, which loads dvc.yaml (its ``foreach: ${models}`` reads params.yaml) and
every stage's params.
"""

from __future__ import annotations

import contextlib
import io

import pytest

from pipeline import cli
from tests.conftest import bin_path, copy_project, run
from tests.test_params_faults import CASES, REPO, write_case

SAMPLE = ("duplicate_key", "duplicate_nested_key", "no_models_section", "models_section_empty",
          "no_sweep_section", "empty_file", "comments_only", "latin1_bytes", "utf16", "not_yaml",
          "top_level_list", "sweep_losses_missing")
BY_NAME = {case["name"]: case for case in CASES}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("agree"))


def dvc_refuses(root) -> tuple[bool, str]:
    proc = run([bin_path("dvc"), "status"], cwd=root, timeout=120)
    output = proc.stdout + proc.stderr
    return proc.returncode != 0 or "ERROR" in output, output


def check_refuses(path) -> tuple[bool, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["check", str(path)])
    return code == 1 and err.getvalue().startswith("error: "), err.getvalue()


def test_dvc_reads_the_real_params_file(project):
    (project / "params.yaml").write_bytes((REPO / "params.yaml").read_bytes())
    refused, output = dvc_refuses(project)
    assert not refused, output
    assert not check_refuses(project / "params.yaml")[0]


def test_check_refuses_what_dvc_refuses(project):
    dvc_refused = []
    for name in SAMPLE:
        path = project / "params.yaml"
        write_case(BY_NAME[name], path)
        refused, output = dvc_refuses(project)
        if refused:
            dvc_refused.append(name)
            check_refused, message = check_refuses(path)
            assert check_refused, f"{name}: DVC refuses the file but check accepts it:\n{output}"
    # the comparison compares something: DVC refuses at least these (duplicate keys, no models,
    # no sweep.losses for the sweep's foreach)
    assert {"duplicate_key", "no_models_section", "latin1_bytes", "sweep_losses_missing"} <= set(dvc_refused), \
        dvc_refused
