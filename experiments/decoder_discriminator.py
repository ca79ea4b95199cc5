"""Does a patch discriminator in the decoder stage give the texture back (detail ratio, judge-FID) without the UNet?

    .venv/bin/python experiments/decoder_discriminator.py [--steps 600] [--disc-weight 0.5] [--gen-start 100]
        [--n-eval 240] [--n-fid 500] [--name decoder_discriminator]

Starts from the shipped pipeline's autoencoder (``data/storybook-sd/vae``; when these arms were measured, at commit
8eb1aa7, that was the decoder after stages 2b and 3b without a discriminator; since then the shipped stage 3b has one,
so rerun the arms from that commit's data/storybook-sd to repeat them) and trains its
decoder again with the encoder frozen, so the latents, the scaling factor and the UNet stay valid: the decoder
stage's loss (subject-weighted L1 + 0.1 perceptual, ``sd_autoencoder.decoder_finetune_loss``) plus the hinge
GAN term of the autoencoder stage, weighted adaptively as in latent diffusion (``sd_autoencoder``'s
``adaptive_weight``: the GAN gradient at the decoder's last layer scaled to the reconstruction's) times
``--disc-weight``. A fresh ``PatchDiscriminator`` (seed 0; the stored arms drew it from the global RNG, before the
seeding fix) trains from step 0; the generator term joins at
``--gen-start``. The trained weights are measured (no EMA: 600 steps are too few for a 0.999 average):

- the round trip on the record's renders (``evaluation.reconstruction_report``, n = --n-eval, seed 1): PSNR
  and detail over the whole image and inside the subject masks, judge adherence;
- the whole model: judge-FID of --n-fid samples at the pipeline's default guidance, 25 steps, against as many
  renders, with this decoder swapped in (``evaluation.sample_quality``, as benchmarks/text_to_image_quality.py).

Writes experiments/decoder_discriminator/<name>.json. About 8 minutes on 2 cores at the defaults.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))

from _common import device_label, save  # noqa: E402

from course_utils import storybook  # noqa: E402
from course_utils.env import training_autocast  # noqa: E402
from course_utils.evaluation import reconstruction_report, sample_quality  # noqa: E402
from course_utils.metrics import load_judge  # noqa: E402
from course_utils.pipelines import load_text_to_image  # noqa: E402
from course_utils.seeding import seeded_init  # noqa: E402
from course_utils.sd_autoencoder import (AutoencoderWithCritic, JudgePerceptual, PatchDiscriminator,  # noqa: E402
                                         decoder_finetune_objectives)
from course_utils.training import Objective, TrainConfig, train  # noqa: E402

NAME = "decoder_discriminator"
KEYS = ("psnr_db", "subject_psnr_db", "detail_ratio", "subject_detail_ratio", "judge_adherence")


def objectives(model: AutoencoderWithCritic, disc_weight: float, gen_start: int) -> list[Objective]:
    """The decoder's step (encoder frozen) on the decoder stage's loss + λ · disc_weight · GAN term, then D's: the
    shipped stage's objective (``sd_autoencoder.decoder_finetune_objectives``, as ``recipes/sd_decoder.py`` calls it)."""
    return decoder_finetune_objectives(model, JudgePerceptual(load_judge()), subject_weight=5.0, perceptual_weight=0.1,
                                       disc_weight=disc_weight, gen_start=gen_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--disc-weight", type=float, default=0.5)
    parser.add_argument("--gen-start", type=int, default=100, help="step at which the GAN term joins the decoder's loss")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--n-eval", type=int, default=240)
    parser.add_argument("--n-fid", type=int, default=500)
    parser.add_argument("--name", default=NAME)
    args = parser.parse_args()
    pipe = load_text_to_image(device="cpu")
    before = {k: v for k, v in reconstruction_report(pipe.vae, n=args.n_eval, size=128, seed=1).items() if k in KEYS}
    print("shipped decoder:", before, flush=True)
    with seeded_init(0):                          # the discriminator's first weights from a seed, not the global RNG
        model = AutoencoderWithCritic(pipe.vae, PatchDiscriminator())
    config = TrainConfig(steps=args.steps, lr=args.lr, warmup_steps=50, lr_schedule="cosine", seed=0,
                         autocast=training_autocast())
    t0 = time.perf_counter()
    result = train(model, objectives(model, args.disc_weight, args.gen_start),
                   lambda step, g: {**storybook.subject_batch(args.batch, g, 128), "step": step}, config, progress=False)
    seconds = round(time.perf_counter() - t0, 1)
    vae = model.vae.eval()
    after = {k: v for k, v in reconstruction_report(vae, n=args.n_eval, size=128, seed=1).items() if k in KEYS}
    print("with the discriminator:", after, f"({seconds} s of training)", flush=True)
    pipe.vae = vae
    fid = sample_quality(pipe, n=args.n_fid, guidance_scale=pipe.default_guidance, num_inference_steps=25)
    print(f"judge-FID {fid['judge_fid']:.2f} ({fid['fid_over_floor']:.2f}× the floor {fid['judge_fid_floor']:.2f}), "
          f"sample detail {fid['detail_ratio']:.2f}, guidance {pipe.default_guidance:g}")
    last = result.history[-1] if result.history else {}
    print("wrote", save(args.name, {"device": device_label(), "args": vars(args), "train_seconds": seconds,
                                    "shipped": before, "with_discriminator": after, "sample_quality": fid,
                                    "last_log": {k: float(v) for k, v in last.items()}}, folder=HERE / NAME))


if __name__ == "__main__":
    main()
