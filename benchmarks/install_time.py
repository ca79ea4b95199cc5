"""How long a new user waits for the install, and how big .venv gets.

    .venv/bin/python benchmarks/install_time.py [--python python3]

Creates a fresh virtual environment in a temporary folder and runs the same commands as `make`
(`python -m venv`, `pip install -e '.[dev]'`), timing them. pip's download cache is left as it is:
the JSON says whether it was warm (a second install on the same machine is faster than the first).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from _common import save

ROOT = Path(__file__).resolve().parent.parent


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default="python3")
    args = parser.parse_args()
    cache = Path.home() / ".cache" / "pip"
    warm = cache.exists() and any(cache.iterdir())
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        t0 = time.perf_counter()
        subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "-e", ".[dev]"], cwd=ROOT, check=True)
        seconds = time.perf_counter() - t0
        size = folder_size(venv)
        shutil.rmtree(venv)
    print(f"install: {seconds:.0f} s, venv {size / 2**30:.2f} GiB (pip cache {'warm' if warm else 'cold'})")
    print(f"wrote {save('install', {'seconds': round(seconds, 1), 'venv_gib': round(size / 2**30, 2), 'pip_cache_warm': warm})}")


if __name__ == "__main__":
    main()
