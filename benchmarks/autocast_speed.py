"""Does bf16 autocast make the text-to-image model's training steps faster on this machine?

    .venv/bin/python benchmarks/autocast_speed.py [--steps 8]

Times one training step of each storybook-sd stage with its own loss, batch and model (as
``recipes/storybook_sd.RECIPE`` sets them), in fp32 and under bf16 autocast, alternating the two so that
a change in the machine's speed hits both: the subject stage (the whole autoencoder, 128 px renders, batch
8, with the judge-feature perceptual term) and the text encoder + UNet (cached-latent shapes, batch 128).
Issue #26 asks for bf16 where the CPU computes it natively and fp32 where bf16 is slower; the recipes choose
with ``env.training_autocast()``, and this says whether that choice pays for each stage.
Writes benchmarks/results/autocast_speed.json.
"""
from __future__ import annotations

import argparse
import time

import torch

from _common import save
from course_utils import storybook
from course_utils.env import cpu_has_bf16
from course_utils.metrics import load_judge
from course_utils.recipes.storybook_sd import RECIPE
from course_utils.sd_autoencoder import JudgePerceptual, build_autoencoder, decoder_finetune_loss
from course_utils.seeding import make_generator
from course_utils.text_to_image import (TextToImageModel, build_text_encoder, build_unet, course_captions,
                                        latent_batch, latent_diffusion_loss, make_scheduler, train_tokenizer)


def autoencoder_stage():
    """(model, loss(model, batch, g), batch) of the subject stage (2b)."""
    vae = build_autoencoder(RECIPE.vae, seed=0)
    loss = decoder_finetune_loss(JudgePerceptual(load_judge()), subject_weight=RECIPE.subject.subject_weight,
                                 perceptual_weight=RECIPE.subject.perceptual_weight, train_encoder=True,
                                 kl_weight=RECIPE.subject.kl_weight)
    batch = storybook.subject_batch(RECIPE.subject.batch, make_generator(0), RECIPE.image_size)
    return vae, lambda m, b, g: loss(m, b, g)[0], batch


def unet_stage():
    """(model, loss, batch) of the text encoder + UNet stage (4), on random latents of the cache's shape."""
    sd = RECIPE.sd
    tokenizer = train_tokenizer(course_captions(), None, max_length=sd.max_length)
    model = TextToImageModel(build_text_encoder(sd, tokenizer, seed=0), build_unet(sd, seed=0),
                             make_scheduler(sd).alphas_cumprod)
    comps = storybook.compositions("train")
    g = make_generator(0)
    cache = {"mean": torch.randn(len(comps), sd.latent_channels, sd.latent_size, sd.latent_size, generator=g),
             "std": torch.full((len(comps), sd.latent_channels, sd.latent_size, sd.latent_size), 0.1)}
    batch = latent_batch(cache, comps, tokenizer, 1.0, RECIPE.unet_batch, g)
    return model, lambda m, b, g: latent_diffusion_loss(m, b, g, RECIPE.p_uncond), batch


def seconds_per_step(model, loss, batch, bf16: bool, steps: int) -> float:
    """Median seconds of forward + backward + AdamW step, after one warm-up step."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    g = make_generator(1)
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            value = loss(model, batch, g)
        opt.zero_grad()
        value.float().backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per dtype and round (median)")
    args = parser.parse_args()
    rows = []
    for name, make in (("subject stage: autoencoder, batch 8, 128 px", autoencoder_stage),
                       ("text encoder + UNet, batch 128, 16×16 latents", unet_stage)):
        model, loss, batch = make()
        fp32, bf16 = [], []
        for _ in range(2):                                   # alternate: fp32, bf16, fp32, bf16
            fp32.append(seconds_per_step(model, loss, batch, False, args.steps))
            bf16.append(seconds_per_step(model, loss, batch, True, args.steps))
        row = {"stage": name, "fp32_s": round(min(fp32), 3), "bf16_s": round(min(bf16), 3)}
        row["bf16_speedup"] = round(row["fp32_s"] / row["bf16_s"], 2)
        rows.append(row)
        print(f"{name:<48} fp32 {row['fp32_s']:.3f} s | bf16 {row['bf16_s']:.3f} s | bf16 {row['bf16_speedup']:.2f}× as fast")
    save("autocast_speed", {"cpu_has_bf16": cpu_has_bf16(), "steps": args.steps, "rows": rows,
                            "threads": torch.get_num_threads()})


if __name__ == "__main__":
    main()
