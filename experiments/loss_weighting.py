"""Does Min-SNR loss weighting help the pixel denoiser? Two short trainings, judged the same way.

    .venv/bin/python experiments/loss_weighting.py [--steps 600] [--n 500] [--gammas none 5]

Each arm trains the shipped model's architecture from the same initial weights and the same batches
(seed 0, batch 64, lr 2e-3, 100 warm-up steps, cosine decay, EMA 0.995) for --steps steps; only the
loss differs: the plain ε loss ("none") or ``denoising_loss(..., snr_gamma=γ)``. Each EMA model then
draws --n unconditional DDIM-25 samples (seeds 5, 6, ...), and the judge compares them with --n
renders (seed 1). About 6 min per arm at 600 steps on 2 idle cores. This is what chose the shipped
recipe's ``snr_gamma``; a short trial says which loss learns faster, not where a long run ends.

Writes experiments/loss_weighting/loss_weighting.json.
"""
from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils.storybook import reference_renders  # noqa: E402
from course_utils import metrics, storybook  # noqa: E402
from course_utils.denoiser import DenoiserConfig, build_model, denoising_loss  # noqa: E402
from course_utils.evaluation import score_sampler  # noqa: E402
from course_utils.training import TrainConfig, train  # noqa: E402


def arm(gamma: float | None, steps: int, n: int, real: torch.Tensor) -> dict:
    model = build_model(DenoiserConfig(), seed=0)
    config = TrainConfig(steps=steps, lr=2e-3, warmup_steps=100, lr_schedule="cosine", ema_decay=0.995,
                         log_every=50, seed=0)
    t0 = time.perf_counter()
    result = train(model, functools.partial(denoising_loss, snr_gamma=gamma),
                   lambda step, g: storybook.sample_batch(64, g, 32, split="train"), config)
    seconds = time.perf_counter() - t0
    model.load_state_dict(result.ema_state)
    model.eval()
    row, _ = score_sampler(model, "DDIM-25", real[:n], seed=5, batch_size=250)
    return {"snr_gamma": gamma, "steps": steps, "train_seconds": round(seconds, 1),
            "judge_fid": row["judge_fid"], "coverage": row["coverage"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--n", type=int, default=500, help="samples per arm (and real renders)")
    parser.add_argument("--gammas", nargs="*", default=["none", "5"], help="'none' = plain loss, or a number")
    args = parser.parse_args()
    real, other, _ = reference_renders(args.n)
    floor = metrics.judge_fid(real, other)
    rows = []
    for text in args.gammas:
        gamma = None if text == "none" else float(text)
        rows.append(arm(gamma, args.steps, args.n, real))
        print(rows[-1], flush=True)
    print(f"\nafter {args.steps} steps, {args.n} DDIM-25 samples each (real-vs-real floor {floor:.2f})")
    print(f"{'loss':<18}{'judge-FID':>10}{'coverage':>10}{'train s':>9}")
    for r in rows:
        name = "plain ε" if r["snr_gamma"] is None else f"Min-SNR γ={r['snr_gamma']:g}"
        print(f"{name:<18}{r['judge_fid']:>10.2f}{r['coverage']:>10.3f}{r['train_seconds']:>9.0f}")
    path = save("loss_weighting", folder=HERE / "loss_weighting", data={"device": device_label(), "n": args.n, "floor_fid": round(floor, 3), "rows": rows})
    print("wrote", path)


if __name__ == "__main__":
    main()
