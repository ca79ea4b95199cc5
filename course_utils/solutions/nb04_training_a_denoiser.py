"""Reference solutions for 04_training_a_denoiser. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

import torch

from ..exercises import exercise_inputs

__all__ = ["SOLUTIONS"]


def _noisy_image() -> torch.Tensor:
    x0, eps, a_bar = exercise_inputs("04.noisy_image")
    # x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε
    return a_bar ** 0.5 * x0 + (1 - a_bar) ** 0.5 * eps


def _recover_x0():
    def recover_x0(x_t, eps, a_bar):
        # x0 = (x_t − √(1 − ᾱ) · ε) / √ᾱ
        return (x_t - (1 - a_bar) ** 0.5 * eps) / a_bar ** 0.5
    return recover_x0


def _keep_all_rate() -> float:
    return 0.9 * 0.95 ** 3


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "04.noisy_image": _noisy_image,
    "04.recover_x0": _recover_x0,
    "04.keep_all_rate": _keep_all_rate,
}
