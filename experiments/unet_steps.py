"""Does the shipped 128 px text-to-image model gain from more UNet steps, and how do judge-FID and adherence grow
with training minutes?

    .venv/bin/python experiments/unet_steps.py [--steps 4800] [--snapshots 1200 2400 3600 4800]
        [--cache runs/storybook-sd-new/latents.safetensors] [--fid-n 500] [--per-group 72]
    .venv/bin/python experiments/unet_steps.py --measure-only      (measure the snapshots already saved)
    .venv/bin/python experiments/unet_steps.py --shipped-only      (the shipped text encoder and UNet, measured alike)

Issue #26 asks, where a target stays out of reach, for the curve of quality against training minutes. This
trains text encoder + UNet exactly as stage 4 of the storybook-sd recipe does (``storybook_sd.RECIPE``: same
model, seed, batch 128, learning rate and warm-up, EMA 0.995, caption dropout, ``training.train`` with its
checkpoints), on the latent cache the shipped UNet was trained on (the build's ``latents.safetensors``: the
encoder after stage 2b, which stage 3b leaves unchanged), but for ``--steps`` steps, so its cosine decay is spread
over the longer run. ``train(..., until=k)`` pauses at each snapshot step and returns the EMA weights there
(saved under runs/unet_steps/); the run then resumes from its checkpoint. Every snapshot is then put into a
pipeline with the shipped VAE, tokenizer and scheduler and measured at the shipped default guidance, 25 steps,
with the functions the record and ``benchmarks/text_to_image_quality.py`` use: adherence on ``--per-group``
samples per group (seen, held-out, squirrel) and judge-FID of ``--fid-n`` samples against as many renders, with
the real-vs-real floor, and the samples' detail. The JSON (experiments/unet_steps/unet_steps.json) is rewritten
after every snapshot is measured.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "benchmarks"))                  # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils import storybook  # noqa: E402
from course_utils.evaluation import adherence_report, sample_quality  # noqa: E402
from course_utils.paths import data_path  # noqa: E402
from course_utils.pipelines import StorybookPipeline, load_text_to_image  # noqa: E402
from course_utils.recipes.storybook_sd import RECIPE  # noqa: E402
from course_utils.sd_autoencoder import latent_scaling_factor  # noqa: E402
from course_utils.seeding import make_generator  # noqa: E402
from course_utils.text_to_image import (TextToImageModel, assemble_pipeline, build_text_encoder, build_unet,  # noqa: E402
                                        latent_batch, latent_diffusion_loss, make_scheduler)
from course_utils.training import TrainConfig, train  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

NAME = "unet_steps"
RUN_DIR = ROOT / "runs" / NAME


def snapshot_path(step: int, run_dir: Path = RUN_DIR) -> Path:
    return run_dir / f"ema-step{step}.safetensors"


def train_with_snapshots(shipped, cache_path: Path, steps: int, snapshots: list[int], run_dir: Path = RUN_DIR) -> dict:
    """The recipe's stage 4 for ``steps`` steps; the EMA weights saved at each snapshot step. Returns the timings."""
    cache = load_file(cache_path)
    scale = latent_scaling_factor(cache["mean"], cache["std"], make_generator(RECIPE.seed))
    shipped_scale = float(shipped.vae.config.scaling_factor)
    if abs(scale - shipped_scale) > 1e-6:
        raise SystemExit(f"{cache_path} gives a scaling factor {scale:.6f}, the shipped VAE has {shipped_scale:.6f}: "
                         "it is not the cache the shipped UNet was trained on. Pass --cache with the build's "
                         "latents.safetensors (runs/<build>/latents.safetensors).")
    comp = cache.get("comp")
    if comp is None:        # the recipe's cache holds mean/std only; the compositions are the pool's, in order
        comp = load_file(cache_path.parent / "pool.safetensors")["comp"]
    comps = storybook.compositions("train")
    shown = [comps[c] for c in comp.tolist()]
    model = TextToImageModel(build_text_encoder(RECIPE.sd, shipped.tokenizer, seed=RECIPE.seed),
                             build_unet(RECIPE.sd, seed=RECIPE.seed), make_scheduler(RECIPE.sd).alphas_cumprod)

    def batch(step: int, g: torch.Generator) -> dict[str, torch.Tensor]:
        return latent_batch(cache, shown, shipped.tokenizer, scale, RECIPE.unet_batch, g,
                            p_drop_word=RECIPE.p_drop_word, p_article=RECIPE.p_article)

    config = TrainConfig(steps=steps, lr=RECIPE.unet_lr, warmup_steps=RECIPE.unet_warmup, lr_schedule="cosine",
                         ema_decay=RECIPE.ema_decay, seed=RECIPE.seed, checkpoint_every=RECIPE.checkpoint_every,
                         run_dir=str(run_dir / "unet"))
    times = {}
    for k in snapshots:
        if snapshot_path(k, run_dir).exists():
            continue
        t0 = time.time()
        result = train(model, lambda m, b, g: latent_diffusion_loss(m, b, g, RECIPE.p_uncond), batch, config,
                       until=k if k < steps else None)
        save_file({n: v.contiguous() for n, v in result.ema_state.items()}, snapshot_path(k, run_dir))
        times[k] = {"seconds": round(time.time() - t0, 1), "from_step": result.resumed_from}
        print(f"snapshot at step {k}: {times[k]}", flush=True)
    return times


def shipped_steps() -> int:
    """The UNet steps of the model in data/storybook-sd, from its record."""
    return json.loads((data_path("storybook-sd") / "record.json").read_text())["steps"]["text_unet"]


def measure(step: int | None, shipped, *, per_group: int, fid_n: int, run_dir: Path = RUN_DIR) -> dict:
    """One snapshot (``step``), or with ``step=None`` the shipped text encoder and UNet, measured alike."""
    model = TextToImageModel(build_text_encoder(RECIPE.sd, shipped.tokenizer, seed=RECIPE.seed),
                             build_unet(RECIPE.sd, seed=RECIPE.seed), make_scheduler(RECIPE.sd).alphas_cumprod)
    if step is None:
        model.text_encoder.load_state_dict(shipped.text_encoder.state_dict())
        model.unet.load_state_dict(shipped.unet.state_dict())
    else:
        model.load_state_dict(load_file(snapshot_path(step, run_dir)))
    pipe = assemble_pipeline(shipped.vae, model.text_encoder, shipped.tokenizer, model.unet,
                             make_scheduler(RECIPE.sd), pipeline_class=StorybookPipeline)
    pipe.vocabulary, pipe.default_guidance = shipped.vocabulary, shipped.default_guidance
    w, t0 = shipped.default_guidance, time.time()
    adherence = adherence_report(pipe, per_group=per_group, guidance_scale=w, num_inference_steps=25)
    quality = sample_quality(pipe, n=fid_n, guidance_scale=w, num_inference_steps=25)
    return {"step": step if step is not None else f"shipped ({shipped_steps()} steps)", "adherence": {g: adherence[g]["all"] for g in adherence},
            **{k: quality[k] for k in ("judge_fid", "judge_fid_floor", "fid_over_floor", "detail_ratio")},
            "eval_s": round(time.time() - t0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4800)
    parser.add_argument("--snapshots", type=int, nargs="+", default=[1200, 2400, 3600, 4800])
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "storybook-sd-new" / "latents.safetensors")
    parser.add_argument("--per-group", type=int, default=72)
    parser.add_argument("--fid-n", type=int, default=500)
    parser.add_argument("--measure-only", action="store_true")
    parser.add_argument("--shipped-only", action="store_true",
                        help="measure the shipped text encoder and UNet alike (unet_steps_shipped.json), train nothing")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR, help="checkpoints and snapshots")
    parser.add_argument("--out", default=str(HERE / NAME), help="folder of the JSON (a smoke run: elsewhere)")
    args = parser.parse_args()
    snapshots = sorted(set(args.snapshots))
    if snapshots[-1] != args.steps or snapshots[0] < 1:
        raise SystemExit(f"--snapshots must lie in 1 … {args.steps} and end at --steps, got {snapshots}.")
    if not args.cache.exists() and not args.measure_only:
        raise SystemExit(f"no latent cache at {args.cache}: a storybook-sd build writes one to its run folder "
                         "(python -m course_utils.train storybook-sd --run-dir DIR); pass --cache DIR/latents.safetensors.")
    shipped = load_text_to_image("storybook-sd", device="cpu")
    if args.shipped_only:
        row = measure(None, shipped, per_group=args.per_group, fid_n=args.fid_n)
        print(json.dumps(row), flush=True)
        save(f"{NAME}_shipped", {"device": device_label(), "per_group": args.per_group, "fid_n": args.fid_n,
                                 "guidance_scale": shipped.default_guidance, "rows": [row]}, folder=Path(args.out))
        return
    times = {} if args.measure_only else train_with_snapshots(shipped, args.cache, args.steps, snapshots, args.run_dir)
    rows = []
    for step in snapshots:
        rows.append(measure(step, shipped, per_group=args.per_group, fid_n=args.fid_n, run_dir=args.run_dir))
        print(json.dumps(rows[-1]), flush=True)
        save(NAME, {"device": device_label(), "steps": args.steps, "per_group": args.per_group, "fid_n": args.fid_n,
                    "guidance_scale": shipped.default_guidance, "train_times": times,
                    "recipe": {k: v for k, v in asdict(replace(RECIPE, unet_steps=args.steps)).items()
                               if k.startswith(("unet_", "ema", "p_", "seed"))},
                    "rows": rows}, folder=Path(args.out))


if __name__ == "__main__":
    main()
