"""How much a pixel denoiser's null-label judge-FID moves when only the sampling seed changes.

    .venv/bin/python experiments/sampling_spread.py [--models data/pixel-unet runs/variants/shipped-seed1] [--n 500]

Every other benchmark draws its samples with one seed (5), so a single judge-FID mixes what the network
learned with the luck of those N noise draws. Here each model draws N null-label samples (DDIM-25) with
several sampling seeds, each scored against the same N renders (seed 1); the real-vs-real floor is
renders of seed 2 against them, as in sampler_quality.py. Two models trained with different seeds differ
by more than this spread only if training, not sampling, makes the difference.

Batch i of a set uses generator seed + i (``generate_in_batches``), so the seeds must lie further apart
than the number of batches, or two sets would share noise; ``check_disjoint`` refuses such seeds.
Rows are added to experiments/sampling_spread/sampling_spread.json: a model measured before with the same N and
seeds is replaced, the others are kept, so models can be measured a few at a time; each row keeps the
command and date that measured it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import command, device_label, save  # noqa: E402

from course_utils.storybook import reference_renders  # noqa: E402
from course_utils import metrics  # noqa: E402
from course_utils.denoiser import load_denoiser  # noqa: E402
from course_utils.evaluation import generate_in_batches  # noqa: E402

NAME = "sampling_spread"
BATCH = 250


def check_disjoint(seeds: list[int], n: int, batch_size: int = BATCH) -> None:
    """Raise if two sampling seeds would draw some batch with the same generator seed."""
    batches = -(-n // batch_size)
    used: dict[int, int] = {}
    for seed in seeds:
        for s in range(seed, seed + batches):
            if s in used:
                raise ValueError(f"Sampling seeds {used[s]} and {seed} both draw a batch with generator seed {s} "
                                 f"(N = {n} is {batches} batches of {batch_size}); space the seeds at least "
                                 f"{batches} apart, e.g. --seeds {' '.join(str(5 + 100 * i) for i in range(len(seeds)))}.")
            used[s] = seed


def summary(fids: list[float], floor: float) -> dict:
    """Mean, spread and range of judge-FIDs over sampling seeds, and the mean over the floor."""
    return {"judge_fid": [round(f, 3) for f in fids], "mean": round(statistics.fmean(fids), 3),
            "stdev": round(statistics.stdev(fids), 3) if len(fids) > 1 else 0.0,
            "min": round(min(fids), 3), "max": round(max(fids), 3),
            "mean_over_floor": round(statistics.fmean(fids) / floor, 2)}


def merge(previous: dict | None, rows: list[dict], n: int, seeds: list[int]) -> list[dict]:
    """The stored rows measured the same way (same N and seeds), except models measured again, then ``rows``."""
    if not previous or previous.get("n") != n or previous.get("seeds") != seeds:
        return rows
    again = {r["model"] for r in rows}
    return [r for r in previous["rows"] if r["model"] not in again] + rows


def format_row(row: dict) -> str:
    return (f"{row['model']:<36}{row['mean']:>7.2f}{row['stdev']:>7.2f}{row['min']:>7.2f}{row['max']:>7.2f}"
            f"{row['mean_over_floor']:>10.2f}×  {row['judge_fid']}")


def format_table(rows: list[dict]) -> str:
    """The header, one line per model and, when rows come from several runs, where their commands are."""
    runs = {r.get("command") for r in rows}
    note = [f"(rows from {len(runs)} runs of this script; experiments/sampling_spread/{NAME}.json gives each row's command)"]
    return "\n".join([HEADER, *map(format_row, rows), *(note if len(runs) > 1 else [])])


HEADER = f"{'model':<36}{'mean':>7}{'stdev':>7}{'min':>7}{'max':>7}{'mean/floor':>11}  per seed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["pixel-unet"], help="checkpoint folders (default: the shipped one)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 105, 205, 305, 405], help="sampling seeds")
    parser.add_argument("--n", type=int, default=500, help="samples per seed (and real renders)")
    args = parser.parse_args()
    check_disjoint(args.seeds, args.n)
    real, other, _ = reference_renders(args.n)
    floor = metrics.judge_fid(real, other)
    print(f"N = {args.n}, DDIM-25, null label; judge-FID against renders of seed 1; floor {floor:.3f}; "
          f"sampling seeds {args.seeds}")
    print(HEADER)
    rows = []
    for folder in args.models:
        model = load_denoiser(folder)
        fids = [metrics.judge_fid(real, generate_in_batches(model, "DDIM-25", n=args.n, seed=s, batch_size=BATCH))
                for s in args.seeds]
        rows.append({"model": folder, **summary(fids, floor), "date": time.strftime("%Y-%m-%d %H:%M"),
                     "command": command()})
        print(format_row(rows[-1]), flush=True)
    stored = HERE / NAME / f"{NAME}.json"
    rows = merge(json.loads(stored.read_text()) if stored.exists() else None, rows, args.n, args.seeds)
    table = format_table(rows)
    path = save(NAME, folder=HERE / NAME, data={"device": device_label(), "n": args.n, "seeds": args.seeds, "floor_fid": round(floor, 3),
                       "rows": rows, "table": table})
    print("all models measured with these seeds so far:", table, "wrote " + str(path), sep="\n")

if __name__ == "__main__":
    main()
