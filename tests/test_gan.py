"""The GAN of notebook 08: the non-saturating losses, two optimisers in one loop, seeded runs (course_utils/gan.py)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_utils import gan, storybook
from course_utils.seeding import make_generator
from course_utils.training import Objective, TrainConfig, train

TINY_GAN = gan.GANConfig(channels=(8, 16), latent_dim=4)


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=make_generator(seed)) * 2 - 1


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
    pool = storybook.render_pool(16, seed=1)
    model, result = gan.train_gan(2, config=TINY_GAN, batch_size=8, progress=False, ema_decay=0.9,
                                  data=storybook.pool_batches(pool, 8))
    assert result.ema_state is not None and len(result.history) == 2
    assert model.sample(2, make_generator(0)).shape == (2, 3, 32, 32)


@pytest.mark.slow
def test_gan_training_is_reproducible_from_its_seed():
    pool = storybook.render_pool(16, seed=4)
    runs = [gan.train_gan(3, seed=7, config=TINY_GAN, batch_size=8, g_lr_scale=20.0, progress=False,
                          data=storybook.pool_batches(pool, 8))[0] for _ in range(2)]
    assert torch.equal(runs[0].sample(4, make_generator(1)), runs[1].sample(4, make_generator(1)))

