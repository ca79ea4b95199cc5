"""How does the 128 px text-to-image model's adherence grow with the UNet's training minutes?

    .venv/bin/python experiments/text_to_image_curve.py --snapshots runs/storybook-sd/unet-step600.safetensors \
        runs/storybook-sd/unet-step1200.safetensors runs/storybook-sd/unet-step1800.safetensors [--per-group 48]

Each snapshot is a copy of the storybook-sd recipe's UNet training checkpoint (runs/storybook-sd/unet/
checkpoint.safetensors, written every 100 steps) taken at that step. Its EMA weights of the text encoder
and the UNet are put into the shipped pipeline (data/storybook-sd: same tokenizer, VAE and scheduler), and
the judge reads ``--per-group`` samples per group (seen, held-out, "squirrel fishing by a river") at the
pipeline's default guidance, 25 steps, seeds from 10,000 (``evaluation.adherence_report``). The shipped
model (the last step) is measured the same way. Training minutes are the record's UNet training time
in proportion to the step (the stage ran at a steady pace). Writes
experiments/text_to_image_curve/text_to_image_curve.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils.checkpoints import read_record  # noqa: E402
from course_utils.evaluation import adherence_report  # noqa: E402
from course_utils.pipelines import load_text_to_image  # noqa: E402
from course_utils.training import load_training_checkpoint  # noqa: E402

NAME = "text_to_image_curve"


def ema_parts(tensors: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """A TextToImageModel training checkpoint's EMA weights, split by part: {"text_encoder": …, "unet": …}."""
    parts: dict[str, dict[str, torch.Tensor]] = {"text_encoder": {}, "unet": {}}
    for key, value in tensors.items():
        kind, _, rest = key.partition(".")
        part, _, name = rest.partition(".")
        if kind == "ema" and part in parts:
            parts[part][name] = value
    if not all(parts.values()):
        raise ValueError("this checkpoint holds no EMA weights of a text encoder and a UNet; give a copy of "
                         "runs/storybook-sd/unet/checkpoint.safetensors (the storybook-sd recipe's UNet stage).")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshots", nargs="*", default=[], help="copies of the UNet stage's checkpoint")
    parser.add_argument("--per-group", type=int, default=48)
    parser.add_argument("--model", default="storybook-sd")
    args = parser.parse_args()
    record = read_record(args.model)
    total_steps, minutes = record["steps"]["text_unet"], record["wall_time_s"]["text_unet_train_s"] / 60
    pipe = load_text_to_image(args.model, device="cpu")
    shipped = {name: {k: v.clone() for k, v in getattr(pipe, name).state_dict().items()} for name in ("text_encoder", "unet")}
    rows = []
    for path in [*args.snapshots, None]:
        if path is None:
            step, weights = total_steps, shipped
        else:
            tensors, meta = load_training_checkpoint(path)
            step, weights = int(meta["step"]), ema_parts(tensors)
        for name, state in weights.items():
            getattr(pipe, name).load_state_dict(state)
        report = adherence_report(pipe, per_group=args.per_group, guidance_scale=pipe.default_guidance,
                                  num_inference_steps=25)
        rows.append({"step": step, "train_minutes": round(minutes * step / total_steps, 1),
                     **{group: report[group]["all"] for group in report}})
        print(f"step {step:>5} ({rows[-1]['train_minutes']:5.1f} min): seen {rows[-1]['seen']:.3f}  held-out "
              f"{rows[-1]['held_out']:.3f}  squirrel {rows[-1]['squirrel']:.3f}", flush=True)
    print("wrote", save(NAME, {"device": device_label(), "per_group": args.per_group,
                               "guidance_scale": pipe.default_guidance, "rows": rows}, folder=HERE / NAME))


if __name__ == "__main__":
    main()
