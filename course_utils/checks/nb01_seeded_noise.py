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
    stream = make_generator(656232)
    expected, second_draw = (torch.randn(3, 64, 64, generator=stream) for _ in range(2))
    if torch.equal(first, expected) and torch.equal(second, second_draw):
        raise Wrong("canvas_b is the second draw of the generator that drew canvas_a: one generator was used for "
                    "both, and every draw moves it on. Make a second generator from seed 656232 for canvas_b.")
    if not torch.equal(first, second):
        raise Wrong("The two canvases differ: did both generators start from the same seed?")
    if not torch.equal(first, expected):
        raise Wrong("The canvases are equal, but not the canvas of seed 656232.")


#: The precision the tasks of 01.noise_stats and 01.share_negative ask for.
DECIMALS = 3


def _check_rounded(value, expected: float, what: str) -> None:
    """Pass ``value`` if it is ``expected`` to DECIMALS decimals (a value rounded as asked, or a finer one)."""
    value = float(value)
    half_unit = 0.5 * 10 ** -DECIMALS
    if abs(value - expected) <= half_unit + 1e-9:
        return
    if abs(value - expected) <= 10 * half_unit + 1e-9:
        raise Wrong(f"{value:.{DECIMALS}f} is close to {what}, but not equal at {DECIMALS} decimals: round the "
                    f"exact value with round(x, {DECIMALS}).")
    raise Wrong(f"{value:.{DECIMALS}f} is not {what} (to {DECIMALS} decimals).")


@exercise("01.noise_stats", hint=f"a tensor has .mean() and .std(); round each with round(float(x), {DECIMALS}).")
def _check_noise_stats(answer) -> None:
    mean, std = answer
    canvas = torch.randn(3, 64, 64, generator=make_generator(545488))
    _check_rounded(mean, float(canvas.mean()), "the mean of seed 545488's canvas")
    _check_rounded(std, float(canvas.std()), "the standard deviation of seed 545488's canvas")


@exercise("01.share_negative", hint="(canvas < 0) is a tensor of booleans; .float().mean() turns it into a share, "
                                    f"then round(float(share), {DECIMALS}).")
def _check_share_negative(answer) -> None:
    share = float(answer)
    if not 0 <= share <= 1:
        raise Wrong(f"A share is a number between 0 and 1; {share:g} is not (a percentage?).")
    canvas = torch.randn(3, 64, 64, generator=make_generator(934743))
    _check_rounded(share, float((canvas < 0).float().mean()), "the share of negative values in seed 934743's canvas")
