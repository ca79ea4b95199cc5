"""How good can a Stable-Diffusion-style f = 8 autoencoder get at 128 px on 2 CPU cores, and how fast?

    .venv/bin/python experiments/autoencoder_f8.py --steps 1500 --out runs/autoencoder_f8/lat4
    .venv/bin/python experiments/autoencoder_f8.py --latent-channels 8 --out runs/autoencoder_f8/lat8
    .venv/bin/python experiments/autoencoder_f8.py --steps 4 --eval-every 2 --n-eval 8 --out /tmp/ae   # smoke, seconds

An ``AutoencoderKL`` with four levels (128×128×3 → 16×16×C, downsampling factor 8 as in SD) is trained
with the one training loop on random 64×64 crops of a pool of 128 px training renders (it is fully
convolutional), with L1 + the judge-feature perceptual loss + a patch discriminator that joins after
``--disc-start`` steps (``sd_autoencoder.adversarial_objectives``). Every ``--eval-every`` steps it
reconstructs held-out 128 px renders of all 120 compositions (seed 7) and records PSNR, the judge's
adherence of the reconstructions, and their detail (mean |Laplacian|) over the originals': the curve
of quality against training minutes that the storybook-sd recipe is then chosen from.

Training runs in segments of --eval-every steps, each resuming the last one's checkpoint in --out/train
(weights, both optimizers' moments and the step), so the curve is one continuous run. By default it trains
on whole 128 px renders (--crop 128), so the GroupNorm statistics it learns are the ones it is evaluated with. Writes experiments/autoencoder_f8/autoencoder_f8-<out name>.json (one row
per evaluation) and the autoencoder to --out/vae.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils import metrics  # noqa: E402
from course_utils.evaluation import reconstruction_report  # noqa: E402
from course_utils.recipes.storybook_sd import render_captioned_pool  # noqa: E402
from course_utils.sd_autoencoder import (AdversarialWeights, AutoencoderConfig, AutoencoderWithCritic,  # noqa: E402
                                         JudgePerceptual, PatchDiscriminator, adversarial_objectives,
                                         build_autoencoder)
from course_utils.training import TrainConfig, train  # noqa: E402

NAME = "autoencoder_f8"


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
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
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
