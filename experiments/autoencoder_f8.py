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

Training runs in segments of --eval-every steps (the optimizer's moments restart with each segment; a
study, not the shipped recipe). Writes experiments/autoencoder_f8/autoencoder_f8-<out name>.json (one row
per evaluation) and the autoencoder to --out/vae.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils import metrics, storybook  # noqa: E402
from course_utils.compare import sharpness  # noqa: E402
from course_utils.recipes.storybook_sd import render_captioned_pool  # noqa: E402
from course_utils.sd_autoencoder import (AdversarialWeights, AutoencoderConfig, AutoencoderWithCritic,  # noqa: E402
                                         JudgePerceptual, PatchDiscriminator, adversarial_objectives,
                                         build_autoencoder, reconstruction_errors)
from course_utils.seeding import make_generator  # noqa: E402
from course_utils.training import TrainConfig, train  # noqa: E402

NAME = "autoencoder_f8"


def evaluation_set(n: int) -> tuple[torch.Tensor, list]:
    """``n`` fresh 128 px renders cycling through ALL 120 compositions (held-out ones included), seed 7."""
    comps = [storybook.ALL_COMPOSITIONS[i % 120] for i in range(n)]
    seeds = torch.randint(0, 2**62, (n,), generator=make_generator(7)).tolist()
    return storybook.render_batch(comps, seeds, 128), comps


def measure(vae, images: torch.Tensor, comps: list) -> dict:
    """PSNR of the reconstructions, the judge's adherence on them, and detail relative to the originals."""
    rec, errors = reconstruction_errors(vae, images, batch_size=32)
    return {"psnr_db": errors["psnr_db"], "judge_adherence": round(metrics.adherence(rec, comps)["all"], 4),
            "detail_ratio": round(sharpness(rec) / sharpness(images), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64, 64, 64])
    parser.add_argument("--latent-channels", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--disc-start", type=int, default=500)
    parser.add_argument("--pool", type=int, default=4000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--n-eval", type=int, default=240)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = AutoencoderConfig(block_out_channels=tuple(args.channels), latent_channels=args.latent_channels,
                               sample_size=128, norm_num_groups=16 if min(args.channels) % 16 == 0 else 8)
    model = AutoencoderWithCritic(build_autoencoder(config, seed=0), PatchDiscriminator((32, 64, 128)))
    weights = AdversarialWeights(disc_start=args.disc_start)
    objectives = adversarial_objectives(model, JudgePerceptual(metrics.load_judge()), weights)
    pool, _ = render_captioned_pool(args.pool, seed=0, size=128)     # uint8 [N, 3, 128, 128], training split
    images, comps = evaluation_set(args.n_eval)
    print(f"f = {config.factor}: 128×128×3 → {128 // config.factor}×{128 // config.factor}×{args.latent_channels}, "
          f"{sum(p.numel() for p in model.vae.parameters()):,} autoencoder parameters", flush=True)

    offset = 0                          # steps done before this segment: the discriminator's clock

    def batch_fn(step: int, g: torch.Generator) -> dict:
        idx = torch.randint(len(pool), (args.batch,), generator=g)
        y, x = (int(v) for v in torch.randint(128 - args.crop + 1, (2,), generator=g))
        crops = pool[idx, :, y:y + args.crop, x:x + args.crop].float() / 127.5 - 1
        return {"images": crops, "step": offset + step}

    rows, minutes = [], 0.0
    for k, done in enumerate(range(args.eval_every, args.steps + 1, args.eval_every)):
        # one segment of training between two evaluations; segment k draws its batches with seed k
        tc = TrainConfig(steps=args.eval_every, lr=args.lr, betas=(0.5, 0.9), warmup_steps=50 if k == 0 else 0,
                         seed=k, log_every=25)
        result = train(model, objectives, batch_fn, tc, progress=False)
        offset = done
        minutes += result.seconds / 60
        model.vae.eval()
        row = {"step": done, "train_minutes": round(minutes, 1), **measure(model.vae, images, comps),
               "last_log": {k: round(float(v), 4) for k, v in result.history[-1].items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        model.vae.save_pretrained(args.out / "vae", safe_serialization=True)
        path = save(f"{NAME}-{args.out.name}", folder=HERE / NAME, data={
            "device": device_label(), "config": asdict(config), "weights": asdict(weights),
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "rows": rows,
            "originals": {"n": args.n_eval, "judge_adherence": round(metrics.adherence(images, comps)["all"], 4)}})
    print("wrote", path)


if __name__ == "__main__":
    main()
