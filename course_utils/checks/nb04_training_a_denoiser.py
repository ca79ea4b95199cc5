"""Checks of the exercises in 04_training_a_denoiser (solutions: ``course_utils/solutions/nb04_training_a_denoiser.py``)."""
from __future__ import annotations

import torch

from ..denoiser import P_ALL, P_EACH
from ..exercises import Wrong, exercise, exercise_inputs
from ..seeding import make_generator


@exercise("04.noisy_image", hint="x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε; take square roots with ** 0.5.")
def _check_noisy_image(answer) -> None:
    x0, eps, a_bar = exercise_inputs("04.noisy_image")
    if not isinstance(answer, torch.Tensor) or answer.shape != (3, 32, 32):
        raise Wrong("Give the noisy image as a tensor of shape (3, 32, 32).")
    expected = a_bar ** 0.5 * x0 + (1 - a_bar) ** 0.5 * eps
    if torch.allclose(answer, (1 - a_bar) ** 0.5 * x0 + a_bar ** 0.5 * eps, atol=1e-5):
        raise Wrong("The two weights are swapped: the image gets √ᾱ_t, the noise √(1 − ᾱ_t).")
    if not torch.allclose(answer, expected, atol=1e-5):
        raise Wrong(f"Your x_t is off by up to {float((answer - expected).abs().max()):.3f}.")


@exercise("04.recover_x0", hint="solve x_t = √ᾱ·x0 + √(1 − ᾱ)·ε for x0: subtract the noise term, then divide.")
def _check_recover_x0(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function recover_x0(x_t, eps, a_bar) that returns x0.")
    g = make_generator(656232)
    x0, eps = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1, torch.randn(2, 3, 8, 8, generator=g)
    for a_bar in (0.9, 0.3, 0.02):
        x_t = a_bar ** 0.5 * x0 + (1 - a_bar) ** 0.5 * eps
        got = answer(x_t, eps, a_bar)
        if not isinstance(got, torch.Tensor) or got.shape != x0.shape:
            raise Wrong("recover_x0 should return a tensor shaped like x_t.")
        if not torch.allclose(got, x0, atol=1e-4):
            raise Wrong(f"For ᾱ = {a_bar} your x0 is off by up to {float((got - x0).abs().max()):.3f}.")


@exercise("04.keep_all_rate", hint=f"a row survives if it escapes the {P_ALL:.0%} 'drop all' AND each of 3 "
                                   f"independent {P_EACH:.0%} drops.")
def _check_keep_all_rate(answer) -> None:
    expected = (1 - P_ALL) * (1 - P_EACH) ** 3          # drop_conditions' defaults, the shipped model's rates
    if abs(float(answer) - expected) > 0.01:
        raise Wrong(f"{float(answer):.4f} is not the share of training rows that keep all three attributes.")
