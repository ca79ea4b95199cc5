"""How notebook 11's adapters are made: the new animal taught to the shipped text-to-image model, three ways.

    python -m course_utils.train personal-ti                   data/personal-ti            one word vector
    python -m course_utils.train personal-lora                 data/personal-lora          rank-4 LoRA, transformer blocks
    python -m course_utils.train personal-dreambooth           data/personal-dreambooth    whole UNet, prior kept
    python -m course_utils.train personal-dreambooth-no-prior  data/personal-dreambooth-no-prior   (drift shown)

Each starts from data/storybook-sd (an adapter belongs to one base model: rebuild these after that model
changes), trains on the eight ``storybook.your_photos()`` with ``personalise.teach`` (the course's one
training loop, checkpoints in the run folder), and saves what diffusers loads, with the record of how.
``benchmarks/personalise.py`` measures them side by side.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

from .. import personalise as P
from ..checkpoints import write_manifest
from ..env import cpu_model
from ..pipelines import DEFAULT_SOURCE, load_text_to_image
from .record import machine_fields

__all__ = ["TEACHINGS", "WEIGHTS", "build_ti", "build_lora", "build_dreambooth", "build_dreambooth_no_prior"]

#: the shipped settings, chosen on validation seeds in experiments/personalise (LoRA is trained DreamBooth-style,
#: with prior preservation, as diffusers' train_dreambooth_lora.py can be; a quarter of the class images go with the
#: empty caption, which keeps guidance's unconditional half); benchmarks/personalise.py reports them
TEACHINGS = {
    "personal-ti": P.Teaching("textual_inversion", steps=300, lr=5e-3),
    "personal-lora": P.Teaching("lora", steps=1800, lr=1e-3, rank=4, prior_weight=1.0, prior_empty=0.25),
    "personal-dreambooth": P.Teaching("dreambooth", steps=1200, lr=3e-4, prior_weight=1.0, prior_empty=0.25),
    "personal-dreambooth-no-prior": P.Teaching("dreambooth", steps=1200, lr=3e-4),
}
#: the file each one's weights are in (what its size figure counts)
WEIGHTS = {"personal-ti": "learned_embeds.safetensors", "personal-lora": "pytorch_lora_weights.safetensors",
           "personal-dreambooth": "unet/diffusion_pytorch_model.safetensors",
           "personal-dreambooth-no-prior": "unet/diffusion_pytorch_model.safetensors"}


def _build(name: str, out_dir: Path, run_dir: Path | None, steps: int | None, seed: int | None) -> dict:
    how = replace(TEACHINGS[name], **({"steps": steps} if steps else {}), **({"seed": seed} if seed is not None else {}))
    pipe = load_text_to_image(DEFAULT_SOURCE)
    base_unet, base_text = P.weights_digest(pipe.unet), P.weights_digest(pipe.text_encoder)
    t0 = time.time()
    result = P.teach(pipe, how, run_dir=run_dir)
    seconds = time.time() - t0
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if how.method == "textual_inversion":
        P.save_textual_inversion(pipe, P.TI_TOKEN, out_dir / WEIGHTS[name])
        P.write_info(out_dir, {"method": "textual_inversion", "word": P.TI_TOKEN, "base": base_text})
    elif how.method == "lora":
        P.save_lora(pipe, out_dir, rank=how.rank, base=base_unet)
    else:
        P.save_dreambooth(pipe.unet, out_dir, base=base_text, prior_weight=how.prior_weight)
    losses = [r["loss"] for r in result.history]
    record = {**machine_fields(), "recipe": asdict(how), "base": DEFAULT_SOURCE, "cpu": cpu_model(),
              "steps": how.steps, "resumed_from": result.resumed_from, "train_seconds": round(seconds, 1),
              "seconds_per_step": round(result.seconds / max(1, how.steps - result.resumed_from), 3),
              "final_loss_mean_last_10_logs": round(sum(losses[-10:]) / max(1, len(losses[-10:])), 5),
              "weights_file": WEIGHTS[name], "weights_bytes": (out_dir / WEIGHTS[name]).stat().st_size,
              "history": [{k: round(v, 5) for k, v in r.items()} for r in result.history[::4]]}
    (out_dir / "record.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    write_manifest(out_dir)
    print(json.dumps({k: v for k, v in record.items() if k != "history"}, indent=1))
    return record


def build_ti(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int | None = None) -> dict:
    return _build("personal-ti", out_dir, run_dir, steps, seed)


def build_lora(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int | None = None) -> dict:
    return _build("personal-lora", out_dir, run_dir, steps, seed)


def build_dreambooth(out_dir: Path, *, run_dir: Path | None, steps: int | None = None, seed: int | None = None) -> dict:
    return _build("personal-dreambooth", out_dir, run_dir, steps, seed)


def build_dreambooth_no_prior(out_dir: Path, *, run_dir: Path | None, steps: int | None = None,
                              seed: int | None = None) -> dict:
    return _build("personal-dreambooth-no-prior", out_dir, run_dir, steps, seed)
