"""The tiny Stable Diffusion's autoencoder: 64×64 storybook scenes ↔ 4×16×16 latents.

    z ~ q(z | x) = N(μ(x), σ(x)²)     encoder: x [B, 3, 64, 64] in [-1, 1] → μ, σ [B, 4, 16, 16]
    x̂ = D(z)                          decoder: z [B, 4, 16, 16] → x̂ [B, 3, 64, 64]

It is a diffusers ``AutoencoderKL`` (the class Stable Diffusion uses), trained here with an L1
reconstruction loss and a weak KL pull towards N(0, I), as SD's autoencoder was (minus its
perceptual and adversarial losses). The diffusion model then works on z · s, where the scaling factor
s = 1 / std(z) is measured on training latents so that the diffusion model sees unit-variance data
(SD's 0.18215 was computed the same way), and written into the VAE's config.

Not to be confused with ``course_utils.vae``, the small VAE that notebook 08 compares with a GAN. This
one is taught in notebook 07 and trained by ``course_utils/recipes/storybook_sd.py``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

from .forward import gaussian_noise
from .seeding import seeded_init

__all__ = ["AutoencoderConfig", "build_autoencoder", "autoencoder_loss", "encode_latents", "latent_scaling_factor",
           "reconstruction_errors", "psnr"]


@dataclass
class AutoencoderConfig:
    """The autoencoder's shape; 2 ** (len(block_out_channels) − 1) is its downsampling factor."""
    block_out_channels: tuple[int, ...] = (32, 48, 64)
    layers_per_block: int = 1
    latent_channels: int = 4
    norm_num_groups: int = 16
    sample_size: int = 64
    mid_block_add_attention: bool = False
    kl_weight: float = 1e-5               # weight of Σ KL against Σ |x − x̂| (SD: 1e-6, plus LPIPS and a GAN)

    @property
    def factor(self) -> int:
        return 2 ** (len(self.block_out_channels) - 1)


def build_autoencoder(config: AutoencoderConfig | None = None, *, seed: int = 0) -> AutoencoderKL:
    """A freshly initialised ``AutoencoderKL`` (weights drawn under ``seed``)."""
    c = config or AutoencoderConfig()
    n = len(c.block_out_channels)
    with seeded_init(seed):            # diffusers initialises layers from the global RNG
        return AutoencoderKL(
            in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * n,
            up_block_types=("UpDecoderBlock2D",) * n, block_out_channels=tuple(c.block_out_channels),
            layers_per_block=c.layers_per_block, latent_channels=c.latent_channels,
            norm_num_groups=c.norm_num_groups, sample_size=c.sample_size, scaling_factor=1.0,
            force_upcast=False, mid_block_add_attention=c.mid_block_add_attention)


def autoencoder_loss(vae: AutoencoderKL, batch: torch.Tensor | tuple, generator: torch.Generator,
             kl_weight: float = AutoencoderConfig.kl_weight) -> torch.Tensor:
    """The autoencoder's loss on images [B, 3, H, W] in [-1, 1] (or a tuple whose first item they are)."""
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    posterior = vae.encode(x).latent_dist
    z = posterior.mean + posterior.std * gaussian_noise(posterior.mean.shape, generator, device=x.device)
    x_hat = vae.decode(z).sample
    # L = (Σ |x − x̂| + β · Σ KL(q(z|x) ‖ N(0, I))) / number of pixel values
    rec = (x_hat - x).abs().sum()
    kl = posterior.kl().sum()
    return (rec + kl_weight * kl) / x.numel()


@torch.no_grad()
def encode_latents(vae: AutoencoderKL, images: torch.Tensor, batch_size: int = 256
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Unscaled posterior (mean, std) [N, 4, h, w] of images [N, 3, H, W], in batches (the latent cache)."""
    means, stds = [], []
    device = next(vae.parameters()).device
    for i in range(0, len(images), batch_size):
        post = vae.encode(images[i:i + batch_size].to(device)).latent_dist
        means.append(post.mean.cpu())
        stds.append(post.std.cpu())
    return torch.cat(means), torch.cat(stds)


def latent_scaling_factor(mean: torch.Tensor, std: torch.Tensor, generator: torch.Generator) -> float:
    """s = 1 / std(z) over latents z ~ q(z | x) drawn from the cache (mean, std [N, 4, h, w])."""
    z = mean + std * gaussian_noise(mean.shape, generator, device=mean.device)
    # s = 1 / std(z): the diffusion model then sees latents z · s of unit variance
    return float(1.0 / z.flatten().std())


def psnr(mse: float, data_range: float = 2.0) -> float:
    """Peak signal-to-noise ratio in dB for images in [-1, 1] (range 2)."""
    # PSNR = 10 · log10(range² / MSE)
    return float(10 * math.log10(data_range ** 2 / max(mse, 1e-12)))


@torch.no_grad()
def reconstruction_errors(vae: AutoencoderKL, images: torch.Tensor, batch_size: int = 256
                          ) -> tuple[torch.Tensor, dict[str, float]]:
    """Decode the posterior means of images [N, 3, H, W]: (reconstructions [N, 3, H, W], {"mse", "psnr_db"})."""
    device = next(vae.parameters()).device
    outs = []
    for i in range(0, len(images), batch_size):
        z = vae.encode(images[i:i + batch_size].to(device)).latent_dist.mean
        outs.append(vae.decode(z).sample.clamp(-1, 1).cpu())
    rec = torch.cat(outs)
    mse = float(F.mse_loss(rec, images.cpu().float()))       # rec came back to the CPU
    return rec, {"mse": round(mse, 6), "psnr_db": round(psnr(mse), 2)}
