"""How much of a picture survives the text-to-image model's autoencoder, and where is the detail lost?

    .venv/bin/python benchmarks/autoencoder_quality.py [--n 240] [--redraw 120] [--model storybook-sd]

For the pipeline's autoencoder and, when the folder keeps it, the one before its decoder was fine-tuned
(``vae_before_decoder_finetune``, the same encoder): the round trip x → z → x̂ of fresh renders of all 120
compositions (``evaluation.reconstruction_report``): PSNR and detail over the whole image and inside the
animal and prop masks, judge adherence; and the whole model's redraw fidelity (``evaluation.redraw_fidelity``:
img2img at strength 0.5 of fresh renders with their own caption, PSNR inside the masks).

Issue #26's targets: subject PSNR ≥ 20 dB, whole image ≥ 23 dB, judge adherence ≥ 99.5 %, subject detail
0.85–1.15; redraw fidelity's subject PSNR up ≥ 3 dB on the model before. Writes
benchmarks/results/autoencoder_quality.json.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import device_label, save

from course_utils.evaluation import reconstruction_report, redraw_fidelity
from course_utils.paths import data_path
from course_utils.pipelines import load_autoencoder, load_text_to_image

BEFORE = "vae_before_decoder_finetune"
STAGE2 = "vae_before_subject_finetune"      # the autoencoder stage's own result: other latents, no redraw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=240, help="renders (2 per composition at 240)")
    parser.add_argument("--redraw", type=int, default=120, help="renders for redraw fidelity (0: skip it)")
    parser.add_argument("--model", default="storybook-sd")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="an earlier pipeline folder (e.g. the model before issue #26's retraining) measured "
                             "the same way, whole model included, as 'baseline'")
    args = parser.parse_args()
    pipe = load_text_to_image(args.model, device="cpu")
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    t0 = time.perf_counter()
    shipped = pipe.vae
    models = {"shipped": shipped}
    if (data_path(args.model) / BEFORE / "config.json").is_file():
        models["before_decoder_finetune"] = load_autoencoder(args.model, BEFORE)
    if (data_path(args.model) / STAGE2 / "config.json").is_file():
        models["autoencoder_stage"] = load_autoencoder(args.model, STAGE2)
    pipes = {name: pipe for name in models}
    if args.baseline is not None:
        pipes["baseline"] = load_text_to_image(args.baseline, device="cpu")
        models["baseline"] = pipes["baseline"].vae
    latent = f"{pipe.unet.config.sample_size}×{pipe.unet.config.sample_size}×{pipe.vae.config.latent_channels}"
    print(f"{size} px → {latent} latents (f = {pipe.vae_scale_factor}), {args.n} renders of all 120 compositions; "
          f"redraw: img2img at strength 0.5 of {args.redraw} renders, guidance {pipe.default_guidance:g}")
    out = {}
    for name, vae in models.items():
        report = reconstruction_report(vae, n=args.n, size=size)
        redraw = args.redraw and name != "autoencoder_stage"      # its latents are not the UNet's
        if redraw:
            own = pipes[name]
            own_vae, own.vae = own.vae, vae
            report["redraw"] = redraw_fidelity(own, n=args.redraw, guidance_scale=own.default_guidance)
            own.vae = own_vae
        out[name] = report
        print(f"  {name:24s} PSNR {report['psnr_db']:.2f} dB, subject {report['subject_psnr_db']:.2f} dB   "
              f"adherence {report['judge_adherence']:.3f} (originals {report['judge_adherence_of_originals']:.3f})   "
              f"detail {report['detail_ratio']:.2f}, subject {report['subject_detail_ratio']:.2f}"
              + (f"   redraw subject {report['redraw']['subject_psnr_db']:.2f} dB (whole {report['redraw']['psnr_db']:.2f})"
                 if redraw else ""))
    seconds = round(time.perf_counter() - t0, 1)
    print("wrote", save("autoencoder_quality", {"device": device_label(), "model": args.model, "latent": latent,
                                                "baseline": str(args.baseline) if args.baseline else None,
                                                "factor": pipe.vae_scale_factor, **out["shipped"], "models": out,
                                                "seconds": seconds}))


if __name__ == "__main__":
    main()
