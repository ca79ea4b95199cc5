"""How ``data/pixel-unet`` is made: ``python -m course_utils.train pixel-unet`` (about 43 min on 2 cores).

The conditional pixel denoiser of ``course_utils.denoiser`` (notebooks 04–06), trained with the one
training loop on fresh 32 px renders of the training compositions, Min-SNR-weighted ε loss, a cosine
learning rate and an EMA of the weights (the EMA weights are shipped). Then the judge measures it
(``evaluation.evaluate``) and the numbers go into its record.json.
"""
from __future__ import annotations

import functools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .. import storybook
from ..checkpoints import save_model, write_manifest
from ..denoiser import KIND, P_ALL, P_EACH, DenoiserConfig, build_model, denoising_loss, load_denoiser
from ..evaluation import evaluate
from ..paths import data_path
from ..training import TrainConfig, train
from .record import make_record

__all__ = ["Recipe", "RECIPE", "build", "record_metrics"]


@dataclass
class Recipe:
    """How the shipped checkpoint is trained (measured ≈ 0.6 s per step at batch 64 on 2 idle cores)."""
    steps: int = 4000
    batch_size: int = 64
    lr: float = 2e-3
    warmup_steps: int = 100
    ema_decay: float = 0.999
    snr_gamma: float | None = 5.0       # Min-SNR loss weighting (denoising_loss); None = plain ε loss
    p_all: float = P_ALL                # share of rows trained with no condition (the unconditional model)
    p_each: float = P_EACH              # otherwise, each label dropped on its own with this probability
    seed: int = 0
    checkpoint_every: int = 100
    model: DenoiserConfig = field(default_factory=DenoiserConfig)


RECIPE = Recipe()


def record_metrics(folder: str | Path = KIND, **kwargs) -> dict:
    """Evaluate the shipped model and write the result into its record.json (manifest refreshed)."""
    folder = data_path(folder)
    model = load_denoiser(folder)
    t0 = time.perf_counter()
    metrics = {**evaluate(model, **kwargs), "seconds": round(time.perf_counter() - t0, 1)}
    record = json.loads((folder / "record.json").read_text())
    record["metrics"] = metrics
    (folder / "record.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    write_manifest(folder)
    return metrics


def build(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int | None = None,
          recipe: Recipe | None = None, command: str | None = None, evaluate_after: bool = True) -> dict:
    """Train the storybook denoiser, save its EMA weights to ``out_dir``; return the record.

    ``recipe`` defaults to the shipped ``RECIPE``; experiments/denoiser_variants passes variants of it
    and its own ``command`` line for the record (default: the training command now running).
    ``evaluate_after=False`` skips the judge's evaluation (minutes) for smoke runs."""
    recipe = RECIPE if recipe is None else recipe
    steps = recipe.steps if steps is None else steps
    seed = recipe.seed if seed is None else seed
    mc = DenoiserConfig(**{**asdict(recipe.model),
                           "vocab_sizes": (len(storybook.SUBJECTS), len(storybook.ACTIONS), len(storybook.PLACES))})
    model = build_model(mc, seed=seed)

    def batch_fn(step: int, g: torch.Generator):
        return storybook.sample_batch(recipe.batch_size, g, mc.sample_size, split="train")

    config = TrainConfig(steps=steps, lr=recipe.lr, warmup_steps=recipe.warmup_steps, lr_schedule="cosine",
                         ema_decay=recipe.ema_decay, seed=seed, log_every=10,
                         checkpoint_every=recipe.checkpoint_every, run_dir=str(run_dir) if run_dir else None)
    t0 = time.time()
    loss_fn = functools.partial(denoising_loss, snr_gamma=recipe.snr_gamma, p_all=recipe.p_all, p_each=recipe.p_each)
    result = train(model, loss_fn, batch_fn, config)
    _, losses = result.losses()
    tail = losses[-20:]
    record = make_record(
        seed=seed, steps=steps, batch_size=recipe.batch_size, result=result, wall_time_s=time.time() - t0,
        recipe={**{k: v for k, v in asdict(recipe).items() if k != "model"}, "seed": seed, "steps": steps},
        model=model, command=command,
        final_loss_mean_last_200_steps=round(sum(tail) / max(1, len(tail)), 5),
        loss_history=[[int(s), round(v, 5)] for s, v in zip(*result.losses())][::5])
    save_model(out_dir, result.ema_state, {**asdict(mc)}, record)
    if evaluate_after and (data_path("judge") / "SHA256SUMS").exists():      # the judge measures the result
        record["metrics"] = record_metrics(out_dir)
    print(json.dumps({k: v for k, v in record.items() if k != "loss_history"}, indent=1))
    return record
