"""Every exercise check accepts its reference solution, reports the placeholder as unsolved, and never raises;
the notebooks' exercise cells work as a learner runs them, without opening the answer key."""
import ast
import json
from pathlib import Path

import pytest

from course_utils.exercises import (SOLVED, UNSOLVED, WRONG, Wrong, check, evaluate, exercise, exercise_inputs,
                                    registered)
from course_utils.solutions import SOLUTIONS

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ANSWER_KEY = ("course_utils.checks", "course_utils.solutions")


def code_cells(path: Path) -> list[tuple[int, str]]:
    """(index, source) of each code cell, with IPython's % and ! lines blanked so that ast can read it."""
    cells = json.loads(path.read_text())["cells"]
    return [(i, "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                          for line in "".join(c["source"]).splitlines()))
            for i, c in enumerate(cells) if c["cell_type"] == "code"]


def exercise_cell(name: str) -> str:
    """The source of the notebook code cell that calls check(name, ...)."""
    hits = [src for path in NOTEBOOKS for _, src in code_cells(path) if f'check("{name}"' in src]
    assert len(hits) == 1, f"{len(hits)} notebook cells check {name}"
    return hits[0]


def test_every_exercise_has_a_solution_and_vice_versa():
    assert set(registered()) == set(SOLUTIONS)


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_reference_solution_passes(name):
    result = evaluate(name, SOLUTIONS[name]())
    assert result.status == SOLVED, result.message


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_placeholder_is_not_solved_yet(name):
    assert evaluate(name, ...).status == UNSOLVED


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_nonsense_is_wrong_without_raising(name):
    for nonsense in (42, "text", (1, 2), lambda *a, **k: 0):
        assert evaluate(name, nonsense).status == WRONG


def _imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names += [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_cell_imports_the_checks_or_the_solutions(path):
    """A notebook sends its learner to course_utils.exercises (check, exercise_inputs), never into the answer key."""
    bad = [f"cell {i}: {name}" for i, src in code_cells(path) for name in _imported_modules(ast.parse(src))
           if name.startswith(ANSWER_KEY)]
    assert not bad, f"{path.name} imports from the checks or the solutions: {'; '.join(bad)}"


def test_noisy_image_cell_works_as_written():
    """Notebook 04's cell, with the learner's formula in place of `...`, gets its inputs and is solved."""
    src = exercise_cell("04.noisy_image").replace("answer = ...", "answer = a_bar ** 0.5 * x0 + (1 - a_bar) ** 0.5 * eps")
    scope = {}
    exec(compile(src, "04.noisy_image", "exec"), scope)
    assert evaluate("04.noisy_image", scope["answer"]).solved


def test_exercise_inputs_of_an_exercise_without_inputs_says_so():
    with pytest.raises(ValueError, match="04.noisy_image"):
        exercise_inputs("01.same_canvas")


def test_not_implemented_reads_as_unsolved():
    @exercise("test.not_implemented", hint="h")
    def _c(answer):
        answer()
    def todo():
        raise NotImplementedError
    try:
        assert evaluate("test.not_implemented", todo).status == UNSOLVED
    finally:
        from course_utils import exercises
        exercises._REGISTRY.pop("test.not_implemented")


def test_wrong_gives_the_reason_and_the_hint(capsys):
    @exercise("test.wrong", hint="try 3")
    def _c(answer):
        if answer != 3:
            raise Wrong("that is not three.")
    try:
        result = evaluate("test.wrong", 2)
        assert result.status == WRONG and "not three" in result.message and "try 3" in result.message
        assert check("test.wrong", 2) is None
        out = capsys.readouterr().out
        assert out.startswith("[test.wrong] Not right yet.") and "try 3" in out
        assert evaluate("test.wrong", 3).solved
    finally:
        from course_utils import exercises
        exercises._REGISTRY.pop("test.wrong")


def test_unknown_exercise_names_the_known_ones():
    result = evaluate("99.nope", 1)
    assert result.status == WRONG and "01.same_canvas" in result.message


def test_registering_twice_is_an_error():
    with pytest.raises(ValueError, match="twice"):
        exercise("01.same_canvas", hint="")(lambda a: None)
