"""Reference solutions for 00_welcome. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

from ..seeding import make_generator

SOLUTIONS: dict[str, Callable[[], Any]] = {
    "00.generator": lambda: make_generator(934743),
    "00.fast_mode": lambda: 50,
}
