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
from torch import nn

from .forward import gaussian_noise
from .seeding import seeded_init
from .training import Objective

__all__ = ["AutoencoderConfig", "build_autoencoder", "autoencoder_loss", "encode_latents", "latent_scaling_factor",
           "reconstruction_errors", "psnr", "PatchDiscriminator", "JudgePerceptual", "AutoencoderWithCritic",
           "AdversarialWeights", "adaptive_weight", "adversarial_objectives", "hinge_d_loss", "decoder_parameters",
           "subject_weighted_l1", "decoder_finetune_loss", "decoder_finetune_objectives", "subject_psnr"]


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
def reconstruction_errors(vae: AutoencoderKL, images: torch.Tensor, batch_size: int = 256,
                          subject: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Decode the posterior means of images [N, 3, H, W]: (reconstructions [N, 3, H, W], {"mse", "psnr_db"}).
    With ``subject`` (bool [N, H, W], the animal and its prop) also the error inside it: "subject_psnr_db"."""
    device = next(vae.parameters()).device
    outs = []
    for i in range(0, len(images), batch_size):
        z = vae.encode(images[i:i + batch_size].to(device)).latent_dist.mean
        outs.append(vae.decode(z).sample.clamp(-1, 1).cpu())
    rec = torch.cat(outs)
    mse = float(F.mse_loss(rec, images.cpu().float()))       # rec came back to the CPU
    out = {"mse": round(mse, 6), "psnr_db": round(psnr(mse), 2)}
    if subject is not None:
        out["subject_psnr_db"] = round(subject_psnr(rec, images, subject), 2)
    return rec, out


def subject_psnr(images: torch.Tensor, reference: torch.Tensor, subject: torch.Tensor) -> float:
    """PSNR in dB of images [N, 3, H, W] against ``reference``, counting only the pixels inside ``subject``
    (bool [N, H, W]: the animal and its prop, ``storybook.subject_masks``)."""
    err = (images.float().cpu() - reference.float().cpu()).pow(2)
    # MSE over the subject's pixels (all three colour channels), then 10 · log10(2² / MSE)
    return psnr(float(err[subject[:, None].expand_as(err)].mean()))


# ---------------------------------------------------------------------------------------------------------
# Training it as Stable Diffusion's autoencoder was (latent diffusion, Rombach et al. 2022, appendix G):
#   L_AE = |x − x̂| + w_p · perceptual(x, x̂) + β · KL  +  λ · w_d · (−D(x̂))     (the last term after a warm-up)
#   L_D  = mean(relu(1 − D(x))) + mean(relu(1 + D(x̂)))                           (hinge loss, patch logits)
# An L1 loss alone settles for a per-pixel compromise (the median) where it is unsure, and draws blur; the patch
# discriminator (a GAN inside the autoencoder, notebook 08) calls blur fake, so the decoder must draw sharp edges and
# texture.
# ---------------------------------------------------------------------------------------------------------
class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017): images [B, 3, H, W] → logits [B, 1, H/2^k, W/2^k], one per overlapping
    patch ("real" > 0 > "fake"), so it judges texture and edges everywhere rather than the whole scene."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1), nn.GroupNorm(min(8, c_out), c_out), nn.LeakyReLU(0.2)]
        layers.append(nn.Conv2d(channels[-1], 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class JudgePerceptual(nn.Module):
    """A perceptual distance from the course's own judge (no network can be downloaded here): the judge's
    three convolution blocks applied at the image's own size, features unit-normalised per position as
    LPIPS does, then the mean squared difference of each block, summed. Frozen: it is never trained."""

    def __init__(self, judge: nn.Module):
        super().__init__()
        layers = list(judge.body)
        # conv → norm → ReLU → max-pool: four layers a block
        self.blocks = nn.ModuleList(nn.Sequential(*layers[i:i + 4]) for i in range(0, len(layers), 4))
        self.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> "JudgePerceptual":
        return super().train(False)                # its batch-norm statistics stay the judge's

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Distance per image [B] between images x and y [B, 3, H, W] in [-1, 1]; 0 when they are equal."""
        total = x.new_zeros(x.shape[0])
        for block in self.blocks:
            x, y = block(x), block(y)
            # d_l = mean over positions ‖φ_l(x)/‖φ_l(x)‖ − φ_l(y)/‖φ_l(y)‖‖²
            nx, ny = F.normalize(x, dim=1, eps=1e-6), F.normalize(y, dim=1, eps=1e-6)
            total = total + (nx - ny).pow(2).sum(1).mean((1, 2))
        return total


class AutoencoderWithCritic(nn.Module):
    """The autoencoder and its patch discriminator in one module, so one training checkpoint holds both
    (the shipped folder keeps only ``vae``)."""

    def __init__(self, vae: AutoencoderKL, discriminator: PatchDiscriminator):
        super().__init__()
        self.vae, self.discriminator = vae, discriminator
        self.last_fake: torch.Tensor | None = None     # x̂ of the step's autoencoder pass, for D's turn


@dataclass
class AdversarialWeights:
    """How the autoencoder's loss terms are mixed (LDM's defaults, but a smaller perceptual net)."""
    kl_weight: float = 1e-6
    perceptual_weight: float = 1.0
    disc_weight: float = 0.5
    disc_start: int = 500                # steps of L1 + perceptual alone before the discriminator joins


def adaptive_weight(nll: torch.Tensor, g_loss: torch.Tensor, last_layer: torch.Tensor) -> torch.Tensor:
    """λ = ‖∇ nll‖ / ‖∇ L_G‖ at the decoder's last layer: the GAN term pulls as hard as the rest (LDM eq. 5)."""
    g_nll = torch.autograd.grad(nll, last_layer, retain_graph=True)[0]
    g_adv = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    return (g_nll.norm() / (g_adv.norm() + 1e-4)).clamp(0, 1e4).detach()


def hinge_d_loss(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's hinge loss L_D = E[relu(1 − D(x))] + E[relu(1 + D(x̂))] over its patch logits."""
    return F.relu(1 - discriminator(real)).mean() + F.relu(1 + discriminator(fake)).mean()


def adversarial_objectives(model: AutoencoderWithCritic, perceptual: JudgePerceptual,
                           weights: AdversarialWeights = AdversarialWeights(), *, d_lr_scale: float = 1.0) -> list:
    """The two optimisers of the one training loop (``training.Objective``): the autoencoder's step on
    L_AE, then the discriminator's on L_D. Batches are ``{"images": [B, 3, H, W], "step": int}``."""
    def ae_loss(m: AutoencoderWithCritic, batch: dict, g: torch.Generator):
        x, step = batch["images"], int(batch["step"])
        posterior = m.vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * gaussian_noise(posterior.mean.shape, g, device=x.device)
        x_hat = m.vae.decode(z).sample
        m.last_fake = x_hat.detach()
        rec, p = (x_hat - x).abs().mean(), perceptual(x, x_hat).mean()
        nll = rec + weights.perceptual_weight * p
        kl = posterior.kl().sum() / x.numel()
        loss, terms = nll + weights.kl_weight * kl, {"rec": rec.detach(), "perceptual": p.detach(), "kl": kl.detach()}
        if step >= weights.disc_start:
            g_loss = -m.discriminator(x_hat).mean()
            lam = adaptive_weight(nll, g_loss, m.vae.decoder.conv_out.weight)
            loss = loss + lam * weights.disc_weight * g_loss
            terms.update(g_loss=g_loss.detach(), adaptive_weight=lam)
        return loss, terms

    def d_loss(m: AutoencoderWithCritic, batch: dict, g: torch.Generator):
        x, step = batch["images"], int(batch["step"])
        if step < weights.disc_start or m.last_fake is None:
            return sum(p.sum() for p in m.discriminator.parameters()) * 0.0    # not switched on yet: no update
        return hinge_d_loss(m.discriminator, x, m.last_fake)

    return [Objective("ae_loss", ae_loss, list(model.vae.parameters())),
            Objective("d_loss", d_loss, list(model.discriminator.parameters()), lr_scale=d_lr_scale)]


# ---------------------------------------------------------------------------------------------------------
# Fine-tuning the decoder alone, as Stable Diffusion's ft-EMA / ft-MSE decoders were (to mend faces): the
# encoder is frozen, so the latents, the scaling factor and the UNet trained on them all stay valid, and the
# new decoder is a drop-in. The loss looks harder where the subject is (Make-A-Scene's object-aware loss):
#   L = Σ w · |x − D(z)| / Σ w  +  p · perceptual(x, D(z)),     z ~ q(z | x),   w = k on the animal and prop, 1 elsewhere
# L alone draws smooth texture, so after a while the patch discriminator's term joins, as in the autoencoder stage:
#   L_dec = L + λ · w_d · (−D_patch(D(z))),     λ = adaptive_weight(L, −D_patch(D(z)), last decoder layer)
# ---------------------------------------------------------------------------------------------------------
def decoder_parameters(vae: AutoencoderKL) -> list[nn.Parameter]:
    """The weights a decoder fine-tune trains: ``post_quant_conv`` and the decoder (the encoder stays frozen)."""
    return [*vae.post_quant_conv.parameters(), *vae.decoder.parameters()]


def subject_weighted_l1(x_hat: torch.Tensor, x: torch.Tensor, subject: torch.Tensor, weight: float) -> torch.Tensor:
    """Σ w · |x − x̂| / Σ w over pixels and colour channels, w = ``weight`` where ``subject`` [B, H, W] is true
    and 1 elsewhere (weight 1: the plain mean absolute error). Make-A-Scene's object-aware reconstruction term."""
    if weight < 1:
        raise ValueError(f"subject_weight must be ≥ 1 (1 = every pixel counts the same), got {weight!r}.")
    w = 1 + (weight - 1) * subject[:, None].to(x.dtype)     # broadcasts over the three colour channels
    return (w * (x_hat - x).abs()).sum() / (w.sum() * x.shape[1])


def decoder_finetune_loss(perceptual: JudgePerceptual | None, *, subject_weight: float = 5.0,
                          perceptual_weight: float = 0.1, train_encoder: bool = False, kl_weight: float = 0.0,
                          disc_weight: float = 0.0, gen_start: int = 0):
    """The subject-weighted fine-tune's loss ``loss(model, batch, generator)`` for the one training loop. Batches are
    ``{"images": [B, 3, H, W] in [-1, 1], "subject": bool [B, H, W]}`` (``storybook.subject_masks``).
    By default the encoder is frozen (its latents computed without gradient: only the decoder learns); with
    ``train_encoder`` it learns too, and ``kl_weight`` × KL keeps its latents near N(0, I), as in the autoencoder stage.
    With ``disc_weight`` > 0 the model is an ``AutoencoderWithCritic`` and, from batch["step"] ≥ ``gen_start``, the
    decoder is also pushed to fool its patch discriminator: + λ · disc_weight · (−D(x̂)), λ = ``adaptive_weight``."""
    if subject_weight < 1:
        raise ValueError(f"subject_weight must be ≥ 1 (1 = every pixel counts the same), got {subject_weight!r}.")
    if disc_weight < 0:
        raise ValueError(f"disc_weight must be ≥ 0 (0 = no discriminator), got {disc_weight!r}.")

    def loss(model: AutoencoderKL | AutoencoderWithCritic, batch: dict, g: torch.Generator):
        vae = model.vae if isinstance(model, AutoencoderWithCritic) else model
        if disc_weight > 0 and not isinstance(model, AutoencoderWithCritic):
            raise TypeError("disc_weight > 0 needs the autoencoder with its discriminator: "
                            "train AutoencoderWithCritic(vae, PatchDiscriminator()) with decoder_finetune_objectives(...).")
        x, subject = batch["images"], batch["subject"]
        with torch.set_grad_enabled(train_encoder and torch.is_grad_enabled()):
            posterior = vae.encode(x).latent_dist
            z = posterior.mean + posterior.std * gaussian_noise(posterior.mean.shape, g, device=x.device)
        x_hat = vae.decode(z).sample.float()
        rec = subject_weighted_l1(x_hat, x, subject, subject_weight)
        nll, terms = rec, {"rec": rec.detach()}
        if perceptual is not None and perceptual_weight > 0:
            p = perceptual(x, x_hat).mean()
            nll, terms["perceptual"] = nll + perceptual_weight * p, p.detach()
        total = nll
        if train_encoder and kl_weight > 0:
            kl = posterior.kl().float().sum() / x.numel()
            total, terms["kl"] = total + kl_weight * kl, kl.detach()
        if disc_weight > 0:
            if "step" not in batch:
                raise KeyError("with a discriminator the batch must say its step, so the GAN term knows when to join "
                               "(gen_start): batch_fn = lambda step, g: {**storybook.subject_batch(8, g), 'step': step}.")
            model.last_fake = x_hat.detach()                      # for the discriminator's turn on the same batch
            if int(batch["step"]) >= gen_start and torch.is_grad_enabled():
                g_loss = -model.discriminator(x_hat).mean()
                lam = adaptive_weight(nll, g_loss, vae.decoder.conv_out.weight)
                total, terms["g_loss"], terms["adaptive_weight"] = total + lam * disc_weight * g_loss, g_loss.detach(), lam
        return (total, terms) if len(terms) > 1 else total
    return loss


def decoder_finetune_objectives(model: AutoencoderKL | AutoencoderWithCritic, perceptual: JudgePerceptual | None, *,
                                subject_weight: float = 5.0, perceptual_weight: float = 0.1, train_encoder: bool = False,
                                kl_weight: float = 0.0, disc_weight: float = 0.0, gen_start: int = 0) -> list[Objective]:
    """The fine-tune's optimiser steps for ``training.train``: the autoencoder's (``decoder_finetune_loss``; the
    decoder's weights, or every weight with ``train_encoder``), then, with a discriminator (``disc_weight`` > 0,
    ``model`` an ``AutoencoderWithCritic``), the discriminator's hinge step on the same batch's x and x̂."""
    if disc_weight > 0 and not isinstance(model, AutoencoderWithCritic):
        raise TypeError("disc_weight > 0 needs the autoencoder with its discriminator: "
                        "pass AutoencoderWithCritic(vae, PatchDiscriminator()) as the model.")
    vae = model.vae if isinstance(model, AutoencoderWithCritic) else model
    loss = decoder_finetune_loss(perceptual, subject_weight=subject_weight, perceptual_weight=perceptual_weight,
                                 train_encoder=train_encoder, kl_weight=kl_weight, disc_weight=disc_weight,
                                 gen_start=gen_start)
    objectives = [Objective("loss", loss, list(vae.parameters()) if train_encoder else decoder_parameters(vae))]
    if disc_weight > 0:
        def d_loss(m: AutoencoderWithCritic, batch: dict, g: torch.Generator):
            return hinge_d_loss(m.discriminator, batch["images"], m.last_fake)
        objectives.append(Objective("d_loss", d_loss, list(model.discriminator.parameters())))
    return objectives
