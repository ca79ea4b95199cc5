"""Notebook 11's three ways to teach the model the hedgehog, side by side: success, identity kept, drift, size, time.

    .venv/bin/python benchmarks/personalise.py [--per-scene 4] [--drift 1] [--guidance W --name personalise-wW]

For the base model (data/storybook-sd) and each shipped adapter (data/personal-*, made by
``python -m course_utils.train personal-…``):
- success: the recogniser (data/recogniser) reads the hedgehog in samples of the 14 (action, place) pairs
  the eight photos never showed (``--per-scene`` seeds each);
- kept: the judge reads those samples' action and place as the prompt's;
- drift: judge adherence on the 108 training compositions (``--drift`` seeds each), against the base model's
  on the same seeds (points lost);
- size of the weights file in bytes, against the UNet's; training seconds from the adapter's record.

Issue #28's targets: success TI ≥ 50 %, LoRA ≥ 80 %, DreamBooth ≥ 80 %; kept ≥ 85 %; drift ≤ 2 points (LoRA,
DreamBooth with prior preservation); each trained in ≤ 5 min on 2 cores; the LoRA file ≤ 1/20 of the UNet.
Writes benchmarks/results/personalise.json.
"""
from __future__ import annotations

import argparse
import json
import time

from _common import device_label, save

from course_utils import personalise as P
from course_utils import recogniser
from course_utils.evaluation import personal_report
from course_utils.paths import data_path
from course_utils.pipelines import load_text_to_image

ADAPTERS = {"textual inversion": ("personal-ti", P.load_textual_inversion),
            "LoRA": ("personal-lora", P.load_lora),
            "DreamBooth, prior kept": ("personal-dreambooth", P.load_dreambooth),
            "DreamBooth, no prior": ("personal-dreambooth-no-prior", P.load_dreambooth)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-scene", type=int, default=4, help="samples per unseen (action, place) pair")
    parser.add_argument("--drift", type=int, default=1, help="samples per training composition for the drift")
    parser.add_argument("--guidance", type=float, default=None, help="default: the base model's recorded default")
    parser.add_argument("--name", default="personalise",
                        help="the result file's name (benchmarks/results/NAME.json): another name keeps the default's")
    args = parser.parse_args()
    judge_new = recogniser.load()
    recognise = judge_new.predict
    unet_bytes = (data_path("storybook-sd") / "unet" / "diffusion_pytorch_model.safetensors").stat().st_size
    t0 = time.perf_counter()
    base = load_text_to_image(device="cpu")
    P.allow_word(base, P.IDENTIFIER)
    rows = {"base model": {**personal_report(base, P.IDENTIFIER, recognise, per_scene=args.per_scene,
                                                drift_per_composition=args.drift, guidance_scale=args.guidance),
                           "bytes": None, "train_seconds": None}}
    for name, (folder, load) in ADAPTERS.items():
        pipe = load_text_to_image(device="cpu")
        word = load(pipe, data_path(folder))
        record = json.loads((data_path(folder) / "record.json").read_text())
        rows[name] = {**personal_report(pipe, word, recognise, per_scene=args.per_scene,
                                          drift_per_composition=args.drift, guidance_scale=args.guidance),
                      "bytes": record["weights_bytes"], "train_seconds": record["train_seconds"],
                      "steps": record["steps"], "cpu": record["cpu"], "threads": record["threads"]}
    for name, row in rows.items():
        row["drift_points"] = round(100 * (rows["base model"]["seen_adherence"] - row["seen_adherence"]), 1)
        size = f"{row['bytes']:>9,d} B (1/{unet_bytes / row['bytes']:.0f} of the UNet)" if row["bytes"] else " " * 33
        took = f"{row['train_seconds']:6.0f} s" if row["train_seconds"] else " " * 8
        print(f"{name:24s} success {100 * row['success']:5.1f} %  kept {100 * row['kept']:5.1f} %  "
              f"seen {100 * row['seen_adherence']:5.1f} % (drift {row['drift_points']:+.1f})  {size}  {took}")
    seconds = round(time.perf_counter() - t0, 1)
    print("wrote", save(args.name, {"device": device_label(), "unet_bytes": unet_bytes, "per_scene": args.per_scene,
                                        "drift_per_composition": args.drift, "rows": rows, "seconds": seconds}))


if __name__ == "__main__":
    main()
