"""Schedules equal diffusers' to the bit, and behave as the course says they do."""
import diffusers
import pytest
import torch

from course_utils.schedules import (KNOWN_SCHEDULES, SD_BETA_END, SD_BETA_START, NoiseSchedule,
                                    alphas_cumprod_from_betas, make_betas, make_schedule, sigmas_from_alphas_cumprod,
                                    snr)

RANGES = {"linear": (1e-4, 0.02), "scaled_linear": (SD_BETA_START, SD_BETA_END), "squaredcos_cap_v2": (1e-4, 0.02)}


@pytest.mark.parametrize("name", KNOWN_SCHEDULES)
@pytest.mark.parametrize("T", [1000, 64, 3])
def test_schedules_equal_diffusers_bit_for_bit(name, T):
    start, end = RANGES[name]
    ours = make_schedule(name, T, start, end)
    theirs = diffusers.DDPMScheduler(num_train_timesteps=T, beta_start=start, beta_end=end, beta_schedule=name)
    assert ours.betas.dtype == torch.float32 and ours.betas.shape == (T,)
    assert torch.equal(ours.betas, theirs.betas)
    assert torch.equal(ours.alphas_cumprod, theirs.alphas_cumprod)


@pytest.mark.parametrize("name", KNOWN_SCHEDULES)
def test_alpha_bar_falls_from_one_towards_zero_and_snr_too(name):
    s = make_schedule(name, 1000, *RANGES[name])
    a = s.alphas_cumprod
    assert (a[1:] < a[:-1]).all()                      # strictly less signal at every step
    assert 0.99 < float(a[0]) < 1.0 and float(a[-1]) < 0.01
    assert (s.snr[1:] < s.snr[:-1]).all()
    assert torch.allclose(s.sigmas, s.snr.rsqrt())
    assert torch.allclose(s.alphas, 1 - s.betas)


def test_cosine_betas_are_capped_and_linear_endpoints_hold():
    cos = make_betas("squaredcos_cap_v2", 1000)
    assert float(cos.max()) == pytest.approx(0.999)
    lin = make_betas("linear", 1000, 1e-4, 0.02)
    assert float(lin[0]) == pytest.approx(1e-4) and float(lin[-1]) == pytest.approx(0.02)
    sl = make_betas("scaled_linear", 1000, SD_BETA_START, SD_BETA_END)
    assert float(sl[0]) == pytest.approx(SD_BETA_START) and float(sl[-1]) == pytest.approx(SD_BETA_END)
    assert float(sl[500]) < (SD_BETA_START + SD_BETA_END) / 2     # √β is linear, so β bends below the chord


def test_known_values():
    s = make_schedule("linear", 1000)
    assert s.alpha_bar(0) == pytest.approx(1 - 1e-4)
    assert s.alpha_bar(999) == pytest.approx(4.04e-5, rel=0.01)
    assert float(make_schedule("squaredcos_cap_v2").snr[500]) == pytest.approx(0.97, abs=0.02)   # cosine: SNR≈1 mid-way


def test_helpers_compute_the_formulas():
    betas = torch.tensor([0.1, 0.2, 0.5])
    a = alphas_cumprod_from_betas(betas)
    assert torch.allclose(a, torch.tensor([0.9, 0.72, 0.36]))
    assert torch.allclose(snr(a), torch.tensor([9.0, 0.72 / 0.28, 0.36 / 0.64]))
    assert torch.allclose(sigmas_from_alphas_cumprod(a), (1 / snr(a)).sqrt())
    assert isinstance(make_schedule(), NoiseSchedule) and make_schedule().num_train_timesteps == 1000


def test_unknown_schedule_lists_the_known_ones():
    with pytest.raises(ValueError, match="Known schedules: linear, scaled_linear, squaredcos_cap_v2"):
        make_betas("cosine")


@pytest.mark.parametrize("kwargs", [dict(num_train_timesteps=0), dict(num_train_timesteps=10.0),
                                    dict(beta_start=0.02, beta_end=0.01), dict(beta_end=1.0)])
def test_bad_schedule_arguments_fail_early(kwargs):
    with pytest.raises(ValueError):
        make_schedule("linear", **kwargs)


def test_alpha_bar_checks_the_range():
    s = make_schedule("linear", 10)
    with pytest.raises(ValueError, match=r"t must be an int in \[0, 9\]"):
        s.alpha_bar(10)
    with pytest.raises(ValueError):
        alphas_cumprod_from_betas(torch.ones(2, 2))


@pytest.mark.parametrize("betas", [torch.tensor([-0.1, 0.2]), torch.tensor([1.5, 0.2]), torch.tensor([float("nan"), 0.2]),
                                   torch.tensor([0, 1])])
def test_betas_outside_zero_one_are_refused(betas):
    # 1 − β outside [0, 1] used to give ᾱ above 1 or below 0 without a word
    with pytest.raises(ValueError, match="betas must be floats in"):
        alphas_cumprod_from_betas(betas)
