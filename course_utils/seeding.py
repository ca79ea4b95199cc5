"""Seeds and generators: the one place where course randomness starts.

Every random draw in the course takes an explicit ``torch.Generator``. A generator made
from the same seed gives the same numbers, so seed 934743 always paints the same canvas.
Generators live on the CPU by default (as diffusers advises): CPU draws are identical
on every machine, while CUDA generators give different numbers from the CPU ones.
"""
from __future__ import annotations

import numbers
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from .env import check_device

__all__ = ["MAX_SEED", "validate_seed", "make_generator", "seeded_init", "seed_everything", "noise_canvas"]

#: Seeds are integers in [0, MAX_SEED): the range torch.Generator.manual_seed accepts without wrapping.
MAX_SEED = 2**63


def validate_seed(seed: object) -> int:
    """Return ``seed`` as an ``int`` if it is an integer in [0, 2**63), else raise a clear ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(
            f"A seed must be a whole number such as 934743, got {seed!r} ({type(seed).__name__}). "
            "Pass an int in [0, 2**63)."
        )
    seed = int(seed)
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"A seed must lie in [0, 2**63), got {seed}. Pick a non-negative int such as 934743.")
    return seed


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (an int in [0, 2**63)).

    >>> a = torch.randn(3, generator=make_generator(934743))
    >>> b = torch.randn(3, generator=make_generator(934743))
    >>> bool((a == b).all())
    True
    """
    seed = validate_seed(seed)
    return torch.Generator(device=check_device(device)).manual_seed(seed)


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build a network inside ``with seeded_init(seed):`` and its initial weights depend only on ``seed``.

    torch.nn, diffusers and transformers layers draw their initial weights from torch's GLOBAL RNG and take
    no generator; this forks that RNG (its state is restored on exit, so the caller's draws are untouched)
    and seeds it for the block.
    """
    seed = validate_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch's global RNGs, and return a fresh CPU generator for ``seed``.

    Course code never relies on the global RNGs; this only guards third-party code that does
    (for example weight initialisation inside a library).
    """
    seed = validate_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return make_generator(seed)


def noise_canvas(seed: int, size: int = 64, channels: int = 3) -> torch.Tensor:
    """The course's canvas of pure noise: a [channels, size, size] tensor of N(0, 1) draws from ``seed``."""
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (size, channels)):
        raise ValueError(f"size and channels must be positive ints, got size={size!r}, channels={channels!r}.")
    if size > 4096:
        raise ValueError(f"size={size} would need {channels * size * size * 4 / 2**30:.1f} GiB; the course's canvases "
                         "are 32–128 px.")
    return torch.randn(channels, size, size, generator=make_generator(seed))
