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


# ----------------------------------------------------------------------------- the adversarial autoencoder
def _critic_model(seed: int = 0):
    from course_utils.sd_autoencoder import AutoencoderWithCritic, PatchDiscriminator
    return AutoencoderWithCritic(build_autoencoder(TINY_VAE, seed=seed), PatchDiscriminator((8, 16)))


def test_patch_discriminator_gives_one_logit_per_patch():
    from course_utils.sd_autoencoder import PatchDiscriminator
    d = PatchDiscriminator((8, 16, 32))
    assert d(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 8, 8) and d(torch.zeros(1, 3, 128, 128)).shape == (1, 1, 16, 16)


def test_judge_perceptual_is_zero_for_equal_images_and_grows_with_blur():
    from course_utils.metrics import load_judge
    from course_utils.sd_autoencoder import JudgePerceptual
    perceptual = JudgePerceptual(load_judge())
    x = storybook.render_batch(storybook.ALL_COMPOSITIONS[:4], [1, 2, 3, 4], 64)
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1)
    very = torch.nn.functional.avg_pool2d(x, 7, 1, 3)
    d0, d1, d2 = perceptual(x, x), perceptual(x, blurred), perceptual(x, very)
    assert d0.shape == (4,) and float(d0.abs().max()) < 1e-6
    assert bool((d1 > 0).all()) and bool((d2 > d1).all())
    assert not any(p.requires_grad for p in perceptual.parameters())
    perceptual.train()
    assert not perceptual.training                        # the judge's statistics are never updated


def test_adversarial_objectives_switch_the_discriminator_on_after_the_warm_up():
    from course_utils.metrics import load_judge
    from course_utils.sd_autoencoder import AdversarialWeights, JudgePerceptual, adversarial_objectives
    model = _critic_model()
    ae, d = adversarial_objectives(model, JudgePerceptual(load_judge()), AdversarialWeights(disc_start=5))
    x = storybook.render_batch(storybook.ALL_COMPOSITIONS[:2], [1, 2], 64)
    early, terms = ae.loss(model, {"images": x, "step": 4}, make_generator(0))
    assert "g_loss" not in terms and terms["perceptual"] > 0 and torch.isfinite(early)
    assert float(d.loss(model, {"images": x, "step": 4}, make_generator(0)).detach()) == 0.0
    late, terms = ae.loss(model, {"images": x, "step": 5}, make_generator(0))
    assert "g_loss" in terms and float(terms["adaptive_weight"]) > 0 and torch.isfinite(late)
    d_value = d.loss(model, {"images": x, "step": 5}, make_generator(0))
    assert float(d_value.detach()) > 0                              # hinge: an untrained D is not yet sure of either side
    d_value.backward()
    assert all(p.grad is not None for p in model.discriminator.parameters())


def test_a_few_adversarial_steps_train_both_networks_in_the_one_loop():
    from course_utils.metrics import load_judge
    from course_utils.sd_autoencoder import AdversarialWeights, JudgePerceptual, adversarial_objectives
    from course_utils.training import TrainConfig, train
    model = _critic_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = storybook.render_batch(storybook.ALL_COMPOSITIONS[:4], [1, 2, 3, 4], 64)
    objectives = adversarial_objectives(model, JudgePerceptual(load_judge()), AdversarialWeights(disc_start=1))
    result = train(model, objectives, lambda step, g: {"images": x, "step": step}, TrainConfig(steps=3, lr=1e-3, log_every=1),
                   progress=False, device="cpu")
    assert [r["step"] for r in result.history] == [0, 1, 2] and "g_loss" in result.history[-1]
    changed = {k.split(".")[0] for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"vae", "discriminator"}
