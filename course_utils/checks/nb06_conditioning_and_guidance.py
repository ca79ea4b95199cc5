"""Checks of the exercises in 06_conditioning_and_guidance (solutions: ``course_utils/solutions/nb06_conditioning_and_guidance.py``)."""
from __future__ import annotations

import torch

from ..denoiser import P_ALL, P_EACH
from ..exercises import Wrong, exercise
from ..guidance import cfg_combine
from ..seeding import make_generator


@exercise("06.cfg", hint="start from the unconditional prediction and add w times the difference the condition makes: "
                         "eps_uncond + w * (eps_cond - eps_uncond).")
def _check_cfg(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function my_cfg(eps_uncond, eps_cond, w) that returns the guided prediction.")
    g = make_generator(934743)
    eps_uncond, eps_cond = torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 3, 4, 4, generator=g)
    for w in (0.0, 1.0, 2.5, 7.5):
        got = answer(eps_uncond, eps_cond, w)
        expected = cfg_combine(eps_uncond, eps_cond, w)        # the course's CFG, tested equal to diffusers
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            raise Wrong("my_cfg should return a tensor shaped like its inputs.")
        if w == 0.0 and torch.allclose(got, eps_cond, atol=1e-5):
            raise Wrong("At w = 0 guidance ignores the condition: the result should be eps_uncond.")
        if not torch.allclose(got, expected, atol=1e-5):
            raise Wrong(f"At w = {w} your prediction is off by up to {float((got - expected).abs().max()):.3f}.")


@exercise("06.no_label_probability", hint=f"either the whole row is dropped ({P_ALL}), or it is not ({1 - P_ALL:g}) and "
                                          f"then all three single drops must happen ({P_EACH} each, independently).")
def _check_no_label_probability(answer) -> None:
    value = float(answer)
    p_all, p_each = P_ALL, P_EACH          # the rates the shipped model was trained with (drop_conditions' defaults)
    expected = p_all + (1 - p_all) * p_each ** 3
    if abs(value - p_all) < 1e-9:
        raise Wrong(f"{p_all} counts only the whole-row drops; a row can also lose its three labels one by one.")
    if abs(value - expected) > 1e-6:
        raise Wrong(f"{value} is not the probability that a row ends up with no label.")


@exercise("06.one_step_beyond", hint="write ε_cond + (ε_cond − ε_uncond) in the form ε_uncond + w·(ε_cond − ε_uncond) "
                                     "and read off w.")
def _check_one_step_beyond(answer) -> None:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise Wrong("Give the guidance scale as a number.")
    if abs(float(answer) - 2.0) > 1e-9:
        raise Wrong(f"With w = {answer}, ε̂ is not ε_cond + (ε_cond − ε_uncond).")
