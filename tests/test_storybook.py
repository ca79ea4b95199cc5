"""The storybook world: vocabulary, captions, splits, deterministic rendering, the data set."""
from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pytest
import torch

from course_utils import storybook as sb
from course_utils.seeding import make_generator
from course_utils.storybook_draw import BACKGROUND_VARIANTS, background, draw_scene


def test_vocabulary_and_compositions():
    assert sb.SUBJECTS == ("squirrel", "fox", "rabbit", "bear", "owl", "frog")
    assert sb.ACTIONS == ("fishing", "reading", "sleeping", "juggling")
    assert len(sb.PLACES) == 5 and "by a river" in sb.PLACES and "in the snow" in sb.PLACES
    assert len(sb.ALL_COMPOSITIONS) == len(set(sb.ALL_COMPOSITIONS)) == 120
    assert sb.compositions("all") == sb.ALL_COMPOSITIONS
    assert sb.compositions("held_out") == sb.HELD_OUT
    with pytest.raises(ValueError, match="split must be one of"):
        sb.compositions("test")


def test_held_out_is_disjoint_from_training():
    assert len(sb.HELD_OUT) >= 10 and len(set(sb.HELD_OUT)) == len(sb.HELD_OUT)
    assert ("squirrel", "fishing", "by a river") in sb.HELD_OUT
    assert set(sb.HELD_OUT) <= set(sb.ALL_COMPOSITIONS)
    train = sb.train_compositions()
    assert train == sb.TRAIN_COMPOSITIONS == sb.compositions("train")
    assert not set(train) & set(sb.HELD_OUT)
    assert len(train) + len(sb.HELD_OUT) == 120


def test_every_pair_of_a_held_out_composition_is_seen_in_training():
    train = sb.TRAIN_COMPOSITIONS
    for triple in sb.HELD_OUT:
        for i, j in itertools.combinations(range(3), 2):
            assert any(t[i] == triple[i] and t[j] == triple[j] for t in train), (triple, i, j)
    # and every word is seen in training too
    for k, words in enumerate((sb.SUBJECTS, sb.ACTIONS, sb.PLACES)):
        assert {t[k] for t in train} == set(words)


def test_caption_and_parse_round_trip():
    assert sb.caption("squirrel", "fishing", "by a river") == "squirrel fishing by a river"
    for triple in sb.ALL_COMPOSITIONS:
        assert sb.parse_caption(sb.caption(*triple)) == triple
    assert sb.parse_caption("a fox reading in a forest") == ("fox", "reading", "in a forest")
    assert sb.parse_caption("  An   OWL juggling  ON A Beach. ") == ("owl", "juggling", "on a beach")


@pytest.mark.parametrize("text, unknown, near", [
    ("squirel fishing by a river", "squirel", "squirrel"),
    ("fox swimming in a forest", "swimming", "fishing"),
    ("fox reading in the forest", "in the forest", "in a forest"),
])
def test_parse_caption_unknown_word_names_it_and_the_vocabulary(text, unknown, near):
    with pytest.raises(ValueError) as err:
        sb.parse_caption(text)
    message = str(err.value)
    assert repr(unknown) in message and repr(near) in message
    assert "squirrel, fox, rabbit, bear, owl, frog" in message and "'on a beach'" in message


def test_parse_caption_bad_input():
    with pytest.raises(ValueError, match="<subject> <action> <place>"):
        sb.parse_caption("squirrel fishing")
    with pytest.raises(TypeError, match="string"):
        sb.parse_caption(3)
    with pytest.raises(ValueError, match="Unknown subject 'cat'"):
        sb.caption("cat", "fishing", "by a river")


def test_labels_round_trip():
    for triple in sb.ALL_COMPOSITIONS[::7]:
        assert sb.composition_of(sb.labels_of(*triple)) == triple
    assert sb.labels_of("frog", "juggling", "on a beach") == (5, 3, 4)
    assert sb.composition_of(torch.tensor([0, 0, 0])) == ("squirrel", "fishing", "by a river")


def test_render_shape_range_dtype():
    x = sb.render("squirrel", "fishing", "by a river", seed=934743)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.std() > 0.2


def test_same_seed_same_pixels_new_seed_new_scene():
    a = sb.render("fox", "reading", "in a forest", seed=656232)
    b = sb.render("fox", "reading", "in a forest", seed=656232)
    c = sb.render("fox", "reading", "in a forest", seed=545488)
    assert torch.equal(a, b)
    assert (a - c).abs().mean() > 0.05          # position, size, pose or background moved
    # across many seeds the subject sits in different places: the per-pixel spread is large
    stack = torch.stack([sb.render("bear", "juggling", "on a beach", seed=s) for s in range(12)])
    assert (stack.std(0) > 0.2).float().mean() > 0.2


def test_every_composition_renders_and_differs_by_each_word():
    images = sb.render_batch(sb.ALL_COMPOSITIONS, [7] * 120, 32)
    assert images.shape == (120, 3, 32, 32) and torch.isfinite(images).all()
    base = sb.render("owl", "reading", "on a mountain", seed=11)
    for other in (("frog", "reading", "on a mountain"), ("owl", "sleeping", "on a mountain"),
                  ("owl", "reading", "on a beach")):
        assert (sb.render(*other, seed=11) - base).abs().mean() > 0.02, other


def test_size_32_is_the_average_pool_of_64():
    x64 = sb.render("rabbit", "juggling", "in the snow", seed=3)
    x32 = sb.render("rabbit", "juggling", "in the snow", seed=3, size=32)
    assert x32.shape == (3, 32, 32)
    assert torch.allclose(x32, torch.nn.functional.avg_pool2d(x64[None], 2)[0], atol=1e-6)


def test_render_batch_matches_render():
    triples = [("bear", "sleeping", "on a mountain"), ("frog", "fishing", "in the snow")]
    batch = sb.render_batch(triples, [5, 6], size=32)
    for i, t in enumerate(triples):
        assert torch.equal(batch[i], sb.render(*t, seed=5 + i, size=32))
    with pytest.raises(ValueError, match="one seed per composition"):
        sb.render_batch(triples, [1], 32)


@pytest.mark.parametrize("size", [16, 48, 96, 256, "64", True])
def test_bad_size(size):
    with pytest.raises(ValueError, match=r"size must be one of \(32, 64, 128\)"):
        sb.render("fox", "fishing", "by a river", seed=0, size=size)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", 2**63, None])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        sb.render("fox", "fishing", "by a river", seed=seed)


def test_render_unknown_word():
    with pytest.raises(ValueError, match="Unknown place 'in space'.*vocabulary"):
        sb.render("fox", "fishing", "in space", seed=0)


def test_render_for_split_refuses_held_out_in_training():
    with pytest.raises(ValueError, match="HELD_OUT"):
        sb.render_for_split("squirrel", "fishing", "by a river", seed=0, split="train")
    x = sb.render_for_split("squirrel", "fishing", "by a river", seed=0, split="held_out")
    assert torch.equal(x, sb.render("squirrel", "fishing", "by a river", seed=0))
    with pytest.raises(ValueError, match="not in the 'held_out' split"):
        sb.render_for_split("fox", "fishing", "by a river", seed=0, split="held_out")


def test_sample_batch_is_seeded_and_training_only():
    x, y = sb.sample_batch(24, make_generator(0), size=32)
    x2, y2 = sb.sample_batch(24, make_generator(0), size=32)
    assert x.shape == (24, 3, 32, 32) and y.shape == (24, 3) and y.dtype == torch.long
    assert torch.equal(x, x2) and torch.equal(y, y2)
    seen = {sb.composition_of(row) for row in sb.sample_batch(300, make_generator(1), size=32)[1]}
    assert not seen & set(sb.HELD_OUT)
    held = {sb.composition_of(row) for row in sb.sample_batch(40, make_generator(2), 32, "held_out")[1]}
    assert held <= set(sb.HELD_OUT)
    with pytest.raises(TypeError, match="torch.Generator"):
        sb.sample_batch(4, 0)
    with pytest.raises(ValueError, match="positive int"):
        sb.sample_batch(0, make_generator(0))


def test_dataset_items_are_deterministic_and_labelled():
    ds = sb.StorybookDataset("train", size=32, length=216, seed=3)
    assert len(ds) == 216
    image, text, labels = ds[5]
    image2, text2, labels2 = sb.StorybookDataset("train", size=32, length=216, seed=3)[5]
    assert torch.equal(image, image2) and text == text2 and torch.equal(labels, labels2)
    assert image.shape == (3, 32, 32) and sb.parse_caption(text) == sb.composition_of(labels)
    assert {ds.composition(i) for i in range(len(ds))} == set(sb.TRAIN_COMPOSITIONS)
    assert not torch.equal(ds[5][0], sb.StorybookDataset("train", 32, 216, seed=4)[5][0])
    held = sb.StorybookDataset("held_out", size=64, length=12)
    assert {held[i][1] for i in range(12)} == {sb.caption(*t) for t in sb.HELD_OUT}
    with pytest.raises(IndexError):
        ds[216]
    with pytest.raises(ValueError, match="length"):
        sb.StorybookDataset(length=0)
    with pytest.raises(ValueError, match="split"):
        sb.StorybookDataset("validation")


def test_backgrounds_are_cached_and_read_only():
    for place in sb.PLACES:
        bg = background(place, BACKGROUND_VARIANTS - 1)
        assert bg is background(place, BACKGROUND_VARIANTS - 1) and not bg.flags.writeable
    scene = draw_scene("owl", "fishing", "in the snow", 1)
    assert scene.shape == (64, 64, 3) and 0 <= scene.min() and scene.max() <= 1


def test_gallery_has_one_caption_per_image():
    fig = sb.gallery([("fox", "reading", "in a forest"), ("owl", "sleeping", "on a beach")], size=32, ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["fox reading in a forest", "owl sleeping on a beach"]
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        sb.gallery([])


def test_render_pool_and_pool_batches_are_seeded():
    pool = sb.render_pool(6, seed=2)
    assert pool.shape == (6, 3, 32, 32) and torch.equal(pool, sb.render_pool(6, seed=2))
    fn = sb.pool_batches(pool, 4)
    assert torch.equal(fn(0, make_generator(1)), fn(5, make_generator(1)))
    with pytest.raises(ValueError, match="batch_size"):
        sb.pool_batches(pool, 10)


def test_reference_renders_are_seed_plus_one_and_seed_plus_two():
    real, other, labels = sb.reference_renders(5, seed=10, size=32)
    assert torch.equal(real, sb.sample_batch(5, make_generator(11), 32)[0])
    expected_other, expected_labels = sb.sample_batch(5, make_generator(12), 32)
    assert torch.equal(other, expected_other) and torch.equal(labels, expected_labels)


@pytest.mark.parametrize("text, expected", [
    ("Squirrel fishing by a river.", "squirrel fishing by a river"),
    ("  fox   READING in a forest!! ", "fox reading in a forest"),
    ("owl juggling on a beach ?", "owl juggling on a beach"),
    ("squirrel, fishing", "squirrel, fishing"),            # inner punctuation stays (and is then refused)
])
def test_normalize_caption_is_the_one_reading_of_case_spaces_and_final_punctuation(text, expected):
    assert sb.normalize_caption(text) == expected


@pytest.mark.parametrize("labels", [[-1, 0, 0], [6, 0, 0], [0, 4, 0], [0, 0, 5], [1.7, 0, 0], [0, 0], [True, 0, 0], 3])
def test_composition_of_refuses_labels_out_of_range(labels):
    # [-1, 0, 0] used to read as a frog (negative index) and [1.7, 0, 0] as a fox
    with pytest.raises(ValueError, match="label|three ints"):
        sb.composition_of(labels)
    assert sb.composition_of(torch.tensor([5, 3, 4])) == ("frog", "juggling", "on a beach")


@pytest.mark.parametrize("call, match", [(lambda: sb.sample_batch(True, make_generator(0)), "n must be a positive int"),
                                         (lambda: sb.StorybookDataset(length=True), "length must be a positive int"),
                                         (lambda: sb.StorybookDataset(length=4)[1.5], "index must be an int")])
def test_bools_and_floats_are_not_counts_or_indices(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_subject_batch_is_sample_batch_with_its_subject_masks():
    storybook = sb
    images, _ = storybook.sample_batch(3, make_generator(5), 64)
    batch = storybook.subject_batch(3, make_generator(5), 64)
    assert torch.equal(batch["images"], images) and batch["subject"].shape == (3, 64, 64)
    assert batch["subject"].dtype == torch.bool and 0 < float(batch["subject"].float().mean()) < 0.5
    comp = storybook.compositions("train")[0]
    mask = storybook.render_masks(*comp, seed=9, size=64)
    assert torch.equal(storybook.subject_masks([comp], [9], 64)[0], mask[0] | mask[1])
    with pytest.raises(ValueError, match="positive int"):
        storybook.subject_batch(0, make_generator(5), 64)


# ----------------------------------------------------------------------------- the new animal stays out
def test_the_hedgehog_is_in_no_split_pool_caption_or_vocabulary():
    import json
    from course_utils.paths import DATA_DIR
    assert sb.NEW_SUBJECTS == ("hedgehog",) and "hedgehog" not in sb.SUBJECTS
    for split in ("train", "held_out", "all"):
        assert all(t[0] in sb.SUBJECTS for t in sb.compositions(split)), split
    assert not any("hedgehog" in sb.caption(*t) for t in sb.ALL_COMPOSITIONS)
    _, labels = sb.sample_batch(256, make_generator(0), size=32, split="all")
    assert int(labels[:, 0].max()) < len(sb.SUBJECTS)
    assert all(sb.StorybookDataset(split="all", length=120).composition(i)[0] in sb.SUBJECTS for i in range(120))
    for call in (lambda: sb.parse_caption("hedgehog fishing by a river"), lambda: sb.caption("hedgehog", "fishing", "by a river"),
                 lambda: sb.labels_of("hedgehog", "fishing", "by a river"),
                 lambda: sb.render("hedgehog", "fishing", "by a river", seed=0),
                 lambda: sb.render_batch([("hedgehog", "fishing", "by a river")], [0], 64)):
        with pytest.raises(ValueError, match="new animal.*no shipped model saw it.*subjects: squirrel, fox, rabbit, bear, "
                                             "owl, frog;.*allow_new=True"):
            call()
    # the shipped models: the judge's classes, the text model's tokenizer and every config and record
    judge = json.loads((DATA_DIR / "judge" / "config.json").read_text())
    assert judge["subjects"] == list(sb.SUBJECTS) and judge["classes"][0] == 6
    vocab = json.loads((DATA_DIR / "storybook-sd" / "tokenizer" / "vocab.json").read_text())
    assert not any("hedgehog" in token.lower() for token in vocab) and "squirrel</w>" in vocab
    # the recogniser and notebook 11's adapters (data/personal-*) exist to know it; no base model may
    for folder in sorted(p for p in DATA_DIR.iterdir() if p.is_dir() and p.name != "recogniser"
                         and not p.name.startswith("personal-")):
        for path in folder.rglob("*"):
            if path.suffix in (".json", ".txt") or path.name == "SHA256SUMS":
                assert "hedgehog" not in path.read_text(errors="replace").lower(), path
