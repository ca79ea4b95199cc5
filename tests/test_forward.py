"""Forward diffusion: the closed form equals diffusers' add_noise and the step-by-step chain in law."""
import diffusers
import pytest
import torch

from course_utils.forward import (check_timesteps, extract, gaussian_noise, noise_step_by_step, q_sample,
                                  q_step)
from course_utils.schedules import KNOWN_SCHEDULES, make_schedule
from course_utils.seeding import make_generator


def _x0(shape=(4, 3, 8, 8)):
    n = torch.Size(shape).numel()
    return torch.arange(n, dtype=torch.float32).reshape(shape) / n * 2 - 1


@pytest.mark.parametrize("name", KNOWN_SCHEDULES)
def test_q_sample_equals_diffusers_add_noise(name):
    sched = diffusers.DDPMScheduler(beta_schedule=name)
    x0 = _x0()
    noise = torch.randn(x0.shape, generator=make_generator(0))
    t = torch.tensor([0, 10, 500, 999])
    ours = q_sample(x0, t, make_schedule(name).alphas_cumprod, noise)
    theirs = sched.add_noise(x0, noise, t)
    assert (ours - theirs).abs().max() < 1e-6


def test_q_sample_formula_with_int_timestep_and_generator():
    a = make_schedule("linear").alphas_cumprod
    x0 = _x0((2, 5))
    out = q_sample(x0, 300, a, generator=make_generator(7))
    eps = torch.randn(2, 5, generator=make_generator(7))
    assert torch.allclose(out, a[300].sqrt() * x0 + (1 - a[300]).sqrt() * eps)
    assert torch.equal(out, q_sample(x0, 300, a, generator=make_generator(7)))   # same seed, same x_t
    assert not torch.equal(out, q_sample(x0, 300, a, generator=make_generator(8)))


def test_step_by_step_matches_closed_form_in_distribution():
    s = make_schedule("linear", 200, 1e-3, 0.05)
    x0 = torch.full((20000,), 0.8)
    out = noise_step_by_step(x0, s.betas, 150, generator=make_generator(1), keep=(20, 150))
    for t, x in out.items():
        a = s.alpha_bar(t)
        assert float(x.mean()) == pytest.approx(a**0.5 * 0.8, abs=0.02)   # mean √ᾱ_t·x_0
        assert float(x.var()) == pytest.approx(1 - a, abs=0.03)            # variance 1 − ᾱ_t


def test_q_step_formula():
    betas = torch.tensor([0.1, 0.3])
    x, e = torch.ones(3), torch.tensor([0.0, 1.0, -1.0])
    assert torch.allclose(q_step(x, 1, betas, e), 0.7**0.5 * x + 0.3**0.5 * e)
    chain = noise_step_by_step(x, betas, 1, generator=make_generator(3))
    g = make_generator(3)
    manual = q_step(q_step(x, 0, betas, generator=g), 1, betas, generator=g)
    assert torch.equal(chain[1], manual)


def test_extract_broadcasts_per_sample():
    v = torch.tensor([1.0, 2.0, 3.0])
    out = extract(v, torch.tensor([2, 0]), torch.zeros(2, 3, 4, 4))
    assert out.shape == (2, 1, 1, 1) and out.flatten().tolist() == [3.0, 1.0]
    assert extract(v, torch.tensor(1), torch.zeros(5)).shape == ()


@pytest.mark.parametrize("t", [1000, -1, torch.tensor([0, 1000])])
def test_timestep_out_of_range(t):
    with pytest.raises(ValueError, match="out of range"):
        q_sample(_x0(), t, make_schedule().alphas_cumprod, torch.zeros(4, 3, 8, 8))


def test_bad_timesteps_and_shapes_fail_clearly():
    a = make_schedule().alphas_cumprod
    x0 = _x0()
    with pytest.raises(ValueError, match="one timestep per sample"):
        q_sample(x0, torch.tensor([1, 2, 3]), a, torch.zeros_like(x0))
    with pytest.raises(TypeError, match="integers"):
        check_timesteps(torch.tensor([0.5]), 1000)
    with pytest.raises(ValueError, match="noise must have the sample's shape"):
        q_sample(x0, 5, a, torch.zeros(4, 3, 8, 7))
    with pytest.raises(ValueError, match="exactly one of noise= .* or generator="):
        q_sample(x0, 5, a)
    with pytest.raises(ValueError, match="1-D"):
        q_sample(x0, 5, a[None], torch.zeros_like(x0))
    with pytest.raises(TypeError, match="floating-point"):
        q_step(torch.ones(3, dtype=torch.long), 0, torch.ones(3) * 0.1, torch.zeros(3))


def test_gaussian_noise_needs_a_cpu_generator():
    assert torch.equal(gaussian_noise((2, 3), make_generator(5)), torch.randn(2, 3, generator=make_generator(5)))
    with pytest.raises(TypeError, match="make_generator"):
        gaussian_noise((2,), 5)

    class CudaGenerator(torch.Generator):   # a real cuda generator needs a GPU; this one only says it is one
        @property
        def device(self):
            return torch.device("cuda")
    fake = CudaGenerator()
    with pytest.raises(ValueError, match="draws all noise on the CPU"):
        gaussian_noise((2,), fake)


def test_keep_must_lie_in_the_chain():
    with pytest.raises(ValueError, match="keep holds timestep 5"):
        noise_step_by_step(torch.zeros(2), torch.full((10,), 0.1), 3, generator=make_generator(0), keep=(5,))


@pytest.mark.parametrize("shape, dtype, error, match", [
    ((2, -1), torch.float32, ValueError, "shape must be a tuple of ints ≥ 0"),
    ((2, True), torch.float32, ValueError, "shape must be"),
    (5, torch.float32, ValueError, "shape must be"),
    ((2, 3), torch.long, TypeError, "floating-point dtype"),
])
def test_gaussian_noise_refuses_bad_shapes_and_dtypes(shape, dtype, error, match):
    with pytest.raises(error, match=match):
        gaussian_noise(shape, make_generator(0), dtype=dtype)
