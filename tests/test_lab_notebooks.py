"""Every notebook, opened in a real JupyterLab in headless Chromium and run with Run > Run All Cells.

nbval proves the kernel side; this proves the learner's side: the notebook opens with the right
kernel (no kernel-choice dialog), every cell runs through JupyterLab's own menu, no cell ends in
an error it is not tagged for (`raises-exception`), none is left unrun, and the progress-bar
widgets render. JupyterLab serves a scratch copy of notebooks/ under outputs/lab/, with the stored outputs
removed, so running (and JupyterLab's autosave) never touches the committed notebooks. A screenshot of each notebook
after its run goes to outputs/browser/lab/.

Slow (the notebooks themselves take about 7 minutes on a 2-core CPU): `make unit` leaves it out,
`make test` and CI run it. One notebook alone: `pytest tests/test_lab_notebooks.py -k 05_losses`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time

import psutil
import pytest
from browser import ROOT, SCREENSHOTS, chromium_or_skip, free_port, serve

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCRATCH = ROOT / "outputs" / "lab"
RUN_TIMEOUT_S = 600             # one notebook, Run All to idle (the slowest takes about 90 s)
WIDGET = "application/vnd.jupyter.widget-view+json"
# JupyterLab settings for the test: every cell rendered (not only those in view), no news pop-up.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}
# The notebook's state, read from JupyterLab's own model of it (window.jupyterapp, exposed for the test).
STATE = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.model.cells, code = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    code.push({index: i, count: cell.executionCount, running: cell.executionState === 'running',
               tags: cell.getMetadata('tags') || [],
               outputs: cell.outputs.toJSON().map(o => ({type: o.output_type, ename: o.ename || null,
                                                         evalue: (o.evalue || '').slice(0, 300),
                                                         mimes: o.data ? Object.keys(o.data) : []}))});
  }
  return {kernel: kernel ? kernel.status : null, kernel_name: kernel ? kernel.name : null, cells: code};
}"""
KERNEL_READY = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return (kernel && kernel.status === 'idle') || document.querySelector('.jp-Dialog') !== null;
}"""


@pytest.fixture(scope="module")
def lab():
    """JupyterLab on a scratch copy of notebooks/; yields (url, token)."""
    chromium_or_skip()          # before starting JupyterLab for nothing
    shutil.rmtree(SCRATCH, ignore_errors=True)
    (SCRATCH / "notebooks").mkdir(parents=True)
    for path in NOTEBOOKS:   # without the stored outputs: every output and count the test sees is from its run
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"], cell["execution_count"] = [], None
        (SCRATCH / "notebooks" / path.name).write_text(json.dumps(notebook))
    for name, value in SETTINGS.items():
        (SCRATCH / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (SCRATCH / "settings" / name).write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(8)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={SCRATCH / 'notebooks'}",
               f"--LabApp.user_settings_dir={SCRATCH / 'settings'}",
               f"--LabApp.workspaces_dir={SCRATCH / 'workspaces'}", "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, "HELPERS_DEVICE": "cpu", "JUPYTER_CONFIG_DIR": str(SCRATCH / "config")}
    leftovers = []
    try:
        with serve(command, f"http://127.0.0.1:{port}/api/status?token={token}", SCRATCH / "lab.log", timeout=120,
                   env=env) as server:
            yield f"http://127.0.0.1:{port}", token
            # kernels run in sessions of their own, and what they start (%tensorboard) in theirs:
            # remember the server's descendants before it stops, to stop any it leaves behind
            leftovers = psutil.Process(server.pid).children(recursive=True)
    finally:
        for proc in leftovers:
            try:
                proc.kill()
            except psutil.Error:
                pass


def _wait_until_run(page, timeout_s: float) -> dict:
    """Poll JupyterLab's model until Run All is over: every code cell ran, or it stopped.

    The kernel goes idle between cells while the page renders a cell's output, so an idle kernel
    alone does not mean the end. Run All is over when the kernel is idle, no cell is running, and
    either every code cell has an execution count, or a cell ended in an error that is not tagged
    raises-exception (JupyterLab stops there), or nothing has changed for 60 s.
    """
    deadline = time.monotonic() + timeout_s
    last, still_since = None, time.monotonic()
    while True:
        state = page.evaluate(STATE)
        idle = state["kernel"] == "idle" and not any(cell["running"] for cell in state["cells"])
        counts = [cell["count"] for cell in state["cells"]]
        if counts != last:
            last, still_since = counts, time.monotonic()
        if idle and (None not in counts or _errors(state) or time.monotonic() - still_since > 60):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"Run All did not finish within {timeout_s:.0f} s (kernel {state['kernel']}, "
                                 f"{counts.count(None)} cells not run yet)")
        page.wait_for_timeout(500)


def _errors(state: dict) -> list[str]:
    """Error outputs of cells not tagged raises-exception."""
    return [f"cell {c['index']}: {o['ename']}: {o['evalue']}" for c in state["cells"] for o in c["outputs"]
            if o["type"] == "error" and "raises-exception" not in c["tags"]]


def _open(page, lab, name: str) -> dict:
    """Open notebooks/<name> in JupyterLab and wait until its kernel is idle or a dialog asks something."""
    url, token = lab
    page.set_viewport_size({"width": 1400, "height": 1000})
    # a workspace of its own: JupyterLab would otherwise reopen the notebooks of the tests before
    page.goto(f"{url}/lab/workspaces/t{secrets.token_hex(4)}/tree/{name}?token={token}")
    page.wait_for_function(KERNEL_READY, timeout=120_000)
    return page.evaluate(STATE) if page.locator(".jp-Dialog").count() == 0 else {}


def _run_all(page) -> dict:
    """Run > Run All Cells, through JupyterLab's menu, and wait until it is over."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_timeout(1000)
    return _wait_until_run(page, RUN_TIMEOUT_S)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runs_in_jupyterlab_with_run_all(page, lab, path):
    from playwright.sync_api import expect  # waits for the page, unlike count(); installed with the tests

    state = _open(page, lab, path.name)
    assert page.locator(".jp-Dialog").count() == 0, "a dialog opened with the notebook (kernel choice?)"
    assert state["kernel_name"] == "python3", f"the notebook started kernel {state['kernel_name']!r}"
    try:
        state = _run_all(page)
        shot = SCREENSHOTS / "lab" / f"{path.stem}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=shot)

        errors = _errors(state)
        assert not errors, "errors in cells not tagged raises-exception:\n" + "\n".join(errors)
        unrun = [c["index"] for c in state["cells"] if c["count"] is None]
        assert not unrun, f"cells left unrun after Run All: {unrun}"
        # tqdm.auto draws a widget where ipywidgets works and falls back to text where it does not:
        # a notebook whose committed run has progress-bar widgets must have them here too, drawn
        committed = json.loads(path.read_text())["cells"]
        expected = sum(WIDGET in o.get("data", {}) for c in committed for o in c.get("outputs", []))
        widgets = sum(WIDGET in o["mimes"] for c in state["cells"] for o in c["outputs"])
        if expected:
            assert widgets, f"the committed notebook has {expected} widget outputs, this run none (ipywidgets?)"
            for text in ("Error displaying widget", "Loading widget"):
                expect(page.get_by_text(text)).to_have_count(0)
            expect(page.locator(".widget-hprogress").first).to_be_visible()
        if path.stem.startswith("08") and (ROOT.parent / "shared" / "reference").is_dir():
            # the branch the learner sees: the reference file was found (the scratch copy must not lose it)
            reference = page.locator(".jp-OutputArea-output").filter(has_text="REFERENCE FIGURES, measured")
            expect(reference).to_have_count(1)
    finally:
        page.evaluate("async () => { await window.jupyterapp.shell.currentWidget.sessionContext.shutdown(); }")


def _notebook(kernel: str, *sources: str, tags: tuple[str, ...] = ()) -> str:
    """A notebook with the collection's metadata, or, for any other kernel, one JupyterLab cannot match.

    (Given an unknown kernel name but a known language, JupyterLab quietly starts that language's
    kernel; so the test's notebook names neither a known kernel nor a known language.)
    """
    metadata = json.loads(NOTEBOOKS[0].read_text())["metadata"]
    if kernel != "python3":
        metadata = {"kernelspec": {"name": kernel, "display_name": kernel, "language": kernel}}
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {"tags": list(tags)},
              "outputs": [], "source": src} for i, src in enumerate(sources)]
    return json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": metadata})


def test_the_checks_see_an_untagged_error_the_cells_after_it_and_a_kernel_dialog(page, lab):
    folder = SCRATCH / "notebooks"
    (folder / "zz_error.ipynb").write_text(_notebook("python3", "x = 1", "1 / 0", "y = 2"))
    (folder / "zz_tagged.ipynb").write_text(_notebook("python3", "1 / 0", "y = 2", tags=("raises-exception",)))
    (folder / "zz_kernel.ipynb").write_text(_notebook("no-such-kernel", "x = 1"))

    _open(page, lab, "zz_error.ipynb")
    state = _run_all(page)
    assert [e.split(":")[1].strip() for e in _errors(state)] == ["ZeroDivisionError"]
    assert [c["index"] for c in state["cells"] if c["count"] is None] == [2]       # Run All stopped there

    _open(page, lab, "zz_tagged.ipynb")
    state = _run_all(page)
    assert not _errors(state) and None not in [c["count"] for c in state["cells"]]  # tagged: it ran on

    _open(page, lab, "zz_kernel.ipynb")
    assert page.locator(".jp-Dialog").count() == 1
