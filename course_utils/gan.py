"""A DCGAN-style GAN on 32×32 storybook scenes: a generator and a critic trained against each other.

    generator:      z [B, latent] ~ N(0, I) → image [B, 3, 32, 32] in [-1, 1]   (the VAE's decoder network)
    discriminator:  image [B, 3, 32, 32] → logit [B]  ("real" > 0 > "fake")     (the VAE's encoder network)
    generate:       one generator call per image

Non-saturating loss (Goodfellow et al. 2014), two optimisers taking turns in the one training loop:
    L_D = −log σ(D(x)) − log(1 − σ(D(G(z))))        the discriminator's step, then
    L_G = −log σ(D(G(z)))                           the generator's step, on the same batch.
Shipped as ``data/gan`` (``python -m course_utils.train gan``, recipe in ``course_utils/recipes/gan.py``).
Taught in notebook 08.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import config_from_dict, load_model
from .seeding import seeded_init
from .storybook import sample_batch
from .training import Objective, TrainConfig, train
from .vae import Decoder, Encoder, VAEConfig

__all__ = ["KIND", "GANConfig", "GAN", "build_gan", "discriminator_loss", "generator_loss", "gan_objectives",
           "load_gan", "LR", "BETAS", "train_gan"]

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
        return config_from_dict(cls, config, KIND)

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
    with seeded_init(seed):
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
    return [Objective("d_loss", discriminator_loss, model.discriminator.parameters(), lr_scale=d_lr_scale),
            Objective("g_loss", generator_loss, model.generator.parameters(), lr_scale=g_lr_scale)]


def load_gan(folder: str | Path = KIND, *, device: str | torch.device | None = None) -> GAN:
    """The shipped GAN (EMA weights) from ``data/<folder>``, checked against its manifest and kind ("gan")."""
    return load_model(folder, KIND, lambda cfg: GAN(GANConfig.from_dict(cfg)), device)


# ---------------------------------------------------------------------------------------------------------
# A short live run (notebook 08). The shipped GAN's recipe: course_utils/recipes/gan.py
# ---------------------------------------------------------------------------------------------------------
#: DCGAN's optimiser settings: Adam with β1 = 0.5 (less momentum keeps the two players from overshooting).
LR, BETAS = 2e-4, (0.5, 0.999)


def train_gan(steps: int, *, seed: int = 0, config: GANConfig | None = None, batch_size: int = 64,
              lr: float = LR, d_lr_scale: float = 1.0, g_lr_scale: float = 1.0,
              ema_decay: float | None = None, run_dir: str | Path | None = None, progress: bool = True,
              checkpoint_every: int = 0, data=None):
    """Train a fresh GAN on training-split renders with the one training loop; returns (model, TrainResult).

    ``data``: optional ``batch_fn(step, g)``; default = fresh renders of the training split.
    """
    config = config or GANConfig()
    model = build_gan(config, seed=seed)
    tc = TrainConfig(steps=steps, lr=lr, betas=BETAS, grad_clip=None, ema_decay=ema_decay, seed=seed,
                     log_every=max(1, min(10, steps // 50)), checkpoint_every=checkpoint_every,
                     run_dir=str(run_dir) if run_dir else None)
    batch_fn = data or (lambda step, g: sample_batch(batch_size, g, config.image_size, split="train"))
    result = train(model, gan_objectives(model, d_lr_scale=d_lr_scale, g_lr_scale=g_lr_scale), batch_fn, tc,
                   progress=progress)
    return model, result
