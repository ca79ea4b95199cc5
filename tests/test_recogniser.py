"""The recogniser (is it the new animal?): shapes and pooling, its batches and loss, the recipe, the shipped weights."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict

import pytest
import torch

from course_utils import recogniser as rec
from course_utils import storybook as sb
from course_utils.checkpoints import CheckpointError, save_model
from course_utils.paths import data_path
from course_utils.recipes import recogniser as recipe
from course_utils.seeding import make_generator


def _small() -> rec.Recogniser:
    return rec.build_recogniser(rec.RecogniserConfig(channels=(8, 8, 16)), seed=0).eval()


def test_shapes_and_the_128_and_64_px_pooling():
    model = _small()
    triples = [("hedgehog", "fishing", "by a river"), ("fox", "reading", "in a forest")]
    x128, x32 = (sb.render_batch(triples, [1, 2], size, allow_new=True) for size in (128, 32))
    assert model(x128).shape == (2,) and model.predict(x128).dtype == torch.bool
    x64 = sb.render_batch(triples, [1, 2], 64, allow_new=True)
    assert torch.allclose(model(x64), model(x32), atol=1e-5)            # render(size=32) is the 2×2 average
    assert torch.allclose(model(x128), model(torch.nn.functional.avg_pool2d(x128, 4)), atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 48, 48), (2, 3, 256, 256), (2, 1, 128, 128), (3, 128, 128)])
def test_bad_input_shapes_name_the_sizes_it_reads(shape):
    with pytest.raises(ValueError, match="recogniser reads images .* H = 32, 64 or 128"):
        _small()(torch.zeros(shape))


def test_labelled_batches_are_seeded_half_hedgehog_and_draw_only_training_seeds():
    images, is_new = rec.labelled_batch(12, make_generator(3))
    again, _ = rec.labelled_batch(12, make_generator(3))
    assert images.shape == (12, 3, 128, 128) and torch.equal(images, again)
    assert is_new.tolist() == [1.0] * 6 + [0.0] * 6
    subjects, seeds = rec._scenes(["hedgehog"] * 500, make_generator(0), rec.TRAIN_SEEDS)
    assert all(rec.TRAIN_SEEDS[0] <= s < rec.TRAIN_SEEDS[1] for s in seeds)
    assert {t[1] for t in subjects} == set(sb.ACTIONS) and {t[2] for t in subjects} == set(sb.PLACES)
    # held-out seeds and the "your photos" seeds are never training seeds
    assert rec.TRAIN_SEEDS[1] <= rec.HELD_OUT_SEEDS[0]
    assert all(not rec.TRAIN_SEEDS[0] <= s < rec.TRAIN_SEEDS[1] for _, s in sb.YOUR_PHOTOS)
    with pytest.raises(ValueError, match="n must be an int ≥ 2"):
        rec.labelled_batch(1, make_generator(0))


def test_loss_goes_down_on_a_fixed_batch():
    model = _small().train()
    batch = rec.labelled_batch(16, make_generator(0))
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    losses = []
    for step in range(12):
        loss = rec.recogniser_loss(model, batch, make_generator(step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ----------------------------------------------------------------------------- the recipe and the loader
def test_recipe_in_fast_mode_builds_a_checked_folder_that_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    record = recipe.build(tmp_path / "recogniser", run_dir=tmp_path / "run", steps=2, seed=1)
    assert record["steps"] == 2 and record["seed"] == 1 and record["command"].startswith("python -m course_utils.train")
    assert record["held_out"]["images"] == 40 and set(record["held_out"]["per_subject"]) == set(sb.SUBJECTS)
    assert 0 <= record["your_photos_read_as_hedgehog"] <= 8 and record["wall_time_s_this_session"] > 0
    assert sorted(p.name for p in (tmp_path / "recogniser").iterdir()) == [
        "SHA256SUMS", "config.json", "model.safetensors", "record.json"]
    model = rec.load(tmp_path / "recogniser", device="cpu")
    assert isinstance(model, rec.Recogniser) and not model.training and model.config == rec.RecogniserConfig()


def test_a_missing_recogniser_names_the_rebuild_command(tmp_path):
    with pytest.raises(CheckpointError, match=r"No shipped model at .*recogniser.*`python -m course_utils.train recogniser`"):
        rec.load(tmp_path / "recogniser")


def test_a_recogniser_for_other_subjects_is_refused(tmp_path):
    folder = tmp_path / "recogniser"
    shutil.copytree(data_path("recogniser"), folder)
    config = json.loads((folder / "config.json").read_text())
    save_model(folder, _small(), {**config, "others": ["squirrel", "fox"]})
    with pytest.raises(CheckpointError, match="another animal or other subjects.*train recogniser"):
        rec.load(folder)


# ----------------------------------------------------------------------------- the shipped recogniser
def test_shipped_recogniser_reads_your_photos_as_the_hedgehog_and_the_old_animals_as_not():
    model = rec.load(device="cpu")
    assert model.predict(sb.your_photos()).all()
    old = sb.render_batch(sb.ALL_COMPOSITIONS, [9000 + i for i in range(120)], 128)    # every old composition
    assert not model.predict(old).any()
    hedgehogs = sb.render_batch([("hedgehog", a, p) for a in sb.ACTIONS for p in sb.PLACES], range(20), 128,
                                allow_new=True)                          # every action and place
    assert model.predict(hedgehogs).all()


def test_shipped_recogniser_was_trained_with_the_current_recipe_and_passes_its_bar():
    record = json.loads((data_path("recogniser") / "record.json").read_text())
    assert record["recipe"] == asdict(recipe.RECIPE) and record["steps"] == recipe.RECIPE.steps
    assert record["command"].split()[:4] == ["python", "-m", "course_utils.train", "recogniser"]
    held = record["held_out"]
    assert held["images"] == recipe.RECIPE.held_out_images and held["accuracy"] >= 0.98
    assert min(held["per_subject"].values()) >= 0.95 and record["your_photos_read_as_hedgehog"] == 8
