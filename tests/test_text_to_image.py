"""The tiny Stable Diffusion's parts, its recipe, and the shipped data/storybook-sd folder."""
import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import CLIPTokenizer

from course_utils import storybook
from course_utils.checkpoints import verify_manifest
from course_utils.paths import DATA_DIR
from course_utils.seeding import make_generator
from course_utils.text_to_image import (BOS, EOS, SDConfig, TextToImageModel, build_text_encoder, build_unet,
                                        course_captions, course_words, drop_captions, latent_batch,
                                        latent_diffusion_loss, make_scheduler, partial_caption, tokenize,
                                        train_tokenizer)
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


def _cache(n: int = 6) -> tuple[dict, list]:
    comps = storybook.compositions("train")[:n]
    cache = {"mean": torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 4, 2, 2).clone(),
             "std": torch.full((n, 4, 2, 2), 0.1)}
    return cache, comps


def test_latent_batch_pairs_each_latent_with_its_own_caption(tokenizer):
    cache, comps = _cache()
    batch = latent_batch(cache, comps, tokenizer, 0.5, 32, make_generator(3), p_drop_word=0.0, p_article=0.0)
    rows = batch["mean"][:, 0, 0, 0].long().tolist()                 # which cached render each row is
    texts = tokenizer.batch_decode(batch["ids"], skip_special_tokens=True)
    assert [t.strip() for t in texts] == [storybook.caption(*comps[r]) for r in rows]
    assert torch.equal(batch["empty_ids"], tokenize(tokenizer, [""])[0]) and float(batch["scale"]) == 0.5
    again = latent_batch(cache, comps, tokenizer, 0.5, 32, make_generator(3), p_drop_word=0.0, p_article=0.0)
    assert all(torch.equal(batch[k], again[k]) for k in batch)       # one generator, one batch


def test_latent_batch_leaves_out_words_at_the_asked_rate(tokenizer):
    cache, comps = _cache()
    batch = latent_batch(cache, comps, tokenizer, 1.0, 600, make_generator(0), p_drop_word=0.1, p_article=0.25)
    texts = [t.strip() for t in tokenizer.batch_decode(batch["ids"], skip_special_tokens=True)]
    subjects = [t.removeprefix("a ").split()[0] if t else "" for t in texts]
    no_subject = sum(s not in storybook.SUBJECTS for s in subjects) / len(texts)
    articles = sum(t.startswith("a ") for t in texts) / len(texts)
    assert 0.06 < no_subject < 0.14 and 0.15 < articles < 0.3
    empty = latent_batch(cache, comps, tokenizer, 1.0, 8, make_generator(0), p_drop_word=1.0)
    assert torch.equal(empty["ids"], tokenize(tokenizer, [""] * 8))
    assert partial_caption(comps[0], [True, False, True], article=True).startswith("a ")


def test_latent_batch_refuses_a_cache_and_compositions_of_different_lengths(tokenizer):
    cache, comps = _cache()
    with pytest.raises(ValueError, match="composition of each cached render"):
        latent_batch(cache, comps[:-1], tokenizer, 1.0, 4, make_generator(0))






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
    # issue #18: the guidance was chosen on a validation set, and the autoencoder before its GAN term ships too
    assert record["default_guidance"]["value"] in (float(w) for w in record["default_guidance"]["held_out_adherence"])
    assert (SHIPPED / "vae_before_discriminator" / "config.json").is_file()
    assert "before_discriminator" in record["metrics"]["vae_reconstruction"]
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
    assert pipe.safety_checker is None and pipe.feature_extractor is None and pipe.vae_scale_factor == 8
    assert pipe.unet.config.sample_size == 16 and pipe.vae.config.latent_channels == 4
    assert 0.05 < pipe.vae.config.scaling_factor < 20


@pytest.mark.slow
def test_shipped_model_is_bit_identical_per_seed():
    from course_utils.pipelines import load_text_to_image
    pipe = load_text_to_image()
    run = lambda seed: pipe("squirrel fishing by a river", generator=make_generator(seed), num_inference_steps=4,
                            output_type="pt").images
    first, again, other = run(934743), run(934743), run(656232)
    assert first.shape == (1, 3, 128, 128) and torch.equal(first, again) and not torch.equal(first, other)


def test_cross_attention_maps_are_distributions_over_tokens(tiny_pipe):
    from course_utils.text_to_image import cross_attention_maps, encode_text
    text = encode_text(tiny_pipe.text_encoder, tokenize(tiny_pipe.tokenizer, ["fox reading", "owl fishing"]))
    maps = cross_attention_maps(tiny_pipe.unet, torch.randn(2, 4, 16, 16, generator=make_generator(0)), 500, text)
    assert maps.shape == (2, 16, 8, 8)
    assert torch.allclose(maps.sum(1), torch.ones(2, 8, 8), atol=1e-5) and (maps >= 0).all()
    assert not any(m._forward_pre_hooks for m in tiny_pipe.unet.modules())          # hooks removed
    with pytest.raises(ValueError, match="no cross-attention"):
        cross_attention_maps(torch.nn.Sequential(), None, 0, text)
    with pytest.raises(ValueError, match="'coarsest' or 'finest'"):
        cross_attention_maps(tiny_pipe.unet, None, 0, text, resolution="8")


def test_cross_attention_maps_at_16x16_when_the_unet_attends_there():
    from dataclasses import replace

    from course_utils.text_to_image import build_unet, cross_attention_maps
    config = replace(TINY_SD, unet_down=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                     unet_up=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"))
    unet, text = build_unet(config), torch.randn(1, 5, config.text_hidden, generator=make_generator(1))
    z = torch.randn(1, 4, 16, 16, generator=make_generator(0))
    fine, coarse = (cross_attention_maps(unet, z, 500, text, resolution=r) for r in ("finest", "coarsest"))
    assert fine.shape == (1, 5, 16, 16) and coarse.shape == (1, 5, 8, 8)
    assert torch.allclose(fine.sum(1), torch.ones(1, 16, 16), atol=1e-5)


@pytest.mark.parametrize("prompts", [[], "", ["fox reading", ""], 123, [None]])
def test_by_hand_loop_refuses_empty_or_non_text_prompts(tiny_pipe, prompts):
    from course_utils.text_to_image import text_to_image_by_hand
    with pytest.raises(ValueError, match="prompts must be a non-empty text"):
        text_to_image_by_hand(tiny_pipe, prompts, generator=make_generator(0), num_inference_steps=1)
