"""The exercises as a learner does them (beyond tests/test_exercises.py, which runs every reference solution):
a hint followed literally passes, a value given as the task asks passes, and the likely mistakes get a message
that names them."""
import torch

from course_utils import exercises
from course_utils.exercises import SOLVED, WRONG, evaluate


def hint_of(name: str) -> str:
    exercises.registered()                       # loads every check
    return exercises._REGISTRY[name].hint


def test_blend_hint_followed_literally_passes():
    """10.blend's hint says known = scheduler.add_noise(z0, noise, t_next): typed as written, it is solved."""
    assert "scheduler.add_noise(z0, noise, t_next)" in hint_of("10.blend")

    def blend(z, z0, noise, m, scheduler, t_next):
        known = scheduler.add_noise(z0, noise, t_next)
        return m * z + (1 - m) * known
    result = evaluate("10.blend", blend)
    assert result.status == SOLVED, result.message


def test_blend_with_alphas_cumprod_by_hand_passes():
    def blend(z, z0, noise, m, scheduler, t_next):
        a = scheduler.alphas_cumprod[int(t_next)]
        return m * z + (1 - m) * (a.sqrt() * z0 + (1 - a).sqrt() * noise)
    result = evaluate("10.blend", blend)
    assert result.status == SOLVED, result.message
