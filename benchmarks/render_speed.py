"""How fast the storybook renderer draws: images per second and the time for 10,000 images.

Sizes 64 and 32 are the drawing the shipped models learned; 128 is the detailed drawing of the same
scene (its backgrounds are warmed too, so the figure is the steady-state rate).

    .venv/bin/python benchmarks/render_speed.py [--n 10000]
"""
from __future__ import annotations

import argparse
import time

from course_utils.storybook import ALL_COMPOSITIONS, render_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10_000, help="images to render per size")
    n = parser.parse_args().n
    triples = [ALL_COMPOSITIONS[i % len(ALL_COMPOSITIONS)] for i in range(n)]
    render_batch(triples[:120], range(120), 64)                       # warm the background cache
    for size in (64, 32):
        t0 = time.perf_counter()
        images = render_batch(triples, range(n), size)
        seconds = time.perf_counter() - t0
        print(f"size {size}: {n} images in {seconds:.2f} s  ({n / seconds:,.0f} images/s, "
              f"{1000 * seconds / n:.3f} ms each); shape {tuple(images.shape)}")
    render_batch(triples[:480], range(480), 128)                      # warm the 128 px backgrounds
    t0 = time.perf_counter()
    images = render_batch(triples, range(n), 128)
    seconds = time.perf_counter() - t0
    print(f"size 128: {n} images in {seconds:.2f} s  ({n / seconds:,.0f} images/s, "
          f"{1000 * seconds / n:.3f} ms each); shape {tuple(images.shape)}")


if __name__ == "__main__":
    main()
