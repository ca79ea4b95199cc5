"""The conditional pixel denoiser, its loss, loader and sampling helpers (course_utils/denoiser.py)."""
from __future__ import annotations

import json

import pytest
import torch

from course_utils.checkpoints import CheckpointError, save_model
from course_utils.denoiser import (NULL, DenoiserConfig, build_model, denoising_loss, drop_conditions,
                                   generate, labels_from_captions, load_denoiser, make_denoise,
                                   make_sampler, scheduler_config, SAMPLERS)
from course_utils.forward import q_sample
from course_utils.seeding import make_generator
from course_utils.training import TrainConfig, train

TINY = DenoiserConfig(sample_size=8, block_out_channels=(8, 16), down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                      up_block_types=("AttnUpBlock2D", "UpBlock2D"), norm_num_groups=4, vocab_sizes=(3, 2, 2),
                      num_train_timesteps=50)


def tiny_batch(n: int = 4, seed: int = 0):
    g = make_generator(seed)
    return torch.rand(n, 3, 8, 8, generator=g) * 2 - 1, torch.tensor([[0, 1, 1], [2, 0, 0], [1, 1, 0], [0, 0, 1]])[:n]


def test_same_seed_same_weights_and_shapes():
    a, b = build_model(TINY, seed=3), build_model(TINY, seed=3)
    for (k, v), w in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(v, w), k
    assert not torch.equal(a.unet.conv_in.weight, build_model(TINY, seed=4).unet.conv_in.weight)
    x, labels = tiny_batch()
    assert a(x, torch.tensor([1, 2, 3, 4]), labels).shape == (4, 3, 8, 8)
    assert a(x, 7, labels).shape == (4, 3, 8, 8)                 # one timestep for the whole batch


def test_condition_is_the_sum_of_attribute_embeddings_with_a_null_row():
    model = build_model(TINY)
    s, a, p = model.attributes
    emb = model.embed(torch.tensor([[2, NULL, 1]]))
    assert torch.allclose(emb[0], s.weight[2] + a.weight[2] + p.weight[1])   # NULL → the extra last row


def test_unconditional_is_all_null_and_differs_from_conditional():
    model = build_model(TINY).eval()
    x, labels = tiny_batch()
    with torch.no_grad():
        uncond = model(x, 10)
        assert torch.equal(uncond, model(x, 10, torch.full_like(labels, NULL)))
        assert not torch.allclose(uncond, model(x, 10, labels))


def test_bad_labels_fail_early():
    model = build_model(TINY)
    x, labels = tiny_batch()
    with pytest.raises(ValueError, match=r"shape \[B, 3\]"):
        model(x, 1, labels[:, :2])
    with pytest.raises(ValueError, match="values must be in"):
        model(x, 1, labels + 5)


def test_drop_conditions_rates_and_determinism():
    labels = torch.zeros(20_000, 3, dtype=torch.long)
    dropped = drop_conditions(labels, make_generator(1), p_all=0.1, p_each=0.05)
    assert torch.equal(dropped, drop_conditions(labels, make_generator(1), p_all=0.1, p_each=0.05))
    all_null = (dropped == NULL).all(1).float().mean()
    one_null = (dropped == NULL).float().mean()
    assert abs(all_null - (0.1 + 0.9 * 0.05**3)) < 0.01
    assert abs(one_null - (0.1 + 0.9 * 0.05)) < 0.01
    assert torch.equal(drop_conditions(labels, make_generator(1), 0.0, 0.0), labels)


def redraw(model, batch, seed: int):
    """The draws denoising_loss makes with make_generator(seed), in the same order: (t, ε, c, x_t)."""
    g = make_generator(seed)
    x0, labels = batch
    t = torch.randint(0, model.config.num_train_timesteps, (x0.shape[0],), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    c = drop_conditions(labels, g)
    return t, eps, c, q_sample(x0, t, model.alphas_cumprod, eps)


def test_loss_is_the_epsilon_objective_written_out():
    model = build_model(TINY).eval()
    batch = tiny_batch()
    loss = denoising_loss(model, batch, make_generator(9))
    t, eps, c, x_t = redraw(model, batch, 9)
    expected = ((eps - model(x_t, t, c)) ** 2).mean()
    assert torch.allclose(loss, expected)


def test_min_snr_loss_weights_each_image_by_min_snr_over_snr():
    model = build_model(TINY).eval()
    batch = tiny_batch()
    loss = denoising_loss(model, batch, make_generator(9), snr_gamma=0.5)
    t, eps, c, x_t = redraw(model, batch, 9)
    per_image = ((eps - model(x_t, t, c)) ** 2).mean(dim=(1, 2, 3))
    snr = model.alphas_cumprod[t] / (1 - model.alphas_cumprod[t])
    weight = torch.minimum(snr, torch.tensor(0.5)) / snr
    assert torch.allclose(loss, (weight * per_image).mean())
    assert bool((weight < 1).any()) and bool((weight <= 1).all())          # some images really are down-weighted
    assert not torch.allclose(loss, denoising_loss(model, batch, make_generator(9)))   # None = the plain loss


@pytest.mark.slow
def test_a_short_training_lowers_the_loss():
    model = build_model(TINY)
    x, labels = tiny_batch()
    config = TrainConfig(steps=30, lr=5e-3, ema_decay=0.9, log_every=1)
    result = train(model, denoising_loss, lambda step, g: (x, labels), config, progress=False)
    _, losses = result.losses()
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5


def test_shipped_folder_round_trip_and_clear_errors(tmp_path):
    model = build_model(TINY, seed=5).eval()
    config = {**TINY.__dict__}
    save_model(tmp_path / "pixel-unet", model, config)
    loaded = load_denoiser(tmp_path / "pixel-unet", device="cpu")
    x, labels = tiny_batch()
    with torch.no_grad():
        assert torch.equal(loaded(x, 3, labels), model(x, 3, labels))
    # weights from another model size under this config → CheckpointError naming the fix
    bigger = DenoiserConfig(**{**config, "block_out_channels": (16, 16)})
    save_model(tmp_path / "other", build_model(TINY), {**bigger.__dict__})
    with pytest.raises(CheckpointError, match="do not fit its config.json.*course_utils.train pixel-unet"):
        load_denoiser(tmp_path / "other")
    save_model(tmp_path / "judge", model, {**config, "kind": "judge"})
    with pytest.raises(CheckpointError, match="not a 'pixel-unet'"):
        load_denoiser(tmp_path / "judge")
    save_model(tmp_path / "odd", model, {**config, "heads": 3})
    with pytest.raises(CheckpointError, match="does not know"):
        load_denoiser(tmp_path / "odd")
    with pytest.raises(CheckpointError, match="python -m course_utils.train pixel-unet.*make models"):
        load_denoiser(tmp_path / "missing" / "pixel-unet")
    assert json.loads((tmp_path / "pixel-unet" / "config.json").read_text())["kind"] == "pixel-unet"


def test_make_denoise_conditions_and_checks_batch():
    model = build_model(TINY).eval()
    x, labels = tiny_batch()
    with torch.no_grad():
        assert torch.equal(make_denoise(model)(x, 5), model(x, 5))
        assert torch.equal(make_denoise(model, labels)(x, 5), model(x, 5, labels))
    with pytest.raises(ValueError, match="one label row per image"):
        make_denoise(model, labels[:2])(x, 5)
    with pytest.raises(TypeError, match="labels_from_captions"):
        make_denoise(model, ["squirrel fishing by a river"])


def test_scheduler_config_matches_training():
    from diffusers import DDIMScheduler
    model = build_model(TINY)
    scheduler = DDIMScheduler(**scheduler_config(model))
    assert torch.allclose(scheduler.alphas_cumprod, model.alphas_cumprod)


def test_labels_from_captions_reads_the_storybook_vocabulary():
    from course_utils.storybook import ACTIONS, PLACES, SUBJECTS
    labels = labels_from_captions(["squirrel fishing by a river", "a fox reading in a forest"])
    assert labels.dtype == torch.long and labels.shape == (2, 3)
    assert labels[0].tolist() == [SUBJECTS.index("squirrel"), ACTIONS.index("fishing"), PLACES.index("by a river")]
    assert labels[1].tolist() == [SUBJECTS.index("fox"), ACTIONS.index("reading"), PLACES.index("in a forest")]
    with pytest.raises(TypeError, match="list of captions"):
        labels_from_captions("squirrel fishing by a river")
    with pytest.raises(ValueError):
        labels_from_captions(["dragon fishing by a river"])


class _FakeCudaGenerator(torch.Generator):
    """A CPU generator that claims to live on a GPU (there is none here to make a real one)."""
    @property
    def device(self) -> torch.device:
        return torch.device("cuda")


@pytest.mark.slow
def test_generate_is_seeded_and_checks_its_arguments():
    from course_utils.schedulers import DDIMScheduler
    model = build_model(TINY).eval()
    scheduler = DDIMScheduler(**scheduler_config(model))
    _, labels = tiny_batch()
    run = lambda seed, **kw: generate(model, scheduler, generator=make_generator(seed),  # noqa: E731
                                      num_inference_steps=3, **kw)
    a = run(934743, labels=labels)
    assert a.shape == (4, 3, 8, 8) and a.abs().max() <= 1
    assert torch.equal(a, run(934743, labels=labels))
    assert not torch.equal(a, run(656232, labels=labels))
    assert run(1, n=2).shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="either n"):
        run(1, n=2, labels=labels)
    with pytest.raises(ValueError, match="positive int"):
        run(1, n=0)
    with pytest.raises(ValueError, match="num_inference_steps must be a positive int"):
        generate(model, scheduler, n=1, generator=make_generator(1), num_inference_steps=0)
    with pytest.raises(ValueError, match="generator is on cuda.*make_generator"):
        generate(model, scheduler, n=1, generator=_FakeCudaGenerator(), num_inference_steps=2)
    with pytest.raises(ValueError, match="guidance_scale needs labels"):
        run(1, n=2, guidance_scale=3.0)


@pytest.mark.slow
def test_guided_generate_at_scale_one_is_conditional_generate():
    # w = 1: ε̂(∅) + 1·(ε̂(c) − ε̂(∅)) = ε̂(c), so guiding changes nothing but the cost (up to float rounding)
    from course_utils.schedulers import DDIMScheduler
    model = build_model(TINY).eval()
    scheduler = DDIMScheduler(**scheduler_config(model))
    _, labels = tiny_batch()
    run = lambda **kw: generate(model, scheduler, labels=labels, generator=make_generator(3),  # noqa: E731
                                num_inference_steps=3, **kw)
    plain = run()
    assert torch.allclose(run(guidance_scale=1.0), plain, atol=1e-5)
    assert not torch.allclose(run(guidance_scale=4.0), plain, atol=1e-3)


def test_make_denoise_with_guidance_is_the_cfg_combination_without_gradients():
    from course_utils.denoiser import NULL, make_denoise
    from course_utils.guidance import cfg_combine
    model = build_model(TINY).eval()
    x, labels = tiny_batch()
    t = torch.tensor(10)                                   # one timestep for the batch, as the samplers pass it
    with torch.no_grad():
        expected = cfg_combine(model(x, t, torch.full_like(labels, NULL)), model(x, t, labels), 3.0)
    guided = make_denoise(model, labels, guidance_scale=3.0)(x, t)
    assert torch.allclose(guided, expected, atol=1e-5) and not guided.requires_grad
    with pytest.raises(ValueError, match="guidance_scale needs labels"):
        make_denoise(model, None, guidance_scale=3.0)


def test_samplers_presets_share_the_training_schedule():
    model = build_model(TINY)
    for name in SAMPLERS:
        scheduler, steps = make_sampler(name, model)
        assert torch.allclose(scheduler.alphas_cumprod, model.alphas_cumprod)
        assert steps == int(name.rsplit("-", 1)[1])
    scheduler, steps = make_sampler("DDIM-25", model)
    scheduler.set_timesteps(steps)
    assert int(scheduler.timesteps[0]) == TINY.num_train_timesteps - 1   # trailing: starts from pure noise
    with pytest.raises(ValueError, match="Known samplers: DDPM-1000"):
        make_sampler("PLMS-10", model)


def test_guided_pixel_samples_matches_the_hand_built_guided_sampler():
    from course_utils.denoiser import guided_pixel_samples
    from course_utils.guidance import guided_denoise
    from course_utils.samplers import sample
    from course_utils.schedulers import DDIMScheduler
    model = build_model(DenoiserConfig(block_out_channels=(8, 16, 16), norm_num_groups=4), seed=0).eval()
    labels = torch.tensor([[2, 1, 0]])
    scheduler = DDIMScheduler(beta_schedule="squaredcos_cap_v2")
    ours = guided_pixel_samples(model, labels, 2.0, scheduler=scheduler, generator=make_generator(5),
                                num_inference_steps=2)
    by_hand = sample(guided_denoise(lambda x, t, c: model(x, t, c), labels, torch.full((1, 3), NULL), 2.0),
                     scheduler, (1, 3, 32, 32), generator=make_generator(5), num_inference_steps=2, device="cpu")
    assert torch.equal(ours, by_hand.clamp(-1, 1))
