"""Each notebook opened and run through the real JupyterLab UI, in headless Chromium.

A JupyterLab server is started on 127.0.0.1 with a random token, in a copy of the project
that the test profile already built (data, sweep cache and sweep outputs are there). Each
notebook is opened from its URL, run with Run → Run All Cells, and saved with Ctrl+S; the
saved file must have every code cell executed, no error output and its figures.
``MNIST_REPORTS_SAMPLE=600`` makes the notebooks' own defaults use 600 images.
"""

from __future__ import annotations

import json
import os
import re
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
from tests.test_browser import ARGS, CHROMIUM

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


@pytest.fixture(scope="module")
def lab(built_project, tmp_path_factory):
    """(base URL, token, project copy) of a running ``jupyter lab --no-browser``."""
    root, _ = built_project
    copy = tmp_path_factory.mktemp("lab") / "project"
    shutil.copytree(root, copy, symlinks=True, ignore=shutil.ignore_patterns(".dvc", ".git", "html"))
    token, port = secrets.token_hex(16), _free_port()
    home = copy.parent / "jupyter"
    env = dict(os.environ, MNIST_REPORTS_SAMPLE="600", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    env.pop("MPLBACKEND", None)  # as for a user: the kernel's inline backend draws the figures
    cmd = [bin_path("jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={copy}", "--LabApp.news_url=None"]
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
        yield base, token, copy
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


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


def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(f"{SHOWN} .jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent)")


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
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
        started = time.monotonic() + 60   # the first cell is queued or running by then
        deadline = time.monotonic() + 600
        while not (_prompts(page) and all(re.fullmatch(r"\[\d+\]:", p) for p in _prompts(page))):
            now = time.monotonic()
            assert now < deadline, f"Run All did not finish in {notebook}: {_prompts(page)}"
            assert now < started or any(p != "[ ]:" for p in _prompts(page)), \
                f"Run All started no cell of {notebook} (tab on show {_current_tab(page)!r}): {_prompts(page)}"
            time.sleep(1)
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
