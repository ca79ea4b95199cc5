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


def _canvas(seed: int) -> torch.Tensor:
    from course_utils.seeding import make_generator
    return torch.randn(3, 64, 64, generator=make_generator(seed))


def _rounded_answers():
    """(exercise, exact answer builder): each task asks for three decimals."""
    from course_utils.schedules import make_schedule
    stats = _canvas(545488)
    return {
        "01.noise_stats": lambda r: (r(float(stats.mean())), r(float(stats.std()))),
        "01.share_negative": lambda r: r(float((_canvas(934743) < 0).float().mean())),
        "02.alpha_bar_cosine": lambda r: r(float(make_schedule("squaredcos_cap_v2").alphas_cumprod[600])),
    }


def test_values_rounded_as_the_task_asks_pass():
    """Task, hint, tolerance and message agree on three decimals (01.share_negative rejected 0.505 and 0.5048)."""
    for name, answer in _rounded_answers().items():
        assert "three decimals" in task_of(name), name
        for decimals in (3, 4, 6):
            result = evaluate(name, answer(lambda x: round(x, decimals)))
            assert result.status == SOLVED, f"{name} at {decimals} decimals: {result.message}"


def test_hints_round_to_the_decimals_the_task_asks():
    for name in ("01.noise_stats", "01.share_negative"):
        assert "round(float(" in hint_of(name) and ", 3)" in hint_of(name), hint_of(name)


def test_two_decimals_is_close_but_not_enough_and_the_message_prints_three():
    share = float((_canvas(934743) < 0).float().mean())
    result = evaluate("01.share_negative", round(share, 2))
    assert result.status == WRONG and f"{round(share, 2):.3f} is close" in result.message
    assert f"{share + 0.1:.3f} is not" in evaluate("01.share_negative", share + 0.1).message
    assert "percentage" in evaluate("01.share_negative", 100 * share).message
    mean = float(_canvas(545488).mean())
    assert f"{mean + 0.1:.3f} is not the mean" in evaluate("01.noise_stats", (mean + 0.1, 1.0)).message


def test_global_generator_is_rejected_with_the_reason_and_the_fix():
    """torch.manual_seed returns torch's global generator, seeded right, but shared with every other draw."""
    state = torch.get_rng_state()
    try:
        result = evaluate("00.generator", torch.manual_seed(934743))
    finally:
        torch.set_rng_state(state)
    assert result.status == WRONG
    assert "global" in result.message and "make_generator(934743)" in result.message
    assert "torch.Generator().manual_seed(934743)" in result.message
    assert evaluate("00.generator", torch.Generator().manual_seed(934743)).status == SOLVED


def test_one_generator_used_for_both_canvases_is_named_not_the_seed():
    from course_utils.seeding import make_generator
    shared = make_generator(656232)
    result = evaluate("01.same_canvas", (torch.randn(3, 64, 64, generator=shared),
                                         torch.randn(3, 64, 64, generator=shared)))
    assert result.status == WRONG
    assert "one generator was used for both" in result.message and "same seed?" not in result.message
    other = evaluate("01.same_canvas", (torch.randn(3, 64, 64, generator=make_generator(656232)),
                                        torch.randn(3, 64, 64, generator=make_generator(1))))
    assert other.status == WRONG and "same seed?" in other.message


def test_flipped_signs_in_the_kl_are_named():
    flips = {
        "the −½ in front": lambda mu, lv: 0.5 * (1 + lv - mu ** 2 - lv.exp()).sum(dim=1),
        "the 1": lambda mu, lv: -0.5 * (-1 + lv - mu ** 2 - lv.exp()).sum(dim=1),
        "logvar": lambda mu, lv: -0.5 * (1 - lv - mu ** 2 - lv.exp()).sum(dim=1),
        "mu²": lambda mu, lv: -0.5 * (1 + lv + mu ** 2 - lv.exp()).sum(dim=1),
        "exp(logvar)": lambda mu, lv: -0.5 * (1 + lv - mu ** 2 + lv.exp()).sum(dim=1),
    }
    for term, kl in flips.items():
        result = evaluate("08.kl", kl)
        assert result.status == WRONG and f"sign of {term}" in result.message, (term, result.message)


def test_flipped_sign_in_one_step_x0_is_named():
    result = evaluate("09.one_step_x0", lambda x_t, v, t: x_t + t * v)
    assert result.status == WRONG and "sign of t · v" in result.message, result.message


def test_checks_raise_no_warnings_of_their_own():
    """A right answer and a wrong one (the reference's result doubled) leave no warning from the course's code:
    03.toy_loss's check printed 'Converting a tensor with requires_grad=True to a scalar' with its source line.
    torch warns some things only once a process; set_warn_always makes every call warn."""
    import warnings
    from course_utils.solutions import SOLUTIONS
    was = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        for name, build in sorted(SOLUTIONS.items()):
            ref = build()
            wrong = (lambda *a, _r=ref, **k: _r(*a, **k) * 2) if callable(ref) else 42
            for answer in (ref, wrong):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    evaluate(name, answer)
                ours = [f"{w.filename}:{w.lineno}: {w.message}" for w in caught
                        if "course_utils" in w.filename or not issubclass(w.category, DeprecationWarning)]
                assert not ours, f"{name}: {ours}"
    finally:
        torch.set_warn_always(was)
