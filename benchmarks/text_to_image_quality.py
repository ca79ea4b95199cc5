"""How close the text-to-image model's pictures come to the renders they imitate: judge-FID of --n samples
of the seen compositions against --n fresh renders of the same captions, next to the real-vs-real floor at
the same n, and the samples' detail (mean |Laplacian|) against the renders' (``evaluation.sample_quality``).

    .venv/bin/python benchmarks/text_to_image_quality.py [--n 500] [--guidance W] [--steps 25]

Without --guidance the pipeline's default is used (the scale its record chose by held-out adherence).
Issue #18's targets: judge-FID ≤ 2.5× the floor, detail within 20% of the renders'.
Writes benchmarks/results/text_to_image_quality.json.
"""
from __future__ import annotations

import argparse
import time

from _common import device_label, save

from course_utils.evaluation import sample_quality
from course_utils.pipelines import load_text_to_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="samples, and renders to compare them with")
    parser.add_argument("--guidance", type=float, default=None, help="default: the pipeline's recorded default")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--model", default="storybook-sd", help="a name under data/ or a pipeline folder")
    parser.add_argument("--name", default="text_to_image_quality",
                        help="the result file's name (benchmarks/results/NAME.json): another name keeps the default's")
    args = parser.parse_args()
    pipe = load_text_to_image(args.model)
    w = pipe.default_guidance if args.guidance is None else args.guidance
    t0 = time.perf_counter()
    report = sample_quality(pipe, n=args.n, guidance_scale=w, num_inference_steps=args.steps)
    seconds = round(time.perf_counter() - t0, 1)
    print(f"{args.n} samples at {report['size']} px (guidance {w:g}, {args.steps} steps) against {args.n} renders:")
    print(f"  judge-FID {report['judge_fid']:.2f}, real-vs-real floor {report['judge_fid_floor']:.2f} "
          f"→ {report['fid_over_floor']:.2f}× the floor;  detail {report['detail_ratio']:.2f} of the renders'")
    print("wrote", save(args.name, {"device": device_label(), "model": args.model, **report,
                                                  "seconds": seconds}))


if __name__ == "__main__":
    main()
