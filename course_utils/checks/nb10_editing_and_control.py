"""Checks of the exercises in 10_editing_and_control (solutions: ``course_utils/solutions/nb10_editing_and_control.py``)."""
from __future__ import annotations

import torch
from diffusers import DPMSolverMultistepScheduler

from ..exercises import Wrong, exercise
from ..seeding import make_generator


def _scheduler(steps: int = 25) -> DPMSolverMultistepScheduler:
    s = DPMSolverMultistepScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1)
    s.set_timesteps(steps)
    return s


@exercise("10.start_latent", hint="img2img redoes int(n · strength) of the n steps: it starts at "
                                  "scheduler.timesteps[n − int(n · strength)], where z_t = √ᾱ_t · z_0 + √(1 − ᾱ_t) · ε "
                                  "(scheduler.alphas_cumprod[t]).")
def _check_start_latent(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function start_latent(scheduler, z0, noise, strength) that returns z_t.")
    g = make_generator(934743)
    z0, noise = torch.randn(2, 4, 16, 16, generator=g), torch.randn(2, 4, 16, 16, generator=g)
    for strength in (0.3, 0.5, 0.8):
        s = _scheduler()
        t = s.timesteps[25 - int(25 * strength)]
        expected = s.add_noise(z0, noise, t.reshape(1))
        got = answer(s, z0, noise, strength)
        if not isinstance(got, torch.Tensor) or got.shape != z0.shape:
            raise Wrong(f"start_latent should return a tensor shaped like z0 {list(z0.shape)}.")
        wrong_t = s.add_noise(z0, noise, s.timesteps[int(25 * strength)].reshape(1))
        if torch.allclose(got, wrong_t, atol=1e-5) and not torch.allclose(got, expected, atol=1e-5):
            raise Wrong(f"At strength {strength} that is the timestep counted from the wrong end: a small strength "
                        "must start near the clean image (a small t).")
        if not torch.allclose(got, expected, atol=1e-5):
            raise Wrong(f"At strength {strength} z_t is off by up to {float((got - expected).abs().max()):.3f}.")


@exercise("10.slerp", hint="flatten both, θ = arccos(a·b / (‖a‖‖b‖)), then sin((1−t)θ)/sin θ · a + sin(tθ)/sin θ · b, "
                           "reshaped back.")
def _check_slerp(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function my_slerp(a, b, t).")
    from ..editing import lerp, slerp
    a = torch.randn(1, 4, 16, 16, generator=make_generator(934743))
    b = torch.randn(1, 4, 16, 16, generator=make_generator(656232))
    for t in (0.0, 0.3, 0.5, 1.0):
        got = answer(a, b, t)
        if not isinstance(got, torch.Tensor) or got.shape != a.shape:
            raise Wrong(f"my_slerp should return a tensor shaped like a {list(a.shape)}.")
        if 0 < t < 1 and torch.allclose(got, lerp(a, b, t), atol=1e-4):
            raise Wrong("That is the straight line (lerp): its midpoint is shorter than both ends.")
        if not torch.allclose(got, slerp(a, b, t), atol=1e-4):
            raise Wrong(f"At t = {t} the result differs from slerp by up to "
                        f"{float((got - slerp(a, b, t)).abs().max()):.3f}.")


@exercise("10.blend", hint="z ← m · z + (1 − m) · known, with known = scheduler.add_noise(z0, noise, t_next): the image's "
                           "own latent noised to the level the step has just reached. (add_noise takes a 1-D tensor of "
                           "timesteps, as t_next is here; a 0-d t from `for t in scheduler.timesteps` needs .reshape(1).)")
def _check_blend(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function blend(z, z0, noise, m, scheduler, t_next).")
    g = make_generator(545488)
    z, z0, noise = (torch.randn(1, 4, 16, 16, generator=g) for _ in range(3))
    m = (torch.rand(1, 1, 16, 16, generator=g) > 0.7).float()
    s = _scheduler()
    t_next = s.timesteps[10:11]                          # [1]: the shape add_noise takes
    got = answer(z, z0, noise, m, s, t_next)
    known = s.add_noise(z0, noise, t_next)
    expected = m * z + (1 - m) * known
    if not isinstance(got, torch.Tensor) or got.shape != z.shape:
        raise Wrong(f"blend should return a latent shaped like z {list(z.shape)}.")
    if torch.allclose(got, (1 - m) * z + m * known, atol=1e-5):
        raise Wrong("The mask is the wrong way round: 1 marks what is repainted (keep the generated z there).")
    if torch.allclose(got, m * z + (1 - m) * z0, atol=1e-5):
        raise Wrong("The known part must be noised to t_next first; the clean z0 only fits after the last step.")
    if not torch.allclose(got, expected, atol=1e-5):
        raise Wrong(f"Off by up to {float((got - expected).abs().max()):.3f}.")
