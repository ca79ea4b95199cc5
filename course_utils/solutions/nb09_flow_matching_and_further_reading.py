"""Reference solutions for 09_flow_matching_and_further_reading. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["SOLUTIONS"]


def _velocity_target():
    def velocity_target(x0, eps):
        return eps - x0
    return velocity_target


def _euler_step():
    def euler_step(x_t, v, t, s):
        return x_t + (s - t) * v
    return euler_step


def _one_step_x0():
    def one_step_x0(x_t, v, t):
        return x_t - t * v
    return one_step_x0


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "09.velocity_target": _velocity_target,
    "09.euler_step": _euler_step,
    "09.one_step_x0": _one_step_x0,
}
