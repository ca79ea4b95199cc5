"""Reference solutions for 06_conditioning_and_guidance. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["SOLUTIONS"]


def _cfg():
    def my_cfg(eps_uncond, eps_cond, w):
        return eps_uncond + w * (eps_cond - eps_uncond)
    return my_cfg


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "06.cfg": _cfg,
    "06.no_label_probability": lambda: 0.1 + 0.9 * 0.05 ** 3,
    "06.one_step_beyond": lambda: 2.0,
}
