"""Execute the course's notebooks headless, in order, and print how long each took.

    python tools/run_notebooks.py                 # every notebook → build/notebooks/ (make course)
    python tools/run_notebooks.py --in-place      # refresh the committed notebooks (make execute)
    python tools/run_notebooks.py 02 03           # only notebooks whose name starts with 02 or 03

Times go to build/times.json as well (the README's course map and the site read them).
Fast mode is whatever COURSE_FAST says in the environment.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"


def select(prefixes: list[str]) -> list[Path]:
    books = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if prefixes:
        books = [p for p in books if any(p.name.startswith(x) for x in prefixes)]
    return books


#: What the kernel says on stderr at every start that is not about the notebook: ipykernel warns that its
#: local connection runs over TCP without encryption. It would break the one line printed per notebook.
KERNEL_NOISE = ("Kernel is running over TCP without encryption",)


def execute(path: Path, out: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as kernel_stderr:
        try:
            client.execute(stderr=kernel_stderr)      # passed on to the kernel's process
        finally:                                       # anything else the kernel said is shown, after the line
            kernel_stderr.seek(0)
            for line in kernel_stderr:
                if line.strip() and not any(noise in line for noise in KERNEL_NOISE):
                    print(f"\n    kernel: {line.rstrip()}", end="", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose names start with these")
    parser.add_argument("--in-place", action="store_true", help="overwrite notebooks/ with executed copies")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    books = select(args.prefixes)
    if not books:
        print("no notebooks matched", args.prefixes, file=sys.stderr)
        return 1
    mode = "fast" if os.environ.get("COURSE_FAST", "") not in ("", "0") else "full"
    print(f"Executing {len(books)} notebooks in {mode} mode ({'in place' if args.in_place else 'into build/notebooks'})")
    times: dict[str, float] = {}
    total = time.perf_counter()
    for path in books:
        out = path if args.in_place else BUILD / "notebooks" / path.name
        print(f"  {path.name:<40}", end="", flush=True)
        seconds = execute(path, out, args.timeout)
        times[path.stem] = round(seconds, 1)
        print(f"{seconds:7.1f} s", flush=True)
    total = time.perf_counter() - total
    print(f"  {'total':<40}{total:7.1f} s")
    BUILD.mkdir(exist_ok=True)
    path = BUILD / f"times-{mode}.json"
    if args.prefixes and path.exists():          # a partial run updates its notebooks, keeps the others
        times = {**json.loads(path.read_text()).get("seconds", {}), **times}
    record = {"mode": mode, "threads": os.cpu_count(), "seconds": dict(sorted(times.items())),
              "total": round(sum(times.values()), 1), "date": time.strftime("%Y-%m-%d")}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
