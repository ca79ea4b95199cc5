"""Insert (or refresh) the Colab set-up cell in the course's notebooks, idempotently.

    python tools/add_colab_cell.py                # every notebooks/NN_*.ipynb
    python tools/add_colab_cell.py 02 03          # only notebooks whose names start with 02 or 03
    python tools/add_colab_cell.py --check        # change nothing; exit 1 if a notebook lacks the current cell

The cell goes right after the title cell, tagged ``colab-setup``; on Colab it clones the repository and
pip installs the course with Colab's own torch kept, and elsewhere it does nothing (it prints nothing,
so nbval and the committed outputs are unaffected). Its text comes from ``course_utils.colab``, which
reads the repository address and the pins from pyproject.toml: change them there, then rerun this.
A notebook that already has the current cell is not rewritten. Outputs of other cells are kept; run
``tools/run_notebooks.py --in-place NN`` afterwards to refresh execution counts.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from course_utils.colab import add_setup_cell, setup_cell_source  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"


def select(prefixes: list[str], folder: Path | None = None) -> list[Path]:
    """``folder/NN_*.ipynb`` (default notebooks/) in order, only those starting with one of ``prefixes``."""
    books = sorted((folder or NOTEBOOKS).glob("[0-9][0-9]_*.ipynb"))
    return [p for p in books if not prefixes or any(p.name.startswith(x) for x in prefixes)]


def update(path: Path, source: str, check_only: bool = False) -> bool:
    """Add or refresh the cell in one notebook file; True if it changed (or, with ``check_only``, would)."""
    nb = nbformat.read(path, as_version=4)
    changed = add_setup_cell(nb, source)
    if changed and not check_only:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose names start with these")
    parser.add_argument("--check", action="store_true", help="report stale notebooks, change nothing")
    args = parser.parse_args(argv)
    books = select(args.prefixes)
    if not books:
        print(f"no notebooks matched {args.prefixes} in {NOTEBOOKS}", file=sys.stderr)
        return 1
    source = setup_cell_source()
    stale = []
    for path in books:
        changed = update(path, source, check_only=args.check)
        print(f"  {path.name:<44}{('needs the cell' if args.check else 'updated') if changed else 'current'}")
        if changed:
            stale.append(path.name)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
