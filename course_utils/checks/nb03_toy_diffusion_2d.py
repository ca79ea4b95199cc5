"""Checks of the exercises in 03_toy_diffusion_2d (solutions: ``course_utils/solutions/nb03_toy_diffusion_2d.py``)."""
from __future__ import annotations

import torch

from ..exercises import Wrong, exercise
from ..forward import q_sample
from ..schedules import make_schedule
from ..seeding import make_generator


@exercise("03.score", hint="score = −ε̂ / √(1 − ᾱ_t): the noise points away from the data, the score back to it.")
def _check_score(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function score_from_eps(eps_hat, alpha_bar_t) that returns the score.")
    eps = torch.randn(16, 2, generator=make_generator(545488))
    for a in (0.99, 0.5, 0.01):
        got = answer(eps, a)
        if not isinstance(got, torch.Tensor) or got.shape != eps.shape:
            raise Wrong("score_from_eps should return a tensor shaped like eps_hat, [16, 2] here.")
        expected = -eps / (1 - a) ** 0.5
        if torch.allclose(got, -expected, atol=1e-5):
            raise Wrong("The sign is flipped: the score points towards the data, against the noise.")
        if not torch.allclose(got, expected, atol=1e-5):
            raise Wrong(f"For ᾱ_t = {a} your score is off by up to {float((got - expected).abs().max()):.3f}.")


def loss_inputs():
    """A fixed model and batch for 03.toy_loss: (model, x0 [64, 2], t [64], noise [64, 2], alphas_cumprod [1000])."""
    g = make_generator(934743)
    model = torch.nn.Linear(2, 2).requires_grad_(False)   # fixed, never trained: so the loss needs no autograd
    model.weight.copy_(torch.tensor([[0.5, -0.2], [0.1, 0.8]]))
    model.bias.copy_(torch.tensor([0.05, -0.1]))
    x0 = torch.rand(64, 2, generator=g) * 2 - 1
    t = torch.randint(0, 1000, (64,), generator=g)
    noise = torch.randn(64, 2, generator=g)
    return (lambda x, t: model(x)), x0, t, noise, make_schedule("squaredcos_cap_v2").alphas_cumprod


@exercise("03.toy_loss", hint="noise x0 to x_t with q_sample (or the formula), ask model(x_t, t) for ε̂, then "
                              "return ((ε̂ − noise) ** 2).mean().")
def _check_toy_loss(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function toy_loss(model, x0, t, noise, alphas_cumprod) that returns a scalar loss.")
    model, x0, t, noise, a_bar = loss_inputs()
    got = answer(model, x0, t, noise, a_bar)
    if not isinstance(got, torch.Tensor) or got.dim() != 0:
        raise Wrong("toy_loss should return one number as a 0-dimensional tensor (use .mean()).")
    expected = ((model(q_sample(x0, t, a_bar, noise), t) - noise) ** 2).mean()
    if torch.allclose(got, ((model(x0, t) - noise) ** 2).mean(), atol=1e-6):
        raise Wrong("The model must see the noisy x_t, not the clean x0.")
    if not torch.allclose(got, expected, atol=1e-5):
        raise Wrong(f"Your loss is {float(got):.4f}; the ε-prediction loss of this batch is different.")
