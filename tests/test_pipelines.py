"""The text-to-image loader and its checked pipeline (course_utils/pipelines.py). All offline."""
import shutil
from types import SimpleNamespace

import pytest
import torch
from diffusers import DPMSolverMultistepScheduler

from course_utils.checkpoints import CheckpointError
from course_utils.paths import DATA_DIR
from course_utils.pipelines import (DEFAULT_GUIDANCE, MAX_GUIDANCE, MAX_SIDE, REBUILD, HubUnreachable,
                                    StorybookPipeline, check_prompt, check_size, load_text_to_image,
                                    prompt_vocabulary, resolve_source)
from course_utils.storybook import parse_caption
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


def test_the_default_guidance_is_the_one_the_record_chose(tiny_folder, tmp_path):
    import json

    from course_utils.checkpoints import write_manifest
    chosen = tmp_path / "storybook-sd"
    shutil.copytree(tiny_folder, chosen)
    (chosen / "record.json").write_text(json.dumps({"default_guidance": {"value": 3.0, "held_out_adherence": {}}}))
    write_manifest(chosen)
    pipe = load_text_to_image(chosen)
    assert pipe.default_guidance == 3.0 and load_text_to_image(tiny_folder).default_guidance == DEFAULT_GUIDANCE
    seen = {}
    pipe("fox sleeping on a mountain", generator=make_generator(0), num_inference_steps=2, output_type="latent",
         callback_on_step_end=lambda p, i, t, kw: (seen.update(w=p.guidance_scale), kw)[1])
    assert seen == {"w": 3.0}
    (chosen / "record.json").write_text(json.dumps({"default_guidance": {"value": -1}}))
    write_manifest(chosen)
    with pytest.raises(CheckpointError, match=r"default_guidance must be .*python -m course_utils.train storybook-sd"):
        load_text_to_image(chosen)


@pytest.mark.parametrize("prompt, match", [
    ("zebra fishing by a river", r"Unknown word 'zebra'.*Nearest known words: .*The model knows: a, beach, bear"),
    ("squirrel fishin by a river", r"Unknown word 'fishin'.*Nearest known words: fishing"),
    ("squirrel, fishing by a river", r"Unknown word 'squirrel,'.*squirrel"),
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
    assert resolve_source("storybook-sd") == ("local", (DATA_DIR / "storybook-sd").resolve())   # a bare name: data/<name>
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


SHIPPED_SCHEDULER = DATA_DIR / "storybook-sd" / "scheduler"


def test_every_step_count_of_the_shipped_scheduler_has_distinct_timesteps():
    # fast form of "the pipeline never returns NaN": a repeated timestep is a step of size 0, and
    # DPM-Solver divides by it (n = 1000 gave an all-NaN image); every n from 1 to T is checked here
    scheduler = DPMSolverMultistepScheduler.from_pretrained(SHIPPED_SCHEDULER)
    T = scheduler.config.num_train_timesteps
    holder = SimpleNamespace(scheduler=scheduler)
    for n in range(1, T + 1):
        custom = StorybookPipeline._distinct_timesteps(holder, n)
        if custom is not None:
            scheduler.set_timesteps(timesteps=custom)
        ts, sigmas = scheduler.timesteps, scheduler.sigmas
        assert len(ts) == n and bool((ts[1:] < ts[:-1]).all()), n
        assert bool((sigmas[1:] < sigmas[:-1]).all()) and bool(torch.isfinite(sigmas).all()), n


@pytest.mark.parametrize("n", [1, 2, 999, 1000])
def test_the_shipped_scheduler_stays_finite_over_whole_loops(n):
    scheduler = DPMSolverMultistepScheduler.from_pretrained(SHIPPED_SCHEDULER)
    custom = StorybookPipeline._distinct_timesteps(SimpleNamespace(scheduler=scheduler), n)
    scheduler.set_timesteps(n) if custom is None else scheduler.set_timesteps(timesteps=custom)
    x = torch.randn(1, 4, 4, 4, generator=make_generator(0))
    for t in scheduler.timesteps:
        x = scheduler.step(0.1 * x * t / 1000, t, x).prev_sample        # a dummy ε-model
    assert bool(torch.isfinite(x).all()), n


@pytest.mark.parametrize("n", [1, 2, 999, 1000])
def test_the_pipeline_never_returns_nan_at_the_boundary_step_counts(tiny_pipe, monkeypatch, n):
    pipe = StorybookPipeline(**{**tiny_pipe.components,
                                "scheduler": DPMSolverMultistepScheduler.from_pretrained(SHIPPED_SCHEDULER)})
    pipe.vocabulary = tiny_pipe.vocabulary
    pipe.set_progress_bar_config(disable=True)
    if n > 2:    # 1000 UNet calls take minutes on 2 cores: a dummy ε-model, the rest of the pipeline is real
        monkeypatch.setattr(pipe.unet, "forward", lambda sample, t, *args, **kw: (0.1 * sample * t / 1000,))
    images = pipe("fox reading in a forest", num_inference_steps=n, height=32, width=32, output_type="pt",
                  generator=make_generator(0)).images
    assert bool(torch.isfinite(images).all())


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_inference_steps=0), ValueError, "num_inference_steps must be a whole number from 1 to 1000"),
    (dict(num_inference_steps=-5), ValueError, "from 1 to 1000"),
    (dict(num_inference_steps=1.5), ValueError, "from 1 to 1000"),
    (dict(num_inference_steps=True), ValueError, "from 1 to 1000"),
    (dict(num_inference_steps=5000), ValueError, "from 1 to 1000"),
    (dict(num_inference_steps="25"), ValueError, "from 1 to 1000"),
    (dict(prompt=123), TypeError, "prompt must be a string"),
    (dict(prompt=["fox reading", 7]), TypeError, "prompt must be a string"),
    (dict(negative_prompt=3), TypeError, "negative_prompt must be a string"),
    (dict(generator=42), TypeError, r"torch.Generator.*make_generator\(42\)"),
    (dict(generator=[make_generator(0)] * 3), ValueError, "3 generators for 1 images"),
    (dict(num_images_per_prompt=0), ValueError, "num_images_per_prompt must be a whole number ≥ 1"),
    (dict(num_images_per_prompt=-1), ValueError, "num_images_per_prompt"),
    (dict(num_images_per_prompt=True), ValueError, "num_images_per_prompt"),
    (dict(height=MAX_SIDE + 4, width=64), ValueError, f"height={MAX_SIDE + 4} is above {MAX_SIDE}"),
    (dict(height=64, width=40_000), ValueError, "width=40000 is above"),
    (dict(guidance_scale=1e6), ValueError, f"above {MAX_GUIDANCE:g}"),
    (dict(guidance_scale=float("inf")), ValueError, "guidance_scale"),
    (dict(guidance_scale=True), ValueError, "guidance_scale"),
    (dict(output_type="jpg"), ValueError, "output_type must be one of"),
])
def test_bad_call_arguments_get_clear_errors_before_any_work(tiny_pipe, monkeypatch, kwargs, error, match):
    def no_work(*args, **kw):
        raise AssertionError("the UNet ran before the arguments were checked")
    monkeypatch.setattr(tiny_pipe.unet, "forward", no_work)
    kwargs = dict(kwargs)
    with pytest.raises(error, match=match):
        tiny_pipe(kwargs.pop("prompt", "fox reading in a forest"), **kwargs)


@pytest.mark.parametrize("text", ["Squirrel fishing by a river.", "  SQUIRREL  fishing by a river!",
                                  "squirrel fishing by a river?"])
def test_pipeline_and_parse_caption_read_a_caption_alike(tiny_pipe, text):
    # "Squirrel fishing by a river." was refused by the pipeline but read by parse_caption
    assert parse_caption(text) == ("squirrel", "fishing", "by a river")
    run = lambda prompt: tiny_pipe(prompt, num_inference_steps=1, output_type="latent",
                                   generator=make_generator(0)).images
    assert torch.equal(run(text), run("squirrel fishing by a river"))


@pytest.mark.parametrize("text", ["squirrel, fishing by a river", "squirrel fishing; by a river", "Fox fishing by a lake."])
def test_pipeline_and_parse_caption_refuse_alike(tiny_pipe, text):
    with pytest.raises(ValueError, match="Unknown"):
        parse_caption(text)
    with pytest.raises(ValueError, match="Unknown word"):
        tiny_pipe(text, num_inference_steps=1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_that_is_not_there_is_a_clear_error(tiny_folder):
    with pytest.raises(ValueError, match="needs a GPU, and none is visible"):
        load_text_to_image(tiny_folder, device="cuda")


def test_an_unknown_device_name_is_a_clear_error(tiny_folder):
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'mps'"):
        load_text_to_image(tiny_folder, device="gpu0")


def test_online_without_a_network_blames_the_network_not_the_cache(monkeypatch):
    # the tests run with HF_HUB_OFFLINE=1 and every connection refused (tests/network_guard.py)
    with pytest.raises(HubUnreachable, match="HF_HUB_OFFLINE=1.* set in this environment.*load_text_to_image\\(\\)"):
        load_text_to_image("some-org/some-model", online=True)
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(HubUnreachable, match="network is unreachable") as err:
        load_text_to_image("some-org/some-model", online=True)
    assert "cache" not in str(err.value).split("[")[0]


def test_load_autoencoder_names_what_is_missing_and_how_to_rebuild(tmp_path, tiny_folder):
    from course_utils.pipelines import load_autoencoder
    with pytest.raises(CheckpointError, match=r"No autoencoder 'vae' in .*nowhere.*python -m course_utils.train storybook-sd"):
        load_autoencoder(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match=r"No autoencoder 'vae_before_discriminator'.*\(it has: vae\)"):
        load_autoencoder(tiny_folder, "vae_before_discriminator")
    vae = load_autoencoder(tiny_folder)
    assert type(vae).__name__ == "AutoencoderKL" and not vae.training


@pytest.mark.parametrize("part", ["unet", "vae", "text_encoder"])
def test_a_pickle_renamed_safetensors_is_refused_by_name(tiny_folder, tmp_path, part):
    from safetensors.torch import load_file

    from course_utils.checkpoints import write_manifest
    from course_utils.pipelines import load_autoencoder
    broken = tmp_path / "storybook-sd"
    shutil.copytree(tiny_folder, broken)
    weights = next((broken / part).glob("*.safetensors"))
    state = {k: v.clone() for k, v in load_file(weights).items()}
    weights.unlink()
    torch.save(state, weights)                 # a pickle under the safetensors name, its manifest line rewritten
    write_manifest(broken)
    match = rf"{part}/{weights.name} is not a safetensors file .*python -m course_utils.train storybook-sd"
    with pytest.raises(CheckpointError, match=match):
        load_text_to_image(broken)
    if part == "vae":
        with pytest.raises(CheckpointError, match=match):
            load_autoencoder(broken)
