"""Each notebook opened and run through the real JupyterLab UI, in headless Chromium.

A JupyterLab server is started on 127.0.0.1 with a random token, in a copy of the project
that the test profile already built (data, sweep cache and sweep outputs are there). Each
notebook is opened from its URL, run with Run → Run All Cells, and saved with Ctrl+S; the
saved file must have every code cell executed, no error output and its figures.
``MNIST_REPORTS_SAMPLE=600`` makes the notebooks' own defaults use 600 images.

The wait fails fast: at the first error output, or once the kernel is idle with cells that
never ran, it names the cell (counted from 1, as the runner does) instead of waiting for the
deadline. ``test_a_raising_cell_fails_the_wait_at_once`` shows it on a notebook that raises.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from tests.conftest import bin_path
from tests.chromium import ARGS, CHROMIUM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (make test installs it)"),
]

# notebook → the fewest figures it must show when run on 600 images with its defaults
NOTEBOOKS = {
    "01_data_exploration.ipynb": 5,
    "02_model_report.ipynb": 5,
    "03_classical_ml.ipynb": 2,
    "04_loss_sweep.ipynb": 2,
    "05_loss_comparison.ipynb": 2,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _jupyter_lab(copy: Path):
    """(base URL, token) of a ``jupyter lab --no-browser`` serving ``copy``, until the block ends."""
    token, port = secrets.token_hex(16), _free_port()
    home = copy.parent / "jupyter"
    env = dict(os.environ, MNIST_REPORTS_SAMPLE="600", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    env.pop("MPLBACKEND", None)  # as for a user: the kernel's inline backend draws the figures
    cmd = [bin_path("jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={copy}", "--LabApp.news_url=None",
           "--LabApp.expose_app_in_browser=True"]  # window.jupyterapp: the cells' state, read by _cell_states
    if os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root
    log = open(copy.parent / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (copy.parent / "jupyterlab.log").read_text()
                time.sleep(0.5)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def lab(built_project, tmp_path_factory):
    """(base URL, token, project copy) of a running ``jupyter lab --no-browser``."""
    root, _ = built_project
    copy = tmp_path_factory.mktemp("lab") / "project"
    shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".dvc", ".git", "html"))
    with _jupyter_lab(copy) as (base, token):
        yield base, token, copy


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=[*ARGS[:-1], "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        yield b
        b.close()


# the notebook panel on show: a restored workspace can hold other notebooks' tabs
SHOWN = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _wait_for_kernel(page, notebook: str, timeout: float = 120) -> None:
    """Until ``notebook`` is the tab on show, rendered, and its kernel idle (accepting a
    kernel dialog if shown)."""
    deadline = time.monotonic() + timeout
    status = tab = ""
    while time.monotonic() < deadline:
        if page.locator(".jp-Dialog").count():
            page.click(".jp-Dialog button.jp-mod-accept")  # "Select Kernel": the notebook's own
        status, tab = page.inner_text("#jp-main-statusbar"), _current_tab(page)
        if (tab == notebook and page.locator(f"{SHOWN} .jp-Cell").count() > 1
                and "Idle" in status and "No Kernel" not in status):
            return
        time.sleep(0.5)
    raise AssertionError(f"{notebook} not ready after {timeout} s: tab on show {tab!r}, status {status!r}")


def _current_tab(page) -> str:
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    return tab.first.inner_text() if tab.count() else ""


# The notebook's own model in the page (window.jupyterapp, from --LabApp.expose_app_in_browser):
# its kernel's status (now, and every one since the first look), and per code cell, its index from 1 among all cells, first line,
# execution count, whether it is running or queued, and its error outputs.
CELL_STATES = """path => {
  const panels = Array.from(window.jupyterapp.shell.widgets('main'));
  const panel = panels.find(w => w.context && w.context.path === path && w.content && w.content.model);
  if (!panel) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!panel.seenStatuses) {  // every kernel status from now on: a restart can pass between two looks
    panel.seenStatuses = [];
    panel.sessionContext.statusChanged.connect((_, status) => panel.seenStatuses.push(status));
  }
  const cells = [];
  const model = panel.content.model;
  for (let i = 0; i < model.cells.length; i++) {
    const c = model.cells.get(i);
    if (c.type !== 'code') continue;
    cells.push({index: i + 1, line: c.sharedModel.getSource().split('\\n')[0], count: c.executionCount,
                busy: c.executionState === 'running',
                errors: c.outputs.toJSON().filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue)});
  }
  return {kernel: kernel ? kernel.status : 'no kernel', seen: panel.seenStatuses, cells};
}"""


def _cell_states(page, path: str) -> dict | None:
    return page.evaluate(CELL_STATES, path)


def _run_all(page, path: str, deadline_s: float = 600, start_s: float = 60) -> None:
    """Run → Run All Cells on the notebook on show, and wait until every code cell has run.

    Fails at once, naming the cell, at the first error output, when the kernel dies or
    restarts, or when it is idle with no cell queued and some never run; fails after
    ``start_s`` if no cell started and after ``deadline_s`` in any case."""
    assert _cell_states(page, path) is not None, f"{path} is not open in JupyterLab"  # starts the watch
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    begun = time.monotonic()
    stalled = 0  # consecutive looks at an idle kernel with cells unrun
    while True:
        state = _cell_states(page, path)
        assert state is not None, f"{path} is not open in JupyterLab"
        cells = state["cells"]
        for c in cells:
            assert not c["errors"], f"{path}: cell {c['index']} ({c['line']!r}) raised {c['errors'][0]}"
        unrun = [c for c in cells if not c["count"]]
        if not unrun:
            return
        died = [k for k in state["seen"] if k in ("dead", "autorestarting", "restarting")]
        assert not died, (f"{path}: the kernel died ({died[0]}) and cell {unrun[0]['index']} "
                          f"({unrun[0]['line']!r}) never finished ({len(unrun)} of {len(cells)} code cells unrun)")
        if state["kernel"] in ("idle", "dead") and not any(c["busy"] for c in cells):
            stalled += 1
            started = len(unrun) < len(cells)
            assert stalled < 3 or not (started or state["kernel"] == "dead"), (
                f"{path}: the kernel is {state['kernel']} and cell {unrun[0]['index']} ({unrun[0]['line']!r}) "
                f"never ran ({len(unrun)} of {len(cells)} code cells unrun)")
        else:
            stalled = 0
        waited = time.monotonic() - begun
        assert waited < start_s or len(unrun) < len(cells) or any(c["busy"] for c in cells), \
            f"Run All started no cell of {path} (tab on show {_current_tab(page)!r})"
        assert waited < deadline_s, (f"Run All did not finish {path} in {deadline_s} s: {len(unrun)} cells unrun "
                                     f"(kernel {state['kernel']}, queued {[c['index'] for c in cells if c['busy']]})")
        time.sleep(0.5)


def _stop_kernels(base: str, token: str) -> None:
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}/api/sessions", headers=headers)) as r:
        sessions = json.load(r)
    for s in sessions:
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/sessions/{s['id']}", headers=headers,
                                                      method="DELETE"))


def _saved_with_outputs(path: Path) -> bool:
    """Every code cell of the file on disk has run; False while Jupyter is still writing it
    (the file can be empty or cut short for a moment during a save)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except (nbformat.reader.NotJSONError, ValueError):
        return False
    return all(c.execution_count for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("notebook", list(NOTEBOOKS))
def test_notebook_runs_in_jupyterlab(lab, browser, artifacts, notebook):
    base, token, copy = lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page_errors = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    try:
        # a workspace of its own: nothing restored from the notebooks opened before it
        page.goto(f"{base}/lab/workspaces/{Path(notebook).stem}/tree/notebooks/{notebook}?reset&token={token}")
        _wait_for_kernel(page, notebook)
        _run_all(page, f"notebooks/{notebook}")
        shown = page.locator(f"{SHOWN} .jp-OutputArea-output img").count()
        page.keyboard.press("Control+s")
        for _ in range(60):  # until the saved file has the outputs
            if _saved_with_outputs(copy / "notebooks" / notebook):
                break
            time.sleep(0.5)
        page.screenshot(path=str(artifacts / f"jupyterlab-{Path(notebook).stem}.png"))
    except AssertionError:
        page.screenshot(path=str(artifacts / f"jupyterlab-{Path(notebook).stem}-failed.png"))
        raise
    finally:
        page.close()
        _stop_kernels(base, token)

    saved = nbformat.read(copy / "notebooks" / notebook, as_version=4)
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), [c.execution_count for c in code]
    errors = [f"{o.ename}: {o.evalue}" for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    figures = sum("image/png" in o.get("data", {}) for c in code for o in c.outputs)
    assert figures >= NOTEBOOKS[notebook] and shown >= NOTEBOOKS[notebook], (figures, shown)
    assert page_errors == []


def _notebook(path: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A notebook that stops"), *map(nbformat.v4.new_code_cell, sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def bare_lab(tmp_path_factory):
    """JupyterLab on a folder of small notebooks that stop before their last cell."""
    folder = tmp_path_factory.mktemp("bare-lab")
    _notebook(folder / "raises.ipynb", "x = 1", "x / 0", "print('never')")
    _notebook(folder / "exits.ipynb", "x = 1", "import os\nos._exit(1)", "print('never')")
    with _jupyter_lab(folder) as (base, token):
        yield base, token


@pytest.mark.parametrize("notebook, message", [
    ("raises.ipynb", r"raises.ipynb: cell 3 \('x / 0'\) raised ZeroDivisionError: division by zero"),
    ("exits.ipynb", r"exits.ipynb: the kernel died \(\w+\) and cell [23] \('(x = 1|import os)'\) never finished"),
])
def test_a_notebook_that_stops_fails_the_wait_at_once_naming_the_cell(bare_lab, browser, notebook, message):
    """The wait of test_notebook_runs_in_jupyterlab on notebooks that cannot finish: it must
    fail with the cell named, in seconds rather than at its 600 s deadline."""
    base, token = bare_lab
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{base}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset&token={token}")
        _wait_for_kernel(page, notebook)
        begun = time.monotonic()
        with pytest.raises(AssertionError, match=message):
            _run_all(page, notebook, deadline_s=120)
        assert time.monotonic() - begun < 60
    finally:
        page.close()
        _stop_kernels(base, token)
