"""The course's one training loop, used by every model it trains.

    for step in range(start, steps):
        g     = generator for this step            # every random draw of the step comes from g
        batch = batch_fn(step, g)                  # fresh renders, or a random slice of cached data
        for each objective (one optimizer each):   # one for most models, two for a GAN
            loss = objective.loss(model, batch, g)
            loss.backward(); clip; optimizer.step()
        ema ← decay·ema + (1 − decay)·weights      # optional exponential moving average
                                                   # (ema_warmup: decay_t = min(decay, (1 + t) / (10 + t)), 0 at t = 0)

Each step's generator is made from ``(seed, step)``, so a run killed after a checkpoint and resumed
draws exactly the numbers an uninterrupted run would: resuming repeats no randomness and skips none.
Checkpoints are safetensors (weights, EMA weights, optimizer state) with a JSON header.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from . import distributed
from .checkpoints import CheckpointError
from .env import pick_device
from .seeding import make_generator, validate_seed

__all__ = ["TrainConfig", "Objective", "TrainResult", "step_generator", "train", "to_device",
           "CHECKPOINT_NAME", "load_training_checkpoint"]

CHECKPOINT_NAME = "checkpoint.safetensors"
LossFn = Callable[[torch.nn.Module, Any, torch.Generator], torch.Tensor]


_RUN_FIELDS = ("steps", "lr", "weight_decay", "betas", "warmup_steps", "lr_schedule", "grad_clip", "ema_decay",
               "ema_warmup", "seed", "autocast")


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _int(config: "TrainConfig", name: str, low: int, note: str = "") -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an int ≥ {low} {note}, got {value!r}.".replace("  ", " "))


def _number(config: "TrainConfig", name: str, positive: bool = False, extra: str = "") -> None:
    value = getattr(config, name)
    if not _is_number(value) or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '≥ 0'}{extra}, got {value!r}.")


@dataclass
class TrainConfig:
    """How long and how fast to train. Unknown keyword arguments raise a TypeError at once."""
    steps: int
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    lr_schedule: str = "constant"        # "constant" or "cosine" (decays to 10% of lr)
    grad_clip: float | None = 1.0
    ema_decay: float | None = None       # e.g. 0.995; None = no EMA
    ema_warmup: bool = False             # decay_t = min(ema_decay, (1 + t) / (10 + t)) (0 at t = 0), as diffusers' EMAModel: the
                                         # average forgets the starting weights in a short run (False: ema_decay always)
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 0            # 0 = only at the end (if run_dir is set)
    run_dir: str | None = None           # resume from run_dir/checkpoint.safetensors when it exists
    autocast: str | None = None          # "bf16": losses computed under bfloat16 autocast (env.training_autocast())

    def __post_init__(self):
        """Check every field at once, so a bad value fails here and not steps into a run."""
        validate_seed(self.seed)
        _int(self, "steps", 0)
        _int(self, "warmup_steps", 0)
        _int(self, "log_every", 1, "(1 = log every step)")
        _int(self, "checkpoint_every", 0, "(0 = only at the end)")
        _number(self, "lr", positive=True)
        _number(self, "weight_decay")
        if (not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2
                or not all(_is_number(b) and 0.0 <= b < 1.0 for b in self.betas)):
            raise ValueError(f"betas must be two numbers in [0, 1) such as (0.9, 0.999), got {self.betas!r}.")
        self.betas = tuple(float(b) for b in self.betas)
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}.")
        if self.grad_clip is not None:
            _number(self, "grad_clip", positive=True, extra=" or None (no clipping)")
        if self.ema_decay is not None and not (_is_number(self.ema_decay) and 0.0 < self.ema_decay < 1.0):
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {self.ema_decay!r}.")
        if self.autocast not in (None, "bf16"):
            raise ValueError(f"autocast must be None (fp32) or 'bf16', got {self.autocast!r}; "
                             "env.training_autocast() says which one this machine runs faster.")
        if self.run_dir is not None and not isinstance(self.run_dir, (str, os.PathLike)):
            raise TypeError(f"run_dir must be a folder path or None, got {type(self.run_dir).__name__}.")

    def run_settings(self) -> dict[str, Any]:
        """The fields that decide the trained weights (stored in checkpoints; a resume must match them)."""
        return {k: getattr(self, k) for k in _RUN_FIELDS}

    def ema_decay_at(self, step: int) -> float:
        """The EMA's decay after step ``step`` (0-based): ``ema_decay``, or with ``ema_warmup`` diffusers' ramp."""
        if not self.ema_warmup:
            return self.ema_decay
        return min(self.ema_decay, (1 + step) / (10 + step)) if step > 0 else 0.0

    def lr_at(self, step: int) -> float:
        """Learning rate at ``step``: linear warm-up, then constant or cosine decay to 10%."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.lr_schedule == "constant":
            return self.lr
        progress = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        return self.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@dataclass
class Objective:
    """One optimizer, the parameters it updates, and the loss it minimises."""
    name: str
    loss: LossFn
    parameters: Iterable[torch.nn.Parameter] | None = None   # None = all of the model's parameters
    lr_scale: float = 1.0                # this optimizer's lr = lr_scale · config.lr_at(step) (a GAN's D/G ratio)


@dataclass
class TrainResult:
    history: list[dict[str, float]] = field(default_factory=list)   # one row per logged step
    ema_state: dict[str, torch.Tensor] | None = None
    steps_done: int = 0
    resumed_from: int = 0
    seconds: float = 0.0
    world_size: int = 1

    def losses(self, name: str = "loss") -> tuple[list[int], list[float]]:
        rows = [r for r in self.history if name in r]
        return [int(r["step"]) for r in rows], [r[name] for r in rows]


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The CPU generator of one training step: a function of (seed, step) only (and of the process
    rank when several processes train together, so each draws its own batch).

    torch's CPU generator keeps only the low 32 bits of a seed, so the terms stay well apart there.
    """
    for name, value in (("step", step), ("rank", rank)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} must be an int ≥ 0, got {value!r}.")
    return make_generator((validate_seed(seed) * 1_000_003 + step + rank * 500_009) % 2**63)


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside ``batch`` (tensor, tuple, list or dict) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def _split_terms(out: Any, name: str) -> tuple[torch.Tensor, dict[str, float]]:
    """A loss returns a scalar tensor, or ``(scalar, {term: value})`` to log its parts (a VAE's recon and kl)."""
    if not isinstance(out, tuple):
        return out, {}
    if len(out) != 2 or not isinstance(out[1], dict):
        raise TypeError(f"objective {name!r} returned a tuple; a loss returns a scalar tensor or (scalar, dict of terms).")
    return out[0], {k: float(v.detach() if isinstance(v, torch.Tensor) else v) for k, v in out[1].items()}


def _as_objectives(loss: LossFn | Sequence[Objective]) -> list[Objective]:
    if callable(loss):
        return [Objective("loss", loss)]
    objectives = list(loss)
    if not objectives or not all(isinstance(o, Objective) for o in objectives):
        raise TypeError("loss must be a callable loss(model, batch, generator) or a list of Objective.")
    return objectives


def _save_checkpoint(path: Path, model, optimizers, ema, step: int, history, config: TrainConfig) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.items()})
    groups = {}
    for name, opt in optimizers.items():
        state = opt.state_dict()
        groups[name] = state["param_groups"]
        for idx, slots in state["state"].items():
            for key, value in slots.items():
                value = value if isinstance(value, torch.Tensor) else torch.tensor(value)
                tensors[f"opt.{name}.{idx}.{key}"] = value.detach().cpu().contiguous()
    meta = {"step": str(step), "history": json.dumps(history), "param_groups": json.dumps(groups),
            "config": json.dumps(config.run_settings())}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, tmp, metadata=meta)
    tmp.replace(path)   # atomic: a kill during the write leaves the previous checkpoint intact


def load_training_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a training checkpoint: (tensors, metadata); a truncated or foreign file is a ``CheckpointError``."""
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata() or {}
        json.loads(meta["param_groups"]), json.loads(meta["history"]), int(meta["step"])   # the header parses too
    except (OSError, ValueError, KeyError, SafetensorError) as err:
        raise CheckpointError(f"{path} is not a readable training checkpoint (truncated by a kill during a copy, "
                              f"or another kind of file): {err}. Delete it to train from step 0, or pass "
                              "another run_dir (`python -m course_utils.train <recipe> --fresh`).") from None
    return tensors, meta


def _restore(path: Path, model, optimizers, ema, config: TrainConfig) -> tuple[int, list]:
    tensors, meta = load_training_checkpoint(path)
    fix = (f"Use a new run_dir, or delete {path.parent} to start afresh (`python -m course_utils.train <recipe> "
           "--fresh`); to keep the old run, keep its settings.")
    saved = json.loads(meta.get("config", "{}"))
    wanted = json.loads(json.dumps(config.run_settings()))            # tuples → lists, as stored
    changed = [f"{k}={saved[k]!r} → {wanted[k]!r}" for k in _RUN_FIELDS
               if k != "steps" and k in saved and saved[k] != wanted[k]]
    done = int(meta["step"])
    if done > config.steps:
        changed.insert(0, f"steps={saved.get('steps', done)!r} → {config.steps!r}, and {done} are already done")
    if changed:
        raise CheckpointError(f"{path} was trained with other settings ({', '.join(changed)}): resuming would "
                              f"mix two runs and label the result with the new settings. {fix}")
    if saved.get("steps", config.steps) != config.steps:    # extending a run (a recipe's "train a bit more")
        warnings.warn(f"{path}: resuming a {saved['steps']}-step run as a {config.steps}-step run; the learning-rate "
                      "schedule of the remaining steps follows the new length, so the result differs from a "
                      f"straight {config.steps}-step run. For that, use a new run_dir.", stacklevel=3)
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    except RuntimeError as err:
        raise CheckpointError(f"{path} holds the checkpoint of another model (another config), so this "
                              f"run_dir cannot be resumed with this model. {fix}\n{err}") from None
    if ema is not None:
        ema.update({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    groups = json.loads(meta["param_groups"])
    for name, opt in optimizers.items():
        state: dict[int, dict] = {}
        prefix = f"opt.{name}."
        for key, value in tensors.items():
            if key.startswith(prefix):
                idx, slot = key[len(prefix):].split(".", 1)
                state.setdefault(int(idx), {})[slot] = value
        opt.load_state_dict({"state": state, "param_groups": groups[name]})
    return int(meta["step"]), json.loads(meta["history"])


def train(model: torch.nn.Module, loss: LossFn | Sequence[Objective],
          batch_fn: Callable[[int, torch.Generator], Any], config: TrainConfig, *,
          device: torch.device | str | None = None, progress: bool = True, until: int | None = None) -> TrainResult:
    """Train ``model`` in place for ``config.steps`` steps; return the loss history (and EMA weights).
    ``until=k`` pauses after step k (with a checkpoint there, so ``config.run_dir`` is needed): the same call
    without ``until`` then resumes and finishes the very same run (a snapshot of a model mid-run).

    ``batch_fn(step, generator)`` returns the step's batch; ``loss(model, batch, generator)`` returns a
    scalar tensor, or ``(scalar, {term: value})`` whose terms are logged too. For several optimizers (a
    GAN), pass a list of ``Objective``: each takes its own step, in order, on the same batch. With ``config.run_dir`` set, checkpoints go there and a later call with
    the same config resumes from the last one.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if not callable(batch_fn):
        raise TypeError("batch_fn must be a function batch_fn(step, generator) -> batch, "
                        "e.g. lambda step, g: storybook.sample_batch(64, g).")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    if until is not None and (isinstance(until, bool) or not isinstance(until, int) or not 0 < until <= config.steps
                              or not config.run_dir):
        raise ValueError(f"until must be a step in 1 … {config.steps} and needs config.run_dir (the run resumes from "
                         f"its checkpoint there), got until={until!r}, run_dir={config.run_dir!r}.")
    dist = distributed.setup()          # one process unless launched by torchrun / accelerate launch
    device = dist.device or (torch.device(device) if device is not None else pick_device())
    model.to(device).train()
    distributed.broadcast_parameters(model, dist)
    objectives = _as_objectives(loss)
    optimizers = {}
    for obj in objectives:
        params = list(obj.parameters) if obj.parameters is not None else list(model.parameters())
        optimizers[obj.name] = torch.optim.AdamW(params, lr=config.lr, betas=config.betas,
                                                 weight_decay=config.weight_decay)
    ema = ({k: v.detach().clone().float() for k, v in model.state_dict().items()}
           if config.ema_decay is not None else None)
    result = TrainResult()
    start = 0
    ckpt = Path(config.run_dir) / CHECKPOINT_NAME if config.run_dir else None
    if ckpt is not None and ckpt.exists():
        start, result.history = _restore(ckpt, model, optimizers, ema, config)
        result.resumed_from = start
    t0 = time.perf_counter()
    stop = config.steps if until is None else max(until, start)
    bar = tqdm(range(start, stop), initial=start, total=config.steps,
               disable=not (progress and dist.is_main), desc="training", leave=True)
    for step in bar:
        g = step_generator(config.seed, step, dist.rank)
        batch = to_device(batch_fn(step, g), device)
        row: dict[str, float] = {"step": step}
        for obj in objectives:
            opt = optimizers[obj.name]
            for group in opt.param_groups:
                group["lr"] = config.lr_at(step) * obj.lr_scale
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.autocast == "bf16"):
                value, terms = _split_terms(obj.loss(model, batch, g), obj.name)
            value = value.float() if isinstance(value, torch.Tensor) else value     # bf16 → fp32 for backward
            if not (isinstance(value, torch.Tensor) and value.numel() == 1 and value.requires_grad):
                got = (f"a tensor of shape {tuple(value.shape)}, requires_grad={value.requires_grad}"
                       if isinstance(value, torch.Tensor) else repr(value))
                raise TypeError(f"{obj.name} must return one scalar tensor computed from the model (take .mean() "
                                f"of a per-element loss), got {got}.")
            if not torch.isfinite(value):
                raise FloatingPointError(f"{obj.name} became {value.item()} at step {step}; lower the learning rate.")
            opt.zero_grad(set_to_none=True)
            value.backward()
            distributed.average_gradients((p for grp in opt.param_groups for p in grp["params"]), dist)
            if config.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_([p for grp in opt.param_groups for p in grp["params"]],
                                               config.grad_clip)
            opt.step()
            row[obj.name] = float(value.detach())
            row.update(terms)                                   # e.g. {"recon": …, "kl": …}
        distributed.broadcast_buffers(model, dist)
        if ema is not None:
            decay = config.ema_decay_at(step)
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    if v.dtype.is_floating_point:
                        ema[k].mul_(decay).add_(v.detach().float(), alpha=1 - decay)
                    else:
                        ema[k].copy_(v)
        if step % config.log_every == 0 or step == config.steps - 1:
            result.history.append(row)
            bar.set_postfix({k: f"{v:.4f}" for k, v in row.items() if k != "step"})
        done = step + 1
        if ckpt is not None and dist.is_main and (done in (config.steps, stop) or
                                 (config.checkpoint_every and done % config.checkpoint_every == 0)):
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            _save_checkpoint(ckpt, model, optimizers, ema, done, result.history, config)
    bar.close()
    model.eval()
    result.steps_done = stop
    result.seconds = time.perf_counter() - t0
    result.ema_state = ema
    result.world_size = dist.world_size
    if dist.world_size > 1:
        print(f"[rank {dist.rank} of world size {dist.world_size}] parameters sha256 "
              f"{distributed.parameter_digest(model)}", flush=True)
    return result
