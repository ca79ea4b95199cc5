"""How ``data/gan`` is made: ``python -m course_utils.train gan``.

The DCGAN-style GAN of ``course_utils.gan`` (notebook 08), trained with the one training loop (two
optimisers taking turns) on a pool of training-split renders drawn once; the EMA of the generator's
weights is shipped, and the record keeps the loss curves that notebook 08 redraws.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..gan import BETAS, LR, GANConfig, train_gan
from .record import PoolRecipe, make_record, recipe_fields, save_and_report, tail_means, thin_history, train_on_render_pool

__all__ = ["Recipe", "RECIPE", "build"]


@dataclass
class Recipe(PoolRecipe):
    """How the shipped GAN is trained: Adam(β1 = 0.5) as in DCGAN, EMA of the weights for sampling."""
    steps: int = 1600
    lr: float = LR
    betas: tuple[float, float] = BETAS
    ema_decay: float = 0.995
    model: GANConfig = field(default_factory=GANConfig)


RECIPE = Recipe()


def build(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int = RECIPE.seed) -> dict:
    """Train the shipped GAN and save its EMA weights to ``out_dir`` with its record; returns the record."""
    model, result, steps, seconds = train_on_render_pool(train_gan, RECIPE, steps=steps, seed=seed, run_dir=run_dir,
                                                         ema_decay=RECIPE.ema_decay)
    losses = {"final_d_loss": "d_loss", "final_g_loss": "g_loss", "final_d_real": "d_real", "final_d_fake": "d_fake"}
    record = make_record(
        seed=seed, steps=steps, batch_size=RECIPE.batch_size, recipe=recipe_fields(RECIPE), result=result,
        wall_time_s=seconds, model=model, **tail_means(result.history, losses),
        parameters_generator=sum(p.numel() for p in model.generator.parameters()),
        history=thin_history(result.history))
    return save_and_report(out_dir, result.ema_state, asdict(RECIPE.model), record)
