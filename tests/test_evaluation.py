"""Measuring models with the judge: batched seeded sampling, sampler scores, the pixel denoiser's evaluation,
the text-to-image adherence report and the judge's own accuracy (course_utils/evaluation.py)."""
from __future__ import annotations

import pytest
import torch

from course_utils import evaluation, storybook
from course_utils.denoiser import DenoiserConfig, build_model, generate, make_sampler
from course_utils.seeding import make_generator
from sd_tiny import tiny_pipe  # noqa: F401  (fixture)

TINY = DenoiserConfig(sample_size=8, block_out_channels=(8, 16), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                      up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=4, vocab_sizes=(3, 2, 2),
                      num_train_timesteps=50)
TINY32 = DenoiserConfig(**{**TINY.__dict__, "sample_size": 32, "vocab_sizes": (6, 4, 5)})


@pytest.mark.slow
def test_generate_in_batches_draws_batch_i_with_seed_plus_i():
    model = build_model(TINY, seed=1).eval()
    scheduler, steps = make_sampler("DDIM-25", model)
    labels = torch.tensor([[0, 1, 1], [2, 0, 0], [1, 1, 0]])
    by_hand = torch.cat([generate(model, scheduler, labels=labels[:2], generator=make_generator(7), num_inference_steps=steps),
                         generate(model, scheduler, labels=labels[2:], generator=make_generator(8), num_inference_steps=steps)])
    assert torch.equal(evaluation.generate_in_batches(model, "DDIM-25", labels=labels, seed=7, batch_size=2), by_hand)
    unconditional = evaluation.generate_in_batches(model, "DDIM-25", n=3, seed=7, batch_size=2)
    assert unconditional.shape == (3, 3, 8, 8) and not torch.equal(unconditional, by_hand)
    with pytest.raises(ValueError, match="either n .* or labels"):
        evaluation.generate_in_batches(model, "DDIM-25", n=3, labels=labels, seed=7)
    with pytest.raises(ValueError, match="at least one image"):
        evaluation.generate_in_batches(model, "DDIM-25", n=0, seed=7)
    with pytest.raises(ValueError, match="Known samplers"):
        evaluation.generate_in_batches(model, "DDIM-7", n=1, seed=7)


def _stand_in_model(model, sampler, *, n=None, labels=None, seed, batch_size=250):
    """What evaluate draws, without a network: unconditional draws are renders; a label row is drawn as
    asked for a training composition, but with the NEXT subject for a held-out one (a model that fails there)."""
    if labels is None:
        return storybook.sample_batch(n, make_generator(seed), 32)[0]
    shown = []
    for s, a, p in (storybook.composition_of(row) for row in labels.tolist()):
        if (s, a, p) in storybook.HELD_OUT:
            s = storybook.SUBJECTS[(storybook.SUBJECTS.index(s) + 1) % len(storybook.SUBJECTS)]
        shown.append((s, a, p))
    return storybook.render_batch(shown, [seed + i for i in range(len(shown))], 32)


def test_evaluate_scores_seen_and_held_out_against_their_own_compositions(monkeypatch):
    monkeypatch.setattr(evaluation, "generate_in_batches", _stand_in_model)
    m = evaluation.evaluate(build_model(TINY32), n=60, per_seen=1, per_held_out=2, max_seen=12)
    assert m["n_seen"] == 12 and m["n_held_out"] == 2 * len(storybook.HELD_OUT) and m["n_unconditional"] == 60
    seen, held = m["adherence_seen_guidance_1"], m["adherence_held_out_guidance_1"]
    assert set(seen) == set(held) == {"subject", "action", "place", "all"}
    assert seen["all"] >= 0.9                             # drawn as asked
    assert held["subject"] <= 0.1 and held["action"] >= 0.9 and held["place"] >= 0.9   # only the subject was wrong
    fid, floor = m["judge_fid_unconditional"], m["judge_fid_real_vs_real_floor"]
    assert fid > 0 and floor > 0 and m["fid_over_floor"] == round(fid / floor, 2)
    assert m["fid_over_floor"] < 3                        # renders against renders: near the floor
    assert 0 <= m["coverage_unconditional"] <= 1 and 0 <= m["coverage_real_renders_same_n"] <= 1


def test_evaluation_prompts_cycle_through_their_group():
    assert evaluation.evaluation_prompts("squirrel", 2) == ["squirrel fishing by a river"] * 2
    held = evaluation.evaluation_prompts("held_out", 24)
    assert len(set(held)) == len(storybook.HELD_OUT) and held[0] == storybook.caption(*storybook.HELD_OUT[0])
    assert all(storybook.parse_caption(p) not in storybook.HELD_OUT for p in evaluation.evaluation_prompts("seen", 108))
    with pytest.raises(ValueError, match="group"):
        evaluation.evaluation_prompts("everything", 3)


def test_score_sampler_scores_as_many_samples_as_renders(monkeypatch):
    monkeypatch.setattr(evaluation, "generate_in_batches", _stand_in_model)
    real, other, _ = storybook.reference_renders(40)
    row, fake = evaluation.score_sampler(build_model(TINY32), "DDIM-25", real)
    assert fake.shape == real.shape and row["n"] == 40 and row["steps"] == 25
    assert row["judge_fid"] > 0 and row["judge_kid"] < 0.5 and 0 < row["coverage"] <= 1 and row["seconds_per_image"] >= 0


# ----------------------------------------------------------------------------- word_localisation
def test_word_localisation_of_the_shipped_model_reads_the_subject_on_the_animal():
    from course_utils.pipelines import load_text_to_image
    pipe = load_text_to_image()
    out = evaluation.word_localisation(pipe, n=30, split="held_out")
    assert out["n"] == 30 and out["map_side"] * pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.block_out_channels) - 1) \
        == out["image_side"]
    for name in ("animal", "prop", "place"):
        r = out[name]
        assert 0 < r["area"] < 1 and 0 <= r["mass"] <= 1 and r["ratio"] == pytest.approx(r["mass"] / r["area"], rel=5e-3)
    assert out["animal"]["ratio"] >= 2.0            # the subject word looks at the animal (issue #18's threshold)
    assert out == evaluation.word_localisation(pipe, n=30, split="held_out")      # seeded: the same numbers again


def test_word_localisation_with_attention_spread_evenly_is_a_ratio_of_one(monkeypatch):
    from course_utils import text_to_image
    from course_utils.pipelines import load_text_to_image

    def even(unet, latents, t, text, *, resolution="coarsest"):
        return torch.ones(latents.shape[0], text.shape[1], 8, 8)
    monkeypatch.setattr(text_to_image, "cross_attention_maps", even)
    out = evaluation.word_localisation(load_text_to_image(), n=12, timesteps=(500,))
    assert all(out[name]["ratio"] == pytest.approx(1.0, abs=1e-3) for name in ("animal", "prop", "place"))
    with pytest.raises(ValueError, match="positive number of renders"):
        evaluation.word_localisation(load_text_to_image(), n=0)


# ----------------------------------------------------------------------------- choose_guidance
def test_choose_guidance_takes_the_best_held_out_scale_on_validation_seeds(monkeypatch):
    asked = []

    def fake_report(pipe, *, per_group, guidance_scale, num_inference_steps, seed, groups):
        asked.append((guidance_scale, seed, groups))
        share = {1.0: 0.5, 3.0: 0.9, 5.0: 0.9, 7.5: 0.7}[guidance_scale]
        return {"held_out": {"all": share, "n": per_group}}
    monkeypatch.setattr(evaluation, "adherence_report", fake_report)
    choice = evaluation.choose_guidance(None, (7.5, 1, 5, 3), per_group=12, num_inference_steps=25)
    assert choice["value"] == 3.0                              # 3 and 5 tie: the smaller scale wins
    assert choice["held_out_adherence"] == {"1": 0.5, "3": 0.9, "5": 0.9, "7.5": 0.7}
    assert {seed for _, seed, _ in asked} == {evaluation.VALIDATION_SEED}
    # adherence_report draws group k's samples from seed + 100_000·k + i: the reported ones (seed 10_000, three
    # groups of up to 1000) must not reach the validation seeds
    assert evaluation.VALIDATION_SEED > 10_000 + 2 * 100_000 + 1000
    assert all(groups == ("held_out",) for _, _, groups in asked)
    with pytest.raises(ValueError, match="non-negative guidance scales"):
        evaluation.choose_guidance(None, (), per_group=12, num_inference_steps=25)
    with pytest.raises(ValueError, match="non-negative guidance scales"):
        evaluation.choose_guidance(None, (-1.0,), per_group=12, num_inference_steps=25)


# ----------------------------------------------------------------------------- reconstruction_report
class _PerfectAutoencoder(torch.nn.Module):
    """x → z = x → x̂ = x (the diffusers AutoencoderKL interface, nothing lost); ``blur`` smooths x̂."""

    def __init__(self, blur: bool = False):
        super().__init__()
        self.blur, self.anchor = blur, torch.nn.Parameter(torch.zeros(1))
        from types import SimpleNamespace
        self._ns = SimpleNamespace

    def encode(self, x):
        return self._ns(latent_dist=self._ns(mean=x))

    def decode(self, z):
        return self._ns(sample=torch.nn.functional.avg_pool2d(z, 3, 1, 1) if self.blur else z)


def test_reconstruction_report_scores_a_lossless_and_a_blurring_autoencoder():
    perfect = evaluation.reconstruction_report(_PerfectAutoencoder(), n=12, size=64)
    assert perfect["psnr_db"] >= 100 and perfect["detail_ratio"] == 1.0 and perfect["n"] == 12
    assert perfect["judge_adherence"] == perfect["judge_adherence_of_originals"] == 1.0
    blurry = evaluation.reconstruction_report(_PerfectAutoencoder(blur=True), n=12, size=64)
    assert 15 < blurry["psnr_db"] < 40 and blurry["detail_ratio"] < 0.7
    with pytest.raises(ValueError, match="positive number of renders"):
        evaluation.reconstruction_report(_PerfectAutoencoder(), n=0, size=64)


# ----------------------------------------------------------------------------- sample_quality
def _generator_of_renders(blur: bool):
    """A stand-in for text_to_image.generate that 'samples' fresh renders of each prompt (blurred if asked)."""
    def fake_generate(pipe, prompts, seeds, *, guidance_scale, num_inference_steps, batch_size=64):
        x = storybook.render_batch([storybook.parse_caption(p) for p in prompts], [s + 7 for s in seeds], 64)
        return torch.nn.functional.avg_pool2d(x, 3, 1, 1) if blur else x
    return fake_generate


def test_sample_quality_puts_a_perfect_generator_at_the_floor_and_a_blurry_one_above(monkeypatch):
    from types import SimpleNamespace
    from course_utils import text_to_image
    pipe = SimpleNamespace(unet=SimpleNamespace(config=SimpleNamespace(sample_size=8)), vae_scale_factor=8)
    monkeypatch.setattr(text_to_image, "generate", _generator_of_renders(blur=False))
    perfect = evaluation.sample_quality(pipe, n=60, guidance_scale=3.0, num_inference_steps=25)
    assert perfect["size"] == 64 and perfect["n"] == 60 and perfect["guidance_scale"] == 3.0
    assert perfect["fid_over_floor"] == pytest.approx(perfect["judge_fid"] / perfect["judge_fid_floor"], abs=0.01)
    assert 0.5 < perfect["fid_over_floor"] < 1.6 and 0.9 < perfect["detail_ratio"] < 1.1
    monkeypatch.setattr(text_to_image, "generate", _generator_of_renders(blur=True))
    blurry = evaluation.sample_quality(pipe, n=60, guidance_scale=3.0, num_inference_steps=25)
    assert blurry["detail_ratio"] < 0.7 and blurry["judge_fid"] > perfect["judge_fid"]
    assert blurry["judge_fid_floor"] == perfect["judge_fid_floor"]        # the same renders, whatever the model
    with pytest.raises(ValueError, match="at least 2 samples"):
        evaluation.sample_quality(pipe, n=1, guidance_scale=3.0, num_inference_steps=25)


def test_reconstruction_report_measures_the_subject_and_redraw_fidelity_inside_its_masks():
    perfect = evaluation.reconstruction_report(_PerfectAutoencoder(), n=6, size=64)
    assert perfect["subject_psnr_db"] >= 100 and perfect["subject_detail_ratio"] == 1.0
    blurry = evaluation.reconstruction_report(_PerfectAutoencoder(blur=True), n=6, size=64)
    # the subject is where the edges are: blur costs it more than the whole picture
    assert blurry["subject_psnr_db"] < blurry["psnr_db"] and blurry["subject_detail_ratio"] < 0.7


def test_redraw_fidelity_is_img2img_of_fresh_renders_scored_inside_the_subject(monkeypatch, tiny_pipe):
    calls = []

    def fake_img2img(pipe, images, prompts, *, strength, generator, num_inference_steps, guidance_scale):
        calls.append((list(prompts), strength))
        return images.clone() if strength < 0.5 else torch.zeros_like(images)     # a perfect or a blank redraw
    monkeypatch.setattr(evaluation, "img2img", fake_img2img)
    exact = evaluation.redraw_fidelity(tiny_pipe, n=5, strength=0.3, batch_size=2, guidance_scale=1.0)
    assert exact["psnr_db"] >= 100 and exact["subject_psnr_db"] >= 100 and exact["n"] == 5
    assert [len(p) for p, _ in calls] == [2, 2, 1] and calls[0][0][0] == storybook.caption(*storybook.ALL_COMPOSITIONS[0])
    blank = evaluation.redraw_fidelity(tiny_pipe, n=2, strength=0.5, guidance_scale=1.0)
    assert blank["subject_psnr_db"] < 20 and blank["strength"] == 0.5
