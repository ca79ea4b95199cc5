"""How ``data/vae`` is made: ``python -m course_utils.train vae``.

The small convolutional VAE of ``course_utils.vae`` (notebook 08), trained with the one training loop
on the negative ELBO over a pool of training-split renders drawn once; the record keeps the
reconstruction and KL curves in nats per image.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..vae import LR, WARMUP_STEPS, VAEConfig, train_vae
from .record import PoolRecipe, make_record, recipe_fields, save_and_report, tail_means, thin_history, train_on_render_pool

__all__ = ["Recipe", "RECIPE", "build"]


@dataclass
class Recipe(PoolRecipe):
    """How the shipped VAE is trained: Adam with a warm-up, then a cosine decay of the learning rate."""
    steps: int = 1200
    lr: float = LR
    warmup_steps: int = WARMUP_STEPS
    model: VAEConfig = field(default_factory=VAEConfig)


RECIPE = Recipe()


def build(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int = RECIPE.seed) -> dict:
    """Train the shipped VAE and save it to ``out_dir`` with its record; returns the record."""
    model, result, steps, seconds = train_on_render_pool(train_vae, RECIPE, steps=steps, seed=seed, run_dir=run_dir)
    record = make_record(
        seed=seed, steps=steps, batch_size=RECIPE.batch_size, recipe=recipe_fields(RECIPE), result=result,
        wall_time_s=seconds, model=model,
        **tail_means(result.history, {"final_recon_nats": "recon", "final_kl_nats": "kl"}, digits=2),
        history=thin_history(result.history))
    return save_and_report(out_dir, model, asdict(RECIPE.model), record)
