"""Exercises with automatic checks.

A notebook exercise looks like this::

    answer = ...                       # your code here
    check("01.same_canvas", answer)    # prints: not solved yet / a hint / solved

``evaluate(name, answer)`` returns the verdict as a ``CheckResult`` instead (the tests use it).

``check`` never raises: an unfinished answer (``...``, ``None`` or code that raises
``NotImplementedError``) reads "not solved yet", a wrong one gets a hint, a right one is confirmed.
Checks live in ``course_utils/checks/`` and reference solutions in ``course_utils/solutions/``, one
module per notebook; ``tests/test_exercises.py`` runs every
check against its solution, so a check that cannot be passed is caught.

A check is a function ``(answer) -> None`` registered with ``@exercise(name, hint=...)``; it
raises ``Wrong("why")`` (or fails an ``assert``) when the answer is wrong.

An exercise that hands the learner data gets it from ``exercise_inputs(name)``, defined here, next to
``check``: the notebook, its check and its reference solution all call it, so a learner never opens
the checks or the solutions to get started.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

__all__ = ["Wrong", "CheckResult", "exercise", "evaluate", "check", "registered", "exercise_inputs",
           "UNSOLVED", "WRONG", "SOLVED"]

UNSOLVED, WRONG, SOLVED = "not solved yet", "not right yet", "solved"


class Wrong(Exception):
    """Raised inside a check to say why an answer is wrong (the message is shown to the learner)."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str          # UNSOLVED, WRONG or SOLVED
    message: str

    @property
    def solved(self) -> bool:
        return self.status == SOLVED

    def __repr__(self) -> str:   # what a notebook shows if the result is the cell's last value
        return f"[{self.name}] {self.message}"


@dataclass(frozen=True)
class _Exercise:
    name: str
    checker: Callable[[Any], None]
    hint: str


_REGISTRY: dict[str, _Exercise] = {}


def exercise(name: str, hint: str) -> Callable:
    """Register ``checker`` as the check of exercise ``name`` (e.g. ``"01.same_canvas"``)."""
    def register(checker: Callable[[Any], None]) -> Callable[[Any], None]:
        if name in _REGISTRY:
            raise ValueError(f"exercise {name!r} is registered twice")
        _REGISTRY[name] = _Exercise(name, checker, hint)
        return checker
    return register


def registered() -> list[str]:
    """Names of every registered exercise (after importing the modules that define them)."""
    _load_all()
    return sorted(_REGISTRY)


def _load_all() -> None:
    from . import checks  # noqa: F401  (importing registers every notebook's checks)


def _noisy_image_inputs() -> tuple:
    """04.noisy_image: a fox reading in a forest [3, 32, 32], seed 934743's noise [3, 32, 32], ᾱ_500 (cosine)."""
    from .schedules import make_schedule
    from .seeding import make_generator
    from .storybook import render
    x0 = render("fox", "reading", "in a forest", seed=0, size=32)
    eps = torch.randn(3, 32, 32, generator=make_generator(934743))
    return x0, eps, make_schedule("squaredcos_cap_v2", 1000).alpha_bar(500)


def _moved_rows_inputs() -> tuple:
    """11.moved_rows: a small embedding table [12, 6] before and after three AdamW steps of textual inversion's
    update (``personalise.keep_only_row`` on row 11, the new word), on a loss that pulls on every row."""
    from .personalise import keep_only_row
    from .seeding import make_generator
    table = torch.nn.Parameter(torch.randn(12, 6, generator=make_generator(934743)))
    before = table.detach().clone()
    keep_only_row(table, 11)
    opt = torch.optim.AdamW([table], lr=0.05, weight_decay=0.0)
    for _ in range(3):
        opt.zero_grad()
        (table ** 2).sum().backward()
        opt.step()
    return before, table.detach().clone()


_INPUTS: dict[str, Callable[[], Any]] = {"04.noisy_image": _noisy_image_inputs, "11.moved_rows": _moved_rows_inputs}


def exercise_inputs(name: str) -> Any:
    """The data exercise ``name`` hands you; its check uses the same.

    >>> x0, eps, a_bar = exercise_inputs("04.noisy_image")   # [3, 32, 32], [3, 32, 32], ᾱ_500
    """
    if name not in _INPUTS:
        raise ValueError(f"Exercise {name!r} hands out no inputs: its task says how to make them. "
                         f"Exercises with inputs: {', '.join(sorted(_INPUTS))}.")
    return _INPUTS[name]()


def _is_placeholder(answer: Any) -> bool:
    return answer is ... or answer is None


def evaluate(name: str, answer: Any) -> CheckResult:
    """The verdict on ``answer`` for exercise ``name``, as a ``CheckResult``. Never raises."""
    _load_all()
    if name not in _REGISTRY:
        result = CheckResult(name, WRONG, f"There is no exercise called {name!r}. Known: {', '.join(sorted(_REGISTRY))}.")
    else:
        ex = _REGISTRY[name]
        if _is_placeholder(answer):
            result = CheckResult(name, UNSOLVED, "Not solved yet: replace the `...` with your answer and run the cell again.")
        else:
            try:
                ex.checker(answer)
                result = CheckResult(name, SOLVED, "Solved. Well done!")
            except NotImplementedError:
                result = CheckResult(name, UNSOLVED, "Not solved yet: your function still raises NotImplementedError.")
            except (Wrong, AssertionError) as why:
                detail = f" {why}" if str(why) else ""
                result = CheckResult(name, WRONG, f"Not right yet.{detail} Hint: {ex.hint}")
            except Exception as err:  # the learner's code failed: report it, do not raise
                result = CheckResult(name, WRONG, f"Not right yet: your answer raised {type(err).__name__}: {err}. "
                                                  f"Hint: {ex.hint}")
    return result


def check(name: str, answer: Any) -> None:
    """Check ``answer`` for exercise ``name`` and print the verdict. Never raises."""
    print(f"[{name}] {evaluate(name, answer).message}")
