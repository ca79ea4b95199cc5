"""Where things live in the repository, and how a shipped model is named: the one module that knows.

    REPO/
      data/<name>/               shipped models (DATA_DIR)          data_path("pixel-unet") → data/pixel-unet
      runs/<recipe>/             training checkpoints (RUNS_DIR)    git-ignored, resumable
      benchmarks/results/        stored benchmark results (RESULTS_DIR), read by ``course_utils.results``

A shipped model is named one way everywhere: a bare name such as ``"pixel-unet"`` means
``data/pixel-unet``; anything with a folder in it (``"data/storybook-sd"``, ``"./my-run"``, an absolute
path) is a path. A relative path is taken from the current folder, or else from the repository root,
so ``"data/storybook-sd"`` works from ``notebooks/`` too.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["REPO", "DATA_DIR", "RUNS_DIR", "RESULTS_DIR", "is_bare_name", "data_path"]

#: The repository root (the folder that holds course_utils/, data/, notebooks/).
REPO = Path(__file__).resolve().parent.parent
DATA_DIR = REPO / "data"
RUNS_DIR = REPO / "runs"
RESULTS_DIR = REPO / "benchmarks" / "results"


def is_bare_name(name: str | Path) -> bool:
    """True for a model name without any folder in it ("pixel-unet"), False for a path ("data/vae", "./x")."""
    text = str(name)
    return bool(text) and Path(text).name == text and text not in (".", "..") and not text.startswith("~")


def data_path(name: str | Path) -> Path:
    """The folder of a shipped model: ``data/<name>`` for a bare name, else the path itself.

    A relative path that does not exist from the current folder is tried from the repository root.
    """
    if not isinstance(name, (str, Path)) or not str(name).strip():
        raise ValueError(f"A model is named by a non-empty string such as 'pixel-unet' (meaning data/pixel-unet) "
                         f"or a path to its folder, got {name!r}.")
    if is_bare_name(name):
        return DATA_DIR / str(name)
    path = Path(name).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return REPO / path
