"""Reference solutions for 01_seeded_noise. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

import torch

from ..seeding import make_generator

__all__ = ["SOLUTIONS"]


def _same_canvas():
    a = torch.randn(3, 64, 64, generator=make_generator(656232))
    b = torch.randn(3, 64, 64, generator=make_generator(656232))
    return a, b


def _noise_stats():
    canvas = torch.randn(3, 64, 64, generator=make_generator(545488))
    return round(float(canvas.mean()), 3), round(float(canvas.std()), 3)


def _share_negative():
    canvas = torch.randn(3, 64, 64, generator=make_generator(934743))
    return round(float((canvas < 0).float().mean()), 3)


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "01.same_canvas": _same_canvas,
    "01.noise_stats": _noise_stats,
    "01.share_negative": _share_negative,
}
