"""The helpers inside the experiments/ scripts (studies of one question): what they compute, checked on
cases with known answers, so a figure in an experiment's README cannot come from a helper that reads the
wrong thing."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))

import autoencoder_f8  # noqa: E402
import denoiser_variants as variants  # noqa: E402
import guidance_variety  # noqa: E402
import sampling_spread as spread  # noqa: E402
import subject_autoencoder  # noqa: E402
import text_to_image_curve as t2i_curve  # noqa: E402
import unconditional_gap as gap  # noqa: E402
import unet_capacity  # noqa: E402

from course_utils import storybook  # noqa: E402
from course_utils.recipes import pixel_unet  # noqa: E402
from course_utils.seeding import make_generator  # noqa: E402


def _shares(subject: dict, action: dict, place: dict) -> dict:
    return {"subject": subject, "action": action, "place": place}


SAME = _shares({"fox": 0.5, "owl": 0.5}, {"reading": 1.0, "fishing": 0.0}, {"in the snow": 0.25, "on a beach": 0.75})


def test_mix_distance_is_zero_for_the_same_mix_and_one_for_disjoint_mixes():
    assert gap.mix_distance(SAME, SAME) == [0.0, 0.0, 0.0]
    other = _shares({"fox": 0.0, "owl": 1.0}, {"reading": 0.0, "fishing": 1.0}, {"in the snow": 0.25, "on a beach": 0.75})
    assert gap.mix_distance(other, SAME) == [0.5, 1.0, 0.0]


def test_furthest_words_names_the_largest_excess_and_the_largest_shortfall():
    skewed = _shares({"fox": 0.4, "owl": 0.6}, {"reading": 0.7, "fishing": 0.3}, {"in the snow": 0.25, "on a beach": 0.75})
    text = gap.furthest_words(skewed, SAME)
    assert text == "most too many: fishing 30% vs 0%; most too few: reading 70% vs 100%"
    assert gap.shares_of(skewed, "on a beach") == 0.75


def test_read_shares_of_renders_sums_to_one_and_follows_the_true_labels():
    triples = [("fox", "reading", "in the snow")] * 12 + [("owl", "fishing", "on a beach")] * 4
    x = storybook.render_batch(triples, seeds=list(range(16)), size=32)
    shares = gap.read_shares(x)
    assert list(shares) == ["subject", "action", "place"]
    assert list(shares["subject"]) == list(storybook.SUBJECTS)
    for attribute in shares.values():
        assert sum(attribute.values()) == pytest.approx(1.0, abs=0.01)
    # The judge reads renders almost always right (benchmarks/judge_accuracy.py), so the shares follow the labels.
    assert shares["subject"]["fox"] == pytest.approx(0.75, abs=0.13)
    assert shares["place"]["on a beach"] == pytest.approx(0.25, abs=0.13)


def test_image_statistics_sees_saturation_and_flat_colour():
    flat = torch.ones(2, 3, 8, 8)
    stats = gap.image_statistics(flat)
    assert stats["saturated_share"] == 1.0 and stats["sharpness"] == 0.0
    assert stats["std_rgb"] == [0.0, 0.0, 0.0]


def test_sampling_seeds_that_would_share_a_batch_are_refused():
    spread.check_disjoint([5, 105, 205], n=500)                   # batches 5-6, 105-106, 205-206
    with pytest.raises(ValueError, match="Sampling seeds 5 and 6 both draw a batch with generator seed 6"):
        spread.check_disjoint([5, 6], n=500)
    spread.check_disjoint([5, 6], n=250)                          # one batch each: nothing shared


def test_spread_summary_over_seeds():
    row = spread.summary([4.0, 5.0, 6.0], floor=1.25)
    assert (row["mean"], row["stdev"], row["min"], row["max"]) == (5.0, 1.0, 4.0, 6.0)
    assert row["mean_over_floor"] == 4.0 and row["judge_fid"] == [4.0, 5.0, 6.0]


def test_spread_rows_merge_by_model_only_when_measured_the_same_way():
    old = {"n": 500, "seeds": [5, 105], "rows": [{"model": "a", "mean": 1.0}, {"model": "b", "mean": 2.0}]}
    new = [{"model": "b", "mean": 3.0}, {"model": "c", "mean": 4.0}]
    assert spread.merge(old, new, 500, [5, 105]) == [{"model": "a", "mean": 1.0}, *new]
    assert spread.merge(old, new, 500, [5, 205]) == new            # other seeds: not comparable, not kept
    assert spread.merge(old, new, 1000, [5, 105]) == new
    assert spread.merge(None, new, 500, [5, 105]) == new


def test_a_spread_table_from_several_runs_says_where_each_rows_command_is():
    row = {"model": "pixel-unet", **spread.summary([4.0, 5.0], floor=1.0), "command": "python a"}
    assert len(spread.format_table([row, {**row, "model": "other"}]).splitlines()) == 3
    lines = spread.format_table([row, {**row, "command": "python b"}]).splitlines()
    assert len(lines) == 4 and lines[-1].startswith("(rows from 2 runs")


def _args(**given) -> argparse.Namespace:
    fields = {"channels": None, "p_all": None, "ema": None, "seed": None, "steps": None}
    return argparse.Namespace(**{**fields, **given})


def test_a_variant_changes_only_the_fields_given():
    assert variants.variant(_args()) == pixel_unet.RECIPE
    wide = variants.variant(_args(channels=[32, 64, 128], p_all=0.2))
    assert wide.model.block_out_channels == (32, 64, 128) and wide.p_all == 0.2
    assert wide.steps == pixel_unet.RECIPE.steps and wide.model.layers_per_block == pixel_unet.RECIPE.model.layers_per_block


def test_a_trained_variant_is_recognised_and_another_is_not(tmp_path):
    recipe = variants.variant(_args(steps=1, channels=[16, 16, 16]))
    out = tmp_path / "v"
    assert not variants.already_trained(out, recipe)
    record = pixel_unet.build(out, run_dir=None, recipe=recipe, command="test", evaluate_after=False)
    assert record["command"] == "test" and record["steps"] == 1 and "metrics" not in record
    assert json.loads((out / "config.json").read_text())["block_out_channels"] == [16, 16, 16]
    assert variants.already_trained(out, recipe)
    assert not variants.already_trained(out, variants.variant(_args(steps=1, channels=[16, 16, 16], seed=1)))
    assert not variants.already_trained(out, variants.variant(_args(steps=1, channels=[16, 32, 32])))


def test_the_variants_table_has_one_line_per_row_with_its_scores():
    recipe = {**{k: v for k, v in asdict(pixel_unet.RECIPE).items() if k != "model"}, "block_out_channels": [32, 64, 128]}
    row = {"recipe": recipe, "parameters": 2_740_000, "train_minutes": 56.8, "judge_fid_null": 4.3,
           "judge_fid_training_mix": 2.58, "judge_fid_floor": 0.966, "null_over_floor": 4.46}
    header, line = variants.format_table([row]).splitlines()
    assert "null/floor" in header
    assert line.split() == ["(32,", "64,", "128)", "0.1", "0.999", "0", "4000", "2,740,000", "56.8",
                            "4.30", "2.58", "0.97", "4.46"]


def test_a_variant_is_never_trained_into_data(monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("denoiser_variants started training into data/")
    monkeypatch.setattr(variants.pixel_unet, "build", no_training)
    monkeypatch.setattr(sys, "argv", ["denoiser_variants.py", "--seed", "7", "--steps", "1", "--out", "data/pixel-unet"])
    with pytest.raises(SystemExit, match="inside data/"):
        variants.main()


def test_resampling_keeps_less_the_more_it_shrinks():
    base = autoencoder_f8.resampling_baselines(6)
    assert [base[f]["numbers_per_image"] for f in ("f2", "f4", "f8")] == [12_288, 3_072, 768]
    assert base["f2"]["psnr_db"] > base["f4"]["psnr_db"] > base["f8"]["psnr_db"] > 10


def test_the_curve_reads_the_ema_weights_of_a_text_to_image_training_checkpoint(tmp_path):
    from course_utils.text_to_image import TextToImageModel, build_text_encoder, build_unet, train_tokenizer
    from course_utils.training import TrainConfig, load_training_checkpoint, train
    from sd_tiny import TINY_SD
    tokenizer = train_tokenizer(["squirrel fishing by a river"], max_length=TINY_SD.max_length)
    model = TextToImageModel(build_text_encoder(TINY_SD, tokenizer), build_unet(TINY_SD), torch.linspace(0.99, 0.01, 10))
    before = {k: v.clone() for k, v in model.unet.state_dict().items()}
    batch = lambda step, g: torch.randn(2, 4, TINY_SD.latent_size, TINY_SD.latent_size, generator=g)  # noqa: E731
    loss = lambda m, z, g: m(z, torch.zeros(2, dtype=torch.long), torch.zeros(2, 16, dtype=torch.long)).pow(2).mean()  # noqa: E731
    train(model, loss, batch, TrainConfig(steps=2, lr=1e-2, ema_decay=0.5, run_dir=str(tmp_path)), progress=False)
    parts = t2i_curve.ema_parts(load_training_checkpoint(tmp_path / "checkpoint.safetensors")[0])
    assert set(parts["unet"]) == set(before) and set(parts["text_encoder"]) == set(model.text_encoder.state_dict())
    assert any(not torch.equal(parts["unet"][k], before[k]) for k in before)          # trained, not the initial weights
    assert any(not torch.equal(parts["unet"][k], v) for k, v in model.unet.state_dict().items())   # the EMA, not the last
    with pytest.raises(ValueError, match="no EMA weights"):
        t2i_curve.ema_parts({"model.unet.w": torch.zeros(1)})


def test_guidance_variety_candidates_parse_and_bad_ones_are_refused():
    assert guidance_variety.parse_candidate("cond") == {"name": "cond", "w": 1.0, "interval": None}
    assert guidance_variety.parse_candidate("cfg:7.5")["w"] == 7.5
    assert guidance_variety.parse_candidate("renders")["w"] is None
    assert guidance_variety.parse_candidate("interval:10:80:799") == {"name": "interval:10:80:799", "w": 10.0,
                                                                       "interval": (80.0, 799.0)}
    for bad in ("cfg", "cfg:x", "interval:7.5:80", "pag:3"):
        with pytest.raises(ValueError, match="a candidate is"):
            guidance_variety.parse_candidate(bad)


def test_guidance_variety_plan_gives_each_prompt_its_own_seeds_and_the_squirrel_the_flagship_ones():
    rows = guidance_variety.plan(held_out_seeds=3, seen=4, seen_seeds=2, squirrel_seeds=5, seed=700_000)
    groups = [r["group"] for r in rows]
    assert groups.count("held_out") == 3 * len(storybook.HELD_OUT) and groups.count("seen") == 8
    assert {r["composition"] for r in rows if r["group"] == "held_out"} == set(storybook.HELD_OUT)
    assert all(r["composition"] in storybook.TRAIN_COMPOSITIONS for r in rows if r["group"] == "seen")
    squirrel = [r["seed"] for r in rows if r["group"] == "squirrel"]
    assert squirrel[:3] == [934743, 656232, 545488] and len(set(squirrel)) == 5
    assert len({r["seed"] for r in rows}) == len(rows)           # no two images share a seed
    # the "renders" row scores fresh renders of each row's own composition (no model needed)
    renders = guidance_variety.draw(None, rows[:4], guidance_variety.parse_candidate("renders"), steps=25)
    again = storybook.render_batch([r["composition"] for r in rows[:4]], [0] * 4, size=128)
    assert renders.shape == (4, 3, 128, 128) and not torch.equal(renders, again)


def test_the_wall_budget_schedule_warms_up_by_steps_then_decays_by_time_to_a_tenth():
    lr = unet_capacity.wall_lr
    assert lr(0, 0.0, lr=2e-3, warmup_steps=100) == pytest.approx(2e-5)
    assert lr(49, 0.9, lr=2e-3, warmup_steps=100) == pytest.approx(1e-3)          # warm-up ignores the time
    assert lr(100, 0.0, lr=2e-3, warmup_steps=100) == pytest.approx(2e-3)
    assert lr(500, 0.5, lr=2e-3, warmup_steps=100) == pytest.approx(1.1e-3)
    assert lr(900, 1.0, lr=2e-3, warmup_steps=100) == pytest.approx(2e-4)
    assert lr(950, 1.3, lr=2e-3, warmup_steps=100) == pytest.approx(2e-4)         # past the budget: stays at 10 %
    with pytest.raises(ValueError, match="share of the wall budget"):
        lr(5, -0.1, lr=2e-3, warmup_steps=0)


def test_the_capacity_arms_differ_from_the_shipped_unet_only_as_named():
    from course_utils.text_to_image import build_unet
    nets = {name: build_unet(config) for name, config in unet_capacity.ARMS.items()}
    size = {name: sum(p.numel() for p in net.parameters()) for name, net in nets.items()}
    assert size["wide"] > 3 * size["shipped"] and size["shipped"] < size["attn16"] < size["wide"]
    assert not hasattr(nets["shipped"].down_blocks[0], "attentions")
    assert hasattr(nets["attn16"].down_blocks[0], "attentions")
    assert nets["wide"].config.block_out_channels == (64, 128)
    z = torch.zeros(1, 4, 16, 16)
    text = torch.zeros(1, 16, 64)
    for net in nets.values():
        assert net(z, torch.tensor([10]), encoder_hidden_states=text).sample.shape == z.shape


def test_steps_for_minutes_reaches_the_target_time_and_always_moves_on():
    steps = subject_autoencoder.steps_for_minutes
    assert steps(0, 0.0, 5.0, 1.5) == 200                      # 300 s at 1.5 s a step
    assert steps(200, 5.0, 10.0, 2.0) == 350
    assert steps(350, 10.2, 10.0, 2.0) == 351                   # already past the target: one more step
    with pytest.raises(ValueError):
        steps(0, 0.0, 5.0, 0.0)

