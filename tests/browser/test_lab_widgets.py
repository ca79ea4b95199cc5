"""JupyterLab in a real browser: open a notebook, run every cell, move a slider, see the figure change.

A JupyterLab server (the pinned 4.6) starts on 127.0.0.1 with a token and a free port, on temporary
copies of the notebooks, stripped of outputs (the committed ones are never touched), and a fresh
settings/workspace folder.
The kernel inherits the tests' environment: fast mode, and the network guard (IPYTHONDIR).
Screenshots: build/screenshots/lab_*.png.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from browser_support import ROOT, free_port, require_browser

NOTEBOOKS = ROOT / "notebooks"
#: What the tests open (the notebooks with a slider next to a figure), and the slider's label.
CASES = {
    "01_seeded_noise": re.compile(r"^\s*seed\s*$", re.I),
    "02_forward_diffusion": re.compile(r"^\s*(t|timestep|time ?step|step)\b", re.I),
    "06_conditioning_and_guidance": re.compile(r"^\s*w\s*$", re.I),
}
STARTUP_S, RUN_S = 180, 300          # generous: the 2-core machine may be shared
#: Notebooks whose widget needs only some of their code cells: the lab's copy keeps every markdown cell and
#: these code cells (by id), so the browser runs what the widget needs; nbval runs every cell of every notebook.
WIDGET_CELLS = {
    "06_conditioning_and_guidance": ("colab-setup", "e9000412", "552f3fd6", "cfa3f87d"),
    "10_editing_and_control": ("colab-setup", "7309fede", "0cae7cf3", "a7c365f4", "eaf34d61"),
}


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _copy_without_outputs(src: Path, dst: Path) -> None:
    """A copy with no outputs and no execution counts, so "every cell shows [n]" means this run ran it; for a
    notebook of WIDGET_CELLS, only those code cells (with every markdown cell)."""
    nb = json.loads(src.read_text())
    keep = WIDGET_CELLS.get(src.stem)
    if keep is not None:
        ids = {c.get("id") for c in nb["cells"] if c["cell_type"] == "code"}
        missing = [i for i in keep if i not in ids]
        assert not missing, (f"{src.name} has no code cell {missing}: update WIDGET_CELLS in {Path(__file__).name} "
                             "to the cells its widget needs")
        nb["cells"] = [c for c in nb["cells"] if c["cell_type"] != "code" or c.get("id") in keep]
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    dst.write_text(json.dumps(nb))


@contextmanager
def serve_lab(home: Path, notebooks: list[Path]) -> Iterator[tuple[str, str]]:
    """``(base_url, token)`` of a JupyterLab in ``home`` serving output-free copies of ``notebooks``."""
    root = home / "notebooks"
    root.mkdir()
    for src in notebooks:
        _copy_without_outputs(src, root / src.name)
    # a fresh config folder: no news pop-up asking to go online
    (home / "config" / "labconfig").mkdir(parents=True)
    (home / "config" / "labconfig" / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    # JupyterLab 4.6 skips rendering cells outside the viewport by default ("contentVisibility"), so a
    # widget lower down has no size and never counts as visible; render every cell, as a reader scrolls.
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly",
           f"--LabApp.workspaces_dir={home / 'workspaces'}", f"--LabApp.user_settings_dir={home / 'settings'}"]
    log = home / "jupyterlab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_server(f"{base}/api/status?token={token}", proc, log, STARTUP_S)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(base_url, token)`` of a JupyterLab serving copies of the notebooks under test."""
    require_browser()
    notebooks = [NOTEBOOKS / f"{stem}.ipynb" for stem in CASES if (NOTEBOOKS / f"{stem}.ipynb").is_file()]
    with serve_lab(tmp_path_factory.mktemp("lab"), notebooks) as served:
        yield served


def run_all(page, base: str, token: str, stem: str, run_s: float = RUN_S) -> None:
    """Open the notebook, clear its outputs, run all cells from the Run menu, wait (up to ``run_s``), and fail
    on an error."""
    page.goto(f"{base}/lab/tree/{stem}.ipynb?reset&token={token}")     # reset: no tabs from the last test
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=STARTUP_S * 1000)
    page.get_by_text(re.compile(r"\| Idle$")).first.wait_for(timeout=STARTUP_S * 1000)
    prompts = notebook.locator(".jp-CodeCell .jp-InputPrompt")
    started = re.compile(r"\[(\*|\d+)\]")
    for _attempt in range(3):           # a click that lands while the page is still settling does nothing
        page.locator(".lm-MenuBar-item", has_text=re.compile("^Run$")).click()
        page.locator(".lm-Menu-item:not(.lm-mod-disabled)", has_text=re.compile("^Run All Cells")).first.click()
        try:
            prompts.filter(has_text=started).first.wait_for(timeout=30_000)
            break
        except Exception:
            page.keyboard.press("Escape")
    # done when every code cell shows an execution count (the copies start with none) and the kernel is idle
    page.wait_for_function(
        """() => {
            const prompts = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt'));
            const status = Array.from(document.querySelectorAll('#jp-main-statusbar .jp-StatusBar-TextItem'))
                .some(s => / \\| Idle$/.test(s.textContent));
            return status && prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=run_s * 1000, polling=500)
    errors = notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'] pre",
                              has_text=re.compile(r"Traceback|Error"))
    assert errors.count() == 0, f"{stem}: a cell raised:\n{errors.first.inner_text()[:1500]}"


def find_slider(page, stem: str, label: re.Pattern):
    """The ``.widget-interact`` box whose slider is labelled ``label`` (or the only slider there is)."""
    # only the notebook on show: the tab opened before stays in the page, hidden, with its own sliders
    boxes = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .widget-interact")
    boxes.first.wait_for(timeout=RUN_S * 1000)
    labels = [b.locator(".widget-slider label.widget-label").all_inner_texts() for b in boxes.all()]
    matches = [i for i, names in enumerate(labels) if any(label.search(n) for n in names)]
    if not matches and sum(map(len, labels)) == 1:
        matches = [next(i for i, names in enumerate(labels) if names)]
    assert matches, f"{stem}: no slider labelled {label.pattern!r}; sliders found: {labels}"
    return boxes.nth(matches[0])


def figure_src(box) -> str:
    img = box.locator(".widget-output img").first
    img.wait_for(timeout=RUN_S * 1000)
    return img.get_attribute("src") or ""


def drag_slider(page, box, label: re.Pattern) -> tuple[str, str]:
    """Drag the slider's handle a third of its track to the left (as a person would); (old, new) value."""
    slider = box.locator(".widget-slider", has=page.locator("label.widget-label", has_text=label)).first
    if slider.count() == 0:
        slider = box.locator(".widget-slider").first
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    before = handle.get_attribute("aria-valuenow")
    track = slider.locator(".noUi-base").bounding_box()
    h = handle.bounding_box()
    x, y = h["x"] + h["width"] / 2, h["y"] + h["height"] / 2
    target = x - track["width"] / 3 if x - track["x"] > track["width"] / 2 else x + track["width"] / 3
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(target, y, steps=12)
    page.mouse.up()
    page.wait_for_function("([el, v]) => el.getAttribute('aria-valuenow') !== v",
                           arg=[handle.element_handle(), before], timeout=10_000)
    return before, handle.get_attribute("aria-valuenow")


@pytest.mark.parametrize("stem", list(CASES))
def test_slider_changes_figure(lab, page, screenshots, stem):
    if not (NOTEBOOKS / f"{stem}.ipynb").is_file():
        pytest.skip(f"notebooks/{stem}.ipynb has not landed yet; this case runs once it does")
    base, token = lab
    label = CASES[stem]
    run_all(page, base, token, stem)
    box = find_slider(page, stem, label)
    box.scroll_into_view_if_needed()
    before_src = figure_src(box)
    page.screenshot(path=str(screenshots / f"lab_{stem}_before.png"))
    old, new = drag_slider(page, box, label)
    assert old != new, f"{stem}: the slider did not move"
    page.wait_for_function(
        "([el, src]) => { const img = el.querySelector('.widget-output img'); return img && img.src !== src; }",
        arg=[box.element_handle(), before_src], timeout=RUN_S * 1000)
    after_src = figure_src(box)
    assert after_src and after_src != before_src, f"{stem}: moving the slider {old} → {new} did not redraw the figure"
    box.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"lab_{stem}_after.png"))
