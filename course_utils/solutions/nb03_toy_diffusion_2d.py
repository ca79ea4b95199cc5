"""Reference solutions for 03_toy_diffusion_2d. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["SOLUTIONS"]


def _score():
    def score_from_eps(eps_hat, alpha_bar_t):
        # ∇ log p_t(x) ≈ −ε̂ / √(1 − ᾱ_t)
        return -eps_hat / (1 - alpha_bar_t) ** 0.5
    return score_from_eps


def _toy_loss():
    def toy_loss(model, x0, t, noise, alphas_cumprod):
        a = alphas_cumprod[t][:, None]                       # ᾱ_t per point, shaped [B, 1]
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise         # x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε
        return ((model(x_t, t) - noise) ** 2).mean()         # L = ‖ε̂ − ε‖², averaged
    return toy_loss


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "03.score": _score,
    "03.toy_loss": _toy_loss,
}
