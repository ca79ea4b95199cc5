"""Judge-FID of each sampler with the shipped pixel denoiser, on ≥ 500 unconditional samples each.

    .venv/bin/python benchmarks/sampler_quality.py [--n 500] [--samplers DDPM-1000 DDIM-25]

Real renders (uniform over the training compositions, seed 1) are the reference; a second set of real
renders (seed 2) gives the real-vs-real floor at the same N. Every sampler starts from the same seeds.
Results go to benchmarks/results/sampler_quality.json after EACH sampler, so a long run (DDPM-1000 takes
tens of minutes on 2 cores) can be read while it goes; a run with --samplers merges into an existing
file made with the same --n and --seed.

DDPM-1000 costs 1000 network calls per image (about 40 min for 500 images on 2 free cores). With
``--ddpm-n 200`` it runs on fewer images, and DDIM-25 is run again on the same number, so that the
DDIM-25 / DDPM-1000 ratio always compares FIDs made with the same N (FID grows as N shrinks):

    .venv/bin/python benchmarks/sampler_quality.py --samplers DDPM-1000 --ddpm-n 200
"""
from __future__ import annotations

import argparse
import json

import torch
from _common import device_label, save

from course_utils import metrics
from course_utils import results
from course_utils.denoiser import SAMPLERS, load_denoiser
from course_utils.evaluation import score_sampler
from course_utils.storybook import reference_renders

NAME = "sampler_quality"


def score(model, name: str, n: int, real: torch.Tensor, args) -> dict:
    """Draw n samples with sampler ``name`` and score them against ``real`` (n renders)."""
    row, _ = score_sampler(model, name, real[:n], seed=args.seed, batch_size=args.batch_size)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="samples per sampler (and real renders)")
    parser.add_argument("--samplers", nargs="*", default=list(SAMPLERS), choices=list(SAMPLERS))
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--ddpm-n", type=int, help="samples for DDPM-1000 (default: --n)")
    args = parser.parse_args()
    ddpm_n = args.ddpm_n or args.n
    model = load_denoiser()
    real, other, _ = reference_renders(args.n, 0, model.config.sample_size)
    data = {"device": device_label(), "n_real": args.n, "seed": args.seed,
            "floor_fid": round(metrics.judge_fid(real, other), 3), "floor_kid": round(metrics.judge_kid(real, other), 5),
            "samplers": {}}
    old = results.load(NAME, missing_ok=True)
    if old is not None:
        if old.get("n_real") == args.n and old.get("seed") == args.seed:
            data["samplers"] = {k: v for k, v in old.get("samplers", {}).items() if k not in args.samplers}
    print(f"real-vs-real floor at N={args.n}: judge-FID {data['floor_fid']:.3f}", flush=True)
    for name in args.samplers:
        n = ddpm_n if name == "DDPM-1000" else args.n
        data["samplers"][name] = row = score(model, name, n, real[:n], args)
        data["samplers"] = {k: data["samplers"][k] for k in SAMPLERS if k in data["samplers"]}   # table order
        if name == "DDPM-1000" and n < args.n:          # DDIM-25 again on as many images, for a fair ratio
            data["same_n_comparison"] = {"n": n, "floor_fid": round(metrics.judge_fid(real[:n], other[:n]), 3),
                                         "DDPM-1000": row, "DDIM-25": score(model, "DDIM-25", n, real[:n], args)}
        rows = data.get("same_n_comparison") or data["samplers"]
        if "DDIM-25" in rows and "DDPM-1000" in rows:
            data["ddim25_over_ddpm1000_fid"] = round(rows["DDIM-25"]["judge_fid"] / rows["DDPM-1000"]["judge_fid"], 3)
            data["ratio_n"] = rows["DDPM-1000"]["n"]
        path = save(NAME, data)
        print(f"{name:<16} steps {row['steps']:>4}  n {n}  judge-FID {row['judge_fid']:7.3f}  KID {row['judge_kid']:.5f}  "
              f"coverage {row['coverage']:.3f}  {row['seconds_per_image']:.4f} s/image  → {path}", flush=True)
    if "ddim25_over_ddpm1000_fid" in data:
        print(f"DDIM-25 / DDPM-1000 judge-FID ratio at N={data['ratio_n']}: {data['ddim25_over_ddpm1000_fid']:.3f}")


if __name__ == "__main__":
    main()
