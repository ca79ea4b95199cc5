"""Flow matching on the 2D spiral (course_utils/flow_matching.py)."""
from __future__ import annotations

import pytest
import torch

from course_utils import flow_matching as fm
from course_utils.seeding import make_generator
from course_utils.toy2d import ToyDenoiser, make_spiral


class ConstantVelocity(torch.nn.Module):
    """v(x, t) = c for every point: the exact velocity of pairs with ε − x0 = c."""

    def __init__(self, c: tuple[float, float] = (1.0, -2.0)):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(c))

    def forward(self, x, t):
        return self.c.expand_as(x)


def test_interpolate_runs_from_data_to_noise_in_a_straight_line():
    g = make_generator(0)
    x0, eps = torch.randn(5, 2, generator=g), torch.randn(5, 2, generator=g)
    assert torch.equal(fm.interpolate(x0, eps, torch.zeros(5)), x0)
    assert torch.equal(fm.interpolate(x0, eps, torch.ones(5)), eps)
    mid = fm.interpolate(x0, eps, torch.full((5,), 0.25))
    assert torch.allclose(mid, 0.75 * x0 + 0.25 * eps)


def test_loss_is_zero_for_the_exact_velocity_of_coupled_pairs():
    x0 = torch.zeros(8, 2)
    eps = torch.tensor([1.0, -2.0]).expand(8, 2)
    with torch.no_grad():
        assert float(fm.flow_matching_loss(ConstantVelocity(), (x0, eps), make_generator(0))) == 0
        assert float(fm.flow_matching_loss(ConstantVelocity((0.0, 0.0)), (x0, eps), make_generator(0))) == pytest.approx(2.5)
    # with fresh noise the loss draws ε from the generator: same generator, same loss
    a = fm.flow_matching_loss(ConstantVelocity(), x0, make_generator(3))
    assert torch.equal(a, fm.flow_matching_loss(ConstantVelocity(), x0, make_generator(3)))


def test_scheduler_grid_and_euler_step():
    s = fm.FlowMatchEulerScheduler()
    s.set_timesteps(4)
    assert torch.allclose(s.sigmas, torch.tensor([1.0, 0.75, 0.5, 0.25, 0.0]))
    assert torch.allclose(s.timesteps, torch.tensor([1000.0, 750.0, 500.0, 250.0]))
    x, v = torch.ones(3, 2), torch.full((3, 2), 2.0)
    out = s.step(v, s.timesteps[1], x)
    assert torch.allclose(out.prev_sample, x - 0.25 * v) and torch.allclose(out.pred_original_sample, x - 0.75 * v)
    with pytest.raises(ValueError, match="not one of this scheduler's timesteps"):
        s.step(v, 123.0, x)
    with pytest.raises(ValueError, match="positive int"):
        s.set_timesteps(0)


def test_scheduler_matches_diffusers_flow_match_euler_over_a_whole_loop():
    from diffusers import FlowMatchEulerDiscreteScheduler
    torch.manual_seed(0)
    net = ToyDenoiser(seed=0)
    ours, theirs = fm.FlowMatchEulerScheduler(), FlowMatchEulerDiscreteScheduler()
    ours.set_timesteps(6)
    theirs.set_timesteps(sigmas=ours.sigmas[:-1].tolist())
    assert torch.allclose(ours.timesteps, theirs.timesteps)
    x = y = torch.randn(16, 2, generator=make_generator(1))
    with torch.no_grad():
        for t_ours, t_theirs in zip(ours.timesteps, theirs.timesteps):
            x = ours.step(net(x, t_ours), t_ours, x).prev_sample
            y = theirs.step(net(y, t_theirs), t_theirs, y).prev_sample
    assert float((x - y).abs().max()) < 1e-5


def test_sampling_with_the_exact_velocity_lands_on_the_data_in_one_step():
    # all data at x0 = 0: the exact velocity at x_t is x_t / t, so one Euler step from t = 1 gives 0
    class ToOrigin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x, t):
            return x / (float(t) / fm.T_SCALE)
    pts = fm.sample_flow(ToOrigin(), 10, generator=make_generator(0), num_inference_steps=1)
    assert pts.shape == (10, 2) and float(pts.abs().max()) < 1e-6


def test_straightness():
    line = torch.linspace(0, 1, 5)[:, None, None] * torch.tensor([[3.0, 4.0]])     # [5, 1, 2]
    assert fm.straightness(line) == pytest.approx(1.0)
    corner = torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])
    assert fm.straightness(corner) == pytest.approx(2 ** 0.5 / 2)
    with pytest.raises(ValueError, match="trajectory.xs"):
        fm.straightness(torch.zeros(5, 2))


def test_velocity_read_as_x0_and_eps_and_the_ddim_update_is_the_euler_step():
    g = make_generator(4)
    x0, eps = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    t, s = 0.7, 0.4
    x_t = fm.interpolate(x0, eps, torch.full((6,), t))
    x0_hat, eps_hat = fm.x0_eps_from_velocity(x_t, eps - x0, t)
    assert torch.allclose(x0_hat, x0, atol=1e-6) and torch.allclose(eps_hat, eps, atol=1e-6)
    v = torch.randn(6, 2, generator=g)                          # any velocity, not only the true one
    x0_hat, eps_hat = fm.x0_eps_from_velocity(x_t, v, t)
    assert torch.allclose(fm.ddim_update(x0_hat, eps_hat, 1 - s, s), x_t + (s - t) * v, atol=1e-6)


def test_train_flow_reflow_pairs_and_few_step_table():
    run = fm.train_flow(30, progress=False)
    assert len(run.result.history) > 0 and run.result.steps_done == 30
    x0, eps = fm.reflow_pairs(run.model, 64, generator=make_generator(0), num_inference_steps=4)
    assert x0.shape == eps.shape == (64, 2)
    assert torch.allclose(fm.sample_flow(run.model, 64, generator=make_generator(0), num_inference_steps=4), x0,
                          atol=1e-6)                            # same noise, same Euler steps, same end points
    rerun = fm.train_flow(10, pairs=(x0, eps), progress=False)
    assert rerun.result.steps_done == 10
    with pytest.raises(ValueError, match="reflow_pairs"):
        fm.train_flow(1, pairs=(x0, eps[:3]), progress=False)
    from course_utils.toy2d import train_toy
    rows = fm.few_step_table({"flow": run.model}, train_toy(20, progress=False), steps=(1, 2), n=50)
    assert [r["steps"] for r in rows] == [1, 2] and {"flow", "DDIM (ε-model)"} <= set(rows[0])
    assert all(r["flow"] >= 0 for r in rows)


def test_flow_trajectory_records_every_step():
    run = fm.train_flow(5, progress=False)
    traj = fm.flow_trajectory(run.model, 7, generator=make_generator(0), num_inference_steps=3)
    assert traj.xs.shape == (4, 7, 2) and traj.pred_x0.shape == (3, 7, 2)


def test_training_paths_are_lines_for_flow_and_arcs_for_ddpm():
    g = make_generator(0)
    x0, eps = make_spiral(20, g), torch.randn(20, 2, generator=g)
    lines = fm.training_paths(x0, eps)
    assert lines.shape == (51, 20, 2) and fm.straightness(lines) == pytest.approx(1.0)
    from course_utils.schedules import make_schedule
    arcs = fm.training_paths(x0, eps, make_schedule("squaredcos_cap_v2").alphas_cumprod)
    assert torch.allclose(arcs[0], x0, atol=0.05) and fm.straightness(arcs) < 0.99
