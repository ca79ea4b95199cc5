"""Which guidance w and inversion depth (strength) make one-word edits read right most often?

    .venv/bin/python experiments/edit_guidance.py [--n 60] [--seed 71000] [--scales 2 3 4] [--strengths 1.0 0.9]

``editing.edit`` inverts a render with its caption (DDIM, 50 steps) and redraws it with one word changed,
guided by ε̂ = ε(source) + w·(ε(target) − ε(source)). On validation scenes (``editing_quality.edit_scenes`` with
a seed other than the benchmark's 70,000, so the choice is not made on the figures it is reported with), each
scene is inverted once per strength and redrawn at every w; the judge reads each result against the target
caption ("all": the new word and the two kept ones) and against the changed word alone. Writes
experiments/edit_guidance/edit_guidance.json. About 8 minutes on 2 cores at the defaults.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils import editing  # noqa: E402
from course_utils.editing_quality import edit_scenes  # noqa: E402
from course_utils.metrics import adherence  # noqa: E402
from course_utils.pipelines import load_text_to_image  # noqa: E402

NAME = "edit_guidance"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=71_000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--scales", type=float, nargs="+", default=[2.0, 3.0, 4.0])
    parser.add_argument("--strengths", type=float, nargs="+", default=[1.0, 0.9])
    args = parser.parse_args()
    pipe = load_text_to_image(device="cpu")
    scenes = edit_scenes(args.n, seed=args.seed)
    rows = []
    print(f"{'strength':>8} {'w':>4} {'all':>6} {'subject':>8} {'action':>7} {'place':>6}   ({args.n} scenes, "
          f"seed {args.seed}, {args.steps} DDIM steps)")
    for strength in args.strengths:
        t0 = time.perf_counter()
        z = torch.cat([editing.invert(pipe, scenes.images[i:i + 30], scenes.sources[i:i + 30],
                                      num_inference_steps=args.steps, strength=strength)
                       for i in range(0, args.n, 30)])
        for w in args.scales:
            out = torch.cat([editing.regenerate(pipe, z[i:i + 30], scenes.targets[i:i + 30],
                                                negative_prompt=scenes.sources[i:i + 30], strength=strength,
                                                num_inference_steps=args.steps, guidance_scale=w)
                             for i in range(0, args.n, 30)])
            read = adherence(out, scenes.targets)
            rows.append({"strength": strength, "guidance": w, **{k: round(v, 4) for k, v in read.items()}})
            print(f"{strength:>8.2f} {w:>4g} {read['all']:>6.0%} {read['subject']:>8.0%} {read['action']:>7.0%} "
                  f"{read['place']:>6.0%}", flush=True)
        print(f"  (strength {strength}: {time.perf_counter() - t0:.0f} s)", flush=True)
    best = max(rows, key=lambda r: r["all"])
    print(f"best: strength {best['strength']}, w = {best['guidance']:g} ({best['all']:.0%})")
    print("wrote", save(NAME, {"device": device_label(), "n": args.n, "seed": args.seed, "steps": args.steps,
                               "rows": rows, "best": best}, folder=HERE / NAME))


if __name__ == "__main__":
    main()
