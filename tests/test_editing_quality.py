"""course_utils.editing_quality: the scenes an edit is measured on change exactly one word and are seeded, PSNR is
10 · log10(4 / MSE) inside the kept pixels, and the report's inversion is the same as ``editing.edit(p → p)``."""
import math

import pytest
import torch

from course_utils import editing as E
from course_utils import storybook
from course_utils.editing_quality import (KINDS, edit_scenes, editing_report, psnr_per_image, summarise_psnr)
from course_utils.pipelines import load_text_to_image

SLOTS = {"subject": 0, "action": 1, "place": 2}


def test_edit_scenes_change_exactly_the_word_of_their_kind_and_are_seeded():
    scenes = edit_scenes(12, seed=3, size=32)
    assert scenes.images.shape == (12, 3, 32, 32)
    assert scenes.kinds == [KINDS[i % 3] for i in range(12)] and set(KINDS) == {"subject", "place", "action"}
    for i, (src, tgt, swap, kind) in enumerate(zip(scenes.sources, scenes.targets, scenes.swaps, scenes.kinds)):
        s, t, w = (storybook.parse_caption(c) for c in (src, tgt, swap))
        assert s in storybook.TRAIN_COMPOSITIONS
        assert [k for k in range(3) if s[k] != t[k]] == [SLOTS[kind]], (src, tgt, kind)
        assert [k for k in range(3) if s[k] != w[k]] == [0], (src, swap)         # inpainting: another animal
        assert torch.equal(scenes.images[i], storybook.render(*s, seed=scenes.seeds[i], size=32))
    again, other = edit_scenes(12, seed=3, size=32), edit_scenes(12, seed=4, size=32)
    assert again.targets == scenes.targets and again.seeds == scenes.seeds and torch.equal(again.images, scenes.images)
    assert other.sources != scenes.sources and other.seeds != scenes.seeds
    with pytest.raises(ValueError, match="positive number"):
        edit_scenes(0)


def test_psnr_per_image_is_10_log10_of_4_over_the_mse_inside_the_kept_pixels():
    a = torch.zeros(2, 3, 4, 4)
    b = a.clone()
    b[0] += 0.2                                                  # MSE 0.04 → 10 · log10(4 / 0.04) = 20 dB
    b[1, :, :2] = 1.0                                            # wrong only in the top half
    values = psnr_per_image(b, a)
    assert values[0] == pytest.approx(20.0) and values[1] == pytest.approx(10 * math.log10(4 / 0.5))
    keep = torch.zeros(2, 1, 4, 4)
    keep[:, :, 2:] = 1                                           # the bottom half, which image 1 got right
    kept = psnr_per_image(b, a, keep)
    assert kept[0] == pytest.approx(20.0) and kept[1] == float("inf")
    assert summarise_psnr(kept) == {"mean": float("inf"), "min": 20.0}
    assert summarise_psnr([20.0, 30.0]) == {"mean": 25.0, "min": 20.0}


@pytest.fixture(scope="module")
def small_report():
    pipe = load_text_to_image()
    kwargs = dict(n=3, seed=11, edit_steps=10, steps=10, strengths=(0.3, 1.0), batch_size=3)
    return pipe, kwargs, editing_report(pipe, **kwargs)


@pytest.mark.slow          # the shipped model: seconds on idle cores, minutes while others share them
def test_editing_report_gives_every_figure_of_issue_19(small_report):
    _, kwargs, r = small_report
    assert {"round_trip", "inversion", "edits", "inpainting", "img2img", "sweep", "seconds"} <= set(r)
    assert r["n"] == 3 and r["edit_steps"] == 10 and r["edit_guidance"] == E.EDIT_GUIDANCE
    assert set(r["edits"]["by_kind"]) == set(KINDS) and all(0 <= v["all"] <= v["changed"] <= 1
                                                             for v in r["edits"]["by_kind"].values())
    assert 0 <= r["edits"]["all"] <= 1 and 0 <= r["inpainting"]["subject"] <= 1
    ip = r["inpainting"]
    assert ip["outside_keep_outside"] == {"mean": float("inf"), "min": float("inf")}       # pasted back exactly
    assert 10 < ip["outside_blended_vs_input"]["mean"] < ip["outside_blended_vs_round_trip"]["mean"] < 60
    assert 15 < r["round_trip"]["mean"] < 30 and r["round_trip"]["min"] <= r["round_trip"]["mean"]
    # the round trip is what inversion can come back to: nearer to it than to the input
    assert r["inversion"]["vs_round_trip"]["mean"] > r["inversion"]["vs_input"]["mean"]
    assert [s["strength"] for s in r["sweep"]] == [0.3, 1.0]
    assert r["sweep"][0]["psnr_vs_input"] > r["sweep"][1]["psnr_vs_input"] + 2   # more strength, less kept
    assert r["sweep"][1]["source_all"] <= r["sweep"][0]["source_all"]


@pytest.mark.slow          # the shipped model: seconds on idle cores, minutes while others share them
def test_editing_report_inverts_once_and_gives_what_edit_p_to_p_gives(small_report):
    pipe, kwargs, r = small_report
    scenes = edit_scenes(kwargs["n"], kwargs["seed"])
    x, p = scenes.images, scenes.sources
    round_trip = E.decode(pipe, E.encode(pipe, x))
    same = E.edit(pipe, x, p, p, num_inference_steps=kwargs["edit_steps"])
    assert r["inversion"]["vs_round_trip"] == summarise_psnr(psnr_per_image(same, round_trip))
    assert r["round_trip"]["mean"] == summarise_psnr(psnr_per_image(round_trip, x))["mean"]
