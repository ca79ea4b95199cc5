"""How good can a Stable-Diffusion-style f = 8 autoencoder get at 128 px on 2 CPU cores, and how fast?

    .venv/bin/python experiments/autoencoder_f8.py --latent-channels 4 --steps 2400 --eval-every 300 --disc-start 1200 --n-eval 120 --threads 1 --out runs/autoencoder_f8/lat4-full
    .venv/bin/python experiments/autoencoder_f8.py --latent-channels 8 --steps 2400 --eval-every 300 --disc-start 1200 --n-eval 120 --threads 1 --out runs/autoencoder_f8/lat8-full
    .venv/bin/python experiments/autoencoder_f8.py --latent-channels 4 --steps 2400 --eval-every 300 --disc-start 100000 --n-eval 120 --threads 1 --out runs/autoencoder_f8/lat4-nodisc
    .venv/bin/python experiments/autoencoder_f8.py --baselines-only --n-eval 120      # what plain resampling keeps, seconds

An ``AutoencoderKL`` with four levels (128×128×3 → 16×16×C, downsampling factor 8 as in SD; widths
--channels, default 16, 32, 64, 64) is trained with the one training loop on whole 128 px renders from a
pool of training renders (--crop 128, batch 4), with L1 + the judge-feature perceptual loss (weight
--perceptual-weight) + a patch discriminator that joins after ``--disc-start`` steps
(``sd_autoencoder.adversarial_objectives``). Every ``--eval-every`` steps
``evaluation.reconstruction_report`` reconstructs held-out 128 px renders of all 120 compositions (seed 7)
and records PSNR, the judge's adherence of the reconstructions, and their detail (mean |Laplacian|) over
the originals': the curve of quality against training minutes that ``recipes.storybook_sd.RECIPE_128``
is chosen from.

Training runs in segments of --eval-every steps, each resuming the last one's checkpoint in --out/train
(weights, both optimizers' moments and the step), so the curve is one continuous run. Writes
experiments/autoencoder_f8/autoencoder_f8-<out name>.json (one row per evaluation) and the autoencoder
to --out/vae.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils import metrics  # noqa: E402
from course_utils.evaluation import reconstruction_report  # noqa: E402
from course_utils.storybook import render_captioned_pool  # noqa: E402
from course_utils.sd_autoencoder import (AdversarialWeights, AutoencoderConfig, AutoencoderWithCritic,  # noqa: E402
                                         JudgePerceptual, PatchDiscriminator, adversarial_objectives,
                                         build_autoencoder)
from course_utils.training import TrainConfig, train  # noqa: E402

NAME = "autoencoder_f8"


def resampling_baselines(n: int) -> dict:
    """What plain resampling keeps: PSNR of the held-out renders average-pooled by f and scaled back up
    (bicubic), for f = 2, 4, 8 (12,288, 3,072 and 768 numbers per 128 px image; an f = 8 latent with C
    channels holds 256 · C). A learned decoder must beat these to reach the targets."""
    from course_utils import storybook
    from course_utils.sd_autoencoder import psnr
    from course_utils.seeding import make_generator
    comps = [storybook.ALL_COMPOSITIONS[i % 120] for i in range(n)]
    images = storybook.render_batch(comps, torch.randint(0, 2**62, (n,), generator=make_generator(7)).tolist(), 128)
    out = {}
    for f in (2, 4, 8):
        up = F.interpolate(F.avg_pool2d(images, f), scale_factor=f, mode="bicubic", align_corners=False).clamp(-1, 1)
        out[f"f{f}"] = {"numbers_per_image": 3 * (128 // f) ** 2, "psnr_db": round(psnr(float(F.mse_loss(up, images))), 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 64])
    parser.add_argument("--latent-channels", type=int, default=4)
    parser.add_argument("--norm-groups", type=int, default=8, help="GroupNorm groups (must divide every width)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--betas", type=float, nargs=2, default=[0.9, 0.99])
    parser.add_argument("--perceptual-weight", type=float, default=0.1)
    parser.add_argument("--disc-weight", type=float, default=0.5)
    parser.add_argument("--disc-start", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    parser.add_argument("--pool", type=int, default=4000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--n-eval", type=int, default=240)
    parser.add_argument("--out", type=Path, required=False)
    parser.add_argument("--baselines-only", action="store_true",
                        help="only measure plain resampling (autoencoder_f8-baselines.json), seconds")
    args = parser.parse_args()
    if args.baselines_only:
        print("wrote", save(f"{NAME}-baselines", folder=HERE / NAME,
                            data={"n": args.n_eval, "baselines": resampling_baselines(args.n_eval)}))
        return
    if args.out is None:
        parser.error("--out is required (the folder for the trained autoencoder)")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = AutoencoderConfig(block_out_channels=tuple(args.channels), latent_channels=args.latent_channels,
                               sample_size=128, norm_num_groups=args.norm_groups)
    model = AutoencoderWithCritic(build_autoencoder(config, seed=0), PatchDiscriminator((32, 64, 128)))
    weights = AdversarialWeights(perceptual_weight=args.perceptual_weight, disc_weight=args.disc_weight,
                                 disc_start=args.disc_start)
    objectives = adversarial_objectives(model, JudgePerceptual(metrics.load_judge()), weights)
    pool, _ = render_captioned_pool(args.pool, seed=0, size=128)     # uint8 [N, 3, 128, 128], training split
    print(f"f = {config.factor}: 128×128×3 → {128 // config.factor}×{128 // config.factor}×{args.latent_channels}, "
          f"{sum(p.numel() for p in model.vae.parameters()):,} autoencoder parameters", flush=True)

    def batch_fn(step: int, g: torch.Generator) -> dict:
        idx = torch.randint(len(pool), (args.batch,), generator=g)
        y, x = (int(v) for v in torch.randint(128 - args.crop + 1, (2,), generator=g))
        crops = pool[idx, :, y:y + args.crop, x:x + args.crop].float() / 127.5 - 1
        return {"images": crops, "step": step}

    warnings.filterwarnings("ignore", message=".*resuming a .*-step run as a")   # each segment extends the run
    rows, minutes = [], 0.0
    for done in range(args.eval_every, args.steps + 1, args.eval_every):
        # train on to step `done` (resuming the previous segment's checkpoint), then evaluate
        tc = TrainConfig(steps=done, lr=args.lr, betas=tuple(args.betas), warmup_steps=100, seed=0, log_every=25,
                         run_dir=str(args.out / "train"))
        result = train(model, objectives, batch_fn, tc, progress=False)
        minutes += result.seconds / 60
        model.vae.eval()
        report = reconstruction_report(model.vae, n=args.n_eval, size=128)
        row = {"step": done, "train_minutes": round(minutes, 1),
               **{k: report[k] for k in ("psnr_db", "judge_adherence", "detail_ratio")},
               "last_log": {k: round(float(v), 4) for k, v in result.history[-1].items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        model.vae.save_pretrained(args.out / "vae", safe_serialization=True)
        path = save(f"{NAME}-{args.out.name}", folder=HERE / NAME, data={
            "device": device_label(), "config": asdict(config), "weights": asdict(weights),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "rows": rows,
            "originals": {"n": args.n_eval, "judge_adherence": report["judge_adherence_of_originals"]}})
    print("wrote", path)


if __name__ == "__main__":
    main()
