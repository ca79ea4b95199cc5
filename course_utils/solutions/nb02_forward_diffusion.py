"""Reference solutions for 02_forward_diffusion. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

import torch

from ..schedules import make_schedule

__all__ = ["SOLUTIONS"]


def _q_sample():
    def my_q_sample(x0, t, alphas_cumprod, noise):
        a = alphas_cumprod[t][:, None, None, None]          # ᾱ_t per sample, shaped [B, 1, 1, 1]
        # x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε
        return a.sqrt() * x0 + (1 - a).sqrt() * noise
    return my_q_sample


def _alpha_bar_cosine() -> float:
    betas = make_schedule("squaredcos_cap_v2").betas
    # ᾱ_t = ∏_{s ≤ t} (1 − β_s)
    return float(torch.cumprod(1 - betas, dim=0)[600])


def _half_signal() -> int:
    a_bar = make_schedule("linear").alphas_cumprod
    return int((a_bar < 0.5).nonzero()[0])


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "02.q_sample": _q_sample,
    "02.alpha_bar_cosine": _alpha_bar_cosine,
    "02.half_signal": _half_signal,
}
