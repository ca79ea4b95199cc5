"""The tiny Stable Diffusion's parts, its recipe, and the shipped data/storybook-sd folder."""
import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import CLIPTokenizer

from course_utils import storybook
from course_utils.autoencoder import (VAEConfig, build_vae, encode_latents, latent_scaling_factor, psnr,
                                      reconstruction_errors, vae_loss)
from course_utils.checkpoints import DATA_DIR, verify_manifest
from course_utils.seeding import make_generator
from course_utils.text_to_image import (BOS, EOS, SDConfig, TextToImageModel, build_text_encoder, build_unet,
                                        course_captions, course_words, drop_captions, latent_diffusion_loss,
                                        make_scheduler, tokenize, train_tokenizer)
from course_utils.text_to_image_train import (RECIPE, _scaled, build, evaluation_prompts, partial_caption,
                                              random_crops, render_captioned_pool)
from sd_tiny import TINY_SD, TINY_VAE, tiny_folder, tiny_pipe  # noqa: F401  (fixtures)

SHIPPED = DATA_DIR / "storybook-sd"


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return train_tokenizer(course_captions(), tmp_path_factory.mktemp("tok"), max_length=16)


# ----------------------------------------------------------------------------- tokenizer
def test_every_course_word_is_one_token(tokenizer):
    for word in course_words():
        assert tokenizer.tokenize(word) == [word + "</w>"], word
    assert set(course_words()) >= {"squirrel", "fishing", "by", "a", "river", "snow", "the"}


def test_tokenizer_follows_clip_conventions(tokenizer):
    vocab = tokenizer.get_vocab()
    # 256 byte symbols, the same with the end-of-word mark, merges, then <|startoftext|>, <|endoftext|>
    assert vocab["!"] == 0 and vocab["!</w>"] == 256
    assert vocab[BOS] == len(vocab) - 2 and vocab[EOS] == len(vocab) - 1
    assert tokenizer.bos_token == BOS and tokenizer.eos_token == EOS and tokenizer.pad_token == EOS
    ids = tokenize(tokenizer, ["squirrel fishing by a river", ""])
    assert ids.shape == (2, 16)
    assert ids[0, 0] == vocab[BOS] and ids[0, 6] == vocab[EOS] and (ids[0, 7:] == vocab[EOS]).all()
    assert ids[1, 0] == vocab[BOS] and (ids[1, 1:] == vocab[EOS]).all()     # "" = start mark + padding
    assert tokenizer.tokenize("Squirrel  FISHING") == ["squirrel</w>", "fishing</w>"]   # lower-cased like CLIP


def test_tokenizer_files_load_as_a_clip_tokenizer(tokenizer, tmp_path):
    folder = tmp_path / "tok"
    train_tokenizer(course_captions(), folder)
    assert (folder / "merges.txt").read_text().startswith("#version: 0.2\n")
    again = CLIPTokenizer.from_pretrained(folder, model_max_length=16)
    text = ["a fox reading in the snow", "owl juggling on a beach"]
    assert torch.equal(tokenize(again, text), tokenize(tokenizer, text))


def test_tokenizer_refuses_bad_captions():
    with pytest.raises(ValueError, match="non-empty"):
        train_tokenizer([])
    with pytest.raises(ValueError, match="non-empty"):
        train_tokenizer(["fox", " "])
    with pytest.raises(TypeError, match="list of prompts"):
        tokenize(None, "squirrel")


# ----------------------------------------------------------------------------- networks and losses
def test_text_encoder_matches_the_tokenizer_and_seeds_fix_weights(tokenizer):
    te = build_text_encoder(TINY_SD, tokenizer, seed=1)
    assert te.config.vocab_size == len(tokenizer) and te.config.max_position_embeddings == 16
    assert te.config.eos_token_id == tokenizer.eos_token_id
    out = te(tokenize(tokenizer, ["frog reading by a river"]))[0]
    assert out.shape == (1, 16, TINY_SD.text_hidden)
    same, other = build_unet(TINY_SD, seed=1), build_unet(TINY_SD, seed=2)
    assert torch.equal(build_unet(TINY_SD, seed=1).conv_in.weight, same.conv_in.weight)
    assert not torch.equal(other.conv_in.weight, same.conv_in.weight)


def test_unet_predicts_latent_shaped_noise():
    unet = build_unet(TINY_SD)
    z = torch.randn(2, 4, 16, 16, generator=make_generator(0))
    out = unet(z, torch.tensor([10, 900]), encoder_hidden_states=torch.zeros(2, 16, TINY_SD.text_hidden)).sample
    assert out.shape == (2, 4, 16, 16)
    assert unet.config.cross_attention_dim == TINY_SD.text_hidden


def test_scheduler_is_dpm_solver_on_sd_schedule_without_deprecations():
    sched = make_scheduler(SDConfig())
    assert type(sched).__name__ == "DPMSolverMultistepScheduler"
    assert sched.config.algorithm_type == "dpmsolver++" and sched.config.steps_offset == 1
    assert sched.config.beta_schedule == "scaled_linear" and abs(sched.betas[0].item() - 0.00085) < 1e-9


def test_drop_captions_replaces_whole_rows():
    ids, empty = torch.arange(12).reshape(3, 4), torch.full((4,), -1)
    assert torch.equal(drop_captions(ids, empty, make_generator(0), 0.0), ids)
    assert (drop_captions(ids, empty, make_generator(0), 1.0) == -1).all()
    mixed = drop_captions(torch.arange(4000).reshape(1000, 4), empty, make_generator(0), 0.1)
    dropped = (mixed == -1).all(1)
    assert ((mixed == -1).any(1) == dropped).all() and 0.07 < dropped.float().mean() < 0.13


def test_latent_diffusion_loss_is_seeded_and_trains_both_networks(tokenizer):
    sched = make_scheduler(TINY_SD)
    model = TextToImageModel(build_text_encoder(TINY_SD, tokenizer), build_unet(TINY_SD), sched.alphas_cumprod)
    batch = {"mean": torch.randn(3, 4, 16, 16, generator=make_generator(1)), "std": torch.full((3, 4, 16, 16), 0.1),
             "ids": tokenize(tokenizer, ["fox reading in a forest"] * 3), "empty_ids": tokenize(tokenizer, [""])[0],
             "scale": torch.tensor(0.5)}
    a = latent_diffusion_loss(model, batch, make_generator(7))
    b = latent_diffusion_loss(model, batch, make_generator(7))
    assert a.dim() == 0 and torch.isfinite(a) and torch.equal(a, b)
    a.backward()
    assert model.text_encoder.get_input_embeddings().weight.grad.abs().sum() > 0
    assert model.unet.conv_in.weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- the autoencoder
def test_vae_shapes_loss_and_scaling_factor():
    vae = build_vae(TINY_VAE, seed=0)
    x = storybook.render_batch(storybook.ALL_COMPOSITIONS[:3], [1, 2, 3], 64)
    mean, std = encode_latents(vae, x, batch_size=2)
    assert mean.shape == std.shape == (3, 4, 16, 16) and (std > 0).all()
    loss = vae_loss(vae, x, make_generator(0))
    assert loss.dim() == 0 and torch.isfinite(loss)
    s = latent_scaling_factor(mean, std, make_generator(0))
    z = mean + std * torch.randn(mean.shape, generator=make_generator(0))
    assert abs(s - 1 / float(z.std())) < 1e-6 and abs(float((z * s).std()) - 1) < 1e-5
    rec, metrics = reconstruction_errors(vae, x)
    assert rec.shape == x.shape and rec.abs().max() <= 1
    assert abs(metrics["psnr_db"] - psnr(metrics["mse"])) < 0.01


def test_psnr_formula():
    assert psnr(4.0) == pytest.approx(0.0) and psnr(0.04) == pytest.approx(20.0)


# ----------------------------------------------------------------------------- the recipe
def test_render_captioned_pool_is_seeded_and_cycles_through_the_training_compositions():
    images, comp = render_captioned_pool(5, seed=3)
    again, _ = render_captioned_pool(5, seed=3)
    assert images.dtype == torch.uint8 and images.shape == (5, 3, 64, 64) and torch.equal(images, again)
    assert comp.tolist() == [0, 1, 2, 3, 4]
    assert not torch.equal(render_captioned_pool(5, seed=4)[0], images)


def test_random_crops_are_windows_of_the_images():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    crops = random_crops(x, 4, make_generator(0))
    assert crops.shape == (2, 3, 4, 4) and torch.equal(crops, random_crops(x, 4, make_generator(0)))
    y, xx = divmod(int(crops[0, 0, 0, 0]), 8)
    assert torch.equal(crops[0], x[0, :, y:y + 4, xx:xx + 4])
    with pytest.raises(ValueError, match="crop size"):
        random_crops(x, 9, make_generator(0))


def test_partial_captions_leave_out_whole_attributes():
    comp = ("squirrel", "fishing", "by a river")
    assert partial_caption(comp, [True, True, True]) == "squirrel fishing by a river"
    assert partial_caption(comp, [True, False, True], article=True) == "a squirrel by a river"
    assert partial_caption(comp, [False, True, True], article=True) == "fishing by a river"   # no "a fishing"
    assert partial_caption(comp, [False, False, False]) == ""


def test_evaluation_prompts_and_step_scaling():
    assert evaluation_prompts("squirrel", 2) == ["squirrel fishing by a river"] * 2
    held = evaluation_prompts("held_out", 24)
    assert len(set(held)) == len(storybook.HELD_OUT) and held[0] == storybook.caption(*storybook.HELD_OUT[0])
    assert all(storybook.parse_caption(p) not in storybook.HELD_OUT for p in evaluation_prompts("seen", 108))
    with pytest.raises(ValueError, match="group"):
        evaluation_prompts("everything", 3)
    quick = _scaled(RECIPE, 15)
    assert quick.unet_steps == 15 and 1 <= quick.vae_steps < RECIPE.vae_steps and _scaled(RECIPE, None) == RECIPE


def test_recipe_builds_a_loadable_pipeline_and_resumes(tmp_path):
    from course_utils.pipelines import load_text_to_image
    tiny = replace(RECIPE, pool_size=24, vae=TINY_VAE, vae_steps=2, vae_batch=4, sd=TINY_SD, unet_steps=2,
                   unet_batch=4, unet_warmup=1, eval_per_group=2, eval_steps=2, eval_reconstructions=4,
                   checkpoint_every=1)
    record = build(tmp_path / "storybook-sd", run_dir=tmp_path / "run", recipe=tiny, progress=False)
    assert record["steps"] == {"vae": 2, "text_unet": 2}
    assert set(record["wall_time_s"]) >= {"vae_train_s", "text_unet_train_s", "encode_cache_s", "tokenizer_s"}
    assert record["metrics"]["adherence"]["held_out"]["n"] == 2 and record["latent_scaling_factor"] > 0
    verify_manifest(tmp_path / "storybook-sd")
    pipe = load_text_to_image(tmp_path / "storybook-sd")
    assert abs(pipe.vae.config.scaling_factor - record["latent_scaling_factor"]) < 1e-5
    again = build(tmp_path / "storybook-sd", run_dir=tmp_path / "run", recipe=tiny, progress=False)
    assert again["resumed_from"] == {"vae": 2, "text_unet": 2}            # nothing retrained
    assert again["wall_time_s"]["vae_train_s"] == record["wall_time_s"]["vae_train_s"]
    cache = tmp_path / "run" / "latents.safetensors"
    times = lambda: json.loads((tmp_path / "run" / "times.json").read_text())          # noqa: E731
    made = (cache.stat().st_mtime_ns, times()["encode_cache_key"])
    assert made[1]["vae_steps"] == 2
    build(tmp_path / "storybook-sd", run_dir=tmp_path / "run", recipe=replace(tiny, vae_steps=3), progress=False)
    # the VAE trained one more step: latents encoded by the old VAE must not be reused
    assert times()["encode_cache_key"]["vae_steps"] == 3
    assert times()["encode_cache_key"]["vae_sha256"] != made[1]["vae_sha256"]
    assert cache.stat().st_mtime_ns != made[0]


# ----------------------------------------------------------------------------- the shipped model
def test_shipped_folder_is_small_safetensors_only_and_checked():
    verify_manifest(SHIPPED)
    files = [p for p in SHIPPED.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 30 * 2**20
    weights = [p for p in files if p.suffix in (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl")]
    assert weights and all(p.suffix == ".safetensors" for p in weights)
    assert (SHIPPED / "tokenizer" / "vocab.json").is_file() and (SHIPPED / "tokenizer" / "merges.txt").is_file()
    record = json.loads((SHIPPED / "record.json").read_text())
    assert record["command"].startswith("python -m course_utils.train storybook-sd")
    assert {"vae_train_s", "text_unet_train_s"} <= set(record["wall_time_s"])
    index = json.loads((SHIPPED / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline" and index["requires_safety_checker"] is False
    assert index["scheduler"] == ["diffusers", "DPMSolverMultistepScheduler"]


def test_shipped_folder_loads_with_plain_diffusers_and_no_warnings(capfd):
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog
    from course_utils.text_to_image import StableDiffusionPipeline
    capfd.readouterr()
    dlog.disable_progress_bar(), tlog.disable_progress_bar()       # only the bars; warnings still print
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pipe = StableDiffusionPipeline.from_pretrained(SHIPPED, local_files_only=True)
    finally:
        dlog.enable_progress_bar(), tlog.enable_progress_bar()
    assert [str(w.message) for w in caught] == []
    assert capfd.readouterr().err.strip() == ""                    # diffusers/transformers log to stderr
    assert pipe.safety_checker is None and pipe.feature_extractor is None and pipe.vae_scale_factor == 4
    assert pipe.unet.config.sample_size == 16 and pipe.vae.config.latent_channels == 4
    assert 0.05 < pipe.vae.config.scaling_factor < 20


def test_shipped_model_is_bit_identical_per_seed():
    from course_utils.pipelines import load_text_to_image
    pipe = load_text_to_image()
    run = lambda seed: pipe("squirrel fishing by a river", generator=make_generator(seed), num_inference_steps=4,
                            output_type="pt").images
    first, again, other = run(934743), run(934743), run(656232)
    assert first.shape == (1, 3, 64, 64) and torch.equal(first, again) and not torch.equal(first, other)


def test_cross_attention_maps_are_distributions_over_tokens(tiny_pipe):
    from course_utils.text_to_image import cross_attention_maps, encode_text
    text = encode_text(tiny_pipe.text_encoder, tokenize(tiny_pipe.tokenizer, ["fox reading", "owl fishing"]))
    maps = cross_attention_maps(tiny_pipe.unet, torch.randn(2, 4, 16, 16, generator=make_generator(0)), 500, text)
    assert maps.shape == (2, 16, 8, 8)
    assert torch.allclose(maps.sum(1), torch.ones(2, 8, 8), atol=1e-5) and (maps >= 0).all()
    assert not any(m._forward_pre_hooks for m in tiny_pipe.unet.modules())          # hooks removed
    with pytest.raises(ValueError, match="no cross-attention"):
        cross_attention_maps(torch.nn.Sequential(), None, 0, text)


@pytest.mark.parametrize("prompts", [[], "", ["fox reading", ""], 123, [None]])
def test_by_hand_loop_refuses_empty_or_non_text_prompts(tiny_pipe, prompts):
    from course_utils.text_to_image import text_to_image_by_hand
    with pytest.raises(ValueError, match="prompts must be a non-empty text"):
        text_to_image_by_hand(tiny_pipe, prompts, generator=make_generator(0), num_inference_steps=1)
