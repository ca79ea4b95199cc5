"""Every exercise check accepts its reference solution, reports the placeholder as unsolved, and never raises."""
import pytest

from course_utils.exercises import SOLVED, UNSOLVED, WRONG, Wrong, check, evaluate, exercise, registered
from course_utils.solutions import SOLUTIONS


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
