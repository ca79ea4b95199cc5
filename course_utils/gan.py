"""A DCGAN-style GAN on 32×32 storybook scenes: a generator and a critic trained against each other.

    generator:      z [B, latent] ~ N(0, I) → image [B, 3, 32, 32] in [-1, 1]   (the VAE's decoder network)
    discriminator:  image [B, 3, 32, 32] → logit [B]  ("real" > 0 > "fake")     (the VAE's encoder network)
    generate:       one generator call per image

Non-saturating loss (Goodfellow et al. 2014), two optimisers taking turns in the one training loop:
    L_D = −log σ(D(x)) − log(1 − σ(D(G(z))))        the discriminator's step, then
    L_G = −log σ(D(G(z)))                           the generator's step, on the same batch.
Shipped as ``data/gan`` (``python -m course_utils.train gan``).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import CheckpointError, load_model, save_model
from .env import pick_device
from .vae import Decoder, Encoder, VAEConfig

__all__ = ["KIND", "GANConfig", "GAN", "build_gan", "discriminator_loss", "generator_loss", "gan_objectives",
           "load_gan", "Recipe", "RECIPE", "train_gan", "build"]

KIND = "gan"


@dataclass
class GANConfig:
    """Shape of both networks (config.json): G is the VAE's decoder, D the VAE's encoder with one output."""
    image_size: int = 32
    channels: tuple[int, ...] = (32, 64, 128)
    latent_dim: int = 64
    kind: str = KIND

    @classmethod
    def from_dict(cls, config: dict) -> "GANConfig":
        unknown = set(config) - set(cls.__dataclass_fields__)
        if unknown:
            raise CheckpointError(f"config.json has entries a {KIND!r} model does not know: {sorted(unknown)}.")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})

    def as_vae_config(self) -> VAEConfig:
        return VAEConfig(image_size=self.image_size, channels=self.channels, latent_dim=self.latent_dim)


class GAN(nn.Module):
    """``generator`` (z → image) and ``discriminator`` (image → logit) in one module, so one checkpoint holds both."""

    def __init__(self, config: GANConfig | None = None):
        super().__init__()
        self.config = config or GANConfig()
        shape = self.config.as_vae_config()
        self.generator = Decoder(shape)
        self.discriminator = Encoder(shape, 1)

    def critic(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 3, 32, 32] → logits [B] (D's belief that each image is real, before the sigmoid)."""
        return self.discriminator(images).squeeze(1)

    def latents(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """z [n, latent_dim] ~ N(0, I) from ``generator``, on the model's device."""
        return torch.randn(n, self.config.latent_dim, generator=generator).to(next(self.parameters()).device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n new images [n, 3, 32, 32] in [-1, 1]: one generator pass."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}.")
        return self.generator(self.latents(n, generator))


def build_gan(config: GANConfig | None = None, *, seed: int = 0) -> GAN:
    """A fresh GAN whose initial weights depend only on ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GAN(config)


def _images(batch) -> torch.Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def discriminator_loss(model: GAN, batch, generator: torch.Generator
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L_D on real images [B, 3, 32, 32] and as many fakes; also logs D's mean belief on each ("d_real", "d_fake")."""
    real = _images(batch)
    with torch.no_grad():
        fake = model.generator(model.latents(real.shape[0], generator))
    real_logit, fake_logit = model.critic(real), model.critic(fake)
    # L_D = −log σ(D(x)) − log(1 − σ(D(G(z))))  =  softplus(−D(x)) + softplus(D(G(z)))
    loss = F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()
    return loss, {"d_real": torch.sigmoid(real_logit).mean(), "d_fake": torch.sigmoid(fake_logit).mean()}


def generator_loss(model: GAN, batch, generator: torch.Generator) -> torch.Tensor:
    """L_G (non-saturating): push D's logit on fresh fakes up. A scalar."""
    fake = model.generator(model.latents(_images(batch).shape[0], generator))
    # L_G = −log σ(D(G(z)))  =  softplus(−D(G(z)))
    return F.softplus(-model.critic(fake)).mean()


def gan_objectives(model: GAN, *, d_lr_scale: float = 1.0, g_lr_scale: float = 1.0) -> list:
    """The two optimisers of the one training loop: the discriminator's step, then the generator's."""
    from .training import Objective
    return [Objective("d_loss", discriminator_loss, model.discriminator.parameters(), lr_scale=d_lr_scale),
            Objective("g_loss", generator_loss, model.generator.parameters(), lr_scale=g_lr_scale)]


def load_gan(folder: str | Path = KIND, *, device: str | torch.device | None = None) -> GAN:
    """The shipped GAN (EMA weights) from ``data/<folder>``, checked against its manifest and kind ("gan")."""
    return load_model(folder, KIND, lambda cfg: GAN(GANConfig.from_dict(cfg)), device)


# ---------------------------------------------------------------------------------------------------------
# Training: a short live run (notebook 08) and the recipe (python -m course_utils.train gan)
# ---------------------------------------------------------------------------------------------------------
@dataclass
class Recipe:
    """How the shipped GAN is trained: Adam(β1 = 0.5) as in DCGAN, EMA of the weights for sampling."""
    steps: int = 1600
    batch_size: int = 64
    pool_size: int = 16384          # training-split renders drawn once, then sampled from
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    ema_decay: float = 0.995
    seed: int = 0
    checkpoint_every: int = 200
    model: GANConfig = field(default_factory=GANConfig)


RECIPE = Recipe()


def train_gan(steps: int, *, seed: int = 0, config: GANConfig | None = None, batch_size: int = 64,
              lr: float = RECIPE.lr, d_lr_scale: float = 1.0, g_lr_scale: float = 1.0,
              ema_decay: float | None = None, run_dir: str | Path | None = None, progress: bool = True,
              checkpoint_every: int = 0, data=None):
    """Train a fresh GAN on training-split renders with the one training loop; returns (model, TrainResult).

    ``data``: optional ``batch_fn(step, g)``; default = fresh renders of the training split.
    """
    from .storybook import sample_batch
    from .training import TrainConfig, train
    config = config or GANConfig()
    model = build_gan(config, seed=seed)
    tc = TrainConfig(steps=steps, lr=lr, betas=RECIPE.betas, grad_clip=None, ema_decay=ema_decay, seed=seed,
                     log_every=max(1, min(10, steps // 50)), checkpoint_every=checkpoint_every,
                     run_dir=str(run_dir) if run_dir else None)
    batch_fn = data or (lambda step, g: sample_batch(batch_size, g, config.image_size, split="train"))
    result = train(model, gan_objectives(model, d_lr_scale=d_lr_scale, g_lr_scale=g_lr_scale), batch_fn, tc,
                   progress=progress)
    return model, result


def build(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int = RECIPE.seed) -> dict:
    """Train the shipped GAN and save its EMA weights to ``out_dir`` with its record; returns the record."""
    from .baselines import pool_batches, render_pool
    from .train import command_line
    steps = RECIPE.steps if steps is None else steps
    t0 = time.time()
    data = pool_batches(render_pool(RECIPE.pool_size, seed), RECIPE.batch_size)
    model, result = train_gan(steps, seed=seed, config=RECIPE.model, batch_size=RECIPE.batch_size,
                              ema_decay=RECIPE.ema_decay, run_dir=run_dir, checkpoint_every=RECIPE.checkpoint_every,
                              data=data)
    tail = result.history[-20:]
    mean = lambda key: round(sum(r[key] for r in tail) / max(1, len(tail)), 4)   # noqa: E731
    record = {
        "command": command_line(), "seed": seed, "steps": steps, "batch_size": RECIPE.batch_size,
        "recipe": {k: v for k, v in asdict(RECIPE).items() if k != "model"},
        "wall_time_s_this_session": round(time.time() - t0, 1), "resumed_from_step": result.resumed_from,
        "seconds_per_step": round(result.seconds / max(1, steps - result.resumed_from), 3),
        "threads": torch.get_num_threads(), "cpu_cores": os.cpu_count(), "device": str(pick_device()),
        "date": time.strftime("%Y-%m-%d"), "parameters": sum(p.numel() for p in model.parameters()),
        "parameters_generator": sum(p.numel() for p in model.generator.parameters()),
        "final_d_loss": mean("d_loss"), "final_g_loss": mean("g_loss"),
        "final_d_real": mean("d_real"), "final_d_fake": mean("d_fake"),
        "history": [{k: round(v, 5) for k, v in r.items()} for r in result.history][::4],
    }
    save_model(out_dir, result.ema_state, asdict(RECIPE.model), record)
    print(json.dumps({k: v for k, v in record.items() if k != "history"}, indent=1))
    return record
