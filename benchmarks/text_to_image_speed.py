"""Seconds per image (the pipeline's default size, 128 px for the shipped model) of the course's text-to-image model (25 steps, guidance), and the course's
hand-written loop (course_utils.text_to_image.text_to_image_by_hand) against diffusers' pipeline.

    .venv/bin/python benchmarks/text_to_image_speed.py [--repeats 5] [--batch 8]

Writes benchmarks/results/text_to_image_speed.json. Timing only (medians of --repeats runs); quality
is benchmarks/text_to_image_adherence.py.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import device_label, save

from course_utils.pipelines import DEFAULT_GUIDANCE, load_text_to_image
from course_utils.seeding import make_generator
from course_utils.text_to_image import text_to_image_by_hand

PROMPT = "squirrel fishing by a river"


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8, help="prompts per call for the batched figure")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)   # any w ≠ 1 costs the same: cond + uncond in one batch
    args = parser.parse_args()
    pipe = load_text_to_image()
    kw = dict(num_inference_steps=args.steps, guidance_scale=args.guidance)
    pipeline = lambda n: pipe([PROMPT] * n, generator=make_generator(934743), output_type="pt", **kw)
    by_hand = lambda n: text_to_image_by_hand(pipe, [PROMPT] * n, generator=make_generator(934743), **kw)
    pipeline(1), by_hand(1)                                            # warm-up
    one_pipe, one_hand = median_seconds(lambda: pipeline(1), args.repeats), median_seconds(lambda: by_hand(1), args.repeats)
    batch_pipe = median_seconds(lambda: pipeline(args.batch), max(1, args.repeats // 2))
    gap = float((pipeline(1).images - by_hand(1)).abs().max())
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    result = {"device": device_label(), "size": size, "steps": args.steps, "guidance_scale": args.guidance,
              "pipeline_s_per_image": round(one_pipe, 4), "own_loop_s_per_image": round(one_hand, 4),
              "own_loop_ratio": round(one_hand / one_pipe, 3), "own_loop_max_abs_difference": gap,
              "batch": args.batch, "pipeline_s_per_image_batched": round(batch_pipe / args.batch, 4),
              "parameters": {name: sum(p.numel() for p in getattr(pipe, name).parameters())
                             for name in ("text_encoder", "unet", "vae")}}
    print(f"one {size} px image: pipeline {one_pipe:.3f} s | course loop {one_hand:.3f} s "
          f"(ratio {one_hand / one_pipe:.2f}, max |difference| {gap:.1e})")
    print(f"batch of {args.batch} : pipeline {batch_pipe / args.batch:.3f} s per image "
          f"({args.steps} steps, guidance {args.guidance}, {torch.get_num_threads()} threads)")
    print("wrote", save("text_to_image_speed", result))


if __name__ == "__main__":
    main()
