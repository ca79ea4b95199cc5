"""Other ways in: the Colab set-up cell, and the Colab / Binder / GitHub addresses of a notebook.

The repository's address lives in ONE place, ``[project.urls] Repository`` in ``pyproject.toml``;
everything here derives from it, and so do the pins the Colab cell installs.

On Colab the course is not installed when a notebook opens, so the set-up cell cannot import this
module: ``setup_cell_source()`` writes a self-contained cell (address and pins spelled out), and
``tools/add_colab_cell.py`` puts it into every notebook (``tests/test_colab.py`` checks that the
committed cells are current). The cell does nothing outside Colab.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat

from .paths import REPO

__all__ = ["SETUP_TAG", "SETUP_MARKER", "KEEP_ON_COLAB", "CLONE_DIR", "repository_url", "github_slug",
           "colab_url", "binder_url", "source_url", "colab_pins", "setup_cell_source", "find_setup_cell",
           "add_setup_cell"]

PYPROJECT = REPO / "pyproject.toml"

#: Cell tag (metadata.tags) that marks the set-up cell; the site builder leaves that cell out.
SETUP_TAG = "colab-setup"
#: First line of the set-up cell: how it is found again when a notebook loses its tags.
SETUP_MARKER = "# Colab set-up: on Google Colab this cell installs the course; anywhere else it does nothing."
#: Packages Colab already has (and has imported) that the cell leaves alone: torch above all, so a
#: learner does not wait for a second, multi-GB torch download, and the scientific stack, because
#: replacing a package the running kernel already imported needs a runtime restart.
KEEP_ON_COLAB = frozenset({"torch", "numpy", "scipy", "matplotlib", "ipywidgets", "tqdm"})
#: Where the cell clones the repository on Colab (shipped checkpoints in data/ come with it).
CLONE_DIR = "/content/diffusion-course"

_GITHUB = re.compile(r"^https://github\.com/([A-Za-z0-9_.\-]+)/([A-Za-z0-9_.\-]+?)(?:\.git)?/?$")
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)$")


def _project(pyproject: Path | None = None) -> dict:
    path = pyproject or PYPROJECT
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run this from a clone of the course repository.")
    return tomllib.loads(path.read_text())["project"]


def repository_url(pyproject: Path | None = None) -> str:
    """The course's git repository, from ``[project.urls] Repository`` in pyproject.toml."""
    urls = _project(pyproject).get("urls", {})
    if "Repository" not in urls:
        raise KeyError(f"{pyproject or PYPROJECT} has no [project.urls] Repository entry; add "
                       'Repository = "https://github.com/<owner>/<name>" there (the one place it lives).')
    return urls["Repository"].rstrip("/")


def github_slug(url: str) -> str:
    """``"https://github.com/owner/name"`` → ``"owner/name"`` (Colab and Binder links need a GitHub address)."""
    m = _GITHUB.match(url)
    if not m:
        raise ValueError(f"repository address {url!r} is not https://github.com/<owner>/<name>; Colab and Binder "
                         "open notebooks from GitHub, so give such an address in pyproject.toml [project.urls].")
    return f"{m.group(1)}/{m.group(2)}"


def _notebook_path(notebook: str) -> str:
    name = Path(notebook).name
    if not name.endswith(".ipynb"):
        raise ValueError(f"{notebook!r} is not a notebook file name; give e.g. '01_seeded_noise.ipynb'.")
    return f"notebooks/{name}"


def colab_url(notebook: str, url: str | None = None, branch: str = "main") -> str:
    """The address that opens ``notebooks/<notebook>`` from GitHub in Google Colab."""
    slug = github_slug(url or repository_url())
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/{_notebook_path(notebook)}"


def binder_url(notebook: str | None = None, url: str | None = None) -> str:
    """The mybinder.org address that builds the repository (binder/) and opens ``notebook`` in JupyterLab."""
    slug = github_slug(url or repository_url())
    base = f"https://mybinder.org/v2/gh/{slug}/HEAD"
    return f"{base}?urlpath=lab/tree/{_notebook_path(notebook)}" if notebook else base


def source_url(path: str, url: str | None = None, branch: str = "main") -> str:
    """A repository file's page on GitHub (``path`` relative to the repository root)."""
    clean = Path(path).as_posix().lstrip("/")
    if clean.startswith("..") or not clean:
        raise ValueError(f"{path!r} is not a path inside the repository.")
    return f"{url or repository_url()}/blob/{branch}/{clean}"


def colab_pins(pyproject: Path | None = None) -> list[str]:
    """The exact pins (``name==version``) of the course's run-time dependencies, minus ``KEEP_ON_COLAB``."""
    pins = []
    for spec in _project(pyproject)["dependencies"]:
        m = _PIN.match(spec.strip())
        if not m:
            raise ValueError(f"pyproject.toml dependency {spec!r} is not an exact pin (name==version); "
                             "the course pins every dependency exactly.")
        if m.group(1).lower() not in KEEP_ON_COLAB:
            pins.append(f"{m.group(1)}=={m.group(2)}")
    return pins


def setup_cell_source(pyproject: Path | None = None) -> str:
    """The self-contained Colab set-up cell (address and pins written out, ≤ 20 lines)."""
    url = repository_url(pyproject)
    github_slug(url)                                   # refuse a non-GitHub address early
    pins = ", ".join(f'"{p}"' for p in colab_pins(pyproject))
    return "\n".join([
        SETUP_MARKER,
        "# It keeps Colab's own torch (no second download). Written by tools/add_colab_cell.py from pyproject.toml.",
        "import sys",
        'if "google.colab" in sys.modules:',
        "    import os, subprocess",
        f'    repo, home = "{url}", "{CLONE_DIR}"',
        "    if not os.path.isdir(home):",
        '        subprocess.run(["git", "clone", "--depth", "1", repo, home], check=True)',
        f"    pins = [{pins}]",
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *pins], check=True)',
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", home], check=True)',
        "    sys.path.insert(0, home)                      # importable now, without a runtime restart",
        '    os.chdir(os.path.join(home, "notebooks"))',
    ])


def find_setup_cell(nb: nbformat.NotebookNode) -> int | None:
    """Index of the notebook's set-up cell (by tag, or by its first line), or None."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if SETUP_TAG in cell.get("metadata", {}).get("tags", []) or cell.source.startswith(SETUP_MARKER):
            return i
    return None


def add_setup_cell(nb: nbformat.NotebookNode, source: str | None = None) -> bool:
    """Insert the set-up cell right after the title cell, or refresh it in place. True if ``nb`` changed.

    Idempotent: a notebook that already holds the current cell is left exactly as it was.
    """
    if not nb.cells or nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.lstrip().startswith("# "):
        raise ValueError("the notebook's first cell must be the markdown title ('# NN · Title'); "
                         "see CONTRIBUTING.md for the notebook layout.")
    source = source if source is not None else setup_cell_source()
    i = find_setup_cell(nb)
    if i is None:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": [SETUP_TAG]})
        cell.pop("id", None)
        nb.cells.insert(1, cell)
        _ensure_ids(nb)
        return True
    cell = nb.cells[i]
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    changed = cell.source != source or SETUP_TAG not in tags
    if changed:
        cell.source = source
        if SETUP_TAG not in tags:
            tags.append(SETUP_TAG)
    return changed


def _ensure_ids(nb: nbformat.NotebookNode) -> None:
    """Give a fresh cell an id that no other cell has (nbformat ≥ 4.5 requires ids)."""
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        return
    seen = {c.get("id") for c in nb.cells}
    for cell in nb.cells:
        if not cell.get("id"):
            new = "colab-setup"
            k = 0
            while new in seen:
                k += 1
                new = f"colab-setup-{k}"
            cell["id"] = new
            seen.add(new)
