"""Checks of the exercises in 01_seeded_noise (solutions: ``course_utils/solutions/nb01_seeded_noise.py``)."""
from __future__ import annotations

import torch

from ..exercises import Wrong, exercise
from ..seeding import make_generator

@exercise("01.same_canvas", hint="make two generators from the same seed and draw a [3, 64, 64] canvas from each.")
def _check_same_canvas(answer) -> None:
    first, second = answer
    if not (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)):
        raise Wrong("Give a pair of tensors (canvas_a, canvas_b).")
    if first.shape != (3, 64, 64) or second.shape != (3, 64, 64):
        raise Wrong(f"Both canvases should have shape (3, 64, 64), got {tuple(first.shape)} and {tuple(second.shape)}.")
    if not torch.equal(first, second):
        raise Wrong("The two canvases differ: did both generators start from the same seed?")
    expected = torch.randn(3, 64, 64, generator=make_generator(656232))
    if not torch.equal(first, expected):
        raise Wrong("The canvases are equal, but not the canvas of seed 656232.")


@exercise("01.noise_stats", hint="a tensor has .mean() and .std(); round each with round(float(x), 2).")
def _check_noise_stats(answer) -> None:
    mean, std = answer
    canvas = torch.randn(3, 64, 64, generator=make_generator(545488))
    if abs(float(mean) - float(canvas.mean())) > 5e-3:
        raise Wrong(f"The mean of seed 545488's canvas is not {mean}.")
    if abs(float(std) - float(canvas.std())) > 5e-3:
        raise Wrong(f"The standard deviation of seed 545488's canvas is not {std}.")


@exercise("01.share_negative", hint="(canvas < 0) is a tensor of booleans; .float().mean() turns it into a share.")
def _check_share_negative(answer) -> None:
    share = float(answer)
    canvas = torch.randn(3, 64, 64, generator=make_generator(934743))
    expected = float((canvas < 0).float().mean())
    if abs(share - expected) > 1e-6:
        raise Wrong(f"{share:.4f} is not the share of negative values in seed 934743's canvas.")
