"""The shipped judge's accuracy on fresh renders: training vs held-out compositions × attribute.

    .venv/bin/python benchmarks/judge_accuracy.py [--per-composition 20] [--seed 20000]
"""
from __future__ import annotations

import argparse
import time

from course_utils.evaluation import accuracy_table
from course_utils.metrics import load_judge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-composition", type=int, default=20, help="fresh renders of each composition")
    parser.add_argument("--seed", type=int, default=20_000, help="seed of the evaluation renders")
    args = parser.parse_args()
    t0 = time.perf_counter()
    table = accuracy_table(load_judge(), args.per_composition, seed=args.seed)
    print(f"{'compositions':<14} {'images':>7} {'subject':>8} {'action':>8} {'place':>8} {'all three':>10}")
    for split, row in table.items():
        print(f"{split:<14} {row['images']:>7} {row['subject']:>8.2%} {row['action']:>8.2%} {row['place']:>8.2%} "
              f"{row['all']:>10.2%}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
