"""The 2D toy: seeded data, a small ε-MLP that learns the spiral in seconds, and a quality test that can fail."""
import matplotlib
import pytest
import torch

from course_utils.schedulers import DDPMScheduler
from course_utils.seeding import make_generator
from course_utils.toy2d import (SPIRAL_NOISE, ToyDenoiser, ToyRun, diffusion_loss, distance_to_spiral,
                                energy_distance, in_support_share, make_spiral, sample_points, sample_quality, score_field, single_thread,
                                spiral_curve,
                                timestep_embedding, toy_trajectory, train_toy)

# The pass mark. Fresh data scores ≈ 1.0 and ≈ 0.0004; a Gaussian with the data's mean and covariance
# scores ≈ 0.44 and ≈ 0.02, so passing needs the spiral's shape, not only its spread.
MIN_IN_SUPPORT, MAX_ENERGY = 0.8, 0.01


def passes(points) -> bool:
    q = sample_quality(points, make_generator(3))
    return q["in_support"] >= MIN_IN_SUPPORT and q["energy_distance"] <= MAX_ENERGY


@pytest.fixture(scope="module")
def run() -> ToyRun:
    return train_toy(seed=0, progress=False, device="cpu")        # fast mode: pick(2000, 600) steps


def test_spiral_is_seeded_and_on_the_curve():
    a, b = make_spiral(500, make_generator(1)), make_spiral(500, make_generator(1))
    assert a.shape == (500, 2) and torch.equal(a, b)
    assert not torch.equal(a, make_spiral(500, make_generator(2)))
    assert in_support_share(a) > 0.99
    assert float(distance_to_spiral(a).mean()) == pytest.approx(SPIRAL_NOISE * (2 / torch.pi) ** 0.5, rel=0.15)  # E|N(0, σ²)|
    with pytest.raises(ValueError, match="positive int"):
        make_spiral(0, make_generator(1))


def test_distance_and_energy_distance():
    curve = spiral_curve(torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(curve.norm(dim=1), torch.tensor([0.2, 0.6, 1.0]))
    assert distance_to_spiral(curve).max() < 1e-3
    assert float(distance_to_spiral(torch.tensor([[-3.0, 0.0]]))) == pytest.approx(2.0, abs=1e-3)   # the end (−1, 0)
    x = make_spiral(400, make_generator(0))
    assert energy_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    y = make_spiral(400, make_generator(1))
    assert energy_distance(x, y) == pytest.approx(energy_distance(y, x), abs=1e-6)
    assert energy_distance(x, y + 0.5) > 10 * energy_distance(x, y)


def test_time_embedding_and_model_shapes():
    e = timestep_embedding(torch.tensor([0, 10, 999]), 32)
    assert e.shape == (3, 32) and torch.equal(e[0, :16], torch.zeros(16)) and torch.equal(e[0, 16:], torch.ones(16))
    m = ToyDenoiser()
    x = torch.randn(5, 2, generator=make_generator(0))
    assert m(x, torch.tensor(7)).shape == (5, 2)
    assert torch.equal(m(x, torch.tensor(7)), m(x, torch.full((5,), 7)))      # one t or one per point
    assert all(torch.equal(p, q) for p, q in zip(m.parameters(), ToyDenoiser().parameters()))   # seeded init
    assert not torch.equal(m.net[0].weight, ToyDenoiser(seed=1).net[0].weight)
    with pytest.raises(ValueError, match=r"\[B, 2\]"):
        m(torch.zeros(5, 3), 0)


def test_loss_draws_everything_from_its_generator():
    loss = diffusion_loss(DDPMScheduler().alphas_cumprod)
    m, x0 = ToyDenoiser(), make_spiral(64, make_generator(0))
    with torch.no_grad():
        assert float(loss(m, x0, make_generator(5))) == float(loss(m, x0, make_generator(5)))
        assert float(loss(m, x0, make_generator(5))) != float(loss(m, x0, make_generator(6)))
    zero = lambda x, t: torch.zeros_like(x)                    # noqa: E731  predicting 0 costs E‖ε‖²/2 = 1
    assert float(loss(zero, make_spiral(4096, make_generator(0)), make_generator(1))) == pytest.approx(1.0, abs=0.05)


def test_trained_model_draws_the_spiral_and_untrained_does_not(run):
    steps, losses = run.result.losses()
    assert losses[-1] < 0.7 * losses[0]
    trained = sample_points(run.model, run.scheduler("ddpm"), 1000, generator=make_generator(934743))
    assert trained.shape == (1000, 2) and passes(trained)
    # notebook 03 samples its 1000 points with all 1000 DDPM steps: that chain passes the same bar
    assert passes(sample_points(run.model, run.scheduler("ddpm"), 1000, generator=make_generator(934743),
                                num_inference_steps=1000))
    untrained = sample_points(ToyDenoiser(), run.scheduler("ddpm"), 1000, generator=make_generator(934743))
    assert not passes(untrained)
    data = make_spiral(2000, make_generator(1))
    gaussian = data.mean(0) + torch.randn(1000, 2, generator=make_generator(4)) @ torch.linalg.cholesky(torch.cov(data.T)).T
    assert not passes(gaussian)


def test_ddim_paths_are_deterministic_and_differ_from_ddpm(run):
    ddim = [toy_trajectory(run.model, run.scheduler("ddim"), 50, generator=make_generator(7), num_inference_steps=20)
            for _ in range(2)]
    assert ddim[0].xs.shape == (21, 50, 2) and ddim[0].pred_x0.shape == (20, 50, 2)
    assert torch.equal(ddim[0].xs, ddim[1].xs)
    ddpm = toy_trajectory(run.model, run.scheduler("ddpm"), 50, generator=make_generator(7), num_inference_steps=20)
    assert torch.equal(ddpm.xs[0], ddim[0].xs[0])              # same seed, same start
    assert not torch.allclose(ddpm.final, ddim[0].final)
    with pytest.raises(ValueError, match="'ddpm' or 'ddim'"):
        run.scheduler("euler")


def test_score_points_back_to_the_data(run):
    a_bar = run.scheduler().alphas_cumprod
    grid, score = score_field(run.model, a_bar, 300, size=11, lim=1.5)
    assert grid.shape == score.shape == (121, 2)
    outer = grid.norm(dim=1) > 1.3                              # outside the spiral: arrows point inwards
    cos = torch.nn.functional.cosine_similarity(score[outer], -grid[outer], dim=1)
    assert float(cos.mean()) > 0.8
    with pytest.raises(ValueError, match="out of range"):
        score_field(run.model, a_bar, 1000)


def test_single_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError):
        with single_thread():
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before
