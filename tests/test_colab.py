"""The Colab set-up cell and the Colab/Binder addresses (course_utils/colab.py, tools/add_colab_cell.py)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from course_utils import colab

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import add_colab_cell  # noqa: E402


def test_repository_url_lives_in_pyproject():
    url = colab.repository_url()
    assert url.startswith("https://github.com/") and url in (ROOT / "pyproject.toml").read_text()
    assert colab.github_slug(url + ".git") == colab.github_slug(url)


def test_addresses():
    url = "https://github.com/owner/name"
    assert colab.colab_url("01_seeded_noise.ipynb", url) == \
        "https://colab.research.google.com/github/owner/name/blob/main/notebooks/01_seeded_noise.ipynb"
    assert colab.binder_url("00_welcome.ipynb", url) == \
        "https://mybinder.org/v2/gh/owner/name/HEAD?urlpath=lab/tree/notebooks/00_welcome.ipynb"
    assert colab.binder_url(None, url) == "https://mybinder.org/v2/gh/owner/name/HEAD"
    assert colab.source_url("course_utils/seeding.py", url) == f"{url}/blob/main/course_utils/seeding.py"


@pytest.mark.parametrize("bad", ["https://gitlab.com/a/b", "github.com/a/b", "https://github.com/a"])
def test_non_github_address_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="https://github.com/<owner>/<name>"):
        colab.github_slug(bad)


def test_bad_paths_are_clear_errors():
    with pytest.raises(ValueError, match="notebook file name"):
        colab.colab_url("01_seeded_noise.py", "https://github.com/a/b")
    with pytest.raises(ValueError, match="inside the repository"):
        colab.source_url("../outside.txt", "https://github.com/a/b")


def test_missing_url_or_loose_pin_is_a_clear_error(tmp_path):
    p = tmp_path / "pyproject.toml"
    p.write_text('[project]\nname = "x"\ndependencies = ["torch==2.13.0", "numpy>=2"]\n')
    with pytest.raises(KeyError, match=r"\[project.urls\] Repository"):
        colab.repository_url(p)
    with pytest.raises(ValueError, match="numpy>=2.*exact pin"):
        colab.colab_pins(p)
    with pytest.raises(FileNotFoundError, match="clone of the course"):
        colab.repository_url(tmp_path / "absent.toml")


def test_colab_pins_keep_colab_torch():
    pins = colab.colab_pins()
    names = {p.split("==")[0].lower() for p in pins}
    assert "diffusers" in names and "transformers" in names
    assert not names & colab.KEEP_ON_COLAB and "torch" not in names
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==\S+", p) for p in pins)


def _run_cell(monkeypatch, on_colab: bool) -> tuple[list, list]:
    calls, dirs = [], []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append((cmd, kw)))
    monkeypatch.setattr(os, "chdir", dirs.append)
    monkeypatch.setattr(os.path, "isdir", lambda p: False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(colab.setup_cell_source(), "<colab cell>", "exec"), {"__name__": "__main__"})
    return calls, dirs


def test_cell_does_nothing_off_colab(monkeypatch):
    before = list(sys.path)
    calls, dirs = _run_cell(monkeypatch, on_colab=False)
    assert calls == [] and dirs == [] and sys.path == before


def test_cell_installs_the_course_on_colab(monkeypatch):
    calls, dirs = _run_cell(monkeypatch, on_colab=True)
    (clone, _), (deps, _), (course, _) = calls
    assert clone[:2] == ["git", "clone"] and colab.repository_url() in clone
    assert deps[:4] == [sys.executable, "-m", "pip", "install"]
    assert set(colab.colab_pins()) <= set(deps) and not any(a.startswith("torch") for a in deps)
    assert "--no-deps" in course and course[-2:] == ["-e", colab.CLONE_DIR]
    assert all(kw.get("check") for _, kw in calls)
    assert sys.path[0] == colab.CLONE_DIR and dirs == [f"{colab.CLONE_DIR}/notebooks"]


def test_cell_is_short_and_self_contained():
    source = colab.setup_cell_source()
    assert source.startswith(colab.SETUP_MARKER) and len(source.splitlines()) <= 30
    assert "course_utils" not in source          # the course is not installed yet when it runs


def _notebook(title: str = "# 09 · Test\n*One line.*") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(title), nbformat.v4.new_code_cell("x = 1")]
    return nb


def test_add_setup_cell_is_idempotent():
    nb = _notebook()
    assert colab.add_setup_cell(nb) is True
    assert colab.find_setup_cell(nb) == 1 and nb.cells[1].metadata["tags"] == [colab.SETUP_TAG]
    snapshot = nbformat.writes(nb)
    assert colab.add_setup_cell(nb) is False and nbformat.writes(nb) == snapshot
    nbformat.validate(nb)
    assert len({c.id for c in nb.cells}) == len(nb.cells)


def test_add_setup_cell_refreshes_a_stale_cell():
    nb = _notebook()
    colab.add_setup_cell(nb, source=colab.SETUP_MARKER + "\nold = True")
    nb.cells[1].metadata["tags"] = []
    assert colab.add_setup_cell(nb) is True
    assert nb.cells[1].source == colab.setup_cell_source() and colab.SETUP_TAG in nb.cells[1].metadata["tags"]
    assert sum(c.source.startswith(colab.SETUP_MARKER) for c in nb.cells) == 1


def test_add_setup_cell_needs_a_title_cell():
    with pytest.raises(ValueError, match="markdown title"):
        colab.add_setup_cell(_notebook(title="no title here"))


def test_tool_updates_files_and_checks(tmp_path, monkeypatch):
    book = tmp_path / "09_test.ipynb"
    nbformat.write(_notebook(), book)
    monkeypatch.setattr(add_colab_cell, "NOTEBOOKS", tmp_path)
    real = {p: p.stat().st_mtime_ns for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert add_colab_cell.select([], tmp_path) == [book]
    assert add_colab_cell.main(["--check"]) == 1                 # lacks the cell; --check changes nothing
    assert colab.find_setup_cell(nbformat.read(book, as_version=4)) is None
    assert add_colab_cell.main([]) == 0
    assert add_colab_cell.main(["--check"]) == 0
    assert add_colab_cell.main(["77"]) == 1                      # nothing matched
    assert {p: p.stat().st_mtime_ns for p in (ROOT / "notebooks").glob("*.ipynb")} == real   # untouched


def test_committed_setup_cells_are_current():
    """A notebook that has the set-up cell has today's (pins and address from pyproject.toml)."""
    source = colab.setup_cell_source()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        i = colab.find_setup_cell(nb)
        if i is not None:
            assert nb.cells[i].source == source, f"{path.name}: stale Colab cell; run tools/add_colab_cell.py"
            assert i == 1, f"{path.name}: the Colab cell must come right after the title"


def test_readme_badges_match_pyproject():
    readme = (ROOT / "README.md").read_text()
    assert colab.binder_url("00_welcome.ipynb") in readme, "README's Binder badge disagrees with pyproject.toml"
    assert colab.colab_url("00_welcome.ipynb") in readme, "README's Colab badge disagrees with pyproject.toml"
