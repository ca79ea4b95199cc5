"""The VAE, the GAN, their recipes and loaders, and the comparison table (course_utils/vae.py, gan.py, baselines.py)."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from course_utils import baselines, gan, vae
from course_utils.checkpoints import CheckpointError
from course_utils.seeding import make_generator
from course_utils.training import Objective, TrainConfig, train

TINY_VAE = vae.VAEConfig(channels=(8, 16), latent_dim=4)
TINY_GAN = gan.GANConfig(channels=(8, 16), latent_dim=4)


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=make_generator(seed)) * 2 - 1


# ------------------------------------------------------------------------------------------------ VAE
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
    pool = baselines.render_pool(16, seed=0)
    model, result = vae.train_vae(3, config=TINY_VAE, batch_size=8, progress=False,
                                  data=baselines.pool_batches(pool, 8))
    assert [r["step"] for r in result.history] == [0, 1, 2]
    assert all({"loss", "recon", "kl"} <= set(r) for r in result.history)
    assert all(math.isfinite(r["recon"]) and r["kl"] >= 0 for r in result.history)


# ------------------------------------------------------------------------------------------------ GAN
def test_gan_losses_are_the_non_saturating_bce():
    model = gan.build_gan(TINY_GAN, seed=0)
    x = images()
    d_loss, terms = gan.discriminator_loss(model, x, make_generator(3))
    with torch.no_grad():
        fake = model.generator(model.latents(4, make_generator(3)))
    real_logit, fake_logit = model.critic(x), model.critic(fake)
    bce = (F.binary_cross_entropy_with_logits(real_logit, torch.ones(4))
           + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros(4)))
    assert torch.allclose(d_loss, bce, atol=1e-6)
    assert torch.allclose(terms["d_real"], torch.sigmoid(real_logit).mean())
    g_loss = gan.generator_loss(model, x, make_generator(4))
    fake = model.generator(model.latents(4, make_generator(4)))
    assert torch.allclose(g_loss, F.binary_cross_entropy_with_logits(model.critic(fake), torch.ones(4)), atol=1e-6)


def test_gan_objectives_update_disjoint_networks_with_their_lr_scale():
    model = gan.build_gan(TINY_GAN, seed=0)
    objs = gan.gan_objectives(model, d_lr_scale=0.0)            # D frozen by a zero learning rate
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    result = train(model, objs, lambda step, g: images(4, step), TrainConfig(steps=2, lr=1e-2), progress=False)
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, model.generator.parameters()))
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(result.history[-1])


def test_a_loss_returning_a_bad_tuple_is_a_clear_error():
    model = torch.nn.Linear(2, 1)
    bad = lambda m, b, g: (m(b).mean(), 3.0)                    # noqa: E731
    with pytest.raises(TypeError, match="dict of terms"):
        train(model, [Objective("loss", bad)], lambda s, g: torch.ones(2, 2), TrainConfig(steps=1), progress=False)


def test_train_gan_runs_and_records_both_losses():
    pool = baselines.render_pool(16, seed=1)
    model, result = gan.train_gan(2, config=TINY_GAN, batch_size=8, progress=False, ema_decay=0.9,
                                  data=baselines.pool_batches(pool, 8))
    assert result.ema_state is not None and len(result.history) == 2
    assert model.sample(2, make_generator(0)).shape == (2, 3, 32, 32)


# ---------------------------------------------------------------------------------- recipes and loaders
@pytest.fixture
def shipped_tiny(tmp_path, monkeypatch):
    """Run both recipes for 2 steps with tiny networks into tmp folders."""
    monkeypatch.setattr(vae, "RECIPE", vae.Recipe(steps=2, batch_size=4, pool_size=8, model=TINY_VAE))
    monkeypatch.setattr(gan, "RECIPE", gan.Recipe(steps=2, batch_size=4, pool_size=8, model=TINY_GAN))
    records = {name: module.build(tmp_path / name, run_dir=tmp_path / f"run-{name}")
               for name, module in (("vae", vae), ("gan", gan))}
    return tmp_path, records


def test_recipes_save_checked_folders_that_load(shipped_tiny):
    root, records = shipped_tiny
    for name in ("vae", "gan"):
        record = json.loads((root / name / "record.json").read_text())
        assert record["steps"] == 2 and record["seed"] == 0 and record["command"].startswith("python -m course_utils.train")
        assert record["parameters"] > 0 and record["seconds_per_step"] > 0
    assert "final_recon_nats" in records["vae"] and "final_d_loss" in records["gan"]
    v = vae.load_vae(root / "vae", device="cpu")
    g = gan.load_gan(root / "gan", device="cpu")
    assert v.config == TINY_VAE and g.config == TINY_GAN and not v.training
    assert baselines.training_minutes(root / "vae") == pytest.approx(records["vae"]["seconds_per_step"] * 2 / 60)


def test_a_gan_checkpoint_given_to_the_vae_loader_is_refused(shipped_tiny):
    root, _ = shipped_tiny
    with pytest.raises(CheckpointError, match="holds a 'gan' model, not a 'vae' one"):
        vae.load_vae(root / "gan")
    with pytest.raises(CheckpointError, match="holds a 'vae' model, not a 'gan' one"):
        gan.load_gan(root / "vae")


def test_recipes_are_registered_with_the_training_command():
    from course_utils.train import RECIPES
    assert RECIPES["vae"] == "course_utils.vae:build" and RECIPES["gan"] == "course_utils.gan:build"


# ------------------------------------------------------------------------------------------- comparison
def test_render_pool_and_pool_batches_are_seeded():
    pool = baselines.render_pool(6, seed=2)
    assert pool.shape == (6, 3, 32, 32) and torch.equal(pool, baselines.render_pool(6, seed=2))
    fn = baselines.pool_batches(pool, 4)
    assert torch.equal(fn(0, make_generator(1)), fn(5, make_generator(1)))
    with pytest.raises(ValueError, match="batch_size"):
        baselines.pool_batches(pool, 10)


def test_count_calls_counts_forward_passes():
    net = torch.nn.Linear(2, 2)
    with baselines.count_calls(net) as calls:
        for _ in range(3):
            net(torch.zeros(1, 2))
    net(torch.zeros(1, 2))                                     # after the block: not counted
    assert calls[0] == 3


def test_sharpness_is_high_for_edges_and_zero_for_flat_images():
    flat = torch.zeros(2, 3, 8, 8)
    assert baselines.sharpness(flat) == 0
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 2.0 - 1     # ±1 checkerboard
    assert baselines.sharpness(checker.expand(1, 3, 8, 8)) == pytest.approx(8.0)
    blurred = F.avg_pool2d(images(2), 3, 1, 1)
    assert baselines.sharpness(blurred) < baselines.sharpness(images(2))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        baselines.sharpness(flat[0])


def test_diffusion_contender_makes_one_network_call_per_step():
    from course_utils.denoiser import DenoiserConfig, build_model
    unet = build_model(DenoiserConfig(block_out_channels=(8, 8, 8), norm_num_groups=4), seed=0).eval()
    c = baselines.diffusion_contender(unet, "DDIM-25", folder=None)
    with baselines.count_calls(unet) as calls:
        out = c.sample(2, make_generator(0))
    assert out.shape == (2, 3, 32, 32) and calls[0] == 25 == c.network_calls
    assert c.name == "diffusion DDIM-25" and c.parameters == sum(p.numel() for p in unet.parameters())
    with pytest.raises(ValueError, match="Unknown sampler"):
        baselines.diffusion_contender(unet, "DDIM-7", folder=None)


def test_compare_measures_every_row_and_skips_metrics_on_small_sets(monkeypatch):
    from course_utils import metrics
    monkeypatch.setattr(metrics, "judge_fid", lambda real, fake: float((real.mean() - fake.mean()).abs()))
    monkeypatch.setattr(metrics, "coverage", lambda x: 0.5)
    flat = baselines.Contender("flat", lambda n, g: torch.zeros(n, 3, 32, 32), 10, 1, 2.0)
    few = baselines.Contender("few", lambda n, g: torch.zeros(n, 3, 32, 32), 20, 7, None, n=3)
    rows = baselines.compare([flat, few], n=6, batch_size=4, min_n_for_metrics=5)
    assert [r["model"] for r in rows] == ["flat", "few"] and [r["samples"] for r in rows] == [6, 3]
    assert rows[0]["coverage"] == 0.5 and rows[0]["fid"] is not None and rows[0]["train_minutes"] == 2.0
    assert rows[1]["fid"] is None and rows[1]["coverage"] is None and rows[1]["calls_per_image"] == 7
    table = baselines.format_table(rows)
    assert "judge-FID" in table and "—" in table and table.count("\n") == 3
    with pytest.raises(ValueError, match="n must be"):
        baselines.compare([flat], n=1)


def test_load_results_explains_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="compare_generators.py"):
        baselines.load_results(tmp_path / "nope.json")
    (tmp_path / "r.json").write_text(json.dumps({"rows": [], "command": "x"}))
    assert baselines.load_results(tmp_path / "r.json")["command"] == "x"


def test_gan_training_is_reproducible_from_its_seed():
    pool = baselines.render_pool(16, seed=4)
    runs = [gan.train_gan(3, seed=7, config=TINY_GAN, batch_size=8, g_lr_scale=20.0, progress=False,
                          data=baselines.pool_batches(pool, 8))[0] for _ in range(2)]
    assert torch.equal(runs[0].sample(4, make_generator(1)), runs[1].sample(4, make_generator(1)))


def test_shipped_contenders_load_the_shipped_models_with_their_costs():
    rows = baselines.shipped_contenders(ddpm_n=3, device="cpu")
    assert [c.name for c in rows] == ["real renders", "VAE", "GAN", "diffusion DDIM-25", "diffusion DDPM-1000"]
    assert [c.network_calls for c in rows] == [0, 1, 1, 25, 1000] and rows[-1].n == 3 and rows[3].n is None
    assert all(c.training_minutes > 0 for c in rows[1:]) and rows[0].training_minutes is None
    assert rows[1].parameters == sum(p.numel() for p in vae.load_vae(device="cpu").parameters())
    for c in rows[:3]:
        out = c.sample(2, make_generator(0))
        assert out.shape == (2, 3, 32, 32) and float(out.abs().max()) <= 1
