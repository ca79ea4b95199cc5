"""Reference solutions for 05_schedulers_and_sampling. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["SOLUTIONS"]


def _ddim_step():
    def ddim_step(x_t, eps, a_t, a_prev):
        # x̂0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t
        x0 = (x_t - (1 - a_t) ** 0.5 * eps) / a_t ** 0.5
        # x_prev = √ᾱ_prev · x̂0 + √(1 − ᾱ_prev) · ε̂      (η = 0: no fresh noise)
        return a_prev ** 0.5 * x0 + (1 - a_prev) ** 0.5 * eps
    return ddim_step


def _ddim_timesteps() -> list[int]:
    from diffusers import DDIMScheduler
    scheduler = DDIMScheduler(timestep_spacing="trailing")
    scheduler.set_timesteps(10)
    return scheduler.timesteps.tolist()


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "05.ddim_step": _ddim_step,
    "05.ddim_timesteps": _ddim_timesteps,
}
