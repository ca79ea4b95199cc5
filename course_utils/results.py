"""Stored benchmark results: the one reader for ``benchmarks/results/<name>.json``.

Every benchmark script writes its figures there with the date, the machine and the command that made
them (``benchmarks/_common.save``). Notebooks quote those figures through ``load`` instead of
re-measuring for hours, ``benchmarks/run_all.py`` builds RESULTS.md from them, and the comparison
harness (``course_utils.compare``) is what fills ``compare_generators``.

    data = load("sampler_quality")                 # {"name", "date", "machine", "command", …}
    print(source(data))                            # where the numbers came from, to print under a table
"""
from __future__ import annotations

import json

from .paths import RESULTS_DIR

__all__ = ["load", "source", "machine", "sampler_rows", "format_sampler_rows"]


def load(name: str, *, missing_ok: bool = False) -> dict | None:
    """The stored result ``benchmarks/results/<name>.json`` (None if absent and ``missing_ok``)."""
    if not isinstance(name, str) or not name or "/" in name or name.endswith(".json"):
        raise ValueError(f"name a stored result by its benchmark's name, such as 'sampler_quality', got {name!r}.")
    path = RESULTS_DIR / f"{name}.json"
    if not path.is_file():
        if missing_ok:
            return None
        script = name.split(".")[0]
        raise FileNotFoundError(f"{path} does not exist yet: run `python benchmarks/{script}.py` to make it "
                                "(benchmarks/RESULTS.md lists every benchmark and how long it takes).")
    return json.loads(path.read_text())


def source(data: dict, mark: str = "") -> str:
    """One line saying where a stored result came from: file, date, torch threads and command."""
    threads = data.get("machine", {}).get("torch_threads", "?")
    return (f"{mark + ' ' if mark else ''}benchmarks/results/{data['name']}.json, {data['date']}, {threads} torch "
            f"thread(s): {data['command']}")


def machine(data: dict) -> str:
    """The machine a stored result was measured on, in words: "a 2-core Intel Xeon" (or its GPU)."""
    info = data.get("machine", {})
    if info.get("gpu"):
        return f"an {info['gpu']}" if str(info["gpu"])[0].upper() in "AEIOU" else f"a {info['gpu']}"
    cpu = " ".join(w for w in str(info.get("cpu", "CPU")).replace("(R)", "").replace("(TM)", "").split()
                   if w not in ("Processor", "CPU"))
    return f"a {info.get('cores', '?')}-core {cpu or 'CPU'}"


def sampler_rows(min_n: int = 500) -> dict[str, dict]:
    """The stored sampler table of notebook 05: every sampler of ``sampler_quality`` measured on at least
    ``min_n`` samples, all against the same renders (one floor, ``load("sampler_quality")["floor_fid"]``).

    Each row: steps (network calls per image), n, ms (per image), fid (judge-FID), coverage."""
    quality = load("sampler_quality")
    return {k: dict(steps=r["steps"], n=r["n"], ms=1000 * r["seconds_per_image"], fid=r["judge_fid"],
                    coverage=r["coverage"]) for k, r in quality["samplers"].items() if r["n"] >= min_n}


def format_sampler_rows(table: dict[str, dict]) -> str:
    """``sampler_rows`` as an aligned text table: one N, the floor as its first row, and the machine its
    times come from. Where the numbers came from (file, run, date) is benchmarks/RESULTS.md's job."""
    quality = load("sampler_quality")
    ns = {r["n"] for r in table.values()}
    if len(ns) != 1:
        raise ValueError(f"one table needs one N, got rows with N = {sorted(ns)}; pass sampler_rows(min_n=...).")
    lines = [f"N = {ns.pop()} samples each; ms / image on {machine(quality)}",
             f"{'':<28}{'steps':>7}{'ms / image':>12}{'judge-FID':>11}{'coverage':>10}",
             f"{'two sets of renders (floor)':<28}{'—':>7}{'—':>12}{quality['floor_fid']:>11.2f}{'':>10}"]
    lines += [f"{name:<28}{r['steps']:>7}{r['ms']:>12.0f}{r['fid']:>11.2f}{r['coverage']:>10.3f}"
              for name, r in table.items()]
    return "\n".join(line.rstrip() for line in lines)
