"""The small VAE of notebook 08: shapes, seeding, the reparameterisation trick, the ELBO (course_utils/vae.py)."""
from __future__ import annotations

import math

import pytest
import torch

from course_utils import storybook, vae
from course_utils.seeding import make_generator

TINY_VAE = vae.VAEConfig(channels=(8, 16), latent_dim=4)


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=make_generator(seed)) * 2 - 1


def test_vae_shapes_and_sampling_are_seeded():
    model = vae.build_vae(TINY_VAE, seed=1)
    mu, logvar = model.encode(images())
    assert mu.shape == logvar.shape == (4, 4)
    with torch.no_grad():
        x_hat, _, _ = model(images(), make_generator(0))
    assert x_hat.shape == (4, 3, 32, 32) and float(x_hat.abs().max()) <= 1
    a, b = model.sample(3, make_generator(5)), model.sample(3, make_generator(5))
    assert a.shape == (3, 3, 32, 32) and torch.equal(a, b)
    assert not torch.equal(a, model.sample(3, make_generator(6)))


def test_same_seed_same_initial_weights():
    a, b, c = vae.build_vae(TINY_VAE, seed=3), vae.build_vae(TINY_VAE, seed=3), vae.build_vae(TINY_VAE, seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_reparameterise_has_the_right_law_and_passes_gradients():
    mu = torch.full((20000, 1), 2.0, requires_grad=True)
    logvar = torch.full((20000, 1), math.log(0.25), requires_grad=True)
    z = vae.reparameterise(mu, logvar, make_generator(0))
    assert abs(float(z.detach().mean()) - 2.0) < 0.02 and abs(float(z.detach().std()) - 0.5) < 0.02
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None and float(logvar.grad.abs().sum()) > 0
    same = vae.reparameterise(mu, logvar, make_generator(0))
    assert torch.equal(z, same)


def test_kl_matches_torch_distributions():
    g = make_generator(2)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    ours = vae.kl_divergence(mu, logvar)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    assert torch.allclose(ours, ref, atol=1e-5)
    assert float(vae.kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max()) == 0


def test_elbo_loss_is_recon_plus_kl_per_pixel():
    model = vae.build_vae(TINY_VAE, seed=0)
    x = images()
    loss, terms = vae.elbo_loss(model, (x, torch.zeros(4, 3)), make_generator(1))
    x_hat, mu, logvar = model(x, make_generator(1))          # same generator state → same z
    s = TINY_VAE.recon_std
    recon = ((x - x_hat) ** 2).flatten(1).sum(1) / (2 * s * s)
    assert torch.allclose(terms["recon"], recon.mean())
    assert torch.allclose(terms["kl"], vae.kl_divergence(mu, logvar).mean())
    assert torch.allclose(loss, (recon.mean() + terms["kl"]) / (3 * 32 * 32))


def test_decoder_refuses_a_latent_of_the_wrong_size():
    model = vae.build_vae(TINY_VAE)
    with pytest.raises(ValueError, match=r"latents of shape \[B, 4\].*got \(2, 8\)"):
        model.decoder(torch.zeros(2, 8))
    with pytest.raises(ValueError, match=r"\[B, 3, 32, 32\]"):
        model.encode(torch.zeros(2, 3, 64, 64))
    with pytest.raises(ValueError, match="positive int"):
        model.sample(0, make_generator(0))


def test_training_loop_logs_the_elbo_terms():
    pool = storybook.render_pool(16, seed=0)
    model, result = vae.train_vae(3, config=TINY_VAE, batch_size=8, progress=False,
                                  data=storybook.pool_batches(pool, 8))
    assert [r["step"] for r in result.history] == [0, 1, 2]
    assert all({"loss", "recon", "kl"} <= set(r) for r in result.history)
    assert all(math.isfinite(r["recon"]) and r["kl"] >= 0 for r in result.history)

