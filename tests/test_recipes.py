"""The workshop: the training command, the one record writer and every shipped model's recipe
(course_utils/recipes/, run as `python -m course_utils.train <recipe>`). Each recipe runs for a step or two
with tiny networks; the shipped records must match the current recipes."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, replace

import pytest
import torch

from course_utils import evaluation, gan, storybook, train, vae
from course_utils.checkpoints import CheckpointError, save_model, verify_manifest
from course_utils.compare import training_minutes
from course_utils.denoiser import DenoiserConfig, build_model
from course_utils.judge import Judge, load
from course_utils.paths import data_path
from course_utils.recipes import FOLDER, RECIPES
from course_utils.recipes import gan as gan_recipe
from course_utils.recipes import judge as judge_recipe
from course_utils.recipes import pixel_unet, record as record_writer
from course_utils.recipes import sd_decoder, storybook_sd
from course_utils.recipes import vae as vae_recipe
from course_utils.seeding import make_generator
from course_utils.training import TrainResult
from sd_tiny import TINY_SD, TINY_VAE  # noqa: F401

TINY_PIXEL = DenoiserConfig(sample_size=8, block_out_channels=(8, 16), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                            up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=4, vocab_sizes=(3, 2, 2),
                            num_train_timesteps=50)
TINY_VAE_NET = vae.VAEConfig(channels=(8, 16), latent_dim=4)
TINY_GAN = gan.GANConfig(channels=(8, 16), latent_dim=4)

# ----------------------------------------------------------------------------- the command
CALLS: list[dict] = []


def _dummy_build(out_dir, *, run_dir, steps, seed=0):
    CALLS.append({"out_dir": out_dir, "run_dir": run_dir, "steps": steps, "seed": seed,
                  "run_dir_existed": run_dir.exists()})
    return {"steps": steps}


@pytest.fixture
def dummy_recipe(monkeypatch):
    monkeypatch.setitem(RECIPES, "dummy", _dummy_build)
    CALLS.clear()
    return CALLS


def test_list_names_every_recipe(capsys):
    assert train.main(["--list"]) == 0
    assert capsys.readouterr().out.split() == ["judge", "pixel-unet", "vae", "gan", "storybook-sd", "storybook-sd-decoder",
                                              "recogniser", "personal-ti", "personal-lora", "personal-dreambooth",
                                              "personal-dreambooth-no-prior"]


def test_every_command_stored_in_a_shipped_record_still_reaches_its_recipe(monkeypatch, tmp_path):
    """Each data/<model>/record.json stores the command that made it: it must still parse and run that recipe."""
    import shlex
    ran = []
    for name in list(RECIPES):
        monkeypatch.setitem(RECIPES, name, lambda out_dir, *, run_dir, steps, seed=0, _n=name: ran.append(
            (_n, out_dir.name, steps, seed)) or {})
    stored, expected = {}, []
    for name in RECIPES:
        record = json.loads((data_path(FOLDER.get(name, name)) / "record.json").read_text())
        # a stage that reworks another model's folder keeps its command in that record, under its own key, when it
        # was run alone; when the full build ran it, the record's own command made it
        if name == "storybook-sd-decoder":
            if "command" not in record["decoder_finetune"]:
                assert record["decoder_finetune"]["steps"] >= 1 and "storybook-sd" in stored
                continue
            command = record["decoder_finetune"]["command"]
        else:
            command = record["command"]
        expected.append(name)
        words = shlex.split(command)
        assert words[:3] == ["python", "-m", "course_utils.train"] and words[3] == name, command
        stored[name] = command
        train.main(words[3:] + ["--run-dir", str(tmp_path / name)])
    assert [r[0] for r in ran] == expected, (ran, stored)
    assert all(r[1] == FOLDER.get(r[0], r[0]) for r in ran), (ran, stored)    # each writes its own folder


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(SystemExit, match="known recipes: judge"):
        train.main(["nope"])


def test_arguments_reach_the_recipe(dummy_recipe, tmp_path):
    train.main(["dummy", "--steps", "7", "--seed", "3", "--out", str(tmp_path / "out"), "--run-dir", str(tmp_path / "run")])
    assert dummy_recipe == [{"out_dir": tmp_path / "out", "run_dir": tmp_path / "run", "steps": 7, "seed": 3,
                             "run_dir_existed": False}]


def test_old_checkpoints_are_announced_and_fresh_removes_them(dummy_recipe, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(b"old")
    train.main(["dummy", "--out", str(tmp_path / "out"), "--run-dir", str(run)])
    assert "resuming from the checkpoints" in capsys.readouterr().out and dummy_recipe[-1]["run_dir_existed"]
    train.main(["dummy", "--fresh", "--out", str(tmp_path / "out"), "--run-dir", str(run)])
    assert not dummy_recipe[-1]["run_dir_existed"]


def test_unwritable_folders_and_bad_steps_are_refused_before_training(dummy_recipe, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(SystemExit, match="is a file"):
        train.main(["dummy", "--out", str(blocker / "out"), "--run-dir", str(tmp_path / "run")])
    with pytest.raises(SystemExit, match="is a file"):
        train.main(["dummy", "--out", str(tmp_path / "out"), "--run-dir", str(blocker)])
    with pytest.raises(SystemExit, match="--steps must be"):
        train.main(["dummy", "--steps", "0", "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="--from-autoencoder is an option of storybook-sd only"):
        train.main(["dummy", "--from-autoencoder", str(tmp_path), "--out", str(tmp_path / "out")])
    assert dummy_recipe == []                                  # nothing ran


_TWO_MODELS_ONE_RUN_DIR = """
import sys, torch
from course_utils.recipes import RECIPES, main
from course_utils.training import TrainConfig, train
def recipe(width):                      # a tiny recipe that trains a width × width layer through training.train
    def build(out_dir, *, run_dir, steps, seed=0):
        train(torch.nn.Linear(width, width), lambda m, b, g: m(b).pow(2).mean(),
              lambda step, g: torch.randn(4, width, generator=g), TrainConfig(steps=1, run_dir=str(run_dir)),
              device="cpu", progress=False)
        return {}
    return build
RECIPES["two"], RECIPES["three"] = recipe(2), recipe(3)
run = sys.argv[1]
main(["two", "--out", run + "/out2", "--run-dir", run + "/run"])
sys.exit(main(["three", "--out", run + "/out3", "--run-dir", run + "/run"]))
"""


def test_resuming_another_models_run_dir_prints_the_message_without_a_traceback(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", _TWO_MODELS_ONE_RUN_DIR, str(tmp_path)], cwd=root, text=True,
                          capture_output=True, timeout=120, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert done.stderr.startswith(f"three: {tmp_path}/run/checkpoint.safetensors holds the checkpoint of another "
                                  "model"), done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "--fresh" in done.stderr

# ----------------------------------------------------------------------------- the record writer
def test_make_record_holds_the_machine_the_run_and_the_extras():
    model = torch.nn.Linear(3, 2)
    result = TrainResult(resumed_from=2, seconds=8.0)
    rec = record_writer.make_record(seed=4, steps=6, batch_size=8, recipe={"lr": 1}, result=result, wall_time_s=9.04,
                                    model=model, final_loss=0.5)
    assert rec["seconds_per_step"] == 2.0 and rec["parameters"] == 8 and rec["wall_time_s_this_session"] == 9.0
    assert (rec["seed"], rec["steps"], rec["batch_size"], rec["recipe"], rec["final_loss"]) == (4, 6, 8, {"lr": 1}, 0.5)
    assert {"threads", "cpu_cores", "device", "date"} <= set(rec) and rec["command"].startswith("python -m course_utils.train")
    assert record_writer.make_record(seed=0, steps=1, batch_size=1, recipe={}, result=result, wall_time_s=0,
                                     model=model, command="mine")["command"] == "mine"
    history = [{"step": i, "loss": float(i)} for i in range(30)]
    assert record_writer.tail_means(history, {"final": "loss"}, last=10) == {"final": 24.5}
    assert [r["step"] for r in record_writer.thin_history(history, every=10)] == [0, 10, 20]


# ----------------------------------------------------------------------------- vae and gan
@pytest.fixture
def shipped_tiny(tmp_path, monkeypatch):
    """Run both recipes for 2 steps with tiny networks into tmp folders."""
    monkeypatch.setattr(vae_recipe, "RECIPE", vae_recipe.Recipe(steps=2, batch_size=4, pool_size=8, model=TINY_VAE_NET))
    monkeypatch.setattr(gan_recipe, "RECIPE", gan_recipe.Recipe(steps=2, batch_size=4, pool_size=8, model=TINY_GAN))
    records = {name: module.build(tmp_path / name, run_dir=tmp_path / f"run-{name}")
               for name, module in (("vae", vae_recipe), ("gan", gan_recipe))}
    return tmp_path, records


def test_vae_and_gan_recipes_save_checked_folders_that_load(shipped_tiny):
    root, records = shipped_tiny
    for name in ("vae", "gan"):
        record = json.loads((root / name / "record.json").read_text())
        assert record["steps"] == 2 and record["seed"] == 0 and record["command"].startswith("python -m course_utils.train")
        assert record["parameters"] > 0 and record["seconds_per_step"] > 0 and len(record["history"]) >= 1
    assert "final_recon_nats" in records["vae"] and "final_d_loss" in records["gan"]
    assert records["gan"]["recipe"]["betas"] == [0.5, 0.999] or records["gan"]["recipe"]["betas"] == (0.5, 0.999)
    v = vae.load_vae(root / "vae", device="cpu")
    g = gan.load_gan(root / "gan", device="cpu")
    assert v.config == TINY_VAE_NET and g.config == TINY_GAN and not v.training
    assert training_minutes(root / "vae") == pytest.approx(records["vae"]["seconds_per_step"] * 2 / 60)


def test_a_gan_checkpoint_given_to_the_vae_loader_is_refused(shipped_tiny):
    root, _ = shipped_tiny
    with pytest.raises(CheckpointError, match="holds a 'gan' model, not a 'vae' one"):
        vae.load_vae(root / "gan")
    with pytest.raises(CheckpointError, match="holds a 'vae' model, not a 'gan' one"):
        gan.load_gan(root / "vae")


# ----------------------------------------------------------------------------- judge
def test_judge_recipe_writes_a_checked_folder(tmp_path):
    record = judge_recipe.build(tmp_path / "judge", run_dir=tmp_path / "run", steps=2, seed=1)
    assert record["steps"] == 2 and record["seed"] == 1 and record["command"].startswith("python -m course_utils.train")
    assert set(record["accuracy"]) == {"train", "held_out"}
    assert set(record["accuracy"]["held_out"]) == {"subject", "action", "place", "all", "images"}
    assert record["wall_time_s_this_session"] > 0
    judge = load(tmp_path / "judge", device="cpu")
    assert isinstance(judge, Judge) and not judge.training and judge.config.feature_scale > 0


# ----------------------------------------------------------------------------- pixel-unet
def test_shipped_pixel_unet_was_trained_with_the_current_recipe():
    """Change recipes/pixel_unet.Recipe and this fails until data/pixel-unet is rebuilt."""
    record = json.loads((data_path("pixel-unet") / "record.json").read_text())
    assert record["recipe"] == {k: v for k, v in asdict(pixel_unet.RECIPE).items() if k != "model"}
    assert record["steps"] == pixel_unet.RECIPE.steps and "judge_fid_unconditional" in record["metrics"]


def test_pixel_unet_build_records_the_seed_and_steps_it_ran_not_the_recipe_defaults(tmp_path):
    tiny = replace(pixel_unet.RECIPE, model=replace(pixel_unet.RECIPE.model, block_out_channels=(16, 16, 16)),
                   batch_size=2)
    record = pixel_unet.build(tmp_path / "d", run_dir=None, recipe=tiny, steps=1, seed=3, command="test",
                              evaluate_after=False)
    assert (record["seed"], record["steps"], record["command"]) == (3, 1, "test")
    assert (record["recipe"]["seed"], record["recipe"]["steps"]) == (3, 1)
    assert record["recipe"]["batch_size"] == 2


def test_record_metrics_writes_the_evaluation_into_the_record(tmp_path, monkeypatch):
    tiny32 = DenoiserConfig(**{**TINY_PIXEL.__dict__, "sample_size": 32, "vocab_sizes": (6, 4, 5)})
    save_model(tmp_path / "pixel-unet", build_model(tiny32), {**tiny32.__dict__}, {"command": "test"})
    monkeypatch.setattr(pixel_unet, "evaluate", lambda model, **kw: {"n": kw["n"], "model": type(model).__name__})
    metrics = pixel_unet.record_metrics(tmp_path / "pixel-unet", n=4)
    verify_manifest(tmp_path / "pixel-unet")                       # record.json changed, manifest refreshed
    record = json.loads((tmp_path / "pixel-unet" / "record.json").read_text())
    assert record["command"] == "test" and record["metrics"] == metrics
    assert metrics["n"] == 4 and metrics["model"] == "StorybookDenoiser" and metrics["seconds"] >= 0


# ----------------------------------------------------------------------------- storybook-sd
def test_render_captioned_pool_is_seeded_and_cycles_through_the_training_compositions():
    images, comp = storybook.render_captioned_pool(5, seed=3)
    again, _ = storybook.render_captioned_pool(5, seed=3)
    assert images.dtype == torch.uint8 and images.shape == (5, 3, 64, 64) and torch.equal(images, again)
    assert comp.tolist() == [0, 1, 2, 3, 4]
    assert not torch.equal(storybook.render_captioned_pool(5, seed=4)[0], images)


def test_random_crops_are_windows_of_the_images():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    crops = storybook_sd.random_crops(x, 4, make_generator(0))
    assert crops.shape == (2, 3, 4, 4) and torch.equal(crops, storybook_sd.random_crops(x, 4, make_generator(0)))
    y, xx = divmod(int(crops[0, 0, 0, 0]), 8)
    assert torch.equal(crops[0], x[0, :, y:y + 4, xx:xx + 4])
    with pytest.raises(ValueError, match="crop size"):
        storybook_sd.random_crops(x, 9, make_generator(0))


def test_partial_captions_leave_out_whole_attributes():
    comp = ("squirrel", "fishing", "by a river")
    assert storybook_sd.partial_caption(comp, [True, True, True]) == "squirrel fishing by a river"
    assert storybook_sd.partial_caption(comp, [True, False, True], article=True) == "a squirrel by a river"
    assert storybook_sd.partial_caption(comp, [False, True, True], article=True) == "fishing by a river"
    assert storybook_sd.partial_caption(comp, [False, False, False]) == ""


def test_recipe_refuses_a_vae_and_unet_that_do_not_fit():
    with pytest.raises(ValueError, match="4-channel latents but the UNet takes 8"):
        replace(storybook_sd.RECIPE_128, sd=replace(storybook_sd.RECIPE.sd, latent_channels=8))
    with pytest.raises(ValueError, match="64 px images through an f = 8 VAE give 8×8 latents"):
        replace(storybook_sd.RECIPE_128, image_size=64)
    assert storybook_sd.RECIPE_128.vae.factor == 8 and storybook_sd.RECIPE_128.vae_losses.disc_start > 0


@pytest.mark.slow
def test_the_128_px_recipe_trains_an_adversarial_f8_autoencoder_and_records_its_guidance(tmp_path):
    from course_utils.pipelines import load_autoencoder, load_text_to_image
    r = storybook_sd.RECIPE_128
    tiny = replace(r, pool_size=12, vae=replace(r.vae, block_out_channels=(8, 8, 16, 16)), vae_steps=3, vae_batch=2,
                   vae_crop=64, vae_losses=replace(r.vae_losses, disc_start=1),
                   sd=replace(TINY_SD, latent_channels=r.vae.latent_channels), unet_steps=2, unet_batch=4,
                   unet_warmup=1, eval_per_group=2, eval_steps=2, eval_reconstructions=4, validation_per_group=2,
                   guidance_candidates=(1.0, 3.0),
                   subject=replace(r.subject, steps=2, batch=2),
                   decoder=replace(sd_decoder.scaled(r.decoder, 2), batch=2, eval_reconstructions=4, eval_redraw=2))
    assert tiny.decoder.gen_start == 1 and tiny.decoder.disc_weight > 0      # the discriminator's term joins at step 1
    record = storybook_sd.build(tmp_path / "storybook-sd", run_dir=tmp_path / "run", recipe=tiny, progress=False)
    chosen = record["default_guidance"]
    assert chosen["value"] in (1.0, 3.0) and set(chosen["held_out_adherence"]) == {"1", "3"}
    assert record["metrics"]["adherence"]["guidance_scale"] == chosen["value"]
    assert "detail_ratio" in record["metrics"]["vae_reconstruction"]
    assert "perceptual" in record["notes"] and "f = 8" in record["notes"]
    pipe = load_text_to_image(tmp_path / "storybook-sd")
    assert pipe.default_guidance == chosen["value"] and pipe.vae_scale_factor == 8
    assert pipe("owl juggling in the snow", generator=make_generator(1), num_inference_steps=2,
                output_type="pt").images.shape == (1, 3, 128, 128)
    state = json.loads((tmp_path / "run" / "times.json").read_text())
    assert state["render_pool_key"]["size"] == 128
    # the autoencoder as it was when the discriminator joined (after step 1 of 3) ships beside the pipeline
    before = load_autoencoder(tmp_path / "storybook-sd", storybook_sd.BEFORE_DISCRIMINATOR)
    assert any(not torch.equal(a, b) for a, b in zip(before.state_dict().values(), pipe.vae.state_dict().values()))
    assert set(record["metrics"]["vae_reconstruction"]["before_discriminator"]) >= {"psnr_db", "detail_ratio"}
    with pytest.raises(CheckpointError, match="No autoencoder 'vae_after'.*vae_before_discriminator"):
        load_autoencoder(tmp_path / "storybook-sd", "vae_after")
    # stage 3b: the decoder fine-tuned on the frozen encoder; the autoencoder before it ships beside the pipeline
    first = load_autoencoder(tmp_path / "storybook-sd", sd_decoder.BEFORE_DECODER)
    _same_encoder_other_decoder(first, pipe.vae)
    assert record["decoder_finetune"]["steps"] == 2 and record["decoder_finetune"]["autocast"] in ("bf16", "fp32")
    assert set(record["metrics"]["redraw_fidelity"]) == {"after_decoder_finetune", "before_decoder_finetune"}
    assert "subject_psnr_db" in record["metrics"]["vae_reconstruction"]["before_decoder_finetune"]
    # stage 2b: the whole autoencoder, encoder included, trained on the subject before the latents were cached
    stage2 = load_autoencoder(tmp_path / "storybook-sd", storybook_sd.BEFORE_SUBJECT)
    assert any(not torch.equal(a, b) for a, b in zip(stage2.encoder.state_dict().values(),
                                                     first.encoder.state_dict().values()))
    assert record["subject_finetune"]["recipe"]["train_encoder"] is True and record["subject_finetune"]["steps"] == 2
    assert "subject_psnr_db" in record["metrics"]["vae_reconstruction"]["before_subject_finetune"]
    # a build that starts from that autoencoder skips stage 2 and says so; the later stages give the same model
    later = storybook_sd.build(tmp_path / "from", run_dir=tmp_path / "run-from", recipe=tiny, progress=False,
                               from_autoencoder=tmp_path / "storybook-sd" / storybook_sd.BEFORE_SUBJECT)
    assert later["autoencoder_from"]["folder"].endswith(storybook_sd.BEFORE_SUBJECT)
    assert later["latent_scaling_factor"] == record["latent_scaling_factor"]
    assert all(torch.equal(a, b) for a, b in zip(load_text_to_image(tmp_path / "from").unet.state_dict().values(),
                                                 pipe.unet.state_dict().values()))
    with pytest.raises(FileNotFoundError, match="holds no autoencoder.*vae_before_subject_finetune"):
        storybook_sd.build(tmp_path / "x", run_dir=tmp_path / "run-x", recipe=tiny, from_autoencoder=tmp_path / "nothing")
    # the stage alone, on the saved pipeline: it starts from the kept autoencoder, so it repeats bit for bit
    again = sd_decoder.build(tmp_path / "storybook-sd", run_dir=tmp_path / "run-decoder",
                             recipe=replace(tiny.decoder, eval_per_group=2),
                             progress=False)
    redone = load_autoencoder(tmp_path / "storybook-sd")
    assert all(torch.equal(a, b) for a, b in zip(redone.state_dict().values(), pipe.vae.state_dict().values()))
    assert again["decoder_finetune"]["command"].startswith("python -m course_utils.train")
    # the earlier stages' figures stay; the recipe and the seconds are now the stage's that made the shipped decoder
    assert set(again["metrics"]["vae_reconstruction"]) >= set(record["metrics"]["vae_reconstruction"])
    assert again["recipe"]["decoder"]["steps"] == 2 and again["wall_time_s"]["decoder_finetune_s"] == again["decoder_finetune"]["seconds"]
    assert json.loads((tmp_path / "storybook-sd" / "vae" / "config.json").read_text())["_name_or_path"] == sd_decoder.BEFORE_DECODER
    verify_manifest(tmp_path / "storybook-sd")


def _same_encoder_other_decoder(a, b) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa if not k.startswith(("decoder.", "post_quant_conv.")))
    assert any(not torch.equal(sa[k], sb[k]) for k in sa if k.startswith("decoder."))


def test_steps_scale_the_vae_in_proportion():
    recipe = storybook_sd.RECIPE
    quick = storybook_sd._scaled(recipe, 15)
    assert quick.unet_steps == 15 and 1 <= quick.vae_steps < recipe.vae_steps and storybook_sd._scaled(recipe, None) == recipe
    assert 1 <= quick.decoder.steps < recipe.decoder.steps and 1 <= quick.subject.steps < recipe.subject.steps


@pytest.mark.slow
def test_storybook_sd_recipe_builds_a_loadable_pipeline_and_resumes(tmp_path):
    from course_utils.pipelines import load_text_to_image
    tiny = replace(storybook_sd.RECIPE_64, pool_size=24, vae=TINY_VAE, vae_steps=2, vae_batch=4, sd=TINY_SD, unet_steps=2,
                   unet_batch=4, unet_warmup=1, eval_per_group=2, eval_steps=2, eval_reconstructions=4,
                   checkpoint_every=1)
    build = storybook_sd.build
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
    with pytest.warns(UserWarning, match="resuming a 2-step run as a 3-step run"):     # extending says so
        build(tmp_path / "storybook-sd", run_dir=tmp_path / "run", recipe=replace(tiny, vae_steps=3), progress=False)
    # the VAE trained one more step: latents encoded by the old VAE must not be reused
    assert times()["encode_cache_key"]["vae_steps"] == 3
    assert times()["encode_cache_key"]["vae_sha256"] != made[1]["vae_sha256"]
    assert cache.stat().st_mtime_ns != made[0]


def test_a_shortened_decoder_stage_lets_the_discriminator_join_at_the_same_share():
    recipe = sd_decoder.DECODER_RECIPE
    assert 0 < recipe.gen_start < recipe.steps and recipe.disc_weight > 0 and recipe.ema_warmup
    quick = sd_decoder.scaled(recipe, recipe.steps // 10)
    assert quick.steps == recipe.steps // 10
    assert quick.gen_start == round(recipe.gen_start / 10) and 0 < quick.gen_start < quick.steps
    assert sd_decoder.scaled(recipe, None) is recipe
    assert storybook_sd.RECIPE.decoder == recipe          # the full build runs the same stage as storybook-sd-decoder
