"""The text-to-image loader and its checked pipeline (course_utils/pipelines.py). All offline."""
import shutil

import pytest
import torch

from course_utils.checkpoints import CheckpointError
from course_utils.pipelines import (DEFAULT_GUIDANCE, REBUILD, StorybookPipeline, check_prompt, check_size,
                                    load_text_to_image, prompt_vocabulary, resolve_source)
from course_utils.seeding import make_generator
from course_utils.text_to_image import StableDiffusionPipeline, course_words
from sd_tiny import tiny_folder, tiny_pipe  # noqa: F401  (fixtures)


def test_loads_a_local_folder_as_a_checked_stable_diffusion_pipeline(tiny_folder):
    from diffusers.utils import logging as dlog
    pipe = load_text_to_image(tiny_folder)
    assert isinstance(pipe, StorybookPipeline) and isinstance(pipe, StableDiffusionPipeline)
    assert pipe.vocabulary == course_words()
    assert dlog.is_progress_bar_enabled()          # the loader hides the bars only while it loads
    images = pipe("owl juggling in the snow", generator=make_generator(1), num_inference_steps=2, output_type="pt").images
    assert images.shape == (1, 3, 64, 64)


def test_defaults_are_the_course_ones(tiny_pipe):
    seen = {}
    tiny_pipe("fox sleeping on a mountain", generator=make_generator(0), output_type="latent",
              callback_on_step_end=lambda p, i, t, kw: (seen.update(steps=p.num_timesteps, w=p.guidance_scale), kw)[1])
    assert seen == {"steps": 25, "w": DEFAULT_GUIDANCE}


@pytest.mark.parametrize("prompt, match", [
    ("zebra fishing by a river", r"Unknown word 'zebra'.*Nearest known words: .*The model knows: a, beach, bear"),
    ("squirrel fishin by a river", r"Unknown word 'fishin'.*Nearest known words: fishing"),
    ("squirrel fishing by a river!", r"Unknown word 'river!'.*river"),
    ("", r"prompt is empty"),
    ("   ", r"prompt is empty"),
    ("fox " * 15, r"is 17 tokens long.*at most 16"),
])
def test_bad_prompts_get_clear_errors_before_any_work(tiny_pipe, prompt, match):
    with pytest.raises(ValueError, match=match):
        tiny_pipe(prompt, generator=make_generator(0), num_inference_steps=2)
    with pytest.raises(ValueError, match=match):
        tiny_pipe(["owl reading on a beach", prompt], num_inference_steps=2)


def test_negative_prompt_is_checked_but_empty_one_is_the_default(tiny_pipe):
    with pytest.raises(ValueError, match="Unknown word 'dragon' in the negative prompt"):
        tiny_pipe("fox reading", negative_prompt="dragon", num_inference_steps=2)
    out = tiny_pipe("fox reading", negative_prompt="", num_inference_steps=2, output_type="latent",
                    generator=make_generator(0)).images
    assert out.shape == (1, 4, 16, 16)
    with pytest.raises(ValueError, match="list of prompts is empty"):
        tiny_pipe([], num_inference_steps=2)


@pytest.mark.parametrize("w", [-1.0, -0.01, float("nan")])
def test_negative_guidance_is_refused(tiny_pipe, w):
    with pytest.raises(ValueError, match="guidance_scale must be ≥ 0"):
        tiny_pipe("fox reading in a forest", guidance_scale=w, num_inference_steps=2)


@pytest.mark.parametrize("height, width", [(62, 64), (64, 66), (0, 64), (64, -4), (64.0, 64)])
def test_sizes_must_be_multiples_of_the_vae_factor(tiny_pipe, height, width):
    with pytest.raises(ValueError, match="multiple of 4"):
        tiny_pipe("fox reading in a forest", height=height, width=width, num_inference_steps=2)


def test_a_multiple_of_four_that_is_not_of_eight_works(tiny_pipe):
    # diffusers' own check wants multiples of 8; this VAE shrinks by 4, so 68 px (17 latents) is fine
    out = tiny_pipe("fox reading in a forest", height=68, width=64, num_inference_steps=2, output_type="pt",
                    generator=make_generator(0)).images
    assert out.shape == (1, 3, 68, 64)


def test_check_helpers_directly(tiny_pipe):
    check_size(None, 64, 4)
    with pytest.raises(ValueError, match="height must be a positive multiple of 8"):
        check_size(12, 64, 8)
    check_prompt("any word", tiny_pipe.tokenizer, None)                       # a real CLIP tokenizer's case
    with pytest.raises(TypeError, match="string"):
        check_prompt(3, tiny_pipe.tokenizer, None)
    assert prompt_vocabulary(tiny_pipe.tokenizer) == course_words()


def test_hub_id_needs_an_explicit_opt_in():
    with pytest.raises(ValueError, match=r"online=True.*Offline, use the course's model"):
        load_text_to_image("stable-diffusion-v1-5/stable-diffusion-v1-5")
    with pytest.raises(ValueError, match="online=True"):
        load_text_to_image("stable-diffusion-v1-5/stable-diffusion-v1-5", online="yes")


def test_resolve_source_tells_folders_from_hub_ids(tiny_folder):
    assert resolve_source(tiny_folder) == ("local", tiny_folder.resolve())
    assert resolve_source("data/storybook-sd")[0] == "local"
    assert resolve_source("data/no-such-model")[0] == "local"
    assert resolve_source("./elsewhere")[0] == "local"
    assert resolve_source("CompVis/stable-diffusion-v1-4") == ("hub", None)


def test_missing_local_folder_says_how_to_rebuild():
    with pytest.raises(CheckpointError, match="python -m course_utils.train storybook-sd"):
        load_text_to_image("data/no-such-model")
    with pytest.raises(ValueError, match="folder or a hub id"):
        load_text_to_image("")
    assert "storybook-sd" in REBUILD


def test_corrupt_local_folder_says_how_to_rebuild(tiny_folder, tmp_path):
    broken = tmp_path / "storybook-sd"
    shutil.copytree(tiny_folder, broken)
    weights = broken / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"corrupt.*python -m course_utils.train storybook-sd"):
        load_text_to_image(broken)
    (broken / "SHA256SUMS").unlink()
    with pytest.raises(CheckpointError, match="python -m course_utils.train storybook-sd"):
        load_text_to_image(broken)


def test_same_seed_same_image_new_seed_new_image(tiny_pipe):
    run = lambda seed: tiny_pipe("rabbit juggling on a mountain", generator=make_generator(seed),
                                 num_inference_steps=3, output_type="pt").images
    a, b, c = run(934743), run(934743), run(545488)
    assert torch.equal(a, b) and not torch.equal(a, c)
