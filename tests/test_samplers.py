"""The one sampling loop: same result with our schedulers and diffusers', seeded, with callbacks."""
import diffusers
import pytest
import torch

from course_utils.samplers import Trajectory, predicted_x0, record_trajectory, sample
from course_utils.schedulers import DDIMScheduler, DDPMScheduler, EulerDiscreteScheduler
from course_utils.seeding import make_generator

SHAPE = (3, 2, 4, 4)


def dummy_model(x, t):
    return torch.sin(x) * t / (t + 1)


def perfect_denoiser(scheduler, c=0.3):
    """The exact ε for data that is always the constant c: ε = (x_t − √ᾱ_t c) / √(1 − ᾱ_t)."""
    def denoise(x, t):
        a = scheduler.alphas_cumprod[int(t)]
        return (x - a.sqrt() * c) / (1 - a).sqrt()
    return denoise


@pytest.mark.parametrize("ours, theirs, eta", [
    (DDPMScheduler(), diffusers.DDPMScheduler(), None),
    (DDIMScheduler(), diffusers.DDIMScheduler(), 0.0),
    (DDIMScheduler(beta_schedule="squaredcos_cap_v2"), diffusers.DDIMScheduler(beta_schedule="squaredcos_cap_v2"), 1.0),
    (EulerDiscreteScheduler(prediction_type="v_prediction"),
     diffusers.EulerDiscreteScheduler(prediction_type="v_prediction"), None),
])
def test_our_scheduler_equals_diffusers_in_the_loop(ours, theirs, eta):
    kw = dict(generator=None, num_inference_steps=20, device="cpu", eta=eta)
    a = sample(dummy_model, ours, SHAPE, **{**kw, "generator": make_generator(656232)})
    b = sample(dummy_model, theirs, SHAPE, **{**kw, "generator": make_generator(656232)})
    assert a.shape == SHAPE and torch.isfinite(a).all()
    assert float((a - b).abs().max()) <= 1e-5


@pytest.mark.parametrize("scheduler", [DDPMScheduler(), DDIMScheduler()])
def test_same_seed_same_sample_other_seed_other_sample(scheduler):
    run = lambda seed: sample(dummy_model, scheduler, SHAPE, generator=make_generator(seed),   # noqa: E731
                              num_inference_steps=10, device="cpu", eta=1.0 if isinstance(scheduler, DDIMScheduler) else None)
    assert torch.equal(run(934743), run(934743))
    assert not torch.equal(run(934743), run(545488))


def test_start_noise_is_the_seeds_canvas_times_init_noise_sigma():
    seen = []
    euler = EulerDiscreteScheduler()
    sample(lambda x, t: torch.zeros_like(x), euler, SHAPE, generator=make_generator(5), num_inference_steps=3,
           device="cpu", callback=lambda i, t, x, x0: seen.append(x))
    canvas = torch.randn(SHAPE, generator=make_generator(5))
    sigma = euler.sigmas[0]
    assert torch.allclose(seen[0], canvas * euler.init_noise_sigma / (sigma**2 + 1) ** 0.5)  # x_T as the model sees it


@pytest.mark.parametrize("make", [
    lambda: DDPMScheduler(clip_sample=False), lambda: DDIMScheduler(clip_sample=False),
    lambda: EulerDiscreteScheduler(timestep_spacing="leading"),
    lambda: diffusers.DPMSolverMultistepScheduler(), lambda: diffusers.EulerDiscreteScheduler(timestep_spacing="leading"),
])
def test_callback_once_per_step_with_pred_x0(make):
    scheduler = make()
    calls = []
    out = sample(perfect_denoiser(scheduler), scheduler, SHAPE, generator=make_generator(0), num_inference_steps=8,
                 device="cpu", callback=lambda i, t, x, x0: calls.append((i, t, x.shape, x0)))
    assert [c[0] for c in calls] == list(range(8))
    assert [float(c[1]) for c in calls] == [float(t) for t in scheduler.timesteps]
    assert all(c[2] == SHAPE for c in calls)
    for *_, x0 in calls:       # a perfect model knows x_0 at every step (DPM-Solver: via ε and ᾱ_t)
        assert torch.allclose(x0, torch.full(SHAPE, 0.3), atol=1e-3)
    assert torch.allclose(out, torch.full(SHAPE, 0.3), atol=1e-3)


def test_record_trajectory_keeps_every_step():
    traj = record_trajectory(dummy_model, DDIMScheduler(), SHAPE, generator=make_generator(1), num_inference_steps=6,
                             device="cpu")
    assert isinstance(traj, Trajectory)
    assert traj.xs.shape == (7, *SHAPE) and traj.pred_x0.shape == (6, *SHAPE) and traj.timesteps.shape == (6,)
    final = sample(dummy_model, DDIMScheduler(), SHAPE, generator=make_generator(1), num_inference_steps=6, device="cpu")
    assert torch.equal(traj.final, final)
    assert traj.timesteps.tolist() == [830.0, 664.0, 498.0, 332.0, 166.0, 0.0]     # "leading": T//n = 166 apart


def test_predicted_x0_formulas():
    s = DDPMScheduler(prediction_type="v_prediction")
    x, v, a = torch.ones(2), torch.full((2,), 0.5), s.alphas_cumprod[400]
    assert torch.allclose(predicted_x0(s, v, x, torch.tensor(400)), a.sqrt() * x - (1 - a).sqrt() * v)
    s = DDPMScheduler()
    assert torch.allclose(predicted_x0(s, v, x, torch.tensor(400)), (x - (1 - a).sqrt() * v) / a.sqrt())
    with pytest.raises(ValueError, match="integer timestep"):
        predicted_x0(s, v, x, torch.tensor(400.5))


def test_clear_errors():
    s = DDIMScheduler()
    ok = dict(generator=make_generator(0), num_inference_steps=5, device="cpu")
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="num_inference_steps must be a positive int"):
            sample(dummy_model, s, SHAPE, **{**ok, "num_inference_steps": bad})

    class CudaGenerator(torch.Generator):          # a real cuda generator needs a GPU; this one says it is one
        @property
        def device(self):
            return torch.device("cuda")
    with pytest.raises(ValueError, match="generator is on cuda.*make_generator"):
        sample(dummy_model, s, SHAPE, **{**ok, "generator": CudaGenerator()})
    with pytest.raises(TypeError, match="torch.Generator"):
        sample(dummy_model, s, SHAPE, **{**ok, "generator": 0})
    with pytest.raises(ValueError, match="denoise returned \\(3, 2, 4\\)"):
        sample(lambda x, t: x[..., 0], s, SHAPE, **ok)
    with pytest.raises(ValueError, match="takes no eta"):
        sample(dummy_model, DDPMScheduler(), SHAPE, eta=0.5, **ok)
    with pytest.raises(ValueError, match="shape must be"):
        sample(dummy_model, s, (3, 0), **ok)
    with pytest.raises(TypeError, match="denoise must be"):
        sample(None, s, SHAPE, **ok)


def test_default_device_and_progress_bar():
    out = sample(dummy_model, DDIMScheduler(), SHAPE, generator=make_generator(0), num_inference_steps=3, progress=True)
    assert out.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(device="cuda"), ValueError, "needs a GPU") if not torch.cuda.is_available() else
    (dict(device="gpu0"), ValueError, "device must be"),
    (dict(device="gpu0"), ValueError, "device must be 'cpu', 'cuda' or 'mps'"),
    (dict(dtype=torch.long), TypeError, "floating-point torch.dtype"),
    (dict(shape=(True, 3)), ValueError, "tuple of positive ints"),
    (dict(scheduler=None), TypeError, "scheduler must be a scheduler"),
    (dict(denoise=lambda x, t: x * float("nan")), ValueError, r"denoise returned NaN or inf at step 0"),
])
def test_bad_sampler_inputs_are_refused_before_or_at_the_first_step(kwargs, error, match):
    args = dict(denoise=lambda x, t: 0.1 * x, scheduler=DDPMScheduler(), shape=(1, 3), device="cpu")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        sample(args.pop("denoise"), args.pop("scheduler"), args.pop("shape"), generator=make_generator(0),
               num_inference_steps=2, **args)


@pytest.mark.parametrize("make, match", [
    (lambda: DDPMScheduler().step(torch.zeros(2, dtype=torch.long), 999, torch.zeros(2, dtype=torch.long)),
     "floating-point tensors"),
    (lambda: DDPMScheduler(steps_offset=1.5), "steps_offset must be an int"),
    (lambda: DDIMScheduler(steps_offset=-3), "steps_offset must be an int"),
    (lambda: DDPMScheduler(clip_sample_range=-1.0), "clip_sample_range must be a number > 0"),
    (lambda: DDIMScheduler(clip_sample_range=float("nan")), "clip_sample_range"),
])
def test_bad_scheduler_options_and_inputs_are_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_a_scheduler_that_repeats_a_timestep_is_refused_not_run_to_nan():
    # DPM-Solver's "linspace" spacing repeats a timestep at n = T: a step of size 0, then NaN everywhere
    scheduler = diffusers.DPMSolverMultistepScheduler(beta_schedule="scaled_linear", beta_start=0.00085,
                                                      beta_end=0.012, steps_offset=1)
    with pytest.raises(ValueError, match="repeats a timestep at num_inference_steps=1000"):
        sample(lambda x, t: 0.1 * x, scheduler, (1, 4), generator=make_generator(0), num_inference_steps=1000,
               device="cpu")
    with pytest.raises(ValueError, match="more than the scheduler's num_train_timesteps=1000"):
        sample(lambda x, t: 0.1 * x, DDIMScheduler(), (1, 4), generator=make_generator(0), num_inference_steps=1001,
               device="cpu")
    x = sample(lambda x, t: 0.1 * x, scheduler, (1, 4), generator=make_generator(0), num_inference_steps=999,
               device="cpu")
    assert bool(torch.isfinite(x).all())


# ----------------------------------------------------------------------------- front-end sampler names
from course_utils.samplers import FRONT_END_SAMPLERS, front_end_scheduler  # noqa: E402

# Stable Diffusion's schedule, as pipe.scheduler.config holds it (the course's storybook-sd has the same)
SD_CONFIG = diffusers.DPMSolverMultistepScheduler(beta_schedule="scaled_linear", beta_start=0.00085,
                                                  beta_end=0.012, steps_offset=1).config

# diffusers' scheduler overview, "A1111/k-diffusion → 🤗 Diffusers": (class, use_karras_sigmas, algorithm_type)
DOCS_TABLE = {
    "Euler": (diffusers.EulerDiscreteScheduler, False, None),
    "Euler a": (diffusers.EulerAncestralDiscreteScheduler, None, None),
    "DPM++ 2M": (diffusers.DPMSolverMultistepScheduler, False, "dpmsolver++"),
    "DPM++ 2M Karras": (diffusers.DPMSolverMultistepScheduler, True, "dpmsolver++"),
    "DPM++ 2M SDE Karras": (diffusers.DPMSolverMultistepScheduler, True, "sde-dpmsolver++"),
    "LMS Karras": (diffusers.LMSDiscreteScheduler, True, None),
    "DPM2 a": (diffusers.KDPM2AncestralDiscreteScheduler, False, None),
    "DDIM": (diffusers.DDIMScheduler, None, None),
    "UniPC": (diffusers.UniPCMultistepScheduler, False, None),
}


@pytest.mark.parametrize("name", sorted(DOCS_TABLE))
def test_front_end_names_map_to_the_classes_diffusers_documents(name):
    cls, karras, algorithm = DOCS_TABLE[name]
    sched = front_end_scheduler(name, SD_CONFIG)
    assert type(sched) is cls
    if karras is not None:
        assert sched.config["use_karras_sigmas"] is karras
    if algorithm is not None:
        assert sched.config["algorithm_type"] == algorithm
    for key in ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "prediction_type"):
        assert sched.config[key] == SD_CONFIG[key], key        # the model's training schedule is kept


@pytest.mark.parametrize("name", sorted(FRONT_END_SAMPLERS))
def test_every_front_end_name_builds_and_says_karras_only_when_named(name):
    sched = front_end_scheduler(name, SD_CONFIG)
    assert sched.config.get("use_karras_sigmas", False) is ("Karras" in name)
    sched.set_timesteps(10)
    assert len(sched.timesteps) >= 10


def test_options_a_name_implies_override_the_config_they_come_from():
    karras_config = front_end_scheduler("DPM++ 2M Karras", SD_CONFIG).config
    plain = front_end_scheduler("DPM++ 2M", karras_config)       # from_config alone would keep Karras
    karras = front_end_scheduler("DPM++ 2M Karras", SD_CONFIG)
    plain.set_timesteps(10)
    karras.set_timesteps(10)
    assert plain.timesteps.tolist() != karras.timesteps.tolist()
    fresh = front_end_scheduler("DPM++ 2M", SD_CONFIG)
    fresh.set_timesteps(10)
    assert plain.timesteps.tolist() == fresh.timesteps.tolist()
    ddim = front_end_scheduler("DDIM", SD_CONFIG)
    assert ddim.config["clip_sample"] is False                   # DDIMScheduler's own default clips x̂₀


def test_karras_sigmas_start_and_end_alike_but_crowd_the_small_noise_levels():
    plain, karras = (front_end_scheduler(n, SD_CONFIG) for n in ("Euler", "LMS Karras"))
    for s in (plain, karras):
        s.set_timesteps(10)
    assert torch.allclose(plain.sigmas[0], karras.sigmas[0]) and float(karras.sigmas[-1]) == 0.0
    # ρ = 7 spacing: more of the steps at small σ than even spacing in t gives
    assert int((karras.sigmas[:-1] < 1).sum()) > int((plain.sigmas[:-1] < 1).sum())


def test_ancestral_names_draw_fresh_noise_at_each_step_and_the_others_do_not():
    x, eps = torch.randn(1, 4, 8, 8, generator=make_generator(0)), torch.randn(1, 4, 8, 8, generator=make_generator(1))
    for name, draws in (("Euler a", True), ("Euler", False), ("DPM++ 2M SDE", True), ("DPM++ 2M", False)):
        outs = []
        for seed in (2, 3):
            s = front_end_scheduler(name, SD_CONFIG)
            s.set_timesteps(10)
            t = s.timesteps[0]
            outs.append(s.step(eps, t, s.scale_model_input(x * s.init_noise_sigma, t), generator=make_generator(seed)).prev_sample)
        assert torch.equal(outs[0], outs[1]) is not draws, name


def test_front_end_scheduler_errors_name_the_fix():
    with pytest.raises(ValueError, match="Known names: 'Euler', 'Euler a'"):
        front_end_scheduler("Euler A", SD_CONFIG)
    with pytest.raises(ValueError, match="Unknown sampler name"):
        front_end_scheduler(None, SD_CONFIG)
    with pytest.raises(TypeError, match="pipe.scheduler.config"):
        front_end_scheduler("Euler", {"beta_schedule": "linear"})
