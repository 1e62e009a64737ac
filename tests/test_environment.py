"""The environment: environment.yml (for conda users) lists the same pins as requirements.lock, the
venv has the locked versions, and bytecode for what the stages import."""

import importlib.util
import re
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO


def _norm(name: str) -> str:
    """PEP 503 normalised name: ruamel.yaml.clib, ruamel-yaml-clib and Ruamel_YAML.clib are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock_pins() -> dict[str, str]:
    text = (REPO / "requirements.lock").read_text()
    return {_norm(name): ver for name, ver in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", text, re.M)}


def _direct_requirements() -> list[str]:
    lines = (REPO / "requirements.in").read_text().splitlines()
    return [_norm(re.split(r"[=<>!~\[ ]", ln.strip())[0]) for ln in lines if ln.strip() and not ln.startswith("#")]


def _conda_pip_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    pins = {}
    for entry in pip:
        if "==" in entry:
            name, ver = entry.split("==")
            pins[_norm(name.split("[")[0].strip())] = ver.strip()  # moto[server] is moto
    return pins


def test_every_lock_entry_is_hashed_and_pinned():
    text = (REPO / "requirements.lock").read_text()
    entries = re.findall(r"^([A-Za-z0-9_.\-]+)==", text, re.M)
    assert len(entries) > 50
    assert text.count("--hash=sha256:") >= len(entries)


def test_environment_yml_matches_the_lock():
    lock, conda = _lock_pins(), _conda_pip_pins()
    direct = _direct_requirements()
    assert set(conda) == set(direct), "environment.yml and requirements.in list different packages"
    drift = {n: (conda[n], lock.get(n)) for n in conda if conda[n] != lock.get(n)}
    assert not drift, f"environment.yml pins differ from requirements.lock: {drift}"


def test_environment_python_matches_pyproject():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    assert ">=3.11,<3.12" in (REPO / "pyproject.toml").read_text()


def test_installed_versions_are_the_locked_ones():
    from importlib.metadata import version

    lock = _lock_pins()
    for name in ("tensorflow-cpu", "keras", "papermill", "nbconvert", "dvc", "jupyterlab"):
        assert version(name) == lock[name], name


def test_the_environment_has_bytecode_for_what_every_stage_imports():
    # Without .pyc files (uv writes none; PYTHONDONTWRITEBYTECODE stops Python writing them) every
    # kernel compiles TensorFlow/Keras again: `import keras` took 12-13 s instead of 5.8 s here.
    missing = []
    for name in ("keras", "tensorflow", "dvc", "papermill", "nbconvert", "matplotlib", "seaborn", "pandas"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        if Path(spec.origin).is_relative_to(sys.prefix) and not Path(importlib.util.cache_from_source(spec.origin)).is_file():
            missing.append(name)
    assert not missing, f"no bytecode for {missing}: run `make env` (it runs compileall)"
