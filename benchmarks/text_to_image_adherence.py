"""Prompt adherence of the course's text-to-image model, read by the judge: seen compositions,
held-out compositions, and "squirrel fishing by a river" on its own, at one or more guidance scales.

    .venv/bin/python benchmarks/text_to_image_adherence.py [--per-group 216] [--guidance 2 3 4 5 7.5]

Writes benchmarks/results/text_to_image_adherence.json. Seen prompts cycle through the 108 training
compositions, held-out ones through the 12 of storybook.HELD_OUT (each sample its own seed).
"""
from __future__ import annotations

import argparse
import time

from _common import device_label, save

from course_utils.pipelines import load_text_to_image
from course_utils.evaluation import adherence_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-group", type=int, default=216, help="samples per group (≥ 200 for the record)")
    parser.add_argument("--guidance", type=float, nargs="+", default=[2.0, 3.0, 4.0, 5.0, 7.5])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=10_000)
    args = parser.parse_args()
    pipe = load_text_to_image()
    rows = []
    print(f"{'guidance':>8} {'seen':>7} {'held-out':>9} {'squirrel':>9}   (share of samples with all three "
          f"attributes right, {args.per_group} per group, {args.steps} steps)")
    for w in args.guidance:
        t0 = time.perf_counter()
        report = adherence_report(pipe, per_group=args.per_group, guidance_scale=w, num_inference_steps=args.steps,
                                  seed=args.seed)
        rows.append({"guidance_scale": w, **report, "seconds": round(time.perf_counter() - t0, 1)})
        print(f"{w:>8} {report['seen']['all']:>7.3f} {report['held_out']['all']:>9.3f} {report['squirrel']['all']:>9.3f}"
              f"   per attribute (held-out): subject {report['held_out']['subject']:.2f}, action "
              f"{report['held_out']['action']:.2f}, place {report['held_out']['place']:.2f}", flush=True)
    print("wrote", save("text_to_image_adherence", {"device": device_label(), "steps": args.steps,
                                                     "default_guidance": pipe.default_guidance,
                                                     "per_group": args.per_group, "rows": rows}))


if __name__ == "__main__":
    main()
