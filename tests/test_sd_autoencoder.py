"""The tiny Stable Diffusion's autoencoder: AutoencoderKL shapes, its loss, the latent scaling factor,
reconstruction errors and PSNR (course_utils/sd_autoencoder.py)."""
from __future__ import annotations

import pytest
import torch

from course_utils import storybook
from course_utils.sd_autoencoder import (autoencoder_loss, build_autoencoder, encode_latents, latent_scaling_factor,
                                         psnr, reconstruction_errors)
from course_utils.seeding import make_generator
from sd_tiny import TINY_VAE


def test_autoencoder_shapes_loss_and_scaling_factor():
    vae = build_autoencoder(TINY_VAE, seed=0)
    x = storybook.render_batch(storybook.ALL_COMPOSITIONS[:3], [1, 2, 3], 64)
    mean, std = encode_latents(vae, x, batch_size=2)
    assert mean.shape == std.shape == (3, 4, 16, 16) and (std > 0).all()
    loss = autoencoder_loss(vae, x, make_generator(0))
    assert loss.dim() == 0 and torch.isfinite(loss)
    s = latent_scaling_factor(mean, std, make_generator(0))
    z = mean + std * torch.randn(mean.shape, generator=make_generator(0))
    assert abs(s - 1 / float(z.std())) < 1e-6 and abs(float((z * s).std()) - 1) < 1e-5
    rec, metrics = reconstruction_errors(vae, x)
    assert rec.shape == x.shape and rec.abs().max() <= 1
    assert abs(metrics["psnr_db"] - psnr(metrics["mse"])) < 0.01


def test_psnr_formula():
    assert psnr(4.0) == pytest.approx(0.0) and psnr(0.04) == pytest.approx(20.0)
