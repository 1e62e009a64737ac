"""What a result was made with: package versions, the git commit, and the fingerprint of the
numerical environment (package versions and CPU instruction set) that the run cache keys on."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path

# Shown in every report's header.
REPORT_PACKAGES = ("numpy", "pandas", "scikit-learn", "tensorflow-cpu", "keras", "matplotlib",
                   "seaborn", "papermill", "nbconvert", "dvc")
# The packages whose versions can change a trained model's numbers (the split is drawn with
# scikit-learn).
NUMERIC_PACKAGES = ("numpy", "scikit-learn", "tensorflow-cpu", "tensorflow", "keras", "ml-dtypes")
# CPU features that decide which kernels TensorFlow and NumPy run (and so the rounding).
SIMD_FLAGS = ("sse4_1", "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512dq", "avx512vl",
              "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve")


def versions(names=REPORT_PACKAGES) -> dict[str, str]:
    """Python's version and each installed package's (absent packages are left out)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def cpu_features() -> str:
    """The machine type and the SIMD features of its CPU, e.g. ``x86_64:avx,avx2,fma,…``."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags.update(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return f"{platform.machine()}:{','.join(f for f in SIMD_FLAGS if f in flags)}"


def environment_fingerprint() -> dict[str, str]:
    """The numerical environment of a run: package versions and CPU features (a cache-key part)."""
    return {**versions(NUMERIC_PACKAGES), "cpu": cpu_features()}


def git_commit(root: Path) -> str:
    """Short commit of ``root`` plus ``-dirty`` if it has uncommitted changes; '' if none."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        if sha.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""

