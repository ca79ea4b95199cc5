"""Checks of the exercises in 05_schedulers_and_sampling (solutions: ``course_utils/solutions/nb05_schedulers_and_sampling.py``)."""
from __future__ import annotations

import torch

from ..exercises import Wrong, exercise
from ..schedulers import DDIMScheduler
from ..seeding import make_generator


@exercise("05.ddim_step", hint="first x̂0 = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t, then x_prev = √ᾱ_prev·x̂0 + √(1−ᾱ_prev)·ε̂.")
def _check_ddim_step(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function ddim_step(x_t, eps, a_t, a_prev) that returns x_prev.")
    g = make_generator(545488)
    x_t, eps = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 8, 8, generator=g)
    # the reference is the course's DDIMScheduler (tested equal to diffusers'), 10 steps of the cosine schedule
    scheduler = DDIMScheduler(beta_schedule="squaredcos_cap_v2", clip_sample=False)
    scheduler.set_timesteps(10)                                   # 900, 800, …, 0; after t = 0 comes ᾱ = 1
    for t in (900, 500, 0):
        a_t = float(scheduler.alphas_cumprod[t])
        a_prev = float(scheduler.alphas_cumprod[t - 100]) if t >= 100 else 1.0
        expected = scheduler.step(eps, t, x_t).prev_sample
        got = answer(x_t, eps, a_t, a_prev)
        if not isinstance(got, torch.Tensor) or got.shape != x_t.shape:
            raise Wrong("ddim_step should return a tensor shaped like x_t.")
        if not torch.allclose(got, expected, atol=1e-4):
            raise Wrong(f"For ᾱ_t = {a_t:.4f}, ᾱ_prev = {a_prev:.4f} your x_prev is off by up to "
                        f"{float((got - expected).abs().max()):.3f}.")


@exercise("05.ddim_timesteps", hint="make DDIMScheduler(timestep_spacing='trailing'), call set_timesteps(10), "
                                     "then read .timesteps.tolist().")
def _check_ddim_timesteps(answer) -> None:
    expected = list(range(999, 0, -100))
    got = [int(t) for t in answer]
    if got == sorted(expected):
        raise Wrong("Samplers walk from noisy to clean: the list should start at the largest timestep.")
    if got == list(range(900, -1, -100)):
        raise Wrong("Those are the 'leading' timesteps (they never visit t = 999); ask for timestep_spacing='trailing'.")
    if got != expected:
        raise Wrong(f"{got} are not the 10 timesteps of trailing DDIM.")


#: Steps asked of diffusers' KDPM2AncestralDiscreteScheduler in exercise 05.network_calls.
KDPM2_STEPS = 10


@exercise("05.network_calls", hint="wrap denoise in a function that adds 1 to a counter and then calls it; run "
                                    "sample(counting, KDPM2AncestralDiscreteScheduler(), (1, 3, 32, 32), …, num_inference_steps=10).")
def _check_network_calls(answer) -> None:
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise Wrong("Give the number of calls as an int.")
    if answer == KDPM2_STEPS:
        raise Wrong("10 is the number of steps you asked for; count the calls the loop makes to the network.")
    if answer == 2 * KDPM2_STEPS:
        raise Wrong("Close, but its very first step makes one call fewer than you think: count again.")
    if answer != 2 * KDPM2_STEPS - 1:
        raise Wrong(f"{answer} is not the number of network calls of KDPM2-ancestral with num_inference_steps=10.")
