"""How much of a picture survives the text-to-image model's autoencoder? PSNR, judge adherence and detail of
the round trip x → z → x̂ of fresh renders of all 120 compositions (``evaluation.reconstruction_report``).

    .venv/bin/python benchmarks/autoencoder_quality.py [--n 240] [--model storybook-sd]

Issue #18's targets, at 128 px: PSNR ≥ 28 dB, judge adherence of the reconstructions ≥ 99.5%, detail
(mean |Laplacian|) within 15% of the originals'. Writes benchmarks/results/autoencoder_quality.json.
"""
from __future__ import annotations

import argparse
import time

from _common import device_label, save

from course_utils.evaluation import reconstruction_report
from course_utils.pipelines import load_text_to_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=240, help="renders (2 per composition at 240)")
    parser.add_argument("--model", default="storybook-sd")
    args = parser.parse_args()
    pipe = load_text_to_image(args.model, device="cpu")
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    t0 = time.perf_counter()
    report = reconstruction_report(pipe.vae, n=args.n, size=size)
    seconds = round(time.perf_counter() - t0, 1)
    latent = f"{pipe.unet.config.sample_size}×{pipe.unet.config.sample_size}×{pipe.vae.config.latent_channels}"
    print(f"{size} px → {latent} latents (f = {pipe.vae_scale_factor}), {args.n} renders of all 120 compositions:")
    print(f"  PSNR {report['psnr_db']:.2f} dB   judge adherence {report['judge_adherence']:.3f} "
          f"(originals {report['judge_adherence_of_originals']:.3f})   detail {report['detail_ratio']:.2f} of the originals'")
    print("wrote", save("autoencoder_quality", {"device": device_label(), "model": args.model, "latent": latent,
                                                "factor": pipe.vae_scale_factor, **report, "seconds": seconds}))


if __name__ == "__main__":
    main()
