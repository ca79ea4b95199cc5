"""Which guidance scale makes the pixel denoiser draw "squirrel fishing by a river" as asked? Judge adherence
of its samples at several guidance scales, with the sampler of notebook 05's four-stage strip (DDIM-25).

    .venv/bin/python benchmarks/pixel_guidance.py [--n 64] [--guidance 1 1.5 2 3 4]

The share of samples the judge reads as all three words, and as "fishing" (the rod), at each scale; the
best scale (the smaller on a tie) is the one notebook 05 draws its strip with, read from
benchmarks/results/pixel_guidance.json. Seeds 20_000 + k for scale k, apart from the strip's 934743.
"""
from __future__ import annotations

import argparse
import time

from _common import device_label, save

from course_utils import metrics
from course_utils.denoiser import generate, labels_from_captions, load_denoiser, make_sampler
from course_utils.seeding import make_generator

PROMPT = "squirrel fishing by a river"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=64, help="samples per guidance scale")
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0, 1.5, 2.0, 3.0, 4.0])
    parser.add_argument("--sampler", default="DDIM-25")
    args = parser.parse_args()
    model = load_denoiser()
    scheduler, steps = make_sampler(args.sampler, model)
    labels = labels_from_captions([PROMPT] * args.n)
    rows = []
    print(f"{'w':>5} {'all three':>10} {'fishing':>8}   ({args.n} samples of {PROMPT!r}, {args.sampler})")
    for k, w in enumerate(args.guidance):
        t0 = time.perf_counter()
        images = generate(model, scheduler, labels=labels, generator=make_generator(20_000 + k),
                          num_inference_steps=steps, guidance_scale=w)
        read = metrics.adherence(images, [PROMPT] * args.n)
        rows.append({"guidance_scale": w, "all": round(read["all"], 4), "action": round(read["action"], 4),
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{w:>5g} {read['all']:>10.3f} {read['action']:>8.3f}", flush=True)
    best = max(rows, key=lambda r: (r["all"], -r["guidance_scale"]))["guidance_scale"]
    print(f"best: w = {best:g}")
    print("wrote", save("pixel_guidance", {"device": device_label(), "prompt": PROMPT, "sampler": args.sampler,
                                           "n": args.n, "rows": rows, "best_guidance": best}))


if __name__ == "__main__":
    main()
