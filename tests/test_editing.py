"""course_utils.editing: img2img equal to diffusers', inversion that comes back, inpainting that keeps the
outside, slerp that keeps the norm, and clear errors for bad input (notebook 10)."""
import math

import pytest
import torch
from diffusers import DDIMScheduler, StableDiffusionImg2ImgPipeline

from course_utils import editing as E
from course_utils.metrics import adherence
from course_utils.pipelines import load_text_to_image
from course_utils.sd_autoencoder import psnr as psnr_of_mse
from course_utils.seeding import make_generator
from course_utils.storybook import render, render_masks

from sd_tiny import tiny_pipe  # noqa: F401  (fixture)

P = "squirrel fishing by a river"


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return psnr_of_mse(float(((a - b) ** 2).mean()))


@pytest.fixture(scope="module")
def pipe():
    return load_text_to_image()


@pytest.fixture(scope="module")
def scenes():
    return torch.stack([render("squirrel", "fishing", "by a river", seed=s, size=128) for s in (1, 2)])


def tiny_image(pipe, n=2, seed=0):
    side = E.image_size(pipe)
    return torch.rand(n, 3, side, side, generator=make_generator(seed)) * 2 - 1


# ----------------------------------------------------------------------------- parity with diffusers
@pytest.mark.parametrize("strength", [0.3, 0.64, 1.0])
def test_img2img_equals_diffusers_img2img_pipeline_on_the_same_latents(tiny_pipe, strength):
    x = tiny_image(tiny_pipe)
    ours = E.img2img(tiny_pipe, x, ["fox reading in the snow", P], strength=strength, generator=make_generator(7),
                     num_inference_steps=10, guidance_scale=4.0)
    assert tiny_pipe.scheduler.begin_index is None          # ours leaves the pipeline's own scheduler untouched
    fresh = type(tiny_pipe.scheduler).from_config(tiny_pipe.scheduler.config)     # diffusers' call sets its own
    ref = StableDiffusionImg2ImgPipeline(**{**tiny_pipe.components, "scheduler": fresh}, requires_safety_checker=False)
    ref.set_progress_bar_config(disable=True)
    # diffusers takes a 4-channel image as latents already encoded and scaled: give it ours (the posterior mean)
    theirs = ref(["fox reading in the snow", P], image=E.encode(tiny_pipe, x), strength=strength,
                 generator=make_generator(7), num_inference_steps=10, guidance_scale=4.0, output_type="pt").images
    assert torch.allclose(ours, (theirs * 2 - 1).clamp(-1, 1), atol=1e-5)


def test_img2img_strength_sets_how_much_is_redrawn(pipe, scenes):
    x = scenes[:1]
    near = E.img2img(pipe, x, "fox reading in the snow", strength=0.2, generator=make_generator(1))
    far = E.img2img(pipe, x, "fox reading in the snow", strength=1.0, generator=make_generator(1))
    round_trip = E.decode(pipe, E.encode(pipe, x))
    assert psnr(near, round_trip) > psnr(far, round_trip) + 5
    assert adherence(far, ["fox reading in the snow"])["all"] == 1.0
    assert E.start_step(0.3, 25) == 25 - 7 and E.start_step(1.0, 25) == 0


def test_sampler_from_given_latents_equals_diffusers_from_those_latents(tiny_pipe):
    """samplers.sample(latents=z) runs the same loop the pipeline runs from latents=z."""
    z = torch.randn(1, 4, 16, 16, generator=make_generator(3))
    ours = E.regenerate(tiny_pipe, z, P, negative_prompt="", num_inference_steps=8, guidance_scale=3.0)
    ddim, _ = E.ddim_schedulers(tiny_pipe)
    ref = type(tiny_pipe)(**{**tiny_pipe.components, "scheduler": ddim})
    ref.set_progress_bar_config(disable=True)
    theirs = ref(P, latents=z, num_inference_steps=8, guidance_scale=3.0, output_type="pt").images
    assert torch.allclose(ours, (theirs * 2 - 1).clamp(-1, 1), atol=1e-5)


# ----------------------------------------------------------------------------- inversion and edits
def test_ddim_inversion_comes_back_to_the_round_trip(pipe, scenes):
    z_T = E.invert(pipe, scenes, P, num_inference_steps=25)
    assert z_T.shape == (2, 4, 16, 16)
    assert 0.5 < float(z_T.std()) < 1.5                          # noise-like, not the image's latent
    back = E.regenerate(pipe, z_T, P, negative_prompt=P, num_inference_steps=25, guidance_scale=3.0)
    round_trip = E.decode(pipe, E.encode(pipe, scenes))
    assert psnr(back, round_trip) > 25                            # issue #19's bar (the benchmark: ≥ 60 renders)
    other = E.regenerate(pipe, torch.randn(z_T.shape, generator=make_generator(0)), P, num_inference_steps=25)
    assert psnr(other, round_trip) < 18                           # fresh noise gives another picture


def test_edit_with_the_same_prompt_ignores_guidance_and_partial_inversion_keeps_more(pipe, scenes):
    a = E.edit(pipe, scenes[:1], P, P, num_inference_steps=10, guidance_scale=1.0)
    b = E.edit(pipe, scenes[:1], P, P, num_inference_steps=10, guidance_scale=6.0)
    assert torch.allclose(a, b, atol=1e-5)                        # ε(p) + w·(ε(p) − ε(p)) = ε(p)
    snow = "squirrel fishing in the snow"
    full = E.edit(pipe, scenes[:1], P, snow, num_inference_steps=10)
    half = E.edit(pipe, scenes[:1], P, snow, num_inference_steps=10, strength=0.5)
    assert psnr(half, scenes[:1]) > psnr(full, scenes[:1])


def test_edit_changes_the_word_the_judge_reads(pipe, scenes):
    snow = "squirrel fishing in the snow"
    out = E.edit(pipe, scenes, P, snow, num_inference_steps=25)
    assert adherence(out, [snow] * 2)["place"] == 1.0
    assert adherence(scenes, [snow] * 2)["place"] == 0.0


# ----------------------------------------------------------------------------- inpainting
def test_inpaint_keeps_the_outside_and_draws_a_new_animal(pipe):
    x = render("squirrel", "fishing", "in a forest", seed=5, size=128)[None]
    mask = E.grow_mask(render_masks("squirrel", "fishing", "in a forest", seed=5, size=128)[:1][None].float(), 6)
    out = E.inpaint(pipe, x, mask, "fox fishing in a forest", generator=make_generator(2))
    assert torch.equal(out * (1 - mask), x * (1 - mask))          # outside: the original pixels, exactly
    assert psnr(out * mask, x * mask) < 20                        # inside: redrawn
    assert adherence(out, ["fox fishing in a forest"])["subject"] == 1.0
    latent_only = E.inpaint(pipe, x, mask, "fox fishing in a forest", generator=make_generator(2), keep_outside=False)
    assert torch.allclose(latent_only * mask, out * mask)


def test_inpaint_blends_the_known_part_noised_to_the_next_timestep(tiny_pipe, monkeypatch):
    # the reference convention (diffusers' StableDiffusionInpaintPipeline with a 4-channel UNet; blended latent
    # diffusion): after the step t_i → t_{i+1} the cells outside the mask become z_0 noised to t_{i+1},
    # √ᾱ z_0 + √(1−ᾱ) ε with inpaint's own ε, and the clean z_0 after the last step
    from course_utils.forward import gaussian_noise
    x, side, n = tiny_image(tiny_pipe, 1), E.image_size(tiny_pipe), 5
    mask = torch.zeros(1, 1, side, side)
    mask[..., : side // 2, :] = 1                                           # repaint the top half
    blends, real_sample = [], E.sample

    def recording_sample(*args, after_step, **kwargs):
        def record(i, z):
            blends.append((i, z.clone(), after_step(i, z)))
            return blends[-1][2]
        return real_sample(*args, after_step=record, **kwargs)

    monkeypatch.setattr(E, "sample", recording_sample)
    E.inpaint(tiny_pipe, x, mask, P, generator=make_generator(3), num_inference_steps=n)
    z0 = E.encode(tiny_pipe, x)
    noise = gaussian_noise(z0.shape, make_generator(3))                     # inpaint's first draw
    m = E.latent_mask(mask, int(tiny_pipe.vae_scale_factor))
    scheduler = type(tiny_pipe.scheduler).from_config(tiny_pipe.scheduler.config)
    scheduler.set_timesteps(n)
    ts, a_bar = scheduler.timesteps.tolist(), scheduler.alphas_cumprod
    noised = lambda t: a_bar[t] ** 0.5 * z0 + (1 - a_bar[t]) ** 0.5 * noise   # noqa: E731
    assert [i for i, _, _ in blends] == list(range(n))
    for i, z, blended in blends:
        known = noised(ts[i + 1]) if i + 1 < n else z0
        assert torch.allclose(blended, m * z + (1 - m) * known, atol=1e-5), i
        assert not torch.allclose((1 - m) * blended, (1 - m) * noised(ts[i]), atol=1e-3), i   # not the current t

def test_latent_mask_marks_every_cell_a_masked_pixel_touches():
    m = torch.zeros(1, 1, 16, 16)
    m[0, 0, 7, 9] = 1
    cells = E.latent_mask(m, 8)
    assert cells.shape == (1, 1, 2, 2) and cells[0, 0, 0, 1] == 1 and cells.sum() == 1
    assert E.grow_mask(m, 2).sum() == 25


# ----------------------------------------------------------------------------- interpolation
def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    a = torch.randn(1, 4, 16, 16, generator=make_generator(934743))
    b = torch.randn(1, 4, 16, 16, generator=make_generator(656232))
    mid_s, mid_l = E.slerp(a, b, 0.5), E.lerp(a, b, 0.5)
    assert abs(mid_s.norm() / a.norm() - 1) < 0.05
    assert abs(mid_l.norm() / a.norm() - 1 / math.sqrt(2)) < 0.05
    assert torch.allclose(E.slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(E.slerp(a, b, 1.0), b, atol=1e-5)
    assert torch.allclose(E.slerp(a, 2 * a, 0.5), 1.5 * a)        # parallel: falls back to lerp, no NaN


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("strength", [0, -0.1, 1.5, "0.3", True])
def test_strength_outside_0_1_is_refused(tiny_pipe, strength):
    with pytest.raises(ValueError, match="strength must be a number in \\(0, 1\\]"):
        E.img2img(tiny_pipe, tiny_image(tiny_pipe, 1), P, strength=strength, generator=make_generator(0))


def test_strength_too_small_for_the_steps_says_so(tiny_pipe):
    with pytest.raises(ValueError, match="redoes no step"):
        E.img2img(tiny_pipe, tiny_image(tiny_pipe, 1), P, strength=0.02, generator=make_generator(0))


@pytest.mark.parametrize("image, message", [
    (torch.rand(1, 3, 64, 64) * 255, "0–255"),
    (torch.rand(1, 3, 64, 64) + 0.5, "\\[-1, 1\\]"),
    (torch.zeros(1, 3, 32, 32), "32×32 px, but this model draws 64×64"),
    (torch.zeros(1, 1, 64, 64), "\\[N, 3, H, W\\]"),
    (torch.full((1, 3, 64, 64), float("nan")), "NaN"),
])
def test_bad_images_are_refused_before_any_work(tiny_pipe, image, message):
    with pytest.raises(ValueError, match=message):
        E.img2img(tiny_pipe, image, P, strength=0.5, generator=make_generator(0))


def test_integer_images_are_refused(tiny_pipe):
    with pytest.raises(TypeError, match="float tensor"):
        E.invert(tiny_pipe, torch.zeros(1, 3, 64, 64, dtype=torch.uint8), P)


@pytest.mark.parametrize("mask, message", [
    (torch.ones(1, 1, 32, 32), "mask must be \\[N, 1, H, W\\]"),
    (torch.full((1, 1, 64, 64), 0.5), "binary"),
    (torch.zeros(1, 1, 64, 64), "nothing to repaint"),
])
def test_bad_masks_are_refused(tiny_pipe, mask, message):
    with pytest.raises(ValueError, match=message):
        E.inpaint(tiny_pipe, tiny_image(tiny_pipe, 1), mask, P, generator=make_generator(0))


@pytest.mark.parametrize("steps", [0, -3, 2.5])
def test_inversion_steps_must_be_positive_whole_numbers(tiny_pipe, steps):
    with pytest.raises(ValueError, match="num_inference_steps for inversion must be a whole number ≥ 1"):
        E.invert(tiny_pipe, tiny_image(tiny_pipe, 1), P, num_inference_steps=steps)


def test_unknown_words_and_prompt_counts_are_named(tiny_pipe):
    x = tiny_image(tiny_pipe, 2)
    with pytest.raises(ValueError, match="Unknown word 'volcano'.*The model knows"):
        E.edit(tiny_pipe, x, P, "squirrel fishing by a volcano", num_inference_steps=2)
    with pytest.raises(ValueError, match="3 prompts for 2 images"):
        E.img2img(tiny_pipe, x, [P] * 3, strength=0.5, generator=make_generator(0))


def test_slerp_refuses_mismatched_shapes_and_t_outside_0_1():
    with pytest.raises(ValueError, match="same shape"):
        E.slerp(torch.zeros(2), torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="t must be a number in \\[0, 1\\]"):
        E.slerp(torch.ones(2), torch.ones(2), 1.5)
