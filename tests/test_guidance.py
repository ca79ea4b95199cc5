"""Classifier-free guidance (course_utils/guidance.py): diffusers' arithmetic, one batched pass, clear errors."""
import math

import pytest
import torch

from course_utils.guidance import check_guidance_scale, cfg_combine, guided_denoise, split_guided, stack_conditions
from course_utils.samplers import sample
from course_utils.schedulers import DDIMScheduler
from course_utils.seeding import make_generator
from sd_tiny import tiny_pipe  # noqa: F401  (fixture)


def _pair():
    eps_uncond = torch.arange(2 * 4 * 3 * 3, dtype=torch.float32).reshape(2, 4, 3, 3) / 50 - 1
    eps_cond = torch.cos(torch.arange(2 * 4 * 3 * 3, dtype=torch.float32)).reshape(2, 4, 3, 3)
    return eps_uncond, eps_cond


@pytest.mark.parametrize("guidance_scale", [0.0, 1.0, 2.0, 4.0, 7.5])
def test_split_guided_is_diffusers_pipeline_arithmetic(guidance_scale):
    eps_uncond, eps_cond = _pair()
    noise_pred = torch.cat([eps_uncond, eps_cond])
    # StableDiffusionPipeline.__call__, step 7 ("perform guidance"), verbatim:
    noise_pred_uncond, noise_pred_text = noise_pred.chunk(2)
    expected = noise_pred_uncond + guidance_scale * (noise_pred_text - noise_pred_uncond)
    assert torch.equal(split_guided(noise_pred, guidance_scale), expected)
    assert torch.equal(cfg_combine(eps_uncond, eps_cond, guidance_scale), expected)


@pytest.mark.parametrize("guidance_scale", [0.0, 1.0, 2.0, 4.0, 7.5])
def test_cfg_combine_equals_diffusers_own_guider(guidance_scale):
    """diffusers' ClassifierFreeGuidance (diffusers.guiders), called, not retyped; at w = 1 it returns ε_cond
    itself, so there the two agree to float rounding."""
    from diffusers.guiders import ClassifierFreeGuidance
    from diffusers.utils import logging
    eps_uncond, eps_cond = _pair()
    level = logging.get_verbosity()
    logging.set_verbosity_error()                     # the guider announces itself as experimental
    try:
        theirs = ClassifierFreeGuidance(guidance_scale=guidance_scale).forward(pred_cond=eps_cond, pred_uncond=eps_uncond).pred
    finally:
        logging.set_verbosity(level)
    ours = cfg_combine(eps_uncond, eps_cond, guidance_scale)
    assert torch.allclose(ours, theirs, atol=1e-6, rtol=0) and (guidance_scale == 1.0 or torch.equal(ours, theirs))


def test_zero_is_unconditional_one_is_conditional_and_larger_extrapolates():
    eps_uncond, eps_cond = _pair()
    assert torch.equal(cfg_combine(eps_uncond, eps_cond, 0), eps_uncond)
    assert torch.allclose(cfg_combine(eps_uncond, eps_cond, 1), eps_cond, atol=1e-6)
    # w = 3 lies 3× as far from ε_uncond as ε_cond does
    assert torch.allclose(cfg_combine(eps_uncond, eps_cond, 3) - eps_uncond, 3 * (eps_cond - eps_uncond), atol=1e-5)


@pytest.mark.parametrize("bad", [-0.5, -7.5, float("nan"), float("inf"), "3", None, True])
def test_bad_guidance_scale_is_refused_with_a_clear_message(bad):
    with pytest.raises(ValueError, match="guidance_scale"):
        check_guidance_scale(bad)
    eps_uncond, eps_cond = _pair()
    with pytest.raises(ValueError, match="guidance_scale"):
        cfg_combine(eps_uncond, eps_cond, bad)
    with pytest.raises(ValueError, match="guidance_scale"):
        guided_denoise(lambda x, t, c: x, torch.zeros(1, 3), torch.zeros(1, 3), bad)


def test_negative_guidance_message_says_what_values_mean():
    with pytest.raises(ValueError, match=r"≥ 0.*0 = ignore the prompt"):
        check_guidance_scale(-1)
    assert check_guidance_scale(3) == 3.0 and isinstance(check_guidance_scale(3), float)


def test_guided_denoise_runs_one_pass_with_uncond_first():
    calls = []

    def model(x, t, c):
        calls.append((x.shape[0], c.clone()))
        return x * 0 + c[:, :, None, None]          # ε = the condition's value, broadcast over pixels

    cond, uncond = torch.full((3, 2), 5.0), torch.full((1, 2), 1.0)
    denoise = guided_denoise(model, cond, uncond, 2.0)
    out = denoise(torch.zeros(3, 2, 4, 4), torch.tensor(10))
    assert len(calls) == 1 and calls[0][0] == 6
    assert torch.equal(calls[0][1][:3], uncond.expand(3, 2)) and torch.equal(calls[0][1][3:], cond)
    assert torch.equal(out, torch.full((3, 2, 4, 4), 1.0 + 2.0 * (5.0 - 1.0)))


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="even"):
        split_guided(torch.zeros(3, 2), 1.0)
    with pytest.raises(ValueError, match="same shape"):
        stack_conditions(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="same shape"):
        cfg_combine(torch.zeros(2, 3), torch.zeros(2, 4), 1.0)
    with pytest.raises(TypeError, match="tensors"):
        stack_conditions([1, 2], torch.zeros(1))
    with pytest.raises(TypeError, match="model"):
        guided_denoise("unet", torch.zeros(1, 3), torch.zeros(1, 3), 1.0)
    denoise = guided_denoise(lambda x, t, c: x, torch.zeros(2, 3), torch.zeros(1, 3), 1.0)
    with pytest.raises(ValueError, match="one condition per sample"):
        denoise(torch.zeros(3, 3), torch.tensor(1))


def test_guided_denoise_drives_the_course_sampler_with_label_conditions():
    """The same wrapper guides the pixel denoiser (labels; NULL = -1 is its unconditional row)."""
    from course_utils.denoiser import NULL, DenoiserConfig, build_model
    model = build_model(DenoiserConfig(block_out_channels=(8, 16, 16), norm_num_groups=4), seed=0).eval()
    labels = torch.tensor([[0, 0, 0], [1, 2, 3]])
    guided = guided_denoise(lambda x, t, c: model(x, t, c), labels, torch.full((1, 3), NULL), 3.0)
    scheduler = DDIMScheduler(beta_schedule="squaredcos_cap_v2")
    a = sample(guided, scheduler, (2, 3, 32, 32), generator=make_generator(934743), num_inference_steps=2, device="cpu")
    b = sample(guided, scheduler, (2, 3, 32, 32), generator=make_generator(934743), num_inference_steps=2, device="cpu")
    assert a.shape == (2, 3, 32, 32) and torch.equal(a, b) and math.isfinite(float(a.abs().max()))
    # one call of the wrapper is ε_uncond + w (ε_cond − ε_uncond), the unconditional row being all NULL
    x, t = torch.randn(2, 3, 32, 32, generator=make_generator(0)), torch.tensor(500)
    with torch.no_grad():
        eps_cond, eps_uncond = model(x, t, labels), model(x, t, torch.full((2, 3), NULL))
        got = guided(x, t)
    assert not torch.allclose(eps_cond, eps_uncond, atol=1e-4)          # the labels make a difference
    assert torch.allclose(got, cfg_combine(eps_uncond, eps_cond, 3.0), atol=1e-5)


def test_hand_written_loop_equals_stable_diffusion_pipeline(tiny_pipe):
    """The course's pieces (tokenize → text encoder → guided UNet in samplers.sample → VAE) give
    exactly the pipeline's output for the same seed."""
    from course_utils.text_to_image import text_to_image_by_hand
    prompts = ["squirrel fishing by a river", "a fox reading in a forest"]
    ours = text_to_image_by_hand(tiny_pipe, prompts, generator=make_generator(934743), num_inference_steps=3,
                                 guidance_scale=3.0)
    theirs = tiny_pipe(prompts, generator=make_generator(934743), num_inference_steps=3, guidance_scale=3.0,
                       output_type="pt").images
    assert ours.shape == theirs.shape == (2, 3, 64, 64)
    assert float((ours - theirs).abs().max()) <= 1e-5
    # and with nothing passed, both use the same guidance scale
    ours = text_to_image_by_hand(tiny_pipe, prompts[:1], generator=make_generator(1), num_inference_steps=2)
    theirs = tiny_pipe(prompts[:1], generator=make_generator(1), num_inference_steps=2, output_type="pt").images
    assert float((ours - theirs).abs().max()) <= 1e-5


def test_a_negative_prompt_is_the_unconditional_branch_replaced(tiny_pipe):
    """pipe(…, negative_prompt=n) is the hand-written loop with n's embeddings where the empty prompt's were."""
    from course_utils.text_to_image import text_to_image_by_hand
    prompts, negatives = ["squirrel fishing by a river"] * 2, ["fox", "in the snow"]
    ours = text_to_image_by_hand(tiny_pipe, prompts, generator=make_generator(5), num_inference_steps=3,
                                 guidance_scale=4.0, negative_prompts=negatives)
    theirs = tiny_pipe(prompts, negative_prompt=negatives, generator=make_generator(5), num_inference_steps=3,
                       guidance_scale=4.0, output_type="pt").images
    assert float((ours - theirs).abs().max()) <= 1e-5
    plain = text_to_image_by_hand(tiny_pipe, prompts, generator=make_generator(5), num_inference_steps=3,
                                  guidance_scale=4.0)
    assert float((ours - plain).abs().max()) > 1e-3                    # the negative prompt changed the picture
    with pytest.raises(ValueError, match="one text per prompt"):
        text_to_image_by_hand(tiny_pipe, prompts, generator=make_generator(5), negative_prompts=["fox"])


def test_guidance_above_the_maximum_is_refused_by_the_hand_written_guidance_too():
    from course_utils.guidance import MAX_GUIDANCE
    assert check_guidance_scale(MAX_GUIDANCE) == MAX_GUIDANCE
    with pytest.raises(ValueError, match="above 50"):
        check_guidance_scale(1e6)
    with pytest.raises(ValueError, match="above 50"):
        cfg_combine(torch.zeros(1, 2), torch.ones(1, 2), 51)


# ----------------------------------------------------------------------------- guidance in an interval
def _toy_model(x, t, c):
    """A deterministic stand-in for a UNet: ε depends on x, t and the condition c [B, 2]."""
    return torch.tanh(x * c[:, :1, None, None] + float(t) / 1000) + c[:, 1:, None, None]


@pytest.mark.parametrize("start, stop, w", [(0.2, 1.0, 7.5), (0.0, 0.6, 3.0), (0.2, 0.92, 5.0), (0.0, 1.0, 2.0)])
def test_interval_guidance_equals_diffusers_guider(start, stop, w):
    """A whole sampling loop guided by ``interval_guided_denoise`` is diffusers' ClassifierFreeGuidance(start, stop)
    (diffusers.guiders, driven step by step with set_state) to the last bit."""
    from diffusers import DPMSolverMultistepScheduler
    from diffusers.guiders import ClassifierFreeGuidance
    from course_utils.guidance import interval_guided_denoise, interval_of_steps
    steps, shape = 25, (2, 4, 8, 8)
    cond, uncond = torch.tensor([[1.5, 0.3], [0.7, -0.2]]), torch.tensor([[1.0, 0.0]])

    def scheduler():
        return DPMSolverMultistepScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                           algorithm_type="dpmsolver++", steps_offset=1)
    s = scheduler()
    s.set_timesteps(steps)
    t_interval = interval_of_steps(s.timesteps, start, stop)
    ours = sample(interval_guided_denoise(_toy_model, cond, uncond, w, t_interval), s, shape,
                  generator=make_generator(3), num_inference_steps=steps, device="cpu")
    guider, s, guided_steps = ClassifierFreeGuidance(guidance_scale=w, start=start, stop=stop), scheduler(), 0
    s.set_timesteps(steps)
    x = torch.randn(shape, generator=make_generator(3))
    for i, t in enumerate(s.timesteps):
        guider.set_state(step=i, num_inference_steps=steps, timestep=t)
        guided_steps += guider.num_conditions == 2
        eps = guider.forward(_toy_model(x, t, cond), _toy_model(x, t, uncond.expand(2, 2))).pred
        x = s.step(eps, t, x).prev_sample
    assert torch.equal(ours, x)
    assert guided_steps == int(stop * steps) - int(start * steps)
    assert sum(t_interval[0] <= float(t) <= t_interval[1] for t in s.timesteps) == guided_steps


def test_interval_guidance_is_cfg_inside_and_conditional_outside():
    from course_utils.guidance import interval_guided_denoise
    calls = []

    def model(x, t, c):
        calls.append(c.shape[0])
        return _toy_model(x, t, c)
    cond, uncond, x = torch.tensor([[1.5, 0.3]]), torch.tensor([[1.0, 0.0]]), torch.randn(1, 4, 8, 8)
    denoise = interval_guided_denoise(model, cond, uncond, 4.0, (100, 600))
    inside, outside = denoise(x, torch.tensor(600)), denoise(x, torch.tensor(601))
    assert torch.equal(inside, guided_denoise(_toy_model, cond, uncond, 4.0)(x, torch.tensor(600)))
    assert torch.equal(outside, _toy_model(x, torch.tensor(601), cond))
    assert calls == [2, 1]                       # outside the interval only the conditional half runs


@pytest.mark.parametrize("bad", [(600, 100), (-1, 10), (0, float("nan")), (5,), "0-999", (True, 5)])
def test_bad_intervals_are_refused_with_a_clear_message(bad):
    from course_utils.guidance import interval_guided_denoise
    with pytest.raises(ValueError, match="t_interval"):
        interval_guided_denoise(_toy_model, torch.zeros(1, 2), torch.zeros(1, 2), 3.0, bad)


def test_interval_of_steps_refuses_an_empty_interval():
    from course_utils.guidance import interval_of_steps
    with pytest.raises(ValueError, match="guide no step"):
        interval_of_steps(torch.arange(999, 0, -40), 0.5, 0.5)


def test_by_hand_with_seeded_latents_and_a_full_interval_equals_the_pipeline(tiny_pipe):
    """One seed per image (initial_latents) draws what pipe(…, generator=[one per seed]) draws; an interval that
    covers every timestep is plain guidance; a narrower one changes the picture."""
    from course_utils.text_to_image import generate, initial_latents, text_to_image_by_hand
    prompts, seeds = ["squirrel fishing by a river", "a fox reading in a forest"], [934743, 656232]
    theirs = generate(tiny_pipe, prompts, seeds, guidance_scale=3.0, num_inference_steps=3)
    kwargs = dict(generator=make_generator(0), num_inference_steps=3, guidance_scale=3.0,
                  latents=initial_latents(tiny_pipe, seeds))
    full = text_to_image_by_hand(tiny_pipe, prompts, guidance_interval=(0, 1000), **kwargs) * 2 - 1
    assert float((full - theirs).abs().max()) <= 1e-5
    part = text_to_image_by_hand(tiny_pipe, prompts, guidance_interval=(0, 500), **kwargs) * 2 - 1
    assert float((part - theirs).abs().max()) > 1e-3
