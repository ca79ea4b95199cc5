"""The side-by-side harness of notebook 08: contenders, costs, the table (course_utils/compare.py)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_utils import compare, vae
from course_utils.seeding import make_generator


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=make_generator(seed)) * 2 - 1


def test_count_calls_counts_forward_passes():
    net = torch.nn.Linear(2, 2)
    with compare.count_calls(net) as calls:
        for _ in range(3):
            net(torch.zeros(1, 2))
    net(torch.zeros(1, 2))                                     # after the block: not counted
    assert calls[0] == 3


def test_sharpness_is_high_for_edges_and_zero_for_flat_images():
    flat = torch.zeros(2, 3, 8, 8)
    assert compare.sharpness(flat) == 0
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None]) % 2 * 2.0 - 1     # ±1 checkerboard
    assert compare.sharpness(checker.expand(1, 3, 8, 8)) == pytest.approx(8.0)
    blurred = F.avg_pool2d(images(2), 3, 1, 1)
    assert compare.sharpness(blurred) < compare.sharpness(images(2))
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        compare.sharpness(flat[0])


@pytest.mark.slow
def test_diffusion_contender_makes_one_network_call_per_step():
    from course_utils.denoiser import DenoiserConfig, build_model
    unet = build_model(DenoiserConfig(block_out_channels=(8, 8, 8), norm_num_groups=4), seed=0).eval()
    c = compare.diffusion_contender(unet, "DDIM-25", folder=None)
    with compare.count_calls(unet) as calls:
        out = c.sample(2, make_generator(0))
    assert out.shape == (2, 3, 32, 32) and calls[0] == 25 == c.network_calls
    assert c.name == "diffusion DDIM-25" and c.parameters == sum(p.numel() for p in unet.parameters())
    with pytest.raises(ValueError, match="Unknown sampler"):
        compare.diffusion_contender(unet, "DDIM-7", folder=None)


def test_compare_measures_every_row_and_skips_metrics_on_small_sets(monkeypatch):
    monkeypatch.setattr(compare, "judge_fid", lambda real, fake: float((real.mean() - fake.mean()).abs()))
    monkeypatch.setattr(compare, "coverage", lambda x: 0.5)
    flat = compare.Contender("flat", lambda n, g: torch.zeros(n, 3, 32, 32), 10, 1, 2.0)
    few = compare.Contender("few", lambda n, g: torch.zeros(n, 3, 32, 32), 20, 7, None, n=3)
    rows = compare.compare([flat, few], n=6, batch_size=4, min_n_for_metrics=5)
    assert [r["model"] for r in rows] == ["flat", "few"] and [r["samples"] for r in rows] == [6, 3]
    assert rows[0]["coverage"] == 0.5 and rows[0]["fid"] is not None and rows[0]["train_minutes"] == 2.0
    assert rows[1]["fid"] is None and rows[1]["coverage"] is None and rows[1]["calls_per_image"] == 7
    table = compare.format_table(rows)
    assert "judge-FID" in table and "—" in table and table.count("\n") == 3
    with pytest.raises(ValueError, match="n must be"):
        compare.compare([flat], n=1)


def test_shipped_contenders_load_the_shipped_models_with_their_costs():
    rows = compare.shipped_contenders(ddpm_n=3, device="cpu")
    assert [c.name for c in rows] == ["real renders", "VAE", "GAN", "diffusion DDIM-25", "diffusion DDPM-1000"]
    assert [c.network_calls for c in rows] == [0, 1, 1, 25, 1000] and rows[-1].n == 3 and rows[3].n is None
    assert all(c.training_minutes > 0 for c in rows[1:]) and rows[0].training_minutes is None
    assert rows[1].parameters == sum(p.numel() for p in vae.load_vae(device="cpu").parameters())
    for c in rows[:3]:
        out = c.sample(2, make_generator(0))
        assert out.shape == (2, 3, 32, 32) and float(out.abs().max()) <= 1

