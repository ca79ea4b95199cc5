"""How ``data/judge`` is made: ``python -m course_utils.train judge`` (a few minutes on 2 cores).

The three-headed CNN of ``course_utils.judge`` trained on fresh 32 px renders of the TRAINING
compositions only (with mild corruptions, ``judge.augment``), then checked on fresh renders of both the
training and the held-out compositions; its feature scale (the RMS of its features on renders) is
measured and stored, so that judge-FID and judge-KID read on a unit scale.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from .. import storybook
from ..checkpoints import save_model
from ..env import pick
from ..evaluation import accuracy_table, feature_rms
from ..judge import KIND, build_judge, judge_loss
from ..training import TrainConfig, train
from .record import make_record

__all__ = ["Recipe", "RECIPE", "build"]


@dataclass(frozen=True)
class Recipe:
    """How the shipped judge is trained."""
    steps: int = 700
    batch_size: int = 96
    lr: float = 3e-3
    warmup_steps: int = 30
    weight_decay: float = 1e-4
    checkpoint_every: int = 100
    seed: int = 0


RECIPE = Recipe()


def build(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int = RECIPE.seed) -> dict:
    """Train the judge on fresh renders of the training compositions, measure it, save it to ``out_dir``."""
    steps = RECIPE.steps if steps is None else steps
    model = build_judge(seed=seed)

    def batch_fn(step: int, g: torch.Generator):
        return storybook.sample_batch(RECIPE.batch_size, g, size=32, split="train")

    config = TrainConfig(steps=steps, lr=RECIPE.lr, warmup_steps=RECIPE.warmup_steps, lr_schedule="cosine",
                         weight_decay=RECIPE.weight_decay, seed=seed, log_every=10,
                         checkpoint_every=RECIPE.checkpoint_every, run_dir=str(run_dir) if run_dir else None)
    t0 = time.time()
    result = train(model, judge_loss, batch_fn, config)
    train_seconds = time.time() - t0
    table = accuracy_table(model, per_composition=pick(20, 1))
    model.config = replace(model.config, feature_scale=round(feature_rms(model, pick(2000, 200)), 4))
    _, losses = result.losses()
    record = make_record(
        seed=seed, steps=steps, batch_size=RECIPE.batch_size, recipe=asdict(RECIPE), result=result,
        wall_time_s=train_seconds, model=model,
        final_loss=round(sum(losses[-10:]) / max(1, len(losses[-10:])), 4) if losses else None, accuracy=table)
    config_json = {"kind": KIND, **asdict(model.config), "subjects": list(storybook.SUBJECTS),
                   "actions": list(storybook.ACTIONS), "places": list(storybook.PLACES)}
    save_model(out_dir, model, config_json, record)
    return record
