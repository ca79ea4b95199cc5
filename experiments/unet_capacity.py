"""Which UNet learns the storybook fastest on a CPU: the shipped size, wider channels, or attention at 16×16?

    nice -n 10 .venv/bin/python experiments/unet_capacity.py --minutes 18 [--arms shipped wide attn16]
        [--pool 2160] [--per-group 36] [--fid-n 200] [--redraw-n 40]
    nice -n 10 .venv/bin/python experiments/unet_capacity.py --shipped-only     (the shipped model, same measures)

Issue #26 asks for a UNet that draws what the decoder can show. This probe trains each arm from scratch for the
same WALL minutes (one torch thread), on the shipped autoencoder's latents of a smaller pool (``--pool`` renders,
``--pool / 108`` per training composition, ``storybook.render_captioned_pool`` seed 0), encoded once and cached
in runs/unet_capacity/latents.safetensors; the scaling factor is the shipped VAE's. Text encoder and UNet are
trained together as the storybook-sd recipe trains them (``latent_batch``, ``latent_diffusion_loss``, AdamW lr
2e-3, 100 warm-up steps, EMA 0.995, gradient clip 1, 10 % empty captions, 10 % words left out) except: batch
``--batch`` (64, more steps in the budget) and the cosine decay runs over the arm's wall budget instead of a
step count (``wall_lr``), so every arm finishes its schedule. The EMA weights are then put into a pipeline with
the shipped VAE, tokenizer and scheduler and measured at the shipped default guidance, 25 steps:
held-out adherence (``adherence_report``), judge-FID of ``--fid-n`` samples against renders with its
real-vs-real floor (``sample_quality``, as benchmarks/text_to_image_quality.py) and redraw fidelity
(``redraw_fidelity``, img2img at strength 0.5, PSNR inside the animal and prop masks). The JSON is rewritten
after every arm (experiments/unet_capacity/unet_capacity.json), so a cut-off run keeps its finished arms.
"""
from __future__ import annotations

import argparse
import json
import math
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
from course_utils.evaluation import adherence_report, redraw_fidelity, sample_quality  # noqa: E402
from course_utils.pipelines import StorybookPipeline, load_text_to_image  # noqa: E402
from course_utils.recipes.storybook_sd import Recipe, pool_images  # noqa: E402
from course_utils.sd_autoencoder import encode_latents  # noqa: E402
from course_utils.text_to_image import (SDConfig, TextToImageModel, assemble_pipeline, build_text_encoder,  # noqa: E402
                                        build_unet, latent_batch, latent_diffusion_loss, make_scheduler)
from course_utils.training import step_generator  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

NAME = "unet_capacity"
RUN_DIR = ROOT / "runs" / NAME

#: the arms: the shipped UNet, twice its width, and cross-attention at 16×16 too
ARMS: dict[str, SDConfig] = {
    "shipped": SDConfig(),
    "wide": SDConfig(unet_channels=(64, 128)),
    "attn16": SDConfig(unet_down=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                       unet_up=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D")),
}


def wall_lr(step: int, fraction: float, *, lr: float, warmup_steps: int) -> float:
    """The recipe's schedule with time for steps: linear warm-up over ``warmup_steps`` steps, then cosine decay
    to 10 % of ``lr`` over the ``fraction`` (0 … 1) of the wall budget spent (as ``TrainConfig.lr_at`` over steps)."""
    if not 0.0 <= fraction:
        raise ValueError(f"fraction is the share of the wall budget spent, ≥ 0, got {fraction!r}.")
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, fraction))))


def latent_cache(pipe, pool: int, seed: int = 0) -> tuple[dict[str, torch.Tensor], list, float]:
    """The pool's posterior (mean, std) under the shipped VAE, cached under runs/unet_capacity/; with the
    composition of each render and the seconds it took to make (0 when read back)."""
    path = RUN_DIR / f"latents-{pool}-seed{seed}.safetensors"
    t0 = time.time()
    if path.exists():
        cache = load_file(path)
    else:
        images, comp = storybook.render_captioned_pool(pool, seed, size=128)
        with torch.no_grad():
            mean, std = encode_latents(pipe.vae, pool_images(images), batch_size=64)
        cache = {"mean": mean, "std": std, "comp": comp}
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in cache.items()}, path)
    comps = storybook.compositions("train")
    return cache, [comps[c] for c in cache["comp"].tolist()], round(time.time() - t0, 1)


def train_arm(config: SDConfig, pipe, cache, shown, *, seconds: float, batch: int, recipe: Recipe) -> dict:
    """Train text encoder + UNet from scratch for ``seconds`` of wall time; return the EMA model and the log."""
    sched = make_scheduler(config)
    model = TextToImageModel(build_text_encoder(config, pipe.tokenizer, seed=recipe.seed),
                             build_unet(config, seed=recipe.seed), sched.alphas_cumprod).train()
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.unet_lr, betas=(0.9, 0.999), weight_decay=0.0)
    ema = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    scale = float(pipe.vae.config.scaling_factor)
    losses, step, t0 = [], 0, time.time()
    while (elapsed := time.time() - t0) < seconds:
        g = step_generator(recipe.seed, step)
        b = latent_batch(cache, shown, pipe.tokenizer, scale, batch, g, p_drop_word=recipe.p_drop_word,
                         p_article=recipe.p_article)
        for group in opt.param_groups:
            group["lr"] = wall_lr(step, elapsed / seconds, lr=recipe.unet_lr, warmup_steps=recipe.unet_warmup)
        loss = latent_diffusion_loss(model, b, g, recipe.p_uncond)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for k, v in model.state_dict().items():
                ema[k].mul_(recipe.ema_decay).add_(v.detach().float(), alpha=1 - recipe.ema_decay)
        losses.append(float(loss.detach()))
        step += 1
        if step % 100 == 0:
            print(f"  step {step}  {time.time() - t0:6.0f} s  loss(last 100) {sum(losses[-100:]) / 100:.4f}", flush=True)
    seconds_used = time.time() - t0
    model.load_state_dict(ema)
    tail = losses[-100:]
    return {"model": model.eval(), "steps": step, "train_s": round(seconds_used, 1),
            "s_per_step": round(seconds_used / max(1, step), 3), "loss_last_100": round(sum(tail) / max(1, len(tail)), 4)}


def measure(model: TextToImageModel, shipped, *, per_group: int, fid_n: int, redraw_n: int) -> dict:
    """The arm's EMA weights in a pipeline with the shipped VAE, tokenizer and scheduler, measured."""
    pipe = assemble_pipeline(shipped.vae, model.text_encoder, shipped.tokenizer, model.unet,
                             make_scheduler(SDConfig()), pipeline_class=StorybookPipeline)
    pipe.vocabulary, pipe.default_guidance = shipped.vocabulary, shipped.default_guidance
    w, t0 = shipped.default_guidance, time.time()
    adherence = adherence_report(pipe, per_group=per_group, guidance_scale=w, num_inference_steps=25)
    quality = sample_quality(pipe, n=fid_n, guidance_scale=w, num_inference_steps=25)
    redraw = redraw_fidelity(pipe, n=redraw_n, guidance_scale=w)
    return {"adherence": {g: adherence[g]["all"] for g in adherence}, "judge_fid": quality["judge_fid"],
            "judge_fid_floor": quality["judge_fid_floor"], "fid_over_floor": quality["fid_over_floor"],
            "detail_ratio": quality["detail_ratio"], "redraw_psnr_db": redraw["psnr_db"],
            "redraw_subject_psnr_db": redraw["subject_psnr_db"], "eval_s": round(time.time() - t0, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--minutes", type=float, default=18.0, help="wall minutes of training per arm")
    parser.add_argument("--pool", type=int, default=2160)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--per-group", type=int, default=36)
    parser.add_argument("--fid-n", type=int, default=200)
    parser.add_argument("--redraw-n", type=int, default=40)
    parser.add_argument("--out", default=str(HERE / NAME), help="folder of the JSON (a smoke run: elsewhere)")
    parser.add_argument("--shipped-only", action="store_true",
                        help="measure the shipped model itself the same way (unet_capacity_shipped.json), train nothing")
    args = parser.parse_args()
    torch.set_num_threads(1)
    shipped = load_text_to_image("storybook-sd", device="cpu")
    if args.shipped_only:
        model = TextToImageModel(shipped.text_encoder, shipped.unet, make_scheduler(SDConfig()).alphas_cumprod)
        row = measure(model, shipped, per_group=args.per_group, fid_n=args.fid_n, redraw_n=args.redraw_n)
        print(json.dumps(row), flush=True)
        print("wrote", save(f"{NAME}_shipped", {"device": device_label(), "per_group": args.per_group, "fid_n": args.fid_n,
                                                "redraw_n": args.redraw_n, "guidance_scale": shipped.default_guidance,
                                                **row}, folder=Path(args.out)))
        return
    recipe = replace(Recipe(), unet_batch=args.batch)
    cache, shown, cache_s = latent_cache(shipped, args.pool)
    print(f"latent cache: {len(shown)} renders, {cache_s} s", flush=True)
    rows = []
    for arm in args.arms:
        print(f"arm {arm}: training {args.minutes} min", flush=True)
        trained = train_arm(ARMS[arm], shipped, cache, shown, seconds=args.minutes * 60, batch=args.batch, recipe=recipe)
        model = trained.pop("model")
        params = {"unet": sum(p.numel() for p in model.unet.parameters()),
                  "text_encoder": sum(p.numel() for p in model.text_encoder.parameters())}
        rows.append({"arm": arm, "unet_channels": list(ARMS[arm].unet_channels), "unet_down": list(ARMS[arm].unet_down),
                     "parameters": params, **trained,
                     **measure(model, shipped, per_group=args.per_group, fid_n=args.fid_n, redraw_n=args.redraw_n)})
        print(json.dumps(rows[-1]), flush=True)
        save(NAME, {"device": device_label(), "minutes_per_arm": args.minutes, "pool": args.pool, "batch": args.batch,
                    "per_group": args.per_group, "fid_n": args.fid_n, "redraw_n": args.redraw_n,
                    "guidance_scale": shipped.default_guidance, "latent_scaling_factor": shipped.vae.config.scaling_factor,
                    "recipe": {k: v for k, v in asdict(recipe).items() if k.startswith(("unet_", "ema", "p_"))},
                    "rows": rows}, folder=Path(args.out))


if __name__ == "__main__":
    main()
