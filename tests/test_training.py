"""The one training loop: history, EMA, checkpoints, and resume after a kill (course_utils/training.py)."""
from __future__ import annotations

import pytest
import torch

from course_utils.checkpoints import CheckpointError
from course_utils.seeding import make_generator
from course_utils.training import (CHECKPOINT_NAME, Objective, TrainConfig, load_training_checkpoint,
                                   step_generator, to_device, train)

TARGET = torch.tensor([[1.5, -2.0, 0.5, 3.0]])


def tiny_model(width: int = 8) -> torch.nn.Module:
    """A 4 → width → 1 MLP with weights from a fixed seed."""
    g = make_generator(7)
    model = torch.nn.Sequential(torch.nn.Linear(4, width), torch.nn.Tanh(), torch.nn.Linear(width, 1))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
    return model


def batch_fn(step: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(16, 4, generator=g)                       # B=16, 4 features
    return x, (x * TARGET).sum(1, keepdim=True)


def mse(model, batch, g):
    x, y = batch
    noise = 0.01 * torch.randn(y.shape, generator=g)          # a draw inside the loss, from the step generator
    return ((model(x) - y - noise) ** 2).mean()


def params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_step_generator_depends_only_on_seed_and_step():
    a = torch.randn(5, generator=step_generator(3, 10))
    assert torch.equal(a, torch.randn(5, generator=step_generator(3, 10)))
    assert not torch.equal(a, torch.randn(5, generator=step_generator(3, 11)))
    assert not torch.equal(a, torch.randn(5, generator=step_generator(4, 10)))


def test_history_logs_every_n_steps_and_the_last_and_loss_falls():
    model = tiny_model()
    result = train(model, mse, batch_fn, TrainConfig(steps=25, lr=3e-2, log_every=10), progress=False)
    steps, losses = result.losses()
    assert steps == [0, 10, 20, 24]
    assert losses[-1] < 0.5 * losses[0]
    assert result.steps_done == 25 and result.resumed_from == 0 and result.ema_state is None
    assert not model.training                                  # left in eval mode


def test_ema_is_the_running_average_of_the_weights():
    model = tiny_model()
    w0 = params(model)
    result = train(model, mse, batch_fn, TrainConfig(steps=1, lr=1e-2, ema_decay=0.9), progress=False)
    w1 = params(model)
    for k in w0:
        # ema_1 = d·w_0 + (1 − d)·w_1
        assert torch.allclose(result.ema_state[k], 0.9 * w0[k] + 0.1 * w1[k], atol=1e-7)
        assert not torch.equal(w0[k], w1[k])


def test_ema_warmup_ramps_the_decay_as_diffusers_does(tmp_path):
    from diffusers.training_utils import EMAModel
    model = tiny_model()
    w0 = params(model)
    result = train(model, mse, batch_fn, TrainConfig(steps=1, lr=1e-2, ema_decay=0.999, ema_warmup=True), progress=False)
    w1 = params(model)
    for k in w0:
        # step 0: decay 0, so the average starts at the trained weights, not at the initial ones
        assert torch.equal(result.ema_state[k], w1[k]) and not torch.equal(w0[k], w1[k])
    config = TrainConfig(steps=5001, lr=1e-2, ema_decay=0.999, ema_warmup=True)
    reference = EMAModel(tiny_model().parameters(), decay=0.999)      # diffusers' default schedule, update t + 1
    for t in (0, 1, 5, 100, 5000):
        assert config.ema_decay_at(t) == pytest.approx(reference.get_decay(t + 1))
    assert TrainConfig(steps=10, ema_decay=0.999).ema_decay_at(0) == 0.999     # without warm-up: constant
    # a run checkpointed with the ramp cannot be resumed without it (its average would mean something else)
    train(tiny_model(), mse, batch_fn, TrainConfig(steps=2, lr=1e-2, ema_decay=0.999, ema_warmup=True,
                                                   run_dir=str(tmp_path)), progress=False)
    with pytest.raises(CheckpointError, match="ema_warmup=True → False"):
        train(tiny_model(), mse, batch_fn, TrainConfig(steps=3, lr=1e-2, ema_decay=0.999, run_dir=str(tmp_path)),
              progress=False)


def test_checkpoint_round_trip_holds_weights_ema_optimizer_and_history(tmp_path):
    model = tiny_model()
    config = TrainConfig(steps=6, lr=1e-2, ema_decay=0.99, log_every=2, run_dir=str(tmp_path))
    result = train(model, mse, batch_fn, config, progress=False)
    tensors, meta = load_training_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert int(meta["step"]) == 6
    for k, v in model.state_dict().items():
        assert torch.equal(tensors[f"model.{k}"], v)
        assert torch.equal(tensors[f"ema.{k}"], result.ema_state[k])
    assert any(k.startswith("opt.loss.") and k.endswith("exp_avg") for k in tensors)
    # a second call with the same config finds the run finished: it trains nothing and changes nothing
    again = tiny_model()
    result2 = train(again, mse, batch_fn, config, progress=False)
    assert result2.resumed_from == 6 and result2.history == result.history
    for k, v in model.state_dict().items():
        assert torch.equal(again.state_dict()[k], v)


class Killed(Exception):
    """Stands in for a kill -9 between two steps."""


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path, schedule):
    n = 12
    config = dict(steps=n, lr=2e-2, warmup_steps=3, lr_schedule=schedule, ema_decay=0.9, log_every=1, seed=5)
    straight = tiny_model()
    whole = train(straight, mse, batch_fn, TrainConfig(**config), progress=False)

    def dies_after_half(step, g):
        if step == n // 2 + 1:                                  # the checkpoint at n/2 exists, later work is lost
            raise Killed
        return batch_fn(step, g)

    run = TrainConfig(**config, run_dir=str(tmp_path), checkpoint_every=n // 2)
    with pytest.raises(Killed):
        train(tiny_model(), mse, dies_after_half, run, progress=False)
    resumed_model = tiny_model()
    resumed = train(resumed_model, mse, batch_fn, run, progress=False)
    assert resumed.resumed_from == n // 2
    assert resumed.history == whole.history
    for k, v in straight.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[k], v), k
        assert torch.equal(resumed.ema_state[k], whole.ema_state[k]), k


def test_pausing_with_until_takes_a_snapshot_of_the_same_run(tmp_path):
    config = dict(steps=10, lr=2e-2, warmup_steps=2, lr_schedule="cosine", log_every=1, seed=3)
    straight = tiny_model()
    train(straight, mse, batch_fn, TrainConfig(**config), progress=False)
    midway = tiny_model()
    train(midway, mse, batch_fn, TrainConfig(**{**config, "steps": 4}), progress=False)   # (another lr schedule)
    run = TrainConfig(**config, run_dir=str(tmp_path))
    model = tiny_model()
    first = train(model, mse, batch_fn, run, progress=False, until=4)
    assert first.steps_done == 4 and len(first.history) == 4
    assert load_training_checkpoint(tmp_path / CHECKPOINT_NAME)[1]["step"] == "4"
    snapshot = params(model)
    assert any(not torch.equal(snapshot[k], v) for k, v in midway.state_dict().items())   # the schedule of 10 steps
    rest = train(model, mse, batch_fn, run, progress=False)
    assert rest.resumed_from == 4 and rest.steps_done == 10
    for k, v in straight.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k                     # paused and resumed = uninterrupted
    assert any(not torch.equal(snapshot[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("until, run_dir, match", [(0, True, "until must be a step in 1"),
                                                   (11, True, "until must be a step in 1"),
                                                   (True, True, "until must be a step"),
                                                   (4, False, "needs config.run_dir")])
def test_until_without_a_run_dir_or_outside_the_run_is_refused(tmp_path, until, run_dir, match):
    run = TrainConfig(steps=10, run_dir=str(tmp_path) if run_dir else None)
    with pytest.raises(ValueError, match=match):
        train(tiny_model(), mse, batch_fn, run, progress=False, until=until)


def test_resuming_with_another_model_config_is_a_clear_error(tmp_path):
    run = TrainConfig(steps=2, lr=1e-2, run_dir=str(tmp_path))
    train(tiny_model(width=8), mse, batch_fn, run, progress=False)
    with pytest.raises(CheckpointError, match="another model.*run_dir"):
        train(tiny_model(width=16), mse, batch_fn, run, progress=False)


def test_resuming_with_another_seed_is_a_clear_error(tmp_path):
    train(tiny_model(), mse, batch_fn, TrainConfig(steps=2, seed=1, run_dir=str(tmp_path)), progress=False)
    with pytest.raises(CheckpointError, match="seed"):
        train(tiny_model(), mse, batch_fn, TrainConfig(steps=4, seed=2, run_dir=str(tmp_path)), progress=False)


def test_two_objectives_each_take_a_step():
    model = tiny_model()
    first, second = list(model[0].parameters()), list(model[2].parameters())
    objectives = [Objective("a", mse, first), Objective("b", mse, second)]
    result = train(model, objectives, batch_fn, TrainConfig(steps=3, log_every=1), progress=False)
    assert set(result.history[0]) == {"step", "a", "b"}


def test_bad_config_and_bad_loss_fail_early():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=-1)
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(steps=1, lr_schedule="linear")
    with pytest.raises(ValueError, match="ema_decay"):
        TrainConfig(steps=1, ema_decay=1.0)
    with pytest.raises(TypeError):
        TrainConfig(steps=1, learning_rate=1e-3)
    with pytest.raises(TypeError, match="loss must be"):
        train(tiny_model(), [], batch_fn, TrainConfig(steps=1), progress=False)


def test_a_diverging_loss_stops_with_advice():
    def nan_loss(model, batch, g):
        return model(batch[0]).mean() * float("nan")
    with pytest.raises(FloatingPointError, match="learning rate"):
        train(tiny_model(), nan_loss, batch_fn, TrainConfig(steps=2), progress=False)


def test_lr_warmup_then_cosine_decay_to_ten_percent():
    config = TrainConfig(steps=100, lr=1.0, warmup_steps=10, lr_schedule="cosine")
    assert config.lr_at(0) == pytest.approx(0.1) and config.lr_at(9) == pytest.approx(1.0)
    assert config.lr_at(10) == pytest.approx(1.0) and config.lr_at(100) == pytest.approx(0.1)


def test_to_device_moves_nested_batches():
    batch = {"x": torch.zeros(2), "pair": (torch.ones(1), 3)}
    moved = to_device(batch, torch.device("cpu"))
    assert torch.equal(moved["x"], batch["x"]) and moved["pair"][1] == 3


@pytest.mark.parametrize("change", [dict(steps=10), dict(steps=19), dict(lr=2e-2), dict(lr_schedule="cosine"),
                                    dict(warmup_steps=2), dict(ema_decay=0.9), dict(grad_clip=None),
                                    dict(betas=(0.5, 0.9)), dict(autocast="bf16")])
def test_resuming_with_other_settings_is_refused(tmp_path, change):
    # a finished 20-step run rerun with steps=10 used to return the 20-step weights labelled 10
    base = dict(steps=20, lr=1e-2, run_dir=str(tmp_path))
    train(tiny_model(), mse, batch_fn, TrainConfig(**base), progress=False)
    key = next(iter(change))
    with pytest.raises(CheckpointError, match=f"other settings \\({key}=.*new run_dir.*--fresh"):
        train(tiny_model(), mse, batch_fn, TrainConfig(**{**base, **change}), progress=False)
    # what does not change the weights (logging, checkpoint spacing) may differ
    again = train(tiny_model(), mse, batch_fn, TrainConfig(**base, log_every=3, checkpoint_every=5), progress=False)
    assert again.resumed_from == 20


def test_truncated_training_checkpoint_names_the_file_and_the_fix(tmp_path):
    train(tiny_model(), mse, batch_fn, TrainConfig(steps=2, run_dir=str(tmp_path)), progress=False)
    ckpt = tmp_path / CHECKPOINT_NAME
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=f"{CHECKPOINT_NAME} is not a readable training checkpoint.*run_dir"):
        train(tiny_model(), mse, batch_fn, TrainConfig(steps=2, run_dir=str(tmp_path)), progress=False)
    with pytest.raises(CheckpointError, match="truncated"):
        load_training_checkpoint(ckpt)


@pytest.mark.parametrize("field, value", [
    ("steps", True), ("steps", 2.0), ("lr", 0.0), ("lr", -1e-3), ("lr", float("nan")), ("lr", "1e-3"),
    ("weight_decay", -0.1), ("weight_decay", float("inf")), ("betas", (0.9,)), ("betas", (0.9, 1.0)),
    ("warmup_steps", -1), ("warmup_steps", 1.5), ("grad_clip", -1.0), ("grad_clip", 0.0), ("grad_clip", float("nan")),
    ("ema_decay", float("nan")), ("ema_decay", True), ("log_every", 0), ("log_every", -5), ("log_every", False),
    ("checkpoint_every", -1), ("seed", -1), ("seed", 1.5), ("run_dir", 3), ("autocast", "fp16"), ("autocast", True),
])
def test_every_config_field_is_checked_at_construction(field, value):
    with pytest.raises((ValueError, TypeError), match=field if field != "seed" else "seed"):
        TrainConfig(**{"steps": 2, field: value})


@pytest.mark.parametrize("model, loss, batch, match", [
    (None, mse, batch_fn, "model must be a torch.nn.Module"),
    (tiny_model(), mse, None, "batch_fn must be a function"),
    (tiny_model(), lambda m, b, g: m(b[0]), batch_fn, r"one scalar tensor.*shape \(16, 1\)"),
    (tiny_model(), lambda m, b, g: 1.0, batch_fn, "one scalar tensor"),
    (tiny_model(), lambda m, b, g: torch.tensor(1.0), batch_fn, "requires_grad=False"),
])
def test_bad_model_batch_fn_or_loss_output_is_a_clear_error(model, loss, batch, match):
    with pytest.raises(TypeError, match=match):
        train(model, loss, batch, TrainConfig(steps=1), progress=False)


def test_step_generator_refuses_negative_steps():
    with pytest.raises(ValueError, match="step must be an int ≥ 0"):
        step_generator(0, -1)


def test_extending_a_finished_run_says_so(tmp_path):
    # a recipe may train a finished run a few steps more (storybook-sd's VAE does): allowed, with a word
    train(tiny_model(), mse, batch_fn, TrainConfig(steps=4, run_dir=str(tmp_path)), progress=False)
    with pytest.warns(UserWarning, match="resuming a 4-step run as a 6-step run"):
        result = train(tiny_model(), mse, batch_fn, TrainConfig(steps=6, run_dir=str(tmp_path)), progress=False)
    assert result.resumed_from == 4


def test_bf16_autocast_trains_in_bfloat16_and_keeps_fp32_weights():
    seen = []

    def loss(model, batch, g):
        out = model(batch[0])
        seen.append(out.dtype)
        return ((out - batch[1]) ** 2).mean()
    plain, fast = tiny_model(), tiny_model()
    train(plain, loss, batch_fn, TrainConfig(steps=3, lr=1e-2), progress=False)
    train(fast, loss, batch_fn, TrainConfig(steps=3, lr=1e-2, autocast="bf16"), progress=False)
    assert seen == [torch.float32] * 3 + [torch.bfloat16] * 3            # the matmuls ran in bf16 …
    assert all(p.dtype == torch.float32 for p in fast.parameters())      # … the weights stay fp32
    assert not all(torch.equal(a, b) for a, b in zip(plain.parameters(), fast.parameters()))
