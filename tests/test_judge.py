"""The judge: shapes, the 64 → 32 px pooling, its loss and augmentation, the recipe, the shipped weights."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from course_utils import storybook as sb
from course_utils.checkpoints import CheckpointError, save_model
from course_utils.evaluation import feature_rms
from course_utils.judge import Judge, JudgeConfig, augment, judge_loss, load
from course_utils.seeding import make_generator


def _small_judge() -> Judge:
    torch.manual_seed(0)
    return Judge(JudgeConfig(channels=(8, 16, 16), features=32)).eval()


def test_shapes_and_features():
    judge = _small_judge()
    x = sb.render_batch(sb.ALL_COMPOSITIONS[:5], range(5), 32)
    subject, action, place = judge(x)
    assert subject.shape == (5, 6) and action.shape == (5, 4) and place.shape == (5, 5)
    assert judge.features(x).shape == (5, 32)
    labels = judge.predict(x)
    assert labels.shape == (5, 3) and labels.dtype == torch.long


def test_64_px_inputs_are_average_pooled_to_32():
    judge = _small_judge()
    x64 = sb.render_batch(sb.ALL_COMPOSITIONS[:3], [1, 2, 3], 64)
    x32 = sb.render_batch(sb.ALL_COMPOSITIONS[:3], [1, 2, 3], 32)
    assert torch.allclose(judge.features(x64), judge.features(x32), atol=1e-5)
    x128 = torch.rand(2, 3, 128, 128, generator=make_generator(0)) * 2 - 1          # 128 px: a 4×4 average
    assert torch.allclose(judge.features(x128), judge.features(torch.nn.functional.avg_pool2d(x128, 4)), atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 48, 48), (2, 3, 96, 96), (2, 1, 32, 32), (3, 32, 32)])
def test_bad_input_shapes(shape):
    with pytest.raises(ValueError, match="judge reads"):
        _small_judge()(torch.zeros(shape))


def test_augment_is_seeded_and_mild():
    x = sb.render_batch(sb.ALL_COMPOSITIONS[:16], range(16), 32)
    a, b = augment(x, make_generator(1)), augment(x, make_generator(1))
    assert torch.equal(a, b) and a.shape == x.shape
    assert not torch.equal(a, x) and (a - x).abs().mean() < 0.15


def test_loss_goes_down_on_a_fixed_batch():
    judge = _small_judge().train()
    batch = sb.sample_batch(32, make_generator(0), size=32)
    opt = torch.optim.Adam(judge.parameters(), 3e-3)
    losses = []
    for step in range(25):
        loss = judge_loss(judge, batch, make_generator(step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 3.0 and losses[-1] < 0.5 * losses[0]


def test_config_round_trip():
    c = JudgeConfig(channels=(8, 16), features=24, feature_scale=2.5)
    assert JudgeConfig.from_dict({"kind": "judge", **c.__dict__}) == c


def test_feature_scale_divides_features_but_not_logits():
    judge = _small_judge()
    x = sb.render_batch(sb.ALL_COMPOSITIONS[:4], range(4), 32)
    with torch.no_grad():
        f1, logits1 = judge.features(x), judge(x)
    judge.config = replace(judge.config, feature_scale=4.0)
    with torch.no_grad():
        assert torch.allclose(judge.features(x) * 4.0, f1, atol=1e-5)
        assert all(torch.equal(a, b) for a, b in zip(judge(x), logits1))
    assert feature_rms(judge, 16) == pytest.approx(float(f1.pow(2).mean().sqrt()), rel=0.5)


def test_load_refuses_other_kinds_and_vocabularies(tmp_path):
    judge = _small_judge()
    save_model(tmp_path / "other", judge, {"kind": "pixel-unet"})
    with pytest.raises(CheckpointError, match="not a 'judge'"):
        load(tmp_path / "other")
    config = {"kind": "judge", **judge.config.__dict__, "subjects": ["cat"], "actions": list(sb.ACTIONS),
              "places": list(sb.PLACES)}
    save_model(tmp_path / "vocab", judge, config)
    with pytest.raises(CheckpointError, match="another storybook vocabulary"):
        load(tmp_path / "vocab")


def test_shipped_judge_reads_fresh_renders():
    """One fresh render of each of the 120 compositions (held-out included): ≥ 95% per attribute."""
    judge = load(device="cpu")
    triples = list(sb.ALL_COMPOSITIONS)
    seeds = torch.randint(0, 2**62, (120,), generator=make_generator(987654)).tolist()
    x = sb.render_batch(triples, seeds, 32)
    right = judge.predict(x) == torch.tensor([sb.labels_of(*t) for t in triples])
    for k, name in enumerate(("subject", "action", "place")):
        assert right[:, k].float().mean() >= 0.95, name
    held = torch.tensor([t in sb.HELD_OUT for t in triples])
    assert right[held].all(dim=1).float().mean() >= 0.9
    assert 0.7 < float(judge.features(x).detach().pow(2).mean().sqrt()) < 1.3      # features are scaled to RMS ≈ 1
