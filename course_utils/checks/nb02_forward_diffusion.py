"""Checks of the exercises in 02_forward_diffusion (solutions: ``course_utils/solutions/nb02_forward_diffusion.py``)."""
from __future__ import annotations

import torch

from ..exercises import Wrong, exercise
from ..forward import q_sample
from ..schedules import make_schedule
from ..seeding import make_generator


@exercise("02.q_sample", hint="a = alphas_cumprod[t] has shape [B]; a[:, None, None, None] lines it up with x0 "
                              "[B, C, H, W]; then x_t = √a · x0 + √(1 − a) · noise.")
def _check_q_sample(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function my_q_sample(x0, t, alphas_cumprod, noise) that returns x_t.")
    g = make_generator(656232)
    a_bar = make_schedule("linear").alphas_cumprod
    x0, noise = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1, torch.randn(4, 3, 8, 8, generator=g)
    for t in (torch.tensor([0, 10, 500, 999]), torch.tensor([999, 999, 3, 3])):
        got = answer(x0, t, a_bar, noise)
        expected = q_sample(x0, t, a_bar, noise)
        if not isinstance(got, torch.Tensor) or got.shape != x0.shape:
            raise Wrong("my_q_sample should return a tensor shaped like x0, [4, 3, 8, 8] here.")
        if torch.allclose(got, q_sample(x0, t.flip(0), a_bar, noise), atol=1e-5) and not torch.equal(t, t.flip(0)):
            raise Wrong("Each sample must get its own timestep: sample i uses alphas_cumprod[t[i]].")
        if not torch.allclose(got, expected, atol=1e-5):
            raise Wrong(f"For timesteps {t.tolist()} your x_t is off by up to {float((got - expected).abs().max()):.3f}.")


@exercise("02.alpha_bar_cosine", hint="make_schedule('squaredcos_cap_v2').betas gives β; ᾱ_t is the product of "
                                      "(1 − β_s) for s = 0 … t (torch.cumprod), then take entry 600.")
def _check_alpha_bar_cosine(answer) -> None:
    a_bar = make_schedule("squaredcos_cap_v2").alphas_cumprod
    value, tol = float(answer), 5e-4 + 1e-9                # the task accepts three decimals: |round(x, 3) − x| ≤ 5e-4
    if abs(value - float(a_bar[600])) <= tol:
        return
    if min(abs(value - float(a_bar[599])), abs(value - float(a_bar[601]))) <= tol:
        raise Wrong("Off by one step: timesteps count from 0, so ᾱ_600 is entry 600 of the cumulative product.")
    if abs(value - float(make_schedule("linear").alphas_cumprod[600])) <= tol:
        raise Wrong("That is ᾱ_600 of the linear schedule; the exercise asks for the cosine one.")
    raise Wrong(f"{value:.3f} is not ᾱ_600 of the cosine schedule (to three decimals).")


@exercise("02.half_signal", hint="(alphas_cumprod < 0.5) is a boolean tensor; .nonzero()[0] or .int().argmax() "
                                 "finds the first True.")
def _check_half_signal(answer) -> None:
    if isinstance(answer, bool) or not float(answer).is_integer():
        raise Wrong("Give a whole timestep, such as 123.")
    a_bar = make_schedule("linear").alphas_cumprod
    expected = int((a_bar < 0.5).nonzero()[0])
    if int(answer) == expected - 1:
        raise Wrong(f"At t = {int(answer)} ᾱ is still {float(a_bar[int(answer)]):.4f}, not yet below 0.5.")
    if int(answer) != expected:
        raise Wrong(f"At t = {int(answer)} ᾱ_t is not the first value below 0.5.")
