"""Checks of the exercises in 00_welcome (solutions: ``course_utils/solutions/nb00_welcome.py``)."""
from __future__ import annotations

import torch

from ..exercises import Wrong, exercise


@exercise("00.generator", hint="from course_utils.seeding import make_generator; make_generator(934743)")
def _check_generator(answer) -> None:
    if not isinstance(answer, torch.Generator):
        raise Wrong(f"Expected a torch.Generator, got {type(answer).__name__}.")
    if answer is torch.default_generator:
        raise Wrong("torch.manual_seed(934743) seeds torch's one global generator and returns it: every library "
                    "draws from that one too, so any draw in between changes your numbers. Make a private one: "
                    "make_generator(934743) or torch.Generator().manual_seed(934743).")
    if answer.device.type != "cpu":
        raise Wrong("The course draws noise on the CPU: make the generator without a device argument.")
    if answer.initial_seed() != 934743:
        raise Wrong(f"This generator was seeded with {answer.initial_seed()}, not 934743.")


@exercise("00.fast_mode", hint="in fast mode pick returns its second argument.")
def _check_fast_mode(answer) -> None:
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise Wrong("Give a number.")
    if answer != 50:
        raise Wrong(f"{answer} is what full mode would give." if answer == 1000 else f"{answer} is not it.")
