"""The one record writer: what every shipped model's ``record.json`` says about how it was made.

    record = make_record(seed=0, steps=4000, recipe=asdict(RECIPE), result=result, wall_time_s=…, model=model)

Every record holds the command that made it (so anyone can rerun it), the seed and steps, the recipe's
settings, the wall time on this machine, the machine (threads, cores, device) and the date, plus what
each recipe adds (losses, metrics). ``save_model`` / ``save_pipeline`` write it next to the weights.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..checkpoints import save_model
from ..env import pick_device
from ..storybook import pool_batches, render_pool
from ..training import TrainResult

__all__ = ["PoolRecipe", "command_line", "machine_fields", "make_record", "tail_means", "thin_history", "train_on_render_pool",
           "recipe_fields", "save_and_report"]


@dataclass
class PoolRecipe:
    """What a model trained on a pool of training-split renders drawn once needs (the VAE and the GAN);
    each recipe adds its own settings and its network's shape (``model``)."""
    steps: int
    lr: float
    batch_size: int = 64
    pool_size: int = 16384          # training-split renders drawn once, then sampled from
    seed: int = 0
    checkpoint_every: int = 200


def command_line() -> str:
    """The command that is running now, as a learner would type it (recorded in record.json)."""
    return "python -m course_utils.train " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def machine_fields() -> dict[str, Any]:
    """Where and when: the command, torch threads, CPU cores, device and date."""
    return {"command": command_line(), "threads": torch.get_num_threads(), "cpu_cores": os.cpu_count(),
            "device": str(pick_device()), "date": time.strftime("%Y-%m-%d")}


def make_record(*, seed: int, steps: int, batch_size: int, recipe: dict, result: TrainResult, wall_time_s: float,
                model: torch.nn.Module, command: str | None = None, **extra: Any) -> dict[str, Any]:
    """The record of one trained network: machine fields, the run's size and speed, then ``extra``."""
    record = {
        **machine_fields(), "seed": seed, "steps": steps, "batch_size": batch_size, "recipe": recipe,
        "wall_time_s_this_session": round(wall_time_s, 1), "resumed_from_step": result.resumed_from,
        "seconds_per_step": round(result.seconds / max(1, steps - result.resumed_from), 3),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if command is not None:
        record["command"] = command
    return {**record, **extra}


def tail_means(history: Sequence[dict[str, float]], names: dict[str, str], *, last: int = 20,
               digits: int = 4) -> dict[str, float]:
    """``{record key: mean of history column over the last ``last`` logged rows}``, rounded."""
    tail = list(history)[-last:]
    return {key: round(sum(r[col] for r in tail) / max(1, len(tail)), digits) for key, col in names.items()}


def thin_history(history: Sequence[dict[str, float]], every: int = 4) -> list[dict[str, float]]:
    """Every ``every``-th logged row, rounded to 5 digits: the curve a notebook can redraw from the record."""
    return [{k: round(v, 5) for k, v in r.items()} for r in list(history)[::every]]


def train_on_render_pool(train_fn: Callable, recipe: Any, *, steps: int | None, seed: int, run_dir: Path | None,
                         **options: Any) -> tuple[torch.nn.Module, TrainResult, int, float]:
    """Train with ``train_fn`` (``vae.train_vae``, ``gan.train_gan``) on ``recipe.pool_size`` training-split
    renders drawn once; returns ``(model, result, steps, seconds)`` (seconds include drawing the pool)."""
    steps = recipe.steps if steps is None else steps
    t0 = time.time()
    data = pool_batches(render_pool(recipe.pool_size, seed), recipe.batch_size)
    model, result = train_fn(steps, seed=seed, config=recipe.model, batch_size=recipe.batch_size, run_dir=run_dir,
                             checkpoint_every=recipe.checkpoint_every, data=data, **options)
    return model, result, steps, time.time() - t0


def recipe_fields(recipe: Any) -> dict[str, Any]:
    """A recipe dataclass as the record's "recipe" entry: every setting but the network's shape."""
    return {k: v for k, v in asdict(recipe).items() if k != "model"}


def save_and_report(out_dir: Path, state: Any, config: dict, record: dict, *, hide: str = "history") -> dict:
    """Save the weights, config and record (``checkpoints.save_model``), print the record but ``hide``."""
    save_model(out_dir, state, config, record)
    print(json.dumps({k: v for k, v in record.items() if k != hide}, indent=1))
    return record
