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


def _network_calls() -> int:
    import torch
    from diffusers import KDPM2AncestralDiscreteScheduler

    from ..checks.nb05_schedulers_and_sampling import KDPM2_STEPS
    from ..samplers import sample
    from ..seeding import make_generator
    calls = 0

    def counting(x, t):          # any denoiser will do: the count does not depend on what it returns
        nonlocal calls
        calls += 1
        return torch.zeros_like(x)
    sample(counting, KDPM2AncestralDiscreteScheduler(), (1, 3, 32, 32), generator=make_generator(0),
           num_inference_steps=KDPM2_STEPS, device="cpu")
    return calls


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "05.ddim_step": _ddim_step,
    "05.ddim_timesteps": _ddim_timesteps,
    "05.network_calls": _network_calls,
}
