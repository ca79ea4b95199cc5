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

__all__ = ["load", "source", "sampler_rows", "format_sampler_rows"]


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


def sampler_rows(min_n: int = 500) -> dict[str, dict]:
    """The stored sampler table of notebook 05: every sampler of ``sampler_quality`` [1] measured on at
    least ``min_n`` samples, and the real-renders, DDIM-25 and DDPM-1000 rows of ``compare_generators`` [2].

    Each row: steps (network calls per image), n, ms (per image), fid (judge-FID), coverage."""
    quality, compare = load("sampler_quality"), load("compare_generators")
    table = {f"{k} [1]": dict(steps=r["steps"], n=r["n"], ms=1000 * r["seconds_per_image"], fid=r["judge_fid"],
                              coverage=r["coverage"]) for k, r in quality["samplers"].items() if r["n"] >= min_n}
    for r in compare["rows"]:
        if r["model"] in ("real renders", "diffusion DDIM-25", "diffusion DDPM-1000"):
            table[r["model"].replace("diffusion ", "") + " [2]"] = dict(
                steps=r["calls_per_image"], n=r["samples"], ms=r["ms_per_image"], fid=r["fid"], coverage=r["coverage"])
    return table


def format_sampler_rows(table: dict[str, dict]) -> str:
    """``sampler_rows`` as an aligned text table, with the sources [1] and [2] and the two floors."""
    quality, compare = load("sampler_quality"), load("compare_generators")
    lines = [f"{'':<22}{'steps':>6}{'samples':>8}{'ms / image':>11}{'judge-FID':>11}{'coverage':>10}"]
    lines += [f"{name:<22}{r['steps']:>6}{r['n']:>8}{r['ms']:>11.0f}{r['fid']:>11.2f}{r['coverage']:>10.3f}"
              for name, r in table.items()]
    lines += [source(quality, "[1]"), source(compare, "[2]")]
    lines.append(f"real-vs-real floor: {quality['floor_fid']:.2f} [1], {table['real renders [2]']['fid']:.2f} [2]")
    return "\n".join(lines)
