"""The decoder stage of storybook-sd: ``python -m course_utils.train storybook-sd-decoder`` (runs alone, in minutes).

Stable Diffusion's own autoencoder was mended this way after release (the ft-EMA and ft-MSE decoders, tuned
on data with more people in it, to draw faces better): the encoder is frozen, so every latent, the scaling
factor and the UNet trained on those latents stay valid, and only the decoder learns, here with a loss that
weighs the animal and its prop ``subject_weight`` times more than the background
(``sd_autoencoder.decoder_finetune_loss``; Make-A-Scene's object-aware loss). EMA weights are kept.
That loss alone draws smooth texture (an L1 loss settles for a per-pixel median where it is unsure), so after
``gen_start`` steps a patch discriminator's term joins, as in the autoencoder stage (latent diffusion's
λ · w_d · (−D(x̂))): the decoder learns to draw texture the discriminator takes for a render's. The
discriminator is not shipped.

    storybook-sd (full build)   runs this stage after the latent cache, on the autoencoder it just trained
    storybook-sd-decoder        runs it alone on the shipped data/storybook-sd: from the decoder as the
                                autoencoder stage left it (``vae_before_decoder_finetune``, kept beside the
                                pipeline's ``vae`` so notebook 07 can show both), into the pipeline's ``vae``

Training uses bf16 autocast where the machine computes bf16 natively (``env.training_autocast``) and fp32
elsewhere; the record says which, and on which CPU. Checkpoints go to ``<run_dir>/decoder``: a killed run resumes.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from diffusers import AutoencoderKL

from .. import storybook
from ..checkpoints import write_manifest
from ..env import cpu_model, training_autocast
from ..evaluation import adherence_report, reconstruction_report, redraw_fidelity
from ..metrics import load_judge
from ..pipelines import load_autoencoder, load_text_to_image
from ..seeding import seeded_init
from ..sd_autoencoder import AutoencoderWithCritic, JudgePerceptual, PatchDiscriminator, decoder_finetune_objectives
from ..training import TrainConfig, TrainResult, train
from .record import machine_fields

__all__ = ["DecoderRecipe", "DECODER_RECIPE", "BEFORE_DECODER", "scaled", "finetune_decoder", "decoder_report", "build"]

#: sub-folder of data/storybook-sd with the autoencoder as it was before its decoder was fine-tuned
BEFORE_DECODER = "vae_before_decoder_finetune"


@dataclass
class DecoderRecipe:
    """How the decoder is fine-tuned (times are for the shared 2-core CPU)."""
    steps: int = 1500
    batch: int = 8                          # fresh 128 px training-split renders a step, with their subject masks
    lr: float = 2e-4
    warmup_steps: int = 50
    subject_weight: float = 5.0             # the animal and prop pixels count 5×
    perceptual_weight: float = 0.1          # the judge-feature perceptual term, as the autoencoder stage had
    ema_decay: float = 0.999
    autocast: str | None = "auto"           # "auto": bf16 where the CPU/GPU computes it natively, else fp32
    image_size: int = 128
    seed: int = 0
    checkpoint_every: int = 100
    eval_reconstructions: int = 240         # fresh renders (2 per composition) for the round trip's figures
    eval_redraw: int = 120                  # fresh renders for redraw fidelity (img2img at strength 0.5)
    eval_per_group: int = 216               # samples per group for the record's adherence, redrawn by the new decoder
    train_encoder: bool = False             # True: the encoder learns too (storybook-sd's subject stage, before the cache)
    kl_weight: float = 1e-6                 # with train_encoder: × KL, as the autoencoder stage had
    disc_weight: float = 0.0                # > 0: a patch discriminator joins (× the adaptive λ); 0: none
    gen_start: int = 0                      # the step from which the decoder is pushed to fool it (it trains from 0)
    ema_warmup: bool = False                # True: the EMA's decay ramps up ((1 + t) / (10 + t), as diffusers' EMAModel)


#: 1,800 steps: 600 on the subject-weighted loss alone, then 1,200 with the patch discriminator's term as well
#: (experiments/decoder_discriminator: the GAN term at weight 0.5 gives the texture back, detail ratio 0.52 → 1.04,
#: and the samples' detail 0.48 → 1.00, for 0.7 dB of whole-image PSNR and none of the subject's; judge-FID moved
#: within the spread of the stage's seed: 1.24, 1.28 and 1.47 in three runs, against 1.40 before)
DECODER_RECIPE = DecoderRecipe(steps=1800, disc_weight=0.5, gen_start=600, ema_warmup=True)


def scaled(recipe: DecoderRecipe, steps: int | None) -> DecoderRecipe:
    """The recipe run for ``steps`` steps (a quick run), the discriminator joining at the same share of them."""
    if not steps:
        return recipe
    return replace(recipe, steps=steps, gen_start=round(recipe.gen_start * steps / recipe.steps))


def finetune_decoder(vae: AutoencoderKL, recipe: DecoderRecipe, run_dir: Path, *, progress: bool = True
                     ) -> tuple[AutoencoderKL, TrainResult, str | None]:
    """Train ``vae``'s decoder in place (encoder frozen; with ``recipe.train_encoder`` the whole autoencoder) and
    load its EMA weights: (vae, result, autocast used). Checkpoints go to run_dir/decoder (run_dir/subject).
    With ``recipe.disc_weight`` > 0 a fresh patch discriminator trains beside it (checkpointed with it, not kept)."""
    autocast = training_autocast() if recipe.autocast == "auto" else recipe.autocast
    if recipe.disc_weight > 0:
        with seeded_init(recipe.seed):          # its first weights from the recipe's seed, not the global RNG's state
            model = AutoencoderWithCritic(vae, PatchDiscriminator())
    else:
        model = vae
    objectives = decoder_finetune_objectives(
        model, JudgePerceptual(load_judge()), subject_weight=recipe.subject_weight,
        perceptual_weight=recipe.perceptual_weight, train_encoder=recipe.train_encoder, kl_weight=recipe.kl_weight,
        disc_weight=recipe.disc_weight, gen_start=recipe.gen_start)
    config = TrainConfig(steps=recipe.steps, lr=recipe.lr, warmup_steps=min(recipe.warmup_steps, recipe.steps // 2),
                         lr_schedule="cosine", ema_decay=recipe.ema_decay, ema_warmup=recipe.ema_warmup, seed=recipe.seed,
                         checkpoint_every=recipe.checkpoint_every,
                         run_dir=str(Path(run_dir) / ("subject" if recipe.train_encoder else "decoder")),
                         autocast=autocast)
    result = train(model, objectives,
                   lambda step, g: {**storybook.subject_batch(recipe.batch, g, recipe.image_size), "step": step},
                   config, progress=progress)
    # with the encoder frozen, only the decoder's EMA: the encoder never changed, and its EMA copy could differ in
    # the last bit (the discriminator's weights are left out: the shipped folder keeps the autoencoder only)
    prefix = "vae." if recipe.disc_weight > 0 else ""
    ema = {k[len(prefix):]: v for k, v in result.ema_state.items() if k.startswith(prefix)}
    state = vae.state_dict()
    state.update({k: v.to(state[k].dtype) for k, v in ema.items()
                  if recipe.train_encoder or k.startswith(("decoder.", "post_quant_conv."))})
    vae.load_state_dict(state)
    return vae.eval(), result, autocast


def decoder_report(pipe, before: AutoencoderKL, recipe: DecoderRecipe, guidance_scale: float) -> dict:
    """Round trip and redraw fidelity (at ``guidance_scale``) of the pipeline's autoencoder and of ``before``."""
    after = pipe.vae
    out = {"after": reconstruction_report(after, n=recipe.eval_reconstructions, size=recipe.image_size, seed=recipe.seed + 1),
           "before": reconstruction_report(before, n=recipe.eval_reconstructions, size=recipe.image_size, seed=recipe.seed + 1),
           "redraw_after": redraw_fidelity(pipe, n=recipe.eval_redraw, guidance_scale=guidance_scale)}
    pipe.vae = before
    try:
        out["redraw_before"] = redraw_fidelity(pipe, n=recipe.eval_redraw, guidance_scale=guidance_scale)
    finally:
        pipe.vae = after
    return out


def training_fields(recipe: DecoderRecipe, result: TrainResult, autocast: str | None) -> dict:
    """What the record says about the stage: settings, steps, seconds, dtype and CPU."""
    return {"recipe": asdict(recipe), "steps": recipe.steps, "resumed_from": result.resumed_from,
            "seconds": round(result.seconds, 1), "seconds_per_step": round(result.seconds / max(1, recipe.steps - result.resumed_from), 3),
            "autocast": autocast or "fp32", "cpu": cpu_model(),
            "final_loss_mean_last_10_logs": round(sum(r["loss"] for r in result.history[-10:]) / max(1, len(result.history[-10:])), 5)}


def build(out_dir: Path, *, run_dir: Path, steps: int | None = None, seed: int | None = None,
          recipe: DecoderRecipe = DECODER_RECIPE, progress: bool = True) -> dict:
    """The stage alone, on the pipeline saved in ``out_dir`` (data/storybook-sd): fine-tune the decoder of the
    autoencoder as the autoencoder stage left it, save it as the pipeline's ``vae``, update record and manifest."""
    recipe = scaled(recipe, steps)
    recipe = replace(recipe, **({"seed": seed} if seed is not None else {}))
    out_dir = Path(out_dir)
    base = BEFORE_DECODER if (out_dir / BEFORE_DECODER / "config.json").is_file() else "vae"
    before = load_autoencoder(out_dir, base)
    vae, result, autocast = finetune_decoder(load_autoencoder(out_dir, base), recipe, Path(run_dir), progress=progress)
    if base == "vae":                                    # keep the decoder it started from, once
        shutil.copytree(out_dir / "vae", out_dir / BEFORE_DECODER)
    vae.register_to_config(_name_or_path=BEFORE_DECODER)    # where it came from, not a path on this machine
    vae.save_pretrained(out_dir / "vae", safe_serialization=True)
    write_manifest(out_dir)
    t0 = time.time()
    pipe = load_text_to_image(out_dir)
    report = decoder_report(pipe, before, recipe, pipe.default_guidance)
    record_path = out_dir / "record.json"
    record = json.loads(record_path.read_text())
    earlier_stages = {k: v for k, v in record["metrics"].get("vae_reconstruction", {}).items() if k.startswith("before_")}
    record["metrics"]["vae_reconstruction"] = {**earlier_stages, **report["after"], "before_decoder_finetune": report["before"]}
    if (out_dir / "vae_before_discriminator" / "config.json").is_file():      # notebook 07's third autoencoder
        record["metrics"]["vae_reconstruction"]["before_discriminator"] = reconstruction_report(
            load_autoencoder(out_dir, "vae_before_discriminator"), n=recipe.eval_reconstructions,
            size=recipe.image_size, seed=recipe.seed + 1)
    record["metrics"]["redraw_fidelity"] = {"after_decoder_finetune": report["redraw_after"],
                                            "before_decoder_finetune": report["redraw_before"]}
    old = record["metrics"].get("adherence", {})
    if old.get("guidance_scale") is not None:         # the pictures changed: measure adherence again, as before
        record["metrics"]["adherence"] = {**old, **adherence_report(
            pipe, per_group=recipe.eval_per_group, guidance_scale=old["guidance_scale"], num_inference_steps=old["steps"])}
    stage = training_fields(recipe, result, autocast)
    earlier = record.get("decoder_finetune", {})
    if result.steps_done == result.resumed_from and earlier.get("steps") == recipe.steps:
        stage.update({k: earlier[k] for k in ("seconds", "seconds_per_step", "resumed_from", "threads") if k in earlier})
    record["decoder_finetune"] = {**machine_fields(), **stage, "evaluation_s": round(time.time() - t0, 1)}
    # the pipeline's decoder is now this stage's: its settings and seconds replace those of the build's own 3b
    if "decoder" in record.get("recipe", {}):
        record["recipe"]["decoder"] = asdict(recipe)
    if "wall_time_s" in record:
        record["wall_time_s"]["decoder_finetune_s"] = stage["seconds"]
    record_path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    write_manifest(out_dir)
    print(json.dumps(record["metrics"]["vae_reconstruction"], indent=1), json.dumps(record["metrics"]["redraw_fidelity"]))
    return record
