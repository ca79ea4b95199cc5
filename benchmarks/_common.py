"""Shared by the benchmark scripts: what machine this is, and saving a result as JSON.

Every script prints its table and also writes benchmarks/results/<name>.json (with date, machine and
the command that produced it); benchmarks/run_all.py collects them into benchmarks/RESULTS.md, and
``course_utils.results.load(name)`` reads them back. The studies in experiments/ use ``save`` too, each
into its own folder. The renders every quality figure is scored against: ``storybook.reference_renders``.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from course_utils.paths import RESULTS_DIR as RESULTS


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__, "python": platform.python_version(),
    }


def command() -> str:
    """The benchmark command now running, as one would retype it from the project root."""
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:])


def device_label() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def save(name: str, data: dict, folder: Path = RESULTS) -> Path:
    """Write ``folder``/<name>[-cuda].json (default benchmarks/results/) with date, machine and command."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(),
              "command": command(),
              **data}
    suffix = "-cuda" if torch.cuda.is_available() else ""
    path = folder / f"{name}{suffix}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
