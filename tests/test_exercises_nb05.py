"""Notebook 05's exercises beyond tests/test_exercises.py (which runs every reference solution and placeholder):
the references agree with the course's scheduler and sampler, and the likely mistakes get their own hint."""
import pytest
import torch

from course_utils.exercises import WRONG, evaluate
from course_utils.solutions import SOLUTIONS

def test_ddim_step_matches_the_course_scheduler():
    """The reference step equals one step of course_utils.schedulers.DDIMScheduler (η = 0, no clipping)."""
    from course_utils.schedulers import DDIMScheduler
    scheduler = DDIMScheduler(beta_schedule="squaredcos_cap_v2", clip_sample=False, timestep_spacing="trailing")
    scheduler.set_timesteps(25)
    g = torch.Generator().manual_seed(0)
    x_t, eps = torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 3, 8, 8, generator=g)
    t = int(scheduler.timesteps[3])
    a_t, a_prev = scheduler.alphas_cumprod[t], scheduler.alphas_cumprod[t - 40]
    ours = SOLUTIONS["05.ddim_step"]()(x_t, eps, float(a_t), float(a_prev))
    assert torch.allclose(ours, scheduler.step(eps, t, x_t).prev_sample, atol=1e-5)


@pytest.mark.parametrize("wrong", [
    lambda x_t, eps, a_t, a_prev: a_prev ** 0.5 * x_t + (1 - a_prev) ** 0.5 * eps,             # x_t taken for x̂0
    lambda x_t, eps, a_t, a_prev: ((x_t - (1 - a_t) ** 0.5 * eps) / a_t ** 0.5),               # stops at x̂0
    lambda x_t, eps, a_t, a_prev: a_t ** 0.5 * ((x_t - (1 - a_prev) ** 0.5 * eps) / a_prev ** 0.5)
    + (1 - a_t) ** 0.5 * eps,                                                                   # ᾱ_t and ᾱ_prev swapped
    lambda x_t, eps, a_t, a_prev: x_t[:1],                                                      # wrong shape
])
def test_wrong_ddim_steps_fail(wrong):
    assert evaluate("05.ddim_step", wrong).status == WRONG


def test_wrong_timesteps_fail_with_the_right_hint():
    result = evaluate("05.ddim_timesteps", list(range(99, 1000, 100)))
    assert result.status == WRONG and "largest timestep" in result.message
    result = evaluate("05.ddim_timesteps", list(range(900, -1, -100)))      # "leading" spacing
    assert result.status == WRONG and "leading" in result.message
    assert evaluate("05.ddim_timesteps", list(range(999, 0, -40))).status == WRONG   # 25 steps, not 10


def test_wrong_call_counts_fail_with_the_right_hint():
    assert "number of steps" in evaluate("05.network_calls", 10).message
    assert "one call fewer" in evaluate("05.network_calls", 20).message
    for wrong in (25, 19.0, True, "19"):
        assert evaluate("05.network_calls", wrong).status == WRONG


def test_call_count_is_measured_not_assumed():
    """19 is what the course's sampling loop really does with KDPM2-ancestral at 10 steps."""
    from diffusers import KDPM2AncestralDiscreteScheduler
    scheduler = KDPM2AncestralDiscreteScheduler()
    scheduler.set_timesteps(10)
    assert len(scheduler.timesteps) == SOLUTIONS["05.network_calls"]() == 19
