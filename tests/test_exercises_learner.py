"""The exercises as a learner does them (beyond tests/test_exercises.py, which runs every reference solution):
a hint followed literally passes, a value given as the task asks passes, and the likely mistakes get a message
that names them."""
import json
from pathlib import Path

import torch

from course_utils import exercises
from course_utils.exercises import SOLVED, WRONG, evaluate

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def hint_of(name: str) -> str:
    exercises.registered()                       # loads every check
    return exercises._REGISTRY[name].hint


def task_of(name: str) -> str:
    """The markdown cell just above the notebook code cell that calls check(name, ...): the exercise's task."""
    for path in NOTEBOOKS:
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code" and f'check("{name}"' in "".join(cell["source"]):
                assert i > 0 and cells[i - 1]["cell_type"] == "markdown", f"{name}: no task above its cell"
                return "".join(cells[i - 1]["source"])
    raise AssertionError(f"no notebook cell checks {name}")


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


def test_start_latent_task_says_where_img2img_starts():
    """The task itself, not only the hint, names the timestep img2img starts from; the hint says the same."""
    task, hint = task_of("10.start_latent"), hint_of("10.start_latent")
    assert "scheduler.timesteps[n − ⌊n · strength⌋]" in task
    assert "scheduler.timesteps[n − int(n · strength)]" in hint
