"""Reference solutions for 10_editing_and_control. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["SOLUTIONS"]


def _start_latent():
    def start_latent(scheduler, z0, noise, strength):
        n = len(scheduler.timesteps)
        t = scheduler.timesteps[n - int(n * strength)]
        a = scheduler.alphas_cumprod[int(t)]
        # z_t = √ᾱ_t · z_0 + √(1 − ᾱ_t) · ε
        return a.sqrt() * z0 + (1 - a).sqrt() * noise
    return start_latent


def _slerp():
    def my_slerp(a, b, t):
        fa, fb = a.flatten(), b.flatten()
        theta = torch.arccos((fa @ fb) / (fa.norm() * fb.norm()))
        out = (torch.sin((1 - t) * theta) * fa + torch.sin(t * theta) * fb) / torch.sin(theta)
        return out.reshape(a.shape)
    return my_slerp


def _blend():
    def blend(z, z0, noise, m, scheduler, t_next):
        known = scheduler.add_noise(z0, noise, t_next)      # t_next: a timestep tensor [1]
        return m * z + (1 - m) * known
    return blend


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "10.start_latent": _start_latent,
    "10.slerp": _slerp,
    "10.blend": _blend,
}
