"""Training throughput of each model the course trains, against the machine's matmul ceiling.

    .venv/bin/python benchmarks/training_throughput.py [--steps 8] [--models judge pixel-unet ...]

For each model: images per second through the course's one training loop (``training.train``), the
model FLOPs of one training step (forward + backward, counted by torch.utils.flop_counter), the
achieved FLOP/s, and that as a share of a float32 matmul ceiling measured in the same run (the best
of a few large square matmuls: the most this CPU does with torch's BLAS).
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from _common import device_label, save
from course_utils.env import pick_device
from course_utils.seeding import make_generator
from course_utils.training import TrainConfig, train


def matmul_ceiling(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of an n×n @ n×n matmul (2n³ FLOPs)."""
    device = pick_device()
    a = torch.randn(n, n, generator=make_generator(0)).to(device)
    b = torch.randn(n, n, generator=make_generator(1)).to(device)
    best = 0.0
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def _judge():
    from course_utils import judge, storybook
    model = judge.Judge(judge.JudgeConfig())
    batch_fn = lambda step, g: storybook.sample_batch(256, g, size=32)
    return model, judge.judge_loss, batch_fn, 256


def _pixel_unet():
    from course_utils import denoiser, storybook
    model = denoiser.build_model(denoiser.DenoiserConfig())
    batch_fn = lambda step, g: storybook.sample_batch(64, g, size=32)
    return model, denoiser.denoising_loss, batch_fn, 64


#: name → function returning (model, loss, batch_fn, batch size); each builds the shipped architecture.
MODELS: dict[str, Callable] = {"judge": _judge, "pixel-unet": _pixel_unet}


def measure(name: str, steps: int) -> dict:
    model, loss, batch_fn, batch_size = MODELS[name]()
    device = pick_device()
    model.to(device)
    batch = batch_fn(0, make_generator(0))
    batch = tuple(b.to(device) for b in batch)
    with FlopCounterMode(display=False) as counter:                   # one forward + backward
        loss(model, batch, make_generator(0)).backward()
    flops = counter.get_total_flops()
    model.zero_grad(set_to_none=True)
    train(model, loss, batch_fn, TrainConfig(steps=2, seed=1), progress=False)          # warm-up
    result = train(model, loss, batch_fn, TrainConfig(steps=steps, seed=2), progress=False)
    seconds = result.seconds / steps
    params = sum(p.numel() for p in model.parameters())
    return {"model": name, "params": params, "batch": batch_size, "s_per_step": seconds,
            "images_per_s": batch_size / seconds, "gflop_per_step": flops / 1e9, "gflops": flops / seconds / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    ceiling = matmul_ceiling()
    print(f"matmul ceiling ({device_label()}, float32, 2048²): {ceiling:.1f} GFLOP/s")
    rows = []
    print(f"{'model':<12}{'params':>10}{'batch':>7}{'s/step':>9}{'img/s':>9}{'GFLOP/step':>12}{'GFLOP/s':>9}{'of ceiling':>12}")
    for name in args.models:
        row = measure(name, args.steps)
        row["share_of_ceiling"] = row["gflops"] / ceiling
        rows.append(row)
        print(f"{name:<12}{row['params']:>10,}{row['batch']:>7}{row['s_per_step']:>9.3f}{row['images_per_s']:>9.1f}"
              f"{row['gflop_per_step']:>12.2f}{row['gflops']:>9.1f}{row['share_of_ceiling']:>11.0%}")
    path = save("training_throughput", {"matmul_ceiling_gflops": ceiling, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
