"""The DVC remote of a clone: where the results of its commits live, and writing one.

- ``site_remote_url``: a GitHub clone's read-only HTTP remote, derived from its ``origin``
  (``github.com/OWNER/REPO`` → ``https://OWNER.github.io/REPO/dvc``: the ``dvc/`` folder that
  ``make publish`` writes into the published site).
- ``ensure_default``: adds that remote to ``.dvc/config.local`` (never committed) as the
  default, only when no default remote is set at any level, so a team's own default (set once
  in ``.dvc/config`` and committed) always wins.
- ``probe``: whether the default remote answers, and whether it holds this commit's results.
- ``push_to_folder``: ``dvc push --run-cache`` into a folder (DVC's remote layout:
  ``files/md5/XX/…`` and ``runs/…``), used by ``make publish``.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.core.errors import PipelineError

SITE_REMOTE = "site"  # the name of the derived remote in .dvc/config.local
SITE_FOLDER = "dvc"  # the folder of the published site that holds the remote
PROBE_SECONDS = 20.0
_GITHUB = re.compile(r"(?:https?://(?:[^@/]+@)?|ssh://git@|git@)github\.com[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/?")


class RemoteError(PipelineError):
    """The DVC remote cannot be written; the message says why."""


def site_remote_url(origin: str) -> str | None:
    """The published site's remote for a GitHub ``origin`` URL (https or ssh), else None."""
    m = _GITHUB.fullmatch(origin.strip())
    if not m:
        return None
    owner, repo = m.group(1).lower(), m.group(2)
    if repo.lower() == f"{owner}.github.io":  # a user or organisation site is served at the root
        return f"https://{owner}.github.io/{SITE_FOLDER}"
    return f"https://{owner}.github.io/{repo}/{SITE_FOLDER}"


def git_origin(root: Path) -> str | None:
    proc = subprocess.run(["git", "remote", "get-url", "origin"], cwd=root, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def default_remote(root: Path) -> tuple[str, str] | None:
    """The default remote's name and URL, as DVC reads every config level; None if unset."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        name = repo.config["core"].get("remote")
        if not name:
            return None
        return name, str(repo.config["remote"].get(name, {}).get("url", "?"))


def ensure_default(root: Path) -> tuple[str, str, bool] | None:
    """The default remote (name, URL, whether it was added now); None if none is set and the
    origin names no GitHub repository."""
    found = default_remote(root)
    if found:
        return (*found, False)
    url = site_remote_url(git_origin(root) or "")
    if url is None:
        return None
    from dvc.repo import Repo

    with Repo(str(root)) as repo, repo.config.edit("local") as conf:
        conf["remote"][SITE_REMOTE] = {"url": url}
        conf["core"]["remote"] = SITE_REMOTE
    return SITE_REMOTE, url, True


@dataclasses.dataclass(frozen=True)
class Probe:
    reachable: bool
    has_results: bool  # holds the first cached output of dvc.lock
    reason: str = ""


def _first_locked_hash(repo) -> str | None:
    for stage in repo.index.stages:
        for out in stage.outs:
            if out.use_cache and out.hash_info and out.hash_info.value:
                return out.hash_info.value
    return None


def _answers(odb) -> None:
    """Raise unless the remote answers (a missing folder is an answer). fsspec's HTTP file system
    reports a refused connection as a missing file, so HTTP is asked directly."""
    if str(odb.path).startswith(("http://", "https://")):
        try:
            urllib.request.urlopen(urllib.request.Request(str(odb.path), method="HEAD"), timeout=10).close()
        except urllib.error.HTTPError:
            pass  # 403/404...: the server answered
        return
    try:
        odb.fs.info(odb.path)
    except FileNotFoundError:
        pass


def _probe(root: Path, result: list) -> None:
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            odb = repo.cloud.get_remote_odb(None, "pull")
            oid = _first_locked_hash(repo)
            _answers(odb)
            result.append(Probe(True, bool(oid) and odb.exists(oid)))
    except Exception as err:  # noqa: BLE001 - any failure means: train here
        err = getattr(err, "reason", err)  # urllib's URLError wraps the OSError
        text = (getattr(err, "strerror", None) or str(err)).strip()
        reason = text.splitlines()[0] if text else type(err).__name__
        result.append(Probe(False, False, reason[:160]))


def probe(root: Path, seconds: float = PROBE_SECONDS) -> Probe:
    """Ask the default remote (in a thread: a remote that never answers counts as unreachable)."""
    result: list[Probe] = []
    worker = threading.Thread(target=_probe, args=(root, result), daemon=True)
    worker.start()
    worker.join(seconds)
    return result[0] if result else Probe(False, False, f"no answer within {seconds:.0f} s")


def push_to_folder(root: Path, folder: Path) -> int:
    """``dvc push --run-cache`` of ``root``'s outputs into ``folder`` (made if missing); the
    number of files transferred. Refuses if an output is missing from the local cache."""
    from dvc.exceptions import UploadError
    from dvc.repo import Repo

    name = "_publish"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with Repo(str(root), config={"remote": {name: {"url": str(folder.resolve())}}}) as repo:
            count = repo.push(remote=name, run_cache=True)
            missing = [out.def_path for stage in repo.index.stages for out in stage.outs
                       if out.use_cache and not object_file(folder, out.hash_info.value or "").is_file()]
    except UploadError as err:
        missing = [f"{err.amount} files"]
    if missing:
        raise RemoteError(f"not in the local DVC cache, so the remote would be incomplete: {', '.join(missing)}; "
                          f"run `make report` (or `dvc pull`) first")
    return count


def object_file(folder: Path, md5: str) -> Path:
    """Where DVC 3 keeps the object ``md5`` (``….dir`` for a folder's listing) in a remote folder."""
    return folder / "files" / "md5" / md5[:2] / md5[2:]


def stages_to_run(root: Path) -> list[str]:
    """The stages `dvc repro` would run in ``root`` (changed or missing outputs), in DVC's order."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        changed = repo.status()
        return [s.addressing for s in repo.index.stages if s.addressing in changed]
