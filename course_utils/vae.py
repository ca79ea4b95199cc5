"""A convolutional VAE on 32×32 storybook scenes: the "one decoder pass" way to generate images.

    encoder:  x [B, 3, 32, 32] → (μ, log σ²) [B, latent]        q(z | x) = N(μ, σ²)
    sample:   z = μ + σ ⊙ ε,  ε ~ N(0, I) from a generator      (the reparameterisation trick)
    decoder:  z [B, latent] → x̂ [B, 3, 32, 32] in [-1, 1]       p(x | z) = N(x̂, s² I), s = recon_std
    generate: z ~ N(0, I) → decoder(z)                           one network call per image

Training maximises the ELBO = E_q[log p(x | z)] − KL(q(z | x) ‖ N(0, I)); the loss reports both
terms ("recon" and "kl", in nats per image) in the training history. The decoder is also the GAN's
generator (``course_utils.gan``): same network, another objective, so the comparison is about the
objective. Shipped as ``data/vae`` (``python -m course_utils.train vae``, recipe in
``course_utils/recipes/vae.py``). Taught in notebook 08. (Not to be confused with
``course_utils.sd_autoencoder``, the latent-diffusion autoencoder of notebook 07.)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .checkpoints import config_from_dict, load_model
from .seeding import seeded_init
from .storybook import sample_batch
from .training import TrainConfig, train

__all__ = ["KIND", "VAEConfig", "Encoder", "Decoder", "VAE", "build_vae", "reparameterise", "kl_divergence",
           "elbo_loss", "load_vae", "LR", "WARMUP_STEPS", "train_vae"]

KIND = "vae"


@dataclass
class VAEConfig:
    """The network's shape (stored in config.json). 32 px → 16 → 8 → 4 with ``channels`` at each level."""
    image_size: int = 32
    channels: tuple[int, ...] = (32, 64, 128)
    latent_dim: int = 64
    recon_std: float = 0.1          # s in p(x | z) = N(x̂, s² I): smaller s = reconstruction weighs more than KL
    kind: str = KIND

    @classmethod
    def from_dict(cls, config: dict) -> "VAEConfig":
        return config_from_dict(cls, config, KIND)

    @property
    def bottom(self) -> int:
        """Side of the smallest feature map (32 px halved once per level: 4)."""
        return self.image_size // 2 ** len(self.channels)


def _block(c_in: int, c_out: int, conv: type[nn.Module], refine: bool = True) -> list[nn.Module]:
    """A 4×4 stride-2 (transposed) convolution that halves (doubles) the side, then a 3×3 refinement."""
    groups = min(8, c_out)
    layers = [conv(c_in, c_out, 4, 2, 1), nn.GroupNorm(groups, c_out), nn.SiLU()]
    if refine:
        layers += [nn.Conv2d(c_out, c_out, 3, 1, 1), nn.GroupNorm(groups, c_out), nn.SiLU()]
    return layers


class Encoder(nn.Module):
    """x [B, 3, 32, 32] → features [B, out_features]: conv blocks down to 4×4, then a linear head."""

    def __init__(self, config: VAEConfig, out_features: int):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in config.channels:
            layers += _block(c_in, c, nn.Conv2d)
            c_in = c
        self.convs = nn.Sequential(*layers)
        self.head = nn.Linear(c_in * config.bottom ** 2, out_features)
        self.image_size = config.image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.image_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, s, s):
            raise ValueError(f"images must have shape [B, 3, {s}, {s}], got {tuple(x.shape)}. "
                             f"Render them with storybook.sample_batch(n, generator, size={s}).")
        return self.head(self.convs(x).flatten(1))


class Decoder(nn.Module):
    """z [B, latent_dim] → image [B, 3, 32, 32] in [-1, 1]: linear to 4×4, transposed-conv blocks up to 32×32."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.latent_dim, c0, self.bottom = config.latent_dim, config.channels[-1], config.bottom
        self.fc = nn.Linear(config.latent_dim, c0 * self.bottom ** 2)
        layers: list[nn.Module] = []
        chans = list(config.channels[::-1])                  # 128, 64, 32
        for i, (c_in, c_out) in enumerate(zip(chans, chans[1:] + [chans[-1]])):
            layers += _block(c_in, c_out, nn.ConvTranspose2d, refine=i < len(chans) - 1)   # no 3×3 at 32 px (cost)
        self.convs = nn.Sequential(*layers, nn.Conv2d(chans[-1], 3, 3, 1, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"the decoder takes latents of shape [B, {self.latent_dim}], got {tuple(z.shape)}. "
                             f"Draw them with torch.randn(n, {self.latent_dim}, generator=g) (this model's "
                             "latent_dim), or encode images first.")
        h = self.fc(z).reshape(z.shape[0], -1, self.bottom, self.bottom)
        return self.convs(h)


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """z [B, D] from q(z | x) = N(μ, σ²) so that gradients reach μ and σ; ε comes from ``generator``."""
    eps = torch.randn(mu.shape, generator=generator).to(mu.device)
    # z = μ + σ ⊙ ε,  σ = exp(½ log σ²)
    return mu + torch.exp(0.5 * logvar) * eps


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per row: [B, D] → [B] (nats)."""
    # KL = −½ Σ_d (1 + log σ² − μ² − σ²)
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)


class VAE(nn.Module):
    """Encoder + decoder. ``forward(x, g)`` → (x̂, μ, log σ²); ``sample(n, g)`` → images [n, 3, 32, 32]."""

    def __init__(self, config: VAEConfig | None = None):
        super().__init__()
        self.config = config or VAEConfig()
        self.encoder = Encoder(self.config, 2 * self.config.latent_dim)
        self.decoder = Decoder(self.config)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, 3, 32, 32] → (μ [B, D], log σ² [B, D]); log σ² is clamped to [−12, 6] for stability."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 6.0)

    def forward(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decoder(reparameterise(mu, logvar, generator)), mu, logvar

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, 3, 32, 32] → decoder(μ(x)): the VAE's best guess of each image, without sampling noise."""
        return self.decoder(self.encode(x)[0])

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n new images [n, 3, 32, 32] in [-1, 1]: z ~ N(0, I) (from ``generator``), one decoder pass."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}.")
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator).to(device)
        return self.decoder(z)


def build_vae(config: VAEConfig | None = None, *, seed: int = 0) -> VAE:
    """A fresh VAE whose initial weights depend only on ``seed``."""
    with seeded_init(seed):          # nn layers initialise from the global RNG
        return VAE(config)


def elbo_loss(model: VAE, batch: tuple[torch.Tensor, torch.Tensor] | torch.Tensor, generator: torch.Generator
              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """−ELBO per pixel (the scalar to minimise) and its two terms in nats per image: {"recon", "kl"}.

    batch: images [B, 3, 32, 32] in [-1, 1] (or (images, labels): labels are ignored).
    """
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    x_hat, mu, logvar = model(x, generator)
    s = model.config.recon_std
    # recon = −log p(x | z) up to a constant = ‖x − x̂‖² / (2 s²)
    recon = (x - x_hat).pow(2).flatten(1).sum(1) / (2 * s * s)
    kl = kl_divergence(mu, logvar)
    # −ELBO = recon + KL   (divided by the number of pixel values so the step size does not depend on size)
    loss = (recon + kl).mean() / x[0].numel()
    return loss, {"recon": recon.mean(), "kl": kl.mean()}


def load_vae(folder: str | Path = KIND, *, device: str | torch.device | None = None) -> VAE:
    """The shipped VAE from ``data/<folder>``, checked against its manifest and its kind ("vae")."""
    return load_model(folder, KIND, lambda cfg: VAE(VAEConfig.from_dict(cfg)), device)


# ---------------------------------------------------------------------------------------------------------
# A short live run (notebook 08). The shipped VAE's recipe: course_utils/recipes/vae.py
# ---------------------------------------------------------------------------------------------------------
#: Adam's learning rate, reached after a linear warm-up and then decayed along a cosine.
LR, WARMUP_STEPS = 2e-3, 100


def train_vae(steps: int, *, seed: int = 0, config: VAEConfig | None = None, batch_size: int = 64,
              lr: float = LR, run_dir: str | Path | None = None, progress: bool = True,
              checkpoint_every: int = 0, data=None):
    """Train a fresh VAE on training-split renders with the one training loop; returns (model, TrainResult).

    ``data``: ``batch_fn(step, g)`` (e.g. ``storybook.pool_batches(pool)``); default = fresh renders.
    """
    config = config or VAEConfig()
    model = build_vae(config, seed=seed)
    tc = TrainConfig(steps=steps, lr=lr, warmup_steps=min(WARMUP_STEPS, steps // 10), lr_schedule="cosine",
                     seed=seed, log_every=max(1, min(10, steps // 50)), checkpoint_every=checkpoint_every,
                     run_dir=str(run_dir) if run_dir else None)
    batch_fn = data or (lambda step, g: sample_batch(batch_size, g, config.image_size, split="train"))
    result = train(model, elbo_loss, batch_fn, tc, progress=progress)
    return model, result
