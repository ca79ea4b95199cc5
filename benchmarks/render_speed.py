"""How fast the storybook renderer draws: images per second and the time for 10,000 images.

    .venv/bin/python benchmarks/render_speed.py [--n 10000]

Sizes 64 and 32 are the drawing the shipped models learned. Size 128 is the detailed drawing of the
same scene: its subjects and props are stamped from sprites drawn once per quantised pose, so it is
timed twice, on a first pass that fills the sprite cache (about a thousand sprites) and on a second
pass with new seeds (the steady state of a training loop). Wall-clock rates fall when other
processes share the CPU, so the 128 px lines also give the rate from this process's CPU time.
"""
from __future__ import annotations

import argparse
import time

from course_utils.storybook import ALL_COMPOSITIONS, render_batch
from course_utils.storybook_draw.sprites import cached_count


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
    render_batch(triples[:120], range(120), 128)                      # warm the 128 px backgrounds
    for label, seeds in (("first pass, filling the sprite cache", range(n)), ("steady state", range(n, 2 * n))):
        t0, c0 = time.perf_counter(), time.process_time()
        images = render_batch(triples, seeds, 128)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"size 128 ({label}): {n} images in {seconds:.2f} s  ({n / seconds:,.0f} images/s, "
              f"{1000 * seconds / n:.3f} ms each; {n / cpu:,.0f} images/s of process CPU time); "
              f"shape {tuple(images.shape)}; {cached_count()} sprites cached")


if __name__ == "__main__":
    main()
