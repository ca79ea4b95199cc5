"""Checks of the exercises in 09_flow_matching_and_further_reading (solutions: ``course_utils/solutions/nb09_flow_matching_and_further_reading.py``)."""
from __future__ import annotations

import torch

from ..exercises import Wrong, exercise
from ..flow_matching import interpolate, x0_eps_from_velocity
from ..seeding import make_generator


def _points(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = make_generator(seed)
    return torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g)


@exercise("09.velocity_target", hint="x_t = (1 − t) x0 + t ε; differentiate with respect to t.")
def _check_velocity_target(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function velocity_target(x0, eps) that returns the velocity [N, 2].")
    x0, eps = _points(934743)
    got = answer(x0, eps)
    if not isinstance(got, torch.Tensor) or got.shape != x0.shape:
        raise Wrong("The velocity should be a tensor shaped like x0, [32, 2] here.")
    # the right velocity, read back along the line through x_t (flow_matching.x0_eps_from_velocity), gives x0 and ε
    t = 0.3
    x_t = interpolate(x0, eps, torch.full((x0.shape[0],), t))
    if all(torch.allclose(a, b, atol=1e-5) for a, b in zip(x0_eps_from_velocity(x_t, -got, t), (x0, eps))):
        raise Wrong("The sign is flipped: as t grows the point moves from x0 towards ε.")
    if not all(torch.allclose(a, b, atol=1e-5) for a, b in zip(x0_eps_from_velocity(x_t, got, t), (x0, eps))):
        raise Wrong("That is not dx_t/dt for x_t = (1 − t) x0 + t ε.")


@exercise("09.euler_step", hint="a step from time t to time s moves by (s − t) times the velocity; s < t when sampling.")
def _check_euler_step(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function euler_step(x_t, v, t, s) that returns x_s.")
    x, v = _points(656232)
    for t, s in ((1.0, 0.75), (0.5, 0.0), (0.3, 0.2)):
        got = answer(x, v, t, s)
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            raise Wrong("euler_step should return a tensor shaped like x_t.")
        if torch.allclose(got, x + (t - s) * v, atol=1e-6) and t != s:
            raise Wrong("You stepped the wrong way: going from t down to s < t moves against the velocity.")
        if not torch.allclose(got, x + (s - t) * v, atol=1e-6):
            raise Wrong(f"From t = {t} to s = {s} the Euler step is off.")


@exercise("09.one_step_x0", hint="follow the straight line with velocity v from time t all the way to time 0.")
def _check_one_step_x0(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function one_step_x0(x_t, v, t) that returns the predicted x0.")
    x, v = _points(545488)
    for t in (1.0, 0.6, 0.1):
        got = answer(x, v, t)
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            raise Wrong("one_step_x0 should return a tensor shaped like x_t.")
        expected, _ = x0_eps_from_velocity(x, v, t)
        if torch.allclose(got, x + t * v, atol=1e-6):
            raise Wrong("Check the sign of t · v: v points from x0 towards the noise, so going back from time t to "
                        "time 0 moves against it.")
        if not torch.allclose(got, expected, atol=1e-6):
            raise Wrong(f"At t = {t} your x̂0 is off by up to {float((got - expected).abs().max()):.3f}.")
