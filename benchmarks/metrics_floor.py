"""The real-vs-real floor of judge-FID and judge-KID: two independent render sets of all 120 compositions.

A generator cannot be expected to score below this at the same N (FID is biased upwards at small N).

    .venv/bin/python benchmarks/metrics_floor.py [--sizes 500 1000] [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import torch

from course_utils import metrics
from course_utils.seeding import make_generator
from course_utils.storybook import ALL_COMPOSITIONS, render_batch


def render_set(n: int, seed: int) -> torch.Tensor:
    """n renders at 32 px, compositions uniform over all 120, seeds from ``seed``."""
    g = make_generator(seed)
    picks = torch.randint(len(ALL_COMPOSITIONS), (n,), generator=g).tolist()
    seeds = torch.randint(0, 2**62, (n,), generator=g).tolist()
    return render_batch([ALL_COMPOSITIONS[i] for i in picks], seeds, 32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000])
    parser.add_argument("--repeats", type=int, default=3, help="independent pairs of sets per size")
    args = parser.parse_args()
    t0 = time.perf_counter()
    print(f"{'N':>6} {'judge-FID floor':>16} {'(min–max)':>16} {'judge-KID floor':>16} {'noise FID':>10} {'noise KID':>10}")
    for n in args.sizes:
        fids, kids = [], []
        for r in range(args.repeats):
            a, b = render_set(n, 1000 + 2 * r), render_set(n, 1001 + 2 * r)
            fids.append(metrics.judge_fid(a, b))
            kids.append(metrics.judge_kid(a, b))
        noise = torch.rand(n, 3, 32, 32, generator=make_generator(5)) * 2 - 1
        print(f"{n:>6} {sum(fids) / len(fids):>16.3f} {f'{min(fids):.3f}–{max(fids):.3f}':>16} "
              f"{sum(kids) / len(kids):>16.5f} {metrics.judge_fid(a, noise):>10.1f} {metrics.judge_kid(a, noise):>10.3f}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
