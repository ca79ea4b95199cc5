"""The tiny Stable Diffusion's autoencoder: AutoencoderKL shapes, its loss, the latent scaling factor,
reconstruction errors and PSNR (course_utils/sd_autoencoder.py)."""
from __future__ import annotations

import pytest
import torch

from course_utils import storybook
from course_utils.sd_autoencoder import (autoencoder_loss, build_autoencoder, encode_latents, latent_scaling_factor,
                                         psnr, reconstruction_errors, subject_weighted_l1)
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


# ----------------------------------------------------------------------------- the decoder fine-tune (issue #26)
def _subject_batch(n: int = 2, size: int = 64, seed: int = 0) -> dict:
    return storybook.subject_batch(n, make_generator(seed), size)


def test_reconstruction_errors_report_the_subject_apart_from_the_whole_picture():
    from course_utils.sd_autoencoder import reconstruction_errors as errors
    vae = build_autoencoder(TINY_VAE, seed=0)
    batch = _subject_batch()
    rec, whole = errors(vae, batch["images"], subject=batch["subject"])
    inside = batch["subject"][:, None].expand_as(rec)
    by_hand = float((rec - batch["images"]).pow(2)[inside].mean())
    assert whole["subject_psnr_db"] == pytest.approx(psnr(by_hand), abs=0.01)
    assert "subject_psnr_db" not in errors(vae, batch["images"])[1]


def test_decoder_finetune_loss_weighs_the_subject_and_reduces_to_l1():
    from types import SimpleNamespace
    from course_utils.sd_autoencoder import decoder_finetune_loss

    class Fixed(torch.nn.Module):
        """An 'autoencoder' whose decoder draws x + err: the loss sees exactly the error we plant."""
        def __init__(self, x, err):
            super().__init__()
            self.x, self.err = x, err
        def encode(self, x):
            return SimpleNamespace(latent_dist=SimpleNamespace(mean=torch.zeros(len(x), 1, 1, 1), std=torch.zeros(len(x), 1, 1, 1)))
        def decode(self, z):
            return SimpleNamespace(sample=self.x + self.err)

    batch = _subject_batch()
    x, subject = batch["images"], batch["subject"]
    inside = subject[:, None].expand_as(x).float()
    plain = decoder_finetune_loss(None, subject_weight=1.0)
    err = torch.full_like(x, 0.1)
    assert float(plain(Fixed(x, err), batch, make_generator(0))) == pytest.approx(0.1, abs=1e-6)   # mean |x − x̂|
    weighted = decoder_finetune_loss(None, subject_weight=5.0)
    on_subject = float(weighted(Fixed(x, 0.1 * inside), batch, make_generator(0)))
    off_subject = float(weighted(Fixed(x, 0.1 * (1 - inside)), batch, make_generator(0)))
    share = float(inside.mean())
    # Σ w|e| / Σ w with w = 5 inside: an error on the subject weighs 5× as much as the same error elsewhere
    assert on_subject == pytest.approx(0.1 * 5 * share / (5 * share + 1 - share), rel=1e-4)
    assert off_subject == pytest.approx(0.1 * (1 - share) / (5 * share + 1 - share), rel=1e-4)
    with pytest.raises(ValueError, match="subject_weight must be ≥ 1"):
        decoder_finetune_loss(None, subject_weight=0.5)


def test_a_decoder_finetune_step_leaves_the_encoder_bit_identical():
    from course_utils.sd_autoencoder import decoder_finetune_loss, decoder_parameters
    from course_utils.training import Objective, TrainConfig, train
    vae = build_autoencoder(TINY_VAE, seed=0)
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    train(vae, [Objective("loss", decoder_finetune_loss(None), decoder_parameters(vae))],
          lambda step, g: storybook.subject_batch(2, g, 64), TrainConfig(steps=2, lr=1e-2), progress=False)
    after = vae.state_dict()
    frozen = [k for k in after if not k.startswith(("decoder.", "post_quant_conv."))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)              # encoder, quant_conv
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("decoder."))


def test_subject_psnr_counts_only_the_subject():
    from course_utils.sd_autoencoder import subject_psnr
    batch = _subject_batch()
    x, subject = batch["images"], batch["subject"]
    outside_only = x + 0.5 * (~subject[:, None]).float()          # an error everywhere but on the subject
    assert subject_psnr(outside_only, x, subject) >= 100
    on_subject = x + 0.2 * subject[:, None].float()               # MSE 0.04 inside → 20 dB
    assert subject_psnr(on_subject, x, subject) == pytest.approx(20.0, abs=1e-4)


def test_subject_weighted_l1_counts_subject_pixels_weight_times():
    x = torch.zeros(1, 3, 2, 2)
    x_hat = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2).expand(1, 3, 2, 2)   # error 1 on one pixel
    subject = torch.tensor([[[True, False], [False, False]]])
    l1 = subject_weighted_l1
    assert float(l1(x_hat, x, subject, 1.0)) == pytest.approx(0.25)               # weight 1: the plain mean
    assert float(l1(x_hat, x, subject, 5.0)) == pytest.approx(5 / 8)               # 5 · 1 / (5 + 1 + 1 + 1)
    assert float(l1(x_hat, x, ~subject, 5.0)) == pytest.approx(1 / 16)             # the error off the subject
    with pytest.raises(ValueError, match="subject_weight must be"):
        l1(x_hat, x, subject, 0.5)


def test_the_subject_stage_trains_the_encoder_too_with_a_kl_term():
    from course_utils.sd_autoencoder import decoder_finetune_loss
    from course_utils.training import TrainConfig, train
    vae = build_autoencoder(TINY_VAE, seed=0)
    before = {k: v.clone() for k, v in vae.state_dict().items()}
    loss = decoder_finetune_loss(None, train_encoder=True, kl_weight=1e-6)
    total, terms = loss(vae, _subject_batch(), make_generator(0))
    assert set(terms) == {"rec", "kl"} and float(terms["kl"]) > 0
    assert float(total.detach()) == pytest.approx(float(terms["rec"] + 1e-6 * terms["kl"]), rel=1e-6)
    train(vae, loss, lambda step, g: storybook.subject_batch(2, g, 64), TrainConfig(steps=2, lr=1e-2), progress=False)
    after = vae.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("encoder."))


def test_the_decoder_stage_with_a_discriminator_trains_decoder_and_critic_not_the_encoder():
    from course_utils.sd_autoencoder import (AutoencoderWithCritic, PatchDiscriminator, decoder_finetune_loss,
                                             decoder_finetune_objectives)
    from course_utils.seeding import seeded_init
    from course_utils.training import TrainConfig, train
    vae = build_autoencoder(TINY_VAE, seed=0)
    with pytest.raises(TypeError, match="AutoencoderWithCritic"):
        decoder_finetune_objectives(vae, None, disc_weight=0.5)
    with pytest.raises(ValueError, match="disc_weight must be ≥ 0"):
        decoder_finetune_loss(None, disc_weight=-1.0)
    with seeded_init(0):
        model = AutoencoderWithCritic(vae, PatchDiscriminator((8, 16)))
    with pytest.raises(KeyError, match="must say its step"):           # else the GAN term would never know when
        decoder_finetune_loss(None, disc_weight=0.5)(model, _subject_batch(), make_generator(0))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    objectives = decoder_finetune_objectives(model, None, disc_weight=0.5, gen_start=2)
    assert [o.name for o in objectives] == ["loss", "d_loss"]
    result = train(model, objectives, lambda step, g: {**storybook.subject_batch(2, g, 64), "step": step},
                   TrainConfig(steps=4, lr=1e-2, log_every=1), progress=False)
    after = model.state_dict()
    # the GAN term joins at gen_start, weighted by the adaptive λ; the discriminator learns from step 0
    assert ["g_loss" in row for row in result.history] == [False, False, True, True]
    assert all(float(row["adaptive_weight"]) > 0 for row in result.history[2:])
    assert all(torch.equal(before[k], after[k]) for k in after if k.startswith(("vae.encoder.", "vae.quant_conv.")))
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("vae.decoder."))
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("discriminator."))
