"""``python -m pipeline publish``: the report site as one static folder, ready to upload.

The folder holds exactly the pages and files that ``reports/index.html`` reaches through
its links, copied with their relative paths. Publishing refuses (and writes nothing) if

- a link is absolute (``/…``, ``file:``) or leaves ``reports/``, or its target is missing;
- a page loads anything from the network (``src=`` of a script, image, frame, stylesheet);
- a file mentions a local path: the project folder, the Python environment, the home folder
  or ``/<user name>/``.

Links to other web sites (``<a href="https://…">``) are allowed: a reader clicks them, the
page never fetches them. ``make publish`` also writes the DVC cache objects of every output
of dvc.lock (and the run-cache entries) into ``dvc/``, so the uploaded site is a read-only
DVC remote (``pipeline.sharing.remotes``). Every report's previous/next and twin links are
written again from the current params.yaml (``navigation``), and each inlined figure becomes
one shared file (``figure_files``). The new folder replaces the old one only once it is complete.
"""

from __future__ import annotations

import dataclasses
import getpass
import html.parser
import shutil
import sys
import tempfile
import urllib.parse
from pathlib import Path

from pipeline.core import paths
from pipeline.core.errors import PipelineError
from pipeline.core.params.loading import load_params
from pipeline.site import figure_files, navigation

TEXT_SUFFIXES = {".html", ".ipynb", ".json", ".csv", ".txt", ".svg", ".js", ".css"}
FETCHING_ATTRIBUTES = {"src", "data", "poster", "srcset"}  # loaded by the browser itself


class PublishError(PipelineError):
    """The site cannot be published as it is; the message lists every problem."""


@dataclasses.dataclass(frozen=True)
class Link:
    page: Path  # the page that holds the link, relative to the site folder
    tag: str
    attribute: str
    value: str


class _LinkParser(html.parser.HTMLParser):
    """Every href/src-like attribute of a page (links, images, scripts, frames...)."""

    def __init__(self, page: Path, story_links: bool = True):
        super().__init__(convert_charrefs=True)
        self.page, self.links, self.story_links = page, [], story_links

    def handle_starttag(self, tag, attrs):
        if not self.story_links and any(name == "data-story" for name, _ in attrs):
            return  # written again from params.yaml when the site is assembled (``navigation``)
        for name, value in attrs:
            if value and name in {"href", *FETCHING_ATTRIBUTES}:
                self.links.append(Link(self.page, tag, name, value.strip()))


def page_links(site: Path, page: Path, story_links: bool = True) -> list[Link]:
    parser = _LinkParser(page, story_links)
    parser.feed((site / page).read_text(encoding="utf-8"))
    return parser.links


def _target(site: Path, link: Link) -> Path | None | str:
    """The file a local link points to (relative to ``site``), None for in-page and outside-web
    links, or an error message."""
    value = link.value
    parts = urllib.parse.urlsplit(value)
    if value.startswith("#") or parts.scheme in {"data", "mailto", "javascript"}:
        return None
    if parts.scheme in {"http", "https"} or value.startswith("//"):
        if link.attribute in FETCHING_ATTRIBUTES or link.tag == "link":
            return f"loads {value} from the network"
        return None  # a link the reader may follow to another web site
    if parts.scheme or value.startswith("/"):
        return f"absolute link {value!r} (only relative links work once uploaded)"
    target = (site / link.page.parent / urllib.parse.unquote(parts.path)).resolve()
    if not target.is_relative_to(site.resolve()):
        return f"link {value!r} leaves the site folder"
    if not target.is_file():
        return f"link {value!r} points to a missing file"
    return target.relative_to(site.resolve())


def reachable(site: Path, start: str = "index.html", story_links: bool = True) -> tuple[list[Path], list[str]]:
    """Files reached from ``start`` by following local links (without ``story_links``, not the
    previous/next/twin links that ``navigation`` writes again); and the problems found."""
    seen, todo, problems = {Path(start)}, [Path(start)], []
    while todo:
        page = todo.pop()
        if page.suffix != ".html":
            continue
        for link in page_links(site, page, story_links):
            target = _target(site, link)
            if isinstance(target, str):
                problems.append(f"{page}: <{link.tag} {link.attribute}>: {target}")
            elif target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    return sorted(seen), problems


def local_markers(root: Path) -> list[str]:
    """Strings that would reveal where and by whom the site was built."""
    markers = {str(root.resolve()), sys.prefix, str(Path.home())}
    try:
        markers.add(f"/{getpass.getuser()}/")
    except (KeyError, OSError):
        pass
    return sorted(m for m in markers if len(m) > 2)


def leaks(site: Path, files: list[Path], markers: list[str]) -> list[str]:
    found = []
    for rel in files:
        if rel.suffix in TEXT_SUFFIXES:
            text = (site / rel).read_text(encoding="utf-8", errors="replace")
            found += [f"{rel}: mentions the local path {m!r}" for m in markers if m in text]
    return found


def publish(out: Path | None = None, root: Path | None = None, dvc_remote: bool = False) -> tuple[Path, list[Path]]:
    """Copy the site reachable from ``reports/index.html`` into ``out`` (default ``public/``);
    with ``dvc_remote``, also every DVC-cached output of dvc.lock and the run-cache entries into
    ``out/dvc/`` in DVC's remote layout (a read-only HTTP remote once uploaded)."""
    root = root or paths.project_root()
    site = paths.reports_dir(root)
    out = (out or paths.site_files(root).public).resolve()
    if not (site / "index.html").is_file():
        raise PublishError(f"{site / 'index.html'} does not exist: build the reports first (`make report`)")
    if out == site.resolve() or site.resolve().is_relative_to(out):
        raise PublishError(f"{out}: the published folder must not contain the reports folder")
    files, problems = reachable(site, story_links=False)  # a page's neighbours may have changed since
    problems += leaks(site, files, local_markers(root))
    if problems:
        raise PublishError("the site cannot be published:\n  - " + "\n  - ".join(problems))

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for rel in files:
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site / rel, staging / rel)
        if (root / paths.PARAMS_FILE).is_file():  # the links as params.yaml orders the reports now
            navigation.fill_site(staging, load_params(root / paths.PARAMS_FILE), root)
        figures = [Path(figure_files.FOLDER, name) for name in figure_files.share(staging, files)]
        problems = reachable(staging)[1]
        if problems:
            raise PublishError("the assembled site has broken links:\n  - " + "\n  - ".join(problems))
        if dvc_remote:
            from pipeline.sharing import remotes

            remotes.push_to_folder(root, staging / remotes.SITE_FOLDER)
        (staging / ".nojekyll").touch()  # GitHub Pages: serve the files as they are
        staging.chmod(0o755)
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        try:
            staging.rename(out)
        except OSError:
            if old.exists():  # put the previous site back: never leave no site at all
                old.rename(out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out, files + figures  # each inlined figure once, in figures/
