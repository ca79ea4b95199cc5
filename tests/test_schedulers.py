"""The course's schedulers equal diffusers' (diffusers' own test style: torch.arange inputs, a dummy
model with a simple formula, a seeded CPU generator, whole sampling loops, one summary number)."""
import diffusers
import numpy as np
import pytest
import torch

from course_utils.schedulers import (DDIMScheduler, DDPMScheduler, EulerDiscreteScheduler, SchedulerOutput,
                                     format_error, gaussian_ideal_eps, gaussian_ode_end, gaussian_toy_errors,
                                     parity_errors)
from course_utils.seeding import make_generator

SCHEDULES = {"linear": dict(beta_schedule="linear"),
             "scaled_linear": dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
             "squaredcos_cap_v2": dict(beta_schedule="squaredcos_cap_v2")}
PAIRS = [(DDPMScheduler, diffusers.DDPMScheduler), (DDIMScheduler, diffusers.DDIMScheduler),
         (EulerDiscreteScheduler, diffusers.EulerDiscreteScheduler)]
TOL = 1e-5


def dummy_sample_deter(shape=(4, 3, 8, 8)):
    """A fixed sample in [-1, 1] made from torch.arange, as in diffusers' scheduler tests."""
    n = torch.Size(shape).numel()
    return torch.arange(n, dtype=torch.float32).flip(0).reshape(shape) / n * 2 - 1


def dummy_model(sample, t):
    return sample * t / (t + 1)


def full_loop(scheduler, n, eta=None, seed=0):
    """diffusers' test loop: a whole sampling run from the fixed sample."""
    g = make_generator(seed)
    scheduler.set_timesteps(n)
    x = dummy_sample_deter() * scheduler.init_noise_sigma
    kwargs = {} if eta is None else {"eta": eta}
    for t in scheduler.timesteps:
        x_in = scheduler.scale_model_input(x, t)
        x = scheduler.step(dummy_model(x_in, t), t, x, generator=g, **kwargs).prev_sample
    return x


def max_err(a, b):
    err = float((a - b).abs().max())
    assert err == err, "NaN in an output"
    return err


@pytest.mark.parametrize("ours_cls, theirs_cls", PAIRS)
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
def test_same_alphas_cumprod_timesteps_and_sigmas(ours_cls, theirs_cls, schedule, spacing):
    ours = ours_cls(timestep_spacing=spacing, **SCHEDULES[schedule])
    theirs = theirs_cls.from_config(ours.config)           # our config is a valid diffusers config
    assert torch.equal(ours.alphas_cumprod, theirs.alphas_cumprod)
    for n in (1, 7, 10, 50, 999, 1000):
        ours.set_timesteps(n)
        theirs.set_timesteps(n)
        assert torch.equal(ours.timesteps, theirs.timesteps), (n, ours.timesteps[:5], theirs.timesteps[:5])
        if ours_cls is EulerDiscreteScheduler:
            assert torch.equal(ours.sigmas, theirs.sigmas)
            assert float(ours.init_noise_sigma) == float(theirs.init_noise_sigma)


@pytest.mark.parametrize("ours_cls, theirs_cls", PAIRS)
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("n", [10, 50])
def test_full_loop_equals_diffusers(ours_cls, theirs_cls, schedule, prediction_type, n):
    ours = ours_cls(prediction_type=prediction_type, **SCHEDULES[schedule])
    theirs = theirs_cls.from_config(ours.config)
    a, b = full_loop(ours, n), full_loop(theirs, n)
    assert max_err(a, b) <= TOL
    assert float(a.abs().sum()) == pytest.approx(float(b.abs().sum()), rel=1e-5)   # the summary number


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
def test_ddpm_thousand_steps_with_noise_equals_diffusers(schedule, prediction_type):
    ours = DDPMScheduler(prediction_type=prediction_type, **SCHEDULES[schedule])
    theirs = diffusers.DDPMScheduler.from_config(ours.config)
    assert max_err(full_loop(ours, 1000), full_loop(theirs, 1000)) <= TOL


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_ddim_eta_equals_diffusers(eta, schedule):
    ours = DDIMScheduler(**SCHEDULES[schedule])
    theirs = diffusers.DDIMScheduler.from_config(ours.config)
    a, b = full_loop(ours, 25, eta=eta), full_loop(theirs, 25, eta=eta)
    assert max_err(a, b) <= TOL
    if eta > 0:   # noise really was added: another seed gives another result
        assert max_err(a, full_loop(DDIMScheduler(**SCHEDULES[schedule]), 25, eta=eta, seed=1)) > 1e-3


@pytest.mark.parametrize("ours_cls, theirs_cls, extra", [
    (DDPMScheduler, diffusers.DDPMScheduler, dict(clip_sample=False)),
    (DDPMScheduler, diffusers.DDPMScheduler, dict(variance_type="fixed_large", timestep_spacing="trailing")),
    (DDPMScheduler, diffusers.DDPMScheduler, dict(steps_offset=1, clip_sample_range=0.5)),
    (DDIMScheduler, diffusers.DDIMScheduler, dict(clip_sample=False, set_alpha_to_one=False)),
    (DDIMScheduler, diffusers.DDIMScheduler, dict(timestep_spacing="trailing", steps_offset=1)),
    (EulerDiscreteScheduler, diffusers.EulerDiscreteScheduler, dict(timestep_spacing="leading", steps_offset=1)),
    (EulerDiscreteScheduler, diffusers.EulerDiscreteScheduler, dict(timestep_spacing="trailing")),
])
def test_options_equal_diffusers(ours_cls, theirs_cls, extra):
    ours = ours_cls(**SCHEDULES["scaled_linear"], **extra)
    theirs = theirs_cls.from_config(ours.config)
    # diffusers' DDIM steps to t − T//n, right only when n divides T (see test_every_n_gives_n_timesteps...)
    for n in ((4, 40) if ours_cls is DDIMScheduler else (4, 30)):
        assert max_err(full_loop(ours, n), full_loop(theirs, n)) <= TOL


@pytest.mark.parametrize("ours_cls, theirs_cls", PAIRS)
def test_every_single_step_equals_diffusers(ours_cls, theirs_cls):
    ours, theirs = ours_cls(prediction_type="v_prediction"), theirs_cls(prediction_type="v_prediction")
    ours.set_timesteps(20)
    theirs.set_timesteps(20)
    g = make_generator(3)
    for t in ours.timesteps:
        x, out = torch.randn(2, 3, 5, 5, generator=g), torch.randn(2, 3, 5, 5, generator=g)
        x_ours, x_theirs = ours.scale_model_input(x, t), theirs.scale_model_input(x, t)
        assert max_err(x_ours, x_theirs) == 0
        a = ours.step(out, t, x, generator=make_generator(1))
        b = theirs.step(out, t, x, generator=make_generator(1))
        assert isinstance(a, SchedulerOutput)
        assert max_err(a.prev_sample, b.prev_sample) <= TOL
        assert max_err(a.pred_original_sample, b.pred_original_sample) <= TOL


@pytest.mark.parametrize("ours_cls, theirs_cls", PAIRS)
def test_add_noise_equals_diffusers(ours_cls, theirs_cls):
    ours, theirs = ours_cls(), theirs_cls()
    ours.set_timesteps(10)
    theirs.set_timesteps(10)
    x0, noise = dummy_sample_deter(), torch.randn(4, 3, 8, 8, generator=make_generator(0))
    t = ours.timesteps[[0, 3, 5, 9]]
    assert max_err(ours.add_noise(x0, noise, t), theirs.add_noise(x0, noise, t)) <= 1e-6


def test_ddim_eta_zero_is_deterministic_and_ddpm_is_not():
    ddim = DDIMScheduler()
    assert torch.equal(full_loop(ddim, 10, seed=0), full_loop(ddim, 10, seed=1))
    ddpm = DDPMScheduler()
    assert not torch.equal(full_loop(ddpm, 10, seed=0), full_loop(ddpm, 10, seed=1))


@pytest.mark.parametrize("cls", [DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler])
def test_clear_errors(cls):
    s = cls()
    x = dummy_sample_deter()
    for bad in (0, -3, 1001, 2.5, True):
        with pytest.raises(ValueError, match="num_inference_steps must be an int in \\[1, 1000\\]"):
            s.set_timesteps(bad)
    s.set_timesteps(10)
    with pytest.raises(ValueError, match="out of range"):
        s.step(x, 1000, x)
    with pytest.raises(ValueError, match="not in this scheduler's schedule"):
        s.step(x, 37, x)
    with pytest.raises(ValueError, match="model_output has shape \\(4, 3, 8, 7\\) but sample has shape"):
        s.step(x[..., :7], s.timesteps[0], x)
    with pytest.raises(ValueError, match="Known schedules"):
        cls(beta_schedule="cosine")
    with pytest.raises(ValueError, match="Unknown prediction_type 'sample'"):
        cls(prediction_type="sample")
    with pytest.raises(ValueError, match="Unknown timestep_spacing"):
        cls(timestep_spacing="even")
    with pytest.raises(TypeError):
        cls(thresholding=True)                          # an option we do not implement fails at once


def test_noisy_steps_need_a_generator_and_ddim_needs_set_timesteps():
    x = dummy_sample_deter()
    with pytest.raises(ValueError, match="set_timesteps"):
        DDIMScheduler().step(x, 999, x)
    ddpm = DDPMScheduler()
    with pytest.raises(ValueError, match="generator=make_generator"):
        ddpm.step(x, 999, x)
    ddim = DDIMScheduler()
    ddim.set_timesteps(10)
    with pytest.raises(ValueError, match="generator=make_generator"):
        ddim.step(x, 900, x, eta=1.0)
    with pytest.raises(ValueError, match="eta must be"):
        ddim.step(x, 900, x, eta=-1)
    with pytest.raises(ValueError, match="steps_offset=1 pushes"):
        DDIMScheduler(steps_offset=1).set_timesteps(1000)
    with pytest.raises(ValueError, match="needs the timestep"):
        EulerDiscreteScheduler().scale_model_input(x)


def test_parity_errors_report_and_format():
    errors = parity_errors(steps=(5,))
    assert set(errors) == {"DDPM", "DDIM (eta=0)", "DDIM (eta=1)", "Euler"}
    assert all(e <= TOL for e in errors.values())
    assert format_error(3e-7) == "< 1e-05"
    assert format_error(2e-3).startswith("2.00e-03 (above")
    assert format_error(float("nan")).startswith("nan")


@pytest.mark.parametrize("cls", [DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler])
@pytest.mark.parametrize("spacing", ["leading", "trailing", "linspace"])
@pytest.mark.parametrize("T", [7, 50, 1000])
def test_every_n_gives_n_distinct_timesteps_and_a_whole_loop(cls, spacing, T):
    # trailing spacing used to give n+1 timesteps ending at −1 for many (T, n), e.g. T = 50, n = 29,
    # and step() then refused the last one, so samplers.sample crashed
    scheduler = cls(num_train_timesteps=T, timestep_spacing=spacing)
    for n in range(1, T + 1):
        scheduler.set_timesteps(n)
        ts = scheduler.timesteps
        assert len(ts) == n and bool((ts[1:] < ts[:-1]).all()), (n, ts)
        assert 0 <= float(ts.min()) and float(ts.max()) <= T - 1, (n, ts)
        if T <= 50:
            x = full_loop(scheduler, n)
            assert bool(torch.isfinite(x).all()), n


@pytest.mark.parametrize("T, n", [(50, 29), (1000, 30), (50, 7), (1000, 999)])
def test_ddim_ends_clean_and_departs_from_diffusers_only_where_it_is_wrong(T, n):
    ours = DDIMScheduler(num_train_timesteps=T, timestep_spacing="trailing", clip_sample=False)
    theirs = diffusers.DDIMScheduler.from_config(ours.config)
    ours.set_timesteps(n)
    theirs.set_timesteps(n)
    assert len(ours.timesteps) == n and len(theirs.timesteps) in (n, n + 1)
    x = dummy_sample_deter()
    last = ours.step(dummy_model(x, 3.0), ours.timesteps[-1], x)
    assert torch.equal(last.prev_sample, last.pred_original_sample)      # the last step lands on x̂_0 (ᾱ = 1)
    if T % n == 0:                                                       # diffusers is right here: equal loops
        assert max_err(full_loop(ours, n), full_loop(theirs, n)) <= TOL


def _random_configs(count=150, seed=27):
    """Seeded random (T, n, spacing, steps_offset), plus the cases where rounding ties once departed."""
    rng = np.random.default_rng(seed)
    named = [(50, 12, "trailing", 0), (1000, 48, "trailing", 0), (1000, 96, "trailing", 0), (7, 6, "trailing", 0),
             (50, 29, "trailing", 0), (1000, 30, "trailing", 0), (1000, 999, "linspace", 0), (1000, 30, "leading", 1)]
    for _ in range(count):
        T = int(rng.integers(2, 1201))
        n = int(rng.integers(1, T + 1))
        spacing = str(rng.choice(["leading", "trailing", "linspace"]))
        offset = int(spacing == "leading" and (n - 1) * (T // n) + 1 <= T - 1 and rng.integers(2))
        named.append((T, n, spacing, offset))
    return named


@pytest.mark.parametrize("ours_cls, theirs_cls", PAIRS)
def test_timesteps_equal_diffusers_over_random_configs(ours_cls, theirs_cls):
    # "trailing" takes diffusers' own np.arange values (so .5 ties round as there: T = 50, n = 12 → 12, not 11),
    # cut to n where diffusers' arange gives n+1 ending at −1
    for T, n, spacing, offset in _random_configs():
        ours = ours_cls(num_train_timesteps=T, timestep_spacing=spacing, steps_offset=offset)
        theirs = theirs_cls.from_config(ours.config)
        ours.set_timesteps(n)
        theirs.set_timesteps(n)
        assert len(ours.timesteps) == n and len(theirs.timesteps) in (n, n + 1), (T, n, spacing)
        assert torch.equal(ours.timesteps, theirs.timesteps[:n]), (T, n, spacing, offset)
        if len(theirs.timesteps) == n + 1:                                   # the one extra entry is always −1
            assert spacing == "trailing" and int(theirs.timesteps[-1]) == -1, (T, n, spacing)


def _next_entry_is_diffusers_step(T, n, spacing, offset=0):
    """Whether DDIM's next entry equals diffusers' t − T//n (−1 once negative) at every step."""
    s = DDIMScheduler(num_train_timesteps=T, timestep_spacing=spacing, steps_offset=offset)
    s.set_timesteps(n)
    ts = s.timesteps.tolist()
    return all(max(t - T // n, -1) == (ts[i + 1] if i + 1 < n else -1) for i, t in enumerate(ts))


@pytest.mark.parametrize("T", [7, 50, 1000])
def test_ddim_next_entry_is_diffusers_step_only_on_evenly_spaced_timesteps(T):
    # the docstring's account of where the two rules agree, checked for every n
    for n in range(1, T + 1):
        assert _next_entry_is_diffusers_step(T, n, "leading"), n
        assert _next_entry_is_diffusers_step(T, n, "trailing") == (T % n == 0), n
        assert _next_entry_is_diffusers_step(T, n, "linspace") == (n in (1, T)), n
    assert not _next_entry_is_diffusers_step(1000, 600, "leading", offset=1)   # steps_offset ≥ T//n = 1


def _ddim_hand(x, eps, a_t, a_prev):
    """DDIM eq. 12 with η = 0: x_{t'} = √ᾱ_{t'} (x − √(1−ᾱ_t) ε̂) / √ᾱ_t + √(1−ᾱ_{t'}) ε̂."""
    return a_prev**0.5 * (x - (1 - a_t) ** 0.5 * eps) / a_t**0.5 + (1 - a_prev) ** 0.5 * eps


@pytest.mark.parametrize("spacing, n, even", [("leading", 30, True), ("trailing", 40, True), ("linspace", 1000, True),
                                              ("linspace", 10, False), ("trailing", 30, False)])
def test_ddim_steps_to_the_next_entry_and_equals_diffusers_where_spacing_is_even(spacing, n, even):
    ours = DDIMScheduler(timestep_spacing=spacing, clip_sample=False)
    theirs = diffusers.DDIMScheduler.from_config(ours.config)
    ours.set_timesteps(n)
    theirs.set_timesteps(n)
    if even:   # the two rules are one rule: whole loops agree, with and without noise
        for eta in (0.0, 1.0):
            assert max_err(full_loop(ours, n, eta), full_loop(theirs, n, eta)) <= TOL
        return
    ac, ts = ours.alphas_cumprod, ours.timesteps.tolist()
    x, eps = dummy_sample_deter(), torch.cos(3 * dummy_sample_deter())
    departed = 0
    for i, t in enumerate(ts[:-1]):
        mine, diff = ours.step(eps, t, x).prev_sample, theirs.step(eps, t, x).prev_sample
        assert max_err(mine, _ddim_hand(x, eps, ac[t], ac[ts[i + 1]])) <= TOL          # ᾱ of the next entry
        assert max_err(diff, _ddim_hand(x, eps, ac[t], ac[t - 1000 // n])) <= TOL      # diffusers: ᾱ_{t − T//n}
        departed += ts[i + 1] != t - 1000 // n and max_err(mine, diff) > 1e-3
    assert departed >= 1 and (spacing != "linspace" or departed == n - 1)           # linspace: every step


def test_gaussian_toy_ideal_eps_is_the_posterior_mean_of_the_noise():
    # E[ε | x_t] is the least-squares guess: its residual has mean 0 and is uncorrelated with x_t
    g, mean, std, a = make_generator(1), 0.5, 0.3, torch.tensor(0.4, dtype=torch.float64)
    x0 = mean + std * torch.randn(400_000, generator=g, dtype=torch.float64)
    eps = torch.randn(400_000, generator=g, dtype=torch.float64)
    x_t = a**0.5 * x0 + (1 - a) ** 0.5 * eps
    residual = eps - gaussian_ideal_eps(x_t, a, mean, std)
    assert abs(float(residual.mean())) < 0.01 and abs(float((residual * x_t).mean())) < 0.01
    assert float(residual.var()) < float((eps - (1 - a) ** 0.5 * (x_t - a**0.5 * mean)).var()) - 0.05


def test_gaussian_toy_ode_end_solves_the_probability_flow_ode():
    # DDIM's ODE in σ-space (Song et al. eq. 14): x̄ = x_t / √ᾱ_t, σ = √((1−ᾱ)/ᾱ), dx̄/dσ = ε̂. RK4, fine steps.
    mean, std, a_start = 0.5, 0.25, torch.tensor(0.01, dtype=torch.float64)
    x_start = torch.linspace(-2, 2, 9, dtype=torch.float64)
    slope = lambda xbar, sigma: gaussian_ideal_eps(xbar / (1 + sigma**2) ** 0.5, 1 / (1 + sigma**2), mean, std)  # noqa: E731
    sigmas = torch.linspace(float(((1 - a_start) / a_start) ** 0.5), 0, 2001, dtype=torch.float64)
    xbar = x_start / a_start**0.5
    for s0, s1 in zip(sigmas[:-1], sigmas[1:]):
        h = s1 - s0
        k1 = slope(xbar, s0)
        k2 = slope(xbar + h / 2 * k1, s0 + h / 2)
        k3 = slope(xbar + h / 2 * k2, s0 + h / 2)
        k4 = slope(xbar + h * k3, s1)
        xbar = xbar + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    assert max_err(xbar, gaussian_ode_end(x_start, a_start, mean, std)) < 1e-6


def test_gaussian_toy_errors_compare_the_two_rules():
    errors = gaussian_toy_errors(steps=(10, 1000), stds=(0.25, 2.0), count=200)
    for std in (0.25, 2.0):
        few, every = errors[(std, 10)], errors[(std, 1000)]
        assert len(set(few.values())) == 2                       # at n = 10 the rules land on different points
        assert len(set(every.values())) == 1                     # at n = T they are one rule
        assert every["next entry (course)"] < few["next entry (course)"] / 10   # and DDIM converges to the ODE
    assert errors[(2.0, 10)]["next entry (course)"] < errors[(2.0, 10)]["t − T//n (diffusers)"]
