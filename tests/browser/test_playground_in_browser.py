"""Notebook 10's prompt playground in JupyterLab: type a prompt, press Draw, see a new picture; an unknown
word shows the model's vocabulary in the panel, with no traceback, and the picture stays.

The lab is the one of ``test_lab_widgets`` (a copy of the notebook without outputs, 127.0.0.1, a token);
the panel is found by its CSS class ``course-playground`` (``course_utils.playground``).
Screenshots: build/screenshots/lab_playground_*.png.
"""
from __future__ import annotations

import re

import pytest

from browser_support import require_browser
from test_lab_widgets import NOTEBOOKS, RUN_S, figure_src, run_all, serve_lab

NOTEBOOK = NOTEBOOKS / "10_editing_and_control.ipynb"
NEW_PROMPT = "fox reading in the snow"
UNKNOWN_PROMPT = "squirrel fishing by a volcano"
#: The lab runs the cells the playground needs (test_lab_widgets.WIDGET_CELLS); generous, as the machine may be shared.
NOTEBOOK_RUN_S = 900


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``(base_url, token)`` of a JupyterLab serving a copy of notebook 10."""
    require_browser()
    if not NOTEBOOK.is_file():
        pytest.skip(f"notebooks/{NOTEBOOK.name} has not landed yet; this test runs once it does")
    with serve_lab(tmp_path_factory.mktemp("lab"), [NOTEBOOK]) as served:
        yield served


def find_panel(page):
    """The (first) playground panel of the notebook on show."""
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .course-playground").first
    panel.wait_for(timeout=RUN_S * 1000)
    panel.scroll_into_view_if_needed()
    return panel


def text_box(page, panel, label: str):
    """The input of the panel's Text widget labelled ``label``."""
    field = panel.locator(".widget-text", has=page.locator("label.widget-label",
                                                            has_text=re.compile(rf"^\s*{label}\s*$")))
    return field.locator("input").first


def press_draw(page, panel, prompt: str) -> None:
    """Type ``prompt`` into the prompt box (as a person would: select all, type) and press Draw."""
    box = text_box(page, panel, "prompt")
    box.click()
    box.press("Control+A")
    box.press_sequentially(prompt, delay=10)
    assert box.input_value() == prompt
    panel.locator("button", has_text=re.compile(r"^\s*Draw\s*$")).click()


def status_of(panel) -> str:
    return panel.locator(".widget-html").first.inner_text()


def wait_for_status(panel, text: str) -> str:
    """Wait until the panel's status line says ``text``; fail with what it says instead."""
    try:
        panel.locator(".widget-html", has_text=text).first.wait_for(timeout=RUN_S * 1000)
    except Exception:                   # playwright's TimeoutError
        pytest.fail(f"the panel's status never said {text!r}; it says {status_of(panel)!r}")
    return status_of(panel)


def test_playground_redraws_and_explains_unknown_words(lab, page, screenshots):
    base, token = lab
    run_all(page, base, token, NOTEBOOK.stem, NOTEBOOK_RUN_S)
    panel = find_panel(page)
    before = figure_src(panel)
    assert "drew in" in status_of(panel), f"the panel did not draw when built: {status_of(panel)!r}"
    page.screenshot(path=str(screenshots / "lab_playground_before.png"))

    press_draw(page, panel, NEW_PROMPT)
    page.wait_for_function(
        "([el, src]) => { const img = el.querySelector('.widget-output img'); return img && img.src !== src; }",
        arg=[panel.element_handle(), before], timeout=RUN_S * 1000)
    after = figure_src(panel)
    assert after and after != before, f"Draw with {NEW_PROMPT!r} did not change the picture"
    wait_for_status(panel, "drew in")
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "lab_playground_after.png"))

    press_draw(page, panel, UNKNOWN_PROMPT)
    status = wait_for_status(panel, "volcano")
    assert "river" in status and "The model knows" in status, f"no vocabulary in the status: {status!r}"
    assert "Traceback" not in panel.inner_text(), "the panel shows a traceback"
    stderr = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) "
                          ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                          has_text=re.compile("Traceback|Error"))
    assert stderr.count() == 0, f"a traceback appeared: {stderr.first.inner_text()[:1000]}"
    assert figure_src(panel) == after, "the picture changed although the prompt was refused"
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "lab_playground_unknown_word.png"))
