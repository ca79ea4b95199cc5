"""Metrics with the shipped judge: adherence, judge-FID, judge-KID, coverage, and input checks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course_utils import metrics
from course_utils import storybook as sb
from course_utils.seeding import make_generator

PER_COMPOSITION = 4          # 480 renders per set


def _renders(seed: int, size: int = 32) -> tuple[torch.Tensor, list[tuple[str, str, str]]]:
    triples = [t for t in sb.ALL_COMPOSITIONS for _ in range(PER_COMPOSITION)]
    seeds = torch.randint(0, 2**62, (len(triples),), generator=make_generator(seed)).tolist()
    return sb.render_batch(triples, seeds, size), triples


@pytest.fixture(scope="module")
def real_a():
    return _renders(101)


@pytest.fixture(scope="module")
def real_b():
    return _renders(202)[0]


@pytest.fixture(scope="module")
def noise():
    return torch.rand(480, 3, 32, 32, generator=make_generator(7)) * 2 - 1


def test_load_judge_is_cached():
    assert metrics.load_judge() is metrics.load_judge()
    assert not metrics.load_judge().training


def test_adherence_of_renders_with_their_own_captions(real_a):
    images, triples = real_a
    scores = metrics.adherence(images, [sb.caption(*t) for t in triples])
    assert set(scores) == {"subject", "action", "place", "all"}
    assert min(scores.values()) >= 0.98
    same = metrics.adherence(images, torch.tensor([sb.labels_of(*t) for t in triples]))
    assert same == metrics.adherence(images, triples) == scores


def test_adherence_with_shuffled_captions_is_near_chance(real_a):
    images, triples = real_a
    order = torch.randperm(len(triples), generator=make_generator(3)).tolist()
    scores = metrics.adherence(images, [sb.caption(*triples[i]) for i in order])
    assert scores["all"] < 0.05 and scores["subject"] < 0.35 and scores["place"] < 0.4


def test_adherence_bad_captions(real_a):
    images, triples = real_a
    with pytest.raises(ValueError, match="one caption"):
        metrics.adherence(images, [sb.caption(*triples[0])])
    with pytest.raises(TypeError, match="not one string"):
        metrics.adherence(images, "squirrel fishing by a river")
    with pytest.raises(ValueError, match="Unknown subject 'cat'"):
        metrics.adherence(images[:1], ["cat fishing by a river"])


def test_frechet_distance_matches_the_diagonal_formula():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([2.0, 1.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([9.0, 4.0])
    # diagonal covariances: d² = ‖μ₁ − μ₂‖² + Σ (σ₁ − σ₂)²
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(4.0 + (1 - 3) ** 2 + 0.0)
    assert metrics.frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.slow
def test_judge_fid_floor_and_noise(real_a, real_b, noise):
    floor = metrics.judge_fid(real_a[0], real_b)
    far = metrics.judge_fid(real_a[0], noise)
    assert metrics.judge_fid(real_a[0], real_a[0]) == pytest.approx(0.0, abs=1e-3 * max(floor, 1e-3))
    assert far >= 10 * floor and floor > 0
    # one composition only (no diversity) is far from the full distribution too
    one = sb.render_batch([("fox", "reading", "in a forest")] * 480, range(480), 32)
    assert metrics.judge_fid(real_a[0], one) >= 5 * floor


def test_judge_fid_accepts_64_px(real_a):
    images64 = _renders(101, size=64)[0][:60]
    assert metrics.judge_fid(real_a[0][:60], images64) == pytest.approx(0.0, abs=1e-3)


def test_polynomial_mmd2_is_unbiased_and_separates():
    g = np.random.default_rng(0)
    x, y, z = g.normal(size=(400, 8)), g.normal(size=(400, 8)), g.normal(1.0, 1.0, size=(400, 8))
    same, shifted = metrics.polynomial_mmd2(x, y), metrics.polynomial_mmd2(x, z)
    assert abs(same) < 0.1 * shifted and shifted > 0


def test_judge_kid_floor_and_noise(real_a, real_b, noise):
    floor = metrics.judge_kid(real_a[0], real_b)
    far = metrics.judge_kid(real_a[0], noise)
    assert far > 0 and abs(floor) < 0.01 * far


def test_coverage(real_a):
    assert metrics.coverage(real_a[0]) >= 0.97
    one = sb.render_batch([("bear", "fishing", "on a beach")] * 20, range(20), 32)
    assert metrics.coverage(one) == pytest.approx(1 / 120)
    assert metrics.coverage(one, min_count=20) == pytest.approx(1 / 120)      # a count equal to min_count counts
    assert metrics.coverage(one, min_count=21) == 0.0
    assert metrics.coverage(real_a[0], min_count=PER_COMPOSITION + 10) == 0.0
    with pytest.raises(ValueError, match="min_count"):
        metrics.coverage(one, min_count=0)


@pytest.mark.parametrize("images, message", [
    (np.zeros((2, 3, 32, 32)), "must be a torch.Tensor"),
    (torch.zeros(3, 32, 32), "Add a batch axis"),
    (torch.zeros(2, 32, 32, 3), "permute"),
    (torch.zeros(2, 3, 48, 48), "32×32, 64×64 or 128×128"),
    (torch.zeros(0, 3, 32, 32), "empty"),
    (torch.zeros(2, 3, 32, 32, dtype=torch.uint8), "127.5"),
    (torch.full((2, 3, 32, 32), 200.0), "0–255 pixels"),
    (torch.full((2, 3, 32, 32), -1.3), "clamp"),
    (torch.full((2, 3, 32, 32), float("nan")), "NaN"),
])
def test_bad_images_get_a_clear_error(images, message):
    with pytest.raises((ValueError, TypeError), match=message):
        metrics.adherence(images, [("fox", "fishing", "by a river")] * 2)


def test_fid_and_kid_need_two_images(real_a):
    with pytest.raises(ValueError, match="at least 2"):
        metrics.judge_fid(real_a[0][:1], real_a[0])
    with pytest.raises(ValueError, match="at least 2"):
        metrics.judge_kid(real_a[0], real_a[0][:1])


def test_mean_pairwise_distance():
    same = torch.zeros(3, 3, 2, 2)
    assert metrics.mean_pairwise_distance(same) == 0
    two = torch.stack([torch.zeros(3, 2, 2), torch.ones(3, 2, 2)])
    assert metrics.mean_pairwise_distance(two) == pytest.approx(math.sqrt(12))
    with pytest.raises(ValueError, match="at least 2"):
        metrics.mean_pairwise_distance(same[:1])
    assert metrics.mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)   # features too


def test_diversity_is_the_mean_pairwise_distance_within_groups():
    feats = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [0.0, 0.0], [9.0, 9.0]])
    # group "a": one pair at distance 5; group "b": two identical points, distance 0; "c" alone is skipped
    assert metrics.diversity(feats, ["a", "a", "b", "b", "c"]) == pytest.approx(2.5)
    assert metrics.diversity(feats[:2], ["a", "a"]) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="one group per row"):
        metrics.diversity(feats, ["a", "b"])
    with pytest.raises(ValueError, match="two or more"):
        metrics.diversity(feats[:2], ["a", "b"])


def test_adherence_and_diversity_reads_renders_as_their_captions():
    comps = [("fox", "reading", "in a forest")] * 3 + [("owl", "fishing", "on a beach")] * 3
    images = sb.render_batch(comps, list(range(6)), 32)
    same = sb.render_batch(comps[:1] * 2, [0, 0], 32)
    scores = metrics.adherence_and_diversity(images, [sb.caption(*c) for c in comps])
    assert scores["adherence"] >= 5 / 6 and scores["diversity"] > 0
    assert metrics.adherence_and_diversity(same, ["fox reading in a forest"] * 2)["diversity"] == pytest.approx(0, abs=1e-6)


# ----------------------------------------------------------------------------- seed_variation
def _varied(size: int = 64):
    """Renders of 3 compositions × 4 seeds, with their captions as groups."""
    comps = [c for c in (("fox", "reading", "in a forest"), ("owl", "fishing", "on a beach"),
                         ("squirrel", "fishing", "by a river")) for _ in range(4)]
    return sb.render_batch(comps, list(range(100, 112)), size), [sb.caption(*c) for c in comps]


@pytest.mark.parametrize("space", ["pixels", "judge"])
def test_seed_variation_is_one_for_the_renders_themselves_and_zero_for_identical_samples(space):
    renders, groups = _varied()
    assert metrics.seed_variation(renders, groups, renders, groups, space=space) == pytest.approx(1.0)
    # every seed of a prompt draws the same picture, though the prompts differ from each other: 0, not the
    # distance between prompts
    one_each = renders[::4].repeat_interleave(4, dim=0)
    assert metrics.seed_variation(one_each, groups, renders, groups, space=space) == pytest.approx(0.0, abs=1e-9)


def test_seed_variation_scales_with_the_spread_within_a_prompt():
    renders, groups = _varied()
    # shrink each prompt's samples halfway towards its mean image: every pairwise distance halves (area
    # averaging is linear), so the measure is 0.5; a squared distance would give 0.25
    mean = renders.reshape(3, 4, *renders.shape[1:]).mean(1, keepdim=True)
    half = (mean + 0.5 * (renders.reshape(3, 4, *renders.shape[1:]) - mean)).reshape(renders.shape)
    assert metrics.seed_variation(half, groups, renders, groups) == pytest.approx(0.5)
    # a different number of seeds per prompt in the two sets is fine: each side is a mean over pairs
    assert metrics.seed_variation(renders[[0, 1, 4, 5, 8, 9]], [groups[i] for i in (0, 1, 4, 5, 8, 9)],
                                  renders, groups) > 0


def test_layout_pixels_averages_to_16_px():
    x = torch.zeros(1, 3, 128, 128)
    x[:, :, :8, :8] = 1.0                       # one 16 px cell lit
    f = metrics.layout_pixels(x).reshape(3, 16, 16)
    assert f[:, 0, 0].tolist() == [1.0, 1.0, 1.0] and float(f.sum()) == 3.0


def test_seed_variation_errors():
    renders, groups = _varied(32)
    with pytest.raises(ValueError, match="same prompts"):
        metrics.seed_variation(renders[:4], groups[:4], renders[4:], groups[4:])
    with pytest.raises(ValueError, match="'pixels' or 'judge'"):
        metrics.seed_variation(renders, groups, renders, groups, space="clip")
    with pytest.raises(ValueError, match="identical"):
        metrics.seed_variation(renders, groups, renders[::4].repeat_interleave(4, dim=0), groups)


# ----------------------------------------------------------------------------- attention_in_region
def test_attention_in_region_known_answers():
    from course_utils.metrics import attention_in_region
    mask = torch.zeros(128, 128, dtype=torch.bool)
    mask[:32, :64] = True                                          # an eighth of the image: 2 × 4 cells at 16 × 16
    uniform = torch.full((16, 16), 0.3)
    share, area = attention_in_region(uniform, mask)
    assert area == 0.125 and abs(float(share) - 0.125) < 1e-12     # even attention: ratio 1
    inside = torch.zeros(16, 16)
    inside[:4, :8] = torch.rand(4, 8, generator=torch.Generator().manual_seed(0)) + 0.1
    share, area = attention_in_region(inside, mask)
    assert abs(float(share) - 1.0) < 1e-12 and float(share) / area == 8.0   # all inside: ratio 1 / area_share
    outside = torch.zeros(16, 16)
    outside[10, 10] = 1.0
    assert float(attention_in_region(outside, mask)[0]) == 0.0
    half = torch.zeros(16, 16)
    half[0, 0], half[15, 15] = 1.0, 1.0
    assert float(attention_in_region(half, mask)[0]) == 0.5


def test_attention_in_region_partial_cells_and_batches():
    from course_utils.metrics import attention_in_region
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[:, :8] = True                                             # a quarter of each of the map's first-column cells
    one = torch.zeros(2, 2)
    one[0, 0] = 1.0
    share, area = attention_in_region(one, mask)
    assert abs(float(share) - 0.25) < 1e-12 and area == 0.125
    batch = torch.stack([torch.ones(2, 2), one, torch.tensor([[0.0, 1.0], [0.0, 1.0]])])
    shares, _ = attention_in_region(batch, mask)
    assert shares.shape == (3,) and torch.allclose(shares, torch.tensor([0.125, 0.25, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("attn, mask, message", [
    (torch.ones(8), torch.ones(8, 8, dtype=torch.bool), r"attn must be a tensor \[H', W'\]"),
    (torch.ones(8, 8), torch.ones(8, 8), "mask must be a bool tensor"),
    (-torch.ones(8, 8), torch.ones(8, 8, dtype=torch.bool), "non-negative"),
    (torch.zeros(8, 8), torch.ones(8, 8, dtype=torch.bool), "sums to 0"),
    (torch.ones(8, 8), torch.zeros(8, 8, dtype=torch.bool), "mask is empty"),
    (torch.ones(16, 16), torch.ones(8, 8, dtype=torch.bool), "smaller than the map"),
])
def test_attention_in_region_errors(attn, mask, message):
    from course_utils.metrics import attention_in_region
    with pytest.raises(ValueError, match=message):
        attention_in_region(attn, mask)


@pytest.mark.parametrize("labels, error, match", [
    (torch.tensor([[6, 0, 0], [0, 0, 0]]), ValueError, "subject label 6 is out of range.*0 … 5"),
    (torch.tensor([[0, -1, 0], [0, 0, 0]]), ValueError, "action label -1 is out of range"),
    (torch.tensor([[0, 0, 0], [0, 0, 5]]), ValueError, "place label 5 is out of range.*labels_of"),
    (torch.tensor([[0.0, 1.7, 2.0], [0, 0, 0]]), TypeError, "integer tensor"),
    (np.array([[0, 0, 9], [0, 0, 0]]), ValueError, "place label 9"),
    ([("fox", "reading"), ("fox", "reading", "in a forest")], TypeError, "each caption"),
    ([None, "fox reading in a forest"], TypeError, "each caption"),
])
def test_adherence_refuses_labels_it_cannot_score(real_a, labels, error, match):
    # an out-of-range label used to count as a miss: a silent wrong score
    with pytest.raises(error, match=match):
        metrics.adherence(real_a[0][:2], labels)


def test_nearest_neighbours_finds_a_copy_at_zero_and_a_new_picture_further_away():
    from course_utils.storybook import render_batch
    pool = render_batch([("fox", "reading", "in a forest")] * 6 + [("owl", "sleeping", "on a beach")] * 6,
                        list(range(12)), 32)
    copy = torch.nn.functional.interpolate(pool[7:8], size=128, mode="nearest")     # pool image 7, bigger
    fresh = torch.nn.functional.interpolate(render_batch([("owl", "sleeping", "on a beach")], [99], 32), size=128,
                                            mode="nearest")
    for space in ("pixels", "judge"):
        d, i = metrics.nearest_neighbours(torch.cat([copy, fresh]), pool, space=space, batch_size=5)
        assert i[0] == 7 and float(d[0]) < 1e-4
        assert float(d[1]) > 0.01 and 6 <= int(i[1]) < 12         # nearest to its own composition
    with pytest.raises(ValueError, match="space must be 'pixels' or 'judge'"):
        metrics.nearest_neighbours(fresh, pool, space="inception")
