"""How long the whole course takes headless, per notebook, in fast or full mode.

    .venv/bin/python benchmarks/course_time.py --mode fast     # what the tests run (COURSE_FAST=1)
    .venv/bin/python benchmarks/course_time.py --mode full     # what `make course` runs

Runs tools/run_notebooks.py (the same code as `make course`) and records its per-notebook times.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import save

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("fast", "full"), default="fast")
    args = parser.parse_args()
    env = dict(os.environ)
    env.pop("COURSE_FAST", None)
    if args.mode == "fast":
        env["COURSE_FAST"] = "1"
    subprocess.run([sys.executable, "tools/run_notebooks.py"], cwd=ROOT, env=env, check=True)
    times = json.loads((ROOT / "build" / f"times-{args.mode}.json").read_text())
    print(f"wrote {save(f'course_time_{args.mode}', {'mode': args.mode, 'seconds': times['seconds'], 'total': times['total']})}")


if __name__ == "__main__":
    main()
