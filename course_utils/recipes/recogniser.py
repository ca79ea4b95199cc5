"""How ``data/recogniser`` is made: ``python -m course_utils.train recogniser`` (a few minutes on 2 cores).

The binary CNN of ``course_utils.recogniser`` trained on fresh 128 px renders (half the hedgehog, half
the six old animals, every action and place, with the judge's mild corruptions), then checked on
fresh renders whose seeds no training step draws, and on the eight "your photos" renders.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .. import storybook
from ..checkpoints import save_model
from ..env import pick
from ..recogniser import KIND, build_recogniser, held_out_accuracy, labelled_batch, recogniser_loss
from ..training import TrainConfig, train
from .record import make_record

__all__ = ["Recipe", "RECIPE", "build"]


@dataclass(frozen=True)
class Recipe:
    """How the shipped recogniser is trained."""
    steps: int = 500
    batch_size: int = 48
    lr: float = 3e-3
    warmup_steps: int = 20
    weight_decay: float = 1e-4
    checkpoint_every: int = 100
    held_out_images: int = 2000
    seed: int = 0


RECIPE = Recipe()


def build(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int = RECIPE.seed) -> dict:
    """Train the recogniser on fresh renders, measure it on held-out renders, save it to ``out_dir``."""
    steps = RECIPE.steps if steps is None else steps
    model = build_recogniser(seed=seed)

    def batch_fn(step: int, g: torch.Generator):
        return labelled_batch(RECIPE.batch_size, g)

    config = TrainConfig(steps=steps, lr=RECIPE.lr, warmup_steps=min(RECIPE.warmup_steps, steps - 1),
                         lr_schedule="cosine", weight_decay=RECIPE.weight_decay, seed=seed, log_every=10,
                         checkpoint_every=RECIPE.checkpoint_every, run_dir=str(run_dir) if run_dir else None)
    t0 = time.time()
    result = train(model, recogniser_loss, batch_fn, config)
    train_seconds = time.time() - t0
    model.eval()
    held_out = held_out_accuracy(model, n=pick(RECIPE.held_out_images, 40), seed=seed + 1)
    photos = model.predict(storybook.your_photos().to(next(model.parameters()).device))
    _, losses = result.losses()
    record = make_record(
        seed=seed, steps=steps, batch_size=RECIPE.batch_size, recipe=asdict(RECIPE), result=result,
        wall_time_s=train_seconds, model=model,
        final_loss=round(sum(losses[-10:]) / max(1, len(losses[-10:])), 4) if losses else None,
        held_out=held_out, your_photos_read_as_hedgehog=int(photos.sum()))
    config_json = {"kind": KIND, **asdict(model.config), "others": list(storybook.SUBJECTS)}
    save_model(out_dir, model, config_json, record)
    return record
