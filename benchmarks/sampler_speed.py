"""Seconds per image of each sampler with the shipped pixel denoiser (unconditional, one batch each).

    .venv/bin/python benchmarks/sampler_speed.py [--batch 16] [--samplers DDIM-25 Euler-25]

Writes benchmarks/results/sampler_speed.json. Timing only: quality is benchmarks/sampler_quality.py.
"""
from __future__ import annotations

import argparse
import time

import torch
from _common import device_label, save

from course_utils.denoiser import SAMPLERS, generate, load_denoiser, make_sampler
from course_utils.seeding import make_generator


def time_sampler(model, name: str, batch: int, seed: int = 934743) -> dict:
    """Sample ``batch`` images with sampler ``name``; return steps, seconds and seconds per image."""
    scheduler, steps = make_sampler(name, model)
    t0 = time.perf_counter()
    generate(model, scheduler, n=batch, generator=make_generator(seed), num_inference_steps=steps)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"sampler": name, "steps": steps, "batch": batch, "seconds": round(seconds, 3),
            "seconds_per_image": round(seconds / batch, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16, help="images per sampler (one batch)")
    parser.add_argument("--samplers", nargs="*", default=list(SAMPLERS), choices=list(SAMPLERS))
    args = parser.parse_args()
    model = load_denoiser()
    time_sampler(model, "DDIM-25", 2)                                  # warm-up: first calls are slower
    rows = []
    print(f"{'sampler':<16}{'steps':>6}{'batch':>7}{'seconds':>9}{'s / image':>11}")
    for name in args.samplers:
        row = time_sampler(model, name, args.batch)
        rows.append(row)
        print(f"{name:<16}{row['steps']:>6}{row['batch']:>7}{row['seconds']:>9.2f}{row['seconds_per_image']:>11.4f}",
              flush=True)
    path = save("sampler_speed", {"device": device_label(), "rows": rows})
    print("wrote", path)


if __name__ == "__main__":
    main()
