"""With the encoder trained too and the subject-weighted loss, how do the shipped autoencoder's subject PSNR,
whole PSNR, subject detail and judge adherence grow with training minutes (issue #26, item 2)?

    .venv/bin/python experiments/subject_autoencoder.py --eval-minutes 5 10 20 30 45 --threads 1 --out runs/subject_autoencoder/A
    .venv/bin/python experiments/subject_autoencoder.py --eval-minutes 5 10 20 30 --subject-weight 10 --eval-raw --threads 1 --out runs/subject_autoencoder/B-w10
    .venv/bin/python experiments/subject_autoencoder.py --shipped-only --threads 1     # the shipped decoder fine-tune, same measure
    .venv/bin/python experiments/subject_autoencoder.py --eval-minutes 1 2 --n-eval 12 --batch 2 --out runs/subject_autoencoder/smoke   # 2-minute check

Starts from ``data/storybook-sd/vae_before_decoder_finetune`` (the autoencoder as its own stage left it, before
the shipped decoder-only fine-tune) and trains ALL of it, encoder included, on fresh 128 px training-split
renders with their subject masks (``storybook.subject_batch``, --batch a step), with

    L = Σ w · |x − D(z)| / Σ w  +  p · perceptual(x, D(z))  +  k · KL(q(z | x) ‖ N(0, I)) / #pixels,
    z ~ q(z | x),   w = --subject-weight on the animal and prop pixels, 1 elsewhere

(the decoder recipe's loss, ``sd_autoencoder.decoder_finetune_loss``, with the encoder's gradient and the KL
term of the autoencoder stage), AdamW at a constant --lr after 50 warm-up steps (constant, so a curve point
does not depend on where the run will end), bf16 autocast where the CPU has it (``env.training_autocast``),
EMA --ema-decay. No discriminator.

Training runs in segments, each resuming the last one's checkpoint in --out/train, and stops after about the
training minutes in --eval-minutes (the steps of a segment are chosen from the last segment's seconds per step,
``steps_for_minutes``). After each, the EMA weights are evaluated by ``evaluation.reconstruction_report`` on
--n-eval fresh renders of all 120 compositions (seed 7); row 0 is the starting autoencoder. With --eval-raw
the trained weights themselves are evaluated too (an EMA of decay 0.999 still holds 0.999^n of the starting
weights after n steps: 74 % after 300, 37 % after 1000). A killed run starts
again from its last row (the rows and the checkpoint are written together). Writes
experiments/subject_autoencoder/subject_autoencoder-<out name>.json and the EMA autoencoder to --out/vae.
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import save  # noqa: E402

from course_utils import metrics, storybook  # noqa: E402
from course_utils.env import cpu_model, training_autocast  # noqa: E402
from course_utils.evaluation import reconstruction_report  # noqa: E402
from course_utils.pipelines import load_autoencoder  # noqa: E402
from course_utils.sd_autoencoder import JudgePerceptual, decoder_finetune_loss  # noqa: E402
from course_utils.training import TrainConfig, train  # noqa: E402

NAME = "subject_autoencoder"
START = "vae_before_decoder_finetune"
REPORT_KEYS = ("subject_psnr_db", "psnr_db", "subject_detail_ratio", "detail_ratio", "judge_adherence")


def steps_for_minutes(done: int, minutes: float, target: float, seconds_per_step: float) -> int:
    """The step to train up to so that ``minutes`` of training (reached at step ``done``) becomes about
    ``target``, at ``seconds_per_step``; at least one step more than ``done``."""
    if seconds_per_step <= 0:
        raise ValueError(f"seconds_per_step must be > 0, got {seconds_per_step!r}.")
    return done + max(1, round((target - minutes) * 60 / seconds_per_step))


def encoder_and_decoder_loss(perceptual: JudgePerceptual | None, *, subject_weight: float, perceptual_weight: float,
                             kl_weight: float):
    """``loss(vae, batch, generator)`` for the one training loop, batches from ``storybook.subject_batch``: the
    recipe's subject-weighted loss with the encoder learning too (the storybook-sd recipe's subject stage)."""
    return decoder_finetune_loss(perceptual, subject_weight=subject_weight, perceptual_weight=perceptual_weight,
                                 train_encoder=True, kl_weight=kl_weight)


def ema_copy(vae, ema_state: dict) -> torch.nn.Module:
    """A copy of ``vae`` holding the EMA weights, in eval mode (the trained model is left as it is)."""
    out = copy.deepcopy(vae)
    own = out.state_dict()
    out.load_state_dict({k: ema_state[k].to(own[k].dtype) for k in own})
    return out.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-minutes", type=float, nargs="+", default=[5, 10, 20, 30, 45])
    parser.add_argument("--subject-weight", type=float, default=5.0)
    parser.add_argument("--perceptual-weight", type=float, default=0.1)
    parser.add_argument("--kl-weight", type=float, default=1e-6)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--n-eval", type=int, default=120)
    parser.add_argument("--first-seconds-per-step", type=float, default=2.0, help="guess for the first segment")
    parser.add_argument("--eval-raw", action="store_true",
                        help="also evaluate the trained weights themselves (row['raw']), to see the EMA's lag")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    parser.add_argument("--source", default="data/storybook-sd")
    parser.add_argument("--out", type=Path, help="folder for the checkpoint and the EMA autoencoder (under runs/)")
    parser.add_argument("--shipped-only", action="store_true",
                        help="only evaluate the shipped decoder-fine-tuned 'vae' the same way (the reference row)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.shipped_only:
        report = reconstruction_report(load_autoencoder(args.source, "vae"), n=args.n_eval, size=128)
        print("wrote", save(f"{NAME}-shipped", folder=HERE / NAME, data={
            "autoencoder": f"{args.source}/vae", "report": {k: report[k] for k in REPORT_KEYS}, "n": args.n_eval}))
        return
    if args.out is None:
        parser.error("--out is required (the folder for the checkpoint and the trained autoencoder)")
    if sorted(args.eval_minutes) != args.eval_minutes or args.eval_minutes[0] <= 0:
        parser.error("--eval-minutes must be positive and rising, e.g. 5 10 20")
    autocast = training_autocast()
    vae = load_autoencoder(args.source, START)
    perceptual = JudgePerceptual(metrics.load_judge()) if args.perceptual_weight > 0 else None
    loss = encoder_and_decoder_loss(perceptual, subject_weight=args.subject_weight,
                                    perceptual_weight=args.perceptual_weight, kl_weight=args.kl_weight)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    json_path = HERE / NAME / f"{NAME}-{args.out.name}.json"
    old = json.loads(json_path.read_text()) if json_path.is_file() else {}
    ckpt = args.out / "train" / "checkpoint.safetensors"
    if old.get("args", {}).get("out") == settings["out"] and ckpt.is_file():
        rows = old["rows"]                             # a killed run: go on from its last row
        print(f"resuming after step {rows[-1]['step']} ({rows[-1]['train_minutes']} min)", flush=True)
    else:
        report = reconstruction_report(vae.eval(), n=args.n_eval, size=128)
        rows = [{"step": 0, "train_minutes": 0.0, "seconds_per_step": None, **{k: report[k] for k in REPORT_KEYS}}]
        print(json.dumps(rows[0]), flush=True)
    warnings.filterwarnings("ignore", message=".*resuming a .*-step run as a")   # each segment extends the run
    rate = next((r["seconds_per_step"] for r in reversed(rows) if r["seconds_per_step"]), args.first_seconds_per_step)
    for target in args.eval_minutes:
        done, minutes = rows[-1]["step"], rows[-1]["train_minutes"]
        if minutes >= 0.9 * target:                    # reached already (a resumed run)
            continue
        stop = steps_for_minutes(done, minutes, target, rate)
        tc = TrainConfig(steps=stop, lr=args.lr, warmup_steps=50, lr_schedule="constant", ema_decay=args.ema_decay,
                         seed=0, log_every=25, run_dir=str(args.out / "train"), autocast=autocast)
        vae.train()
        result = train(vae, loss, lambda step, g: storybook.subject_batch(args.batch, g, 128), tc, progress=False)
        rate = result.seconds / max(1, stop - result.resumed_from)
        ema_vae = ema_copy(vae, result.ema_state)
        report = reconstruction_report(ema_vae, n=args.n_eval, size=128)
        rows.append({"step": stop, "train_minutes": round(minutes + result.seconds / 60, 2),
                     "seconds_per_step": round(rate, 3), **{k: report[k] for k in REPORT_KEYS},
                     "last_log": {k: round(float(v), 4) for k, v in result.history[-1].items()}})
        if args.eval_raw:
            raw = reconstruction_report(vae.eval(), n=args.n_eval, size=128)
            rows[-1]["raw"] = {k: raw[k] for k in REPORT_KEYS}
        print(json.dumps(rows[-1]), flush=True)
        ema_vae.save_pretrained(args.out / "vae", safe_serialization=True)
        save(f"{NAME}-{args.out.name}", folder=HERE / NAME, data={
            "start": f"{args.source}/{START}", "autocast": autocast or "fp32", "cpu": cpu_model(),
            "args": settings, "rows": rows, "originals_judge_adherence": report["judge_adherence_of_originals"]})
    print("wrote", json_path)


if __name__ == "__main__":
    main()
