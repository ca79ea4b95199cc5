"""Measuring a trained model with the judge: the numbers the notebooks, records and benchmarks quote.

    score_sampler(model, "DDIM-25", real)     judge-FID, judge-KID, coverage, s / image of one sampler (05)
    evaluate(model)                           the pixel denoiser's record: FID vs the floor, adherence (04, 05)
    adherence_report(pipe, per_group=…)       the text-to-image model's adherence, seen / held-out (07)
    choose_guidance(pipe, scales, …)          the guidance scale with the best held-out adherence on a validation set
    reconstruction_report(vae, n=…)           an autoencoder's round trip of fresh renders: PSNR, adherence, detail (07)
    redraw_fidelity(pipe, n=…)                img2img of fresh renders with their own caption: PSNR inside the subject (07)
    accuracy_table(judge, per_composition=…)  how well the judge itself reads fresh renders (04, 08)
    word_localisation(pipe, n=…)              does each word's cross-attention fall on what it names (07)
    sample_quality(pipe, n=…, guidance_scale=…)  text-to-image samples against renders: judge-FID vs the floor, detail
    personal_report(pipe, word, recognise)    a taught new animal: success on unseen scenes, action/place kept, drift (11)

Every sample is drawn with a generator made from a seed (batch i with ``seed + i``), and every score is
against renders from ``storybook.reference_renders`` (generator ``seed + 1``; ``seed + 2`` gives the floor),
so the same call gives the same numbers. The metrics themselves are in ``course_utils.metrics``.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import torch

from . import metrics, personalise, storybook, text_to_image
from .editing import img2img
from .denoiser import SAMPLERS, StorybookDenoiser, generate, make_sampler
from .forward import q_sample
from .judge import ATTRIBUTES, Judge
from .sd_autoencoder import psnr, reconstruction_errors, subject_psnr
from .seeding import make_generator

__all__ = ["generate_in_batches", "score_sampler", "evaluate", "evaluation_prompts", "adherence_report",
           "accuracy_table", "feature_rms", "word_localisation", "choose_guidance", "VALIDATION_SEED",
           "reconstruction_report", "redraw_fidelity", "sample_quality", "personal_report"]

#: seeds the validation set draws from (``choose_guidance``); the reported adherence uses ``adherence_report``'s
#: 10_000 onwards, so the scale is not chosen on the images it is then scored on
VALIDATION_SEED = 500_000


def generate_in_batches(model: StorybookDenoiser, name: str, *, n: int | None = None,
                        labels: torch.Tensor | None = None, seed: int, batch_size: int = 250) -> torch.Tensor:
    """Many samples with sampler ``name`` (``SAMPLERS``), on the CPU: ``n`` unconditional ones or one per
    row of ``labels``, drawn ``batch_size`` at a time, batch i with generator ``seed + i``."""
    if (n is None) == (labels is None):
        raise ValueError("Give either n (unconditional samples) or labels (one image per row), not both or neither.")
    count = n if labels is None else labels.shape[0]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"Need at least one image: got n={n!r} ({'no' if labels is None else count} label rows).")
    scheduler, steps = make_sampler(name, model)
    out = []
    for i, first in enumerate(range(0, count, batch_size)):
        size = min(batch_size, count - first)
        rows = None if labels is None else labels[first:first + size]
        out.append(generate(model, scheduler, n=size if rows is None else None, labels=rows,
                            generator=make_generator(seed + i), num_inference_steps=steps).cpu())
    return torch.cat(out)


def score_sampler(model: StorybookDenoiser, name: str, real: torch.Tensor, *, seed: int = 5,
                  batch_size: int = 250) -> tuple[dict, torch.Tensor]:
    """Draw as many unconditional samples as ``real`` has renders with sampler ``name`` (batch i uses
    generator seed + i) and score them; ``(row, samples)``, the row holding judge-FID and judge-KID
    against ``real``, coverage and seconds per image.

    Notebook 05 and ``benchmarks/sampler_quality.py`` both measure samplers with this."""
    n, start = real.shape[0], time.perf_counter()
    fake = generate_in_batches(model, name, n=n, seed=seed, batch_size=batch_size)
    seconds = time.perf_counter() - start
    row = {"steps": SAMPLERS[name][1], "n": n, "judge_fid": round(metrics.judge_fid(real, fake), 3),
           "judge_kid": round(metrics.judge_kid(real, fake), 5), "coverage": round(metrics.coverage(fake), 3),
           "seconds_per_image": round(seconds / n, 4)}
    return row, fake


def evaluate(model: StorybookDenoiser, *, n: int = 1000, per_seen: int = 2, per_held_out: int = 8,
             sampler: str = "DDIM-25", seed: int = 20_000, batch_size: int = 250, max_seen: int | None = None) -> dict:
    """Judge the model: unconditional judge-FID (and the real-vs-real floor at the same N), coverage,
    the judge-FID of conditional samples (guidance 1) whose labels follow the training mix, and plain
    conditional adherence (guidance 1) on seen and held-out compositions. Needs data/judge.

    Seen = the first ``max_seen`` training compositions (all 108 by default), ``per_seen`` images each."""

    def draw(labels: torch.Tensor | None, count: int, salt: int) -> torch.Tensor:
        return generate_in_batches(model, sampler, n=count if labels is None else None, labels=labels,
                                   seed=seed + 1000 * salt, batch_size=batch_size)

    real_a, real_b, labels_b = storybook.reference_renders(n, seed, model.config.sample_size)
    fake = draw(None, n, salt=1)
    # The same p(x) drawn another way: a composition from the training mix first, then x ~ p(x | c).
    # Its gap to `fake` is what the null condition (trained on the P_ALL share of rows) still lacks.
    via_labels = draw(labels_b, n, salt=4)
    seen = [c for c in storybook.TRAIN_COMPOSITIONS[:max_seen] for _ in range(per_seen)]
    held = [c for c in storybook.HELD_OUT for _ in range(per_held_out)]
    seen_images = draw(torch.tensor([storybook.labels_of(*c) for c in seen]), len(seen), salt=2)
    held_images = draw(torch.tensor([storybook.labels_of(*c) for c in held]), len(held), salt=3)
    fid, floor = metrics.judge_fid(real_a, fake), metrics.judge_fid(real_a, real_b)
    return {
        "sampler": sampler, "n_unconditional": n, "seed": seed,
        "judge_fid_unconditional": round(fid, 3), "judge_fid_real_vs_real_floor": round(floor, 3),
        "fid_over_floor": round(fid / max(floor, 1e-9), 2),
        "judge_fid_conditional_training_mix": round(metrics.judge_fid(real_a, via_labels), 3),
        "coverage_unconditional": round(metrics.coverage(fake), 3),
        "coverage_real_renders_same_n": round(metrics.coverage(real_b), 3),
        "adherence_seen_guidance_1": {k: round(v, 3) for k, v in metrics.adherence(seen_images, seen).items()},
        "adherence_held_out_guidance_1": {k: round(v, 3) for k, v in metrics.adherence(held_images, held).items()},
        "n_seen": len(seen), "n_held_out": len(held),
    }


def evaluation_prompts(group: str, n: int) -> list[str]:
    """``n`` captions cycling through the compositions of ``group``: "seen", "held_out" or "squirrel"."""
    if group == "squirrel":
        comps = [("squirrel", "fishing", "by a river")]
    elif group in ("seen", "held_out"):
        comps = list(storybook.compositions("train" if group == "seen" else "held_out"))
    else:
        raise ValueError(f"group must be 'seen', 'held_out' or 'squirrel', got {group!r}.")
    return [storybook.caption(*comps[i % len(comps)]) for i in range(n)]


def adherence_report(pipe, *, per_group: int, guidance_scale: float, num_inference_steps: int,
                     seed: int = 10_000, groups: Sequence[str] = ("seen", "held_out", "squirrel")) -> dict:
    """Judge adherence of ``per_group`` samples per group (seeds seed, seed+1, …): {group: {"all", …}}."""
    report = {}
    for k, group in enumerate(groups):
        prompts = evaluation_prompts(group, per_group)
        seeds = [seed + 100_000 * k + i for i in range(per_group)]
        images = text_to_image.generate(pipe, prompts, seeds, guidance_scale=guidance_scale,
                          num_inference_steps=num_inference_steps)
        report[group] = {key: round(v, 4) for key, v in metrics.adherence(images, prompts).items()}
        report[group]["n"] = per_group
    return report


def choose_guidance(pipe, scales: Sequence[float], *, per_group: int, num_inference_steps: int,
                    seed: int = VALIDATION_SEED) -> dict:
    """Pick the default guidance scale by measurement, not habit: held-out adherence (``adherence_report``'s
    "held_out" group, ``per_group`` samples, seeds from ``seed``) at each of ``scales``; the best wins, the
    smaller scale on a tie (less saturation, more variety).

    Returns {"value": best w, "held_out_adherence": {w: share}, "per_group", "steps", "seed"}; the seeds are
    not the ones the record's reported adherence uses, so the choice is made on a validation set.
    """
    if not scales or any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in scales):
        raise ValueError(f"scales must be non-negative guidance scales such as (2, 3, 5, 7.5), got {scales!r}.")
    measured = {}
    for w in sorted(float(w) for w in scales):
        report = adherence_report(pipe, per_group=per_group, guidance_scale=w, num_inference_steps=num_inference_steps,
                                  seed=seed, groups=("held_out",))
        measured[w] = report["held_out"]["all"]
    best = max(measured, key=lambda w: (measured[w], -w))
    return {"value": best, "held_out_adherence": {f"{w:g}": v for w, v in measured.items()},
            "per_group": per_group, "steps": num_inference_steps, "seed": seed}


@torch.no_grad()
def accuracy_table(model: Judge, per_composition: int, seed: int = 10_000, batch_size: int = 256
                   ) -> dict[str, dict[str, float]]:
    """Per-attribute accuracy on fresh renders: {"train"|"held_out": {"subject", "action", "place", "all"}}.

    ``per_composition`` renders of each composition, with seeds from ``seed`` that training never draws
    (training seeds come from its step generators).
    """
    model.eval()
    device = next(model.parameters()).device
    table = {}
    for split in ("train", "held_out"):
        triples = [t for t in storybook.compositions(split) for _ in range(per_composition)]
        g = make_generator(seed + (split == "held_out"))
        seeds = torch.randint(0, 2**62, (len(triples),), generator=g).tolist()
        labels = torch.tensor([storybook.labels_of(*t) for t in triples])
        preds = []
        for i in range(0, len(triples), batch_size):
            x = storybook.render_batch(triples[i:i + batch_size], seeds[i:i + batch_size], size=32)
            preds.append(model.predict(x.to(device)).cpu())
        right = torch.cat(preds) == labels
        table[split] = {a: round(right[:, k].float().mean().item(), 4) for k, a in enumerate(ATTRIBUTES)}
        table[split]["all"] = round(right.all(1).float().mean().item(), 4)
        table[split]["images"] = len(triples)
    return table


@torch.no_grad()
def feature_rms(model: Judge, n: int, seed: int = 30_000) -> float:
    """Root-mean-square of the unscaled features over ``n`` fresh renders of the training compositions."""
    g = make_generator(seed)
    pool = storybook.TRAIN_COMPOSITIONS
    triples = [pool[i] for i in torch.randint(len(pool), (n,), generator=g).tolist()]
    x = storybook.render_batch(triples, torch.randint(0, 2**62, (n,), generator=g).tolist(), size=32)
    model.eval()
    f = model.features(x.to(next(model.parameters()).device)) * model.config.feature_scale
    return float(f.pow(2).mean().sqrt())


# the word of a caption that names each mask of storybook.render_masks: the animal, the action (its prop), the place's noun
_WORD_OF_MASK = {"animal": 0, "prop": 1, "place": -1}


@torch.no_grad()
def word_localisation(pipe, *, n: int, seed: int = 40_000, timesteps: Sequence[int] = (250, 500, 750),
                      split: str = "train", resolution: str = "coarsest", batch_size: int = 30) -> dict:
    """Does each word of a caption look at the thing it names? Measured on ``n`` fresh renders whose masks
    the renderer knows (cycling through ``split``'s compositions, seeds drawn from ``seed``).

    Each render is encoded by the pipeline's VAE (posterior mean · scaling factor), noised to each of
    ``timesteps`` (noise from ``seed``), and the UNet is called with its caption; ``cross_attention_maps``
    gives each word's map. For the subject word against the animal's mask, the action word against its
    prop's, and the place's noun ("river", "snow", …) against the place's region:

        mass  = mean over images and timesteps of the share of the word's attention inside the mask
        area  = mean over images of the mask's share of the image
        ratio = mass / area            (1: attention spread evenly; ≥ 2: the word localises)

    Returns {"animal" | "prop" | "place": {"mass", "area", "ratio"}, "n", "timesteps", "map_side", "image_side"}.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive number of renders, got {n!r}.")
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    comps = list(storybook.compositions(split))
    comps = [comps[i % len(comps)] for i in range(n)]
    g = make_generator(seed)
    seeds = torch.randint(0, 2**62, (n,), generator=g).tolist()
    alphas = pipe.scheduler.alphas_cumprod
    device = pipe.unet.device
    sums = {name: [0.0, 0.0] for name in _WORD_OF_MASK}
    side = 0
    for first in range(0, n, batch_size):
        batch, batch_seeds = comps[first:first + batch_size], seeds[first:first + batch_size]
        images = storybook.render_batch(batch, batch_seeds, size=size)
        masks = [storybook.render_masks(*c, seed=s, size=size) for c, s in zip(batch, batch_seeds)]
        captions = [storybook.caption(*c) for c in batch]
        for cap in captions:
            if len(pipe.tokenizer.tokenize(cap)) != len(cap.split()):
                raise ValueError(f"the tokenizer splits a word of {cap!r} into pieces; word_localisation "
                                 "needs one token per word (the course's tokenizer has one).")
        text = text_to_image.encode_text(pipe.text_encoder, text_to_image.tokenize(pipe.tokenizer, captions).to(device))
        z0 = pipe.vae.encode(images.to(device)).latent_dist.mean * pipe.vae.config.scaling_factor
        for t in timesteps:
            z_t = q_sample(z0, int(t), alphas, generator=g)
            maps = text_to_image.cross_attention_maps(pipe.unet, z_t, int(t), text, resolution=resolution).cpu()
            side = maps.shape[-1]
            for i, cap in enumerate(captions):
                words = cap.split()
                for k, (name, w) in enumerate(_WORD_OF_MASK.items()):
                    token = 1 + (w % len(words))                                # position 0 is the start token
                    share, area = metrics.attention_in_region(maps[i, token], masks[i][k])
                    sums[name][0] += float(share) / len(timesteps)
                    sums[name][1] += area / len(timesteps)
    out: dict = {"n": n, "timesteps": [int(t) for t in timesteps], "map_side": side, "image_side": size}
    for name, (mass, area) in sums.items():
        out[name] = {"mass": round(mass / n, 4), "area": round(area / n, 4), "ratio": round(mass / area, 3)}
    return out


def _fresh_renders(n: int, size: int, seed: int) -> tuple[list, torch.Tensor, torch.Tensor]:
    """``n`` fresh renders cycling through ALL 120 compositions, seeds from ``seed``: (compositions, images, subject)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive number of renders, got {n!r}.")
    comps = [storybook.ALL_COMPOSITIONS[i % len(storybook.ALL_COMPOSITIONS)] for i in range(n)]
    seeds = torch.randint(0, 2**62, (n,), generator=make_generator(seed)).tolist()
    return comps, storybook.render_batch(comps, seeds, size), storybook.subject_masks(comps, seeds, size)


def reconstruction_report(vae, *, n: int, size: int, seed: int = 7, batch_size: int = 32) -> dict:
    """How much of a picture survives an autoencoder's round trip x → z → x̂, on ``n`` fresh ``size`` px renders
    cycling through ALL 120 compositions (held-out ones too: an autoencoder never sees captions), seeds from ``seed``:

        psnr_db                 10 · log10(2² / MSE(x̂, x))                (images in [-1, 1])
        subject_psnr_db         the same, inside the animal and prop masks only (where the detail is)
        judge_adherence         share of reconstructions the judge reads as their composition (originals: ≈ 1)
        detail_ratio            sharpness(x̂) / sharpness(x)               (mean |Laplacian|; 1 = as detailed)
        subject_detail_ratio    the same, inside the animal and prop masks
    """
    comps, images, subject = _fresh_renders(n, size, seed)
    recon, errors = reconstruction_errors(vae, images, batch_size=batch_size, subject=subject)
    return {**errors, "judge_adherence": round(metrics.adherence(recon, comps)["all"], 4),
            "judge_adherence_of_originals": round(metrics.adherence(images, comps)["all"], 4),
            "detail_ratio": round(metrics.sharpness(recon) / metrics.sharpness(images), 3),
            "subject_detail_ratio": round(metrics.sharpness(recon, subject) / metrics.sharpness(images, subject), 3),
            "n": n, "size": size}


def redraw_fidelity(pipe, *, n: int, strength: float = 0.5, seed: int = 8, num_inference_steps: int = 25,
                    guidance_scale: float | None = None, batch_size: int = 16) -> dict:
    """Can the whole model draw the subject back where it was? img2img (``editing.img2img``) at ``strength`` of
    ``n`` fresh 128 px renders of all 120 compositions, each with its own caption (batch i with generator
    ``seed + i``), scored against the render: PSNR over the image and inside the animal and prop masks.
    Both the UNet and the decoder must redraw the subject for the subject PSNR to be high."""
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    comps, images, subject = _fresh_renders(n, size, seed)
    outs = []
    for i, first in enumerate(range(0, n, batch_size)):
        prompts = [storybook.caption(*c) for c in comps[first:first + batch_size]]
        outs.append(img2img(pipe, images[first:first + batch_size], prompts, strength=strength,
                            generator=make_generator(seed + i), num_inference_steps=num_inference_steps,
                            guidance_scale=guidance_scale))
    redrawn = torch.cat(outs)
    return {"psnr_db": round(psnr(float((redrawn - images).pow(2).mean())), 2),
            "subject_psnr_db": round(subject_psnr(redrawn, images, subject), 2),
            "n": n, "strength": strength, "steps": num_inference_steps,
            "guidance_scale": pipe.default_guidance if guidance_scale is None else guidance_scale}


def sample_quality(pipe, *, n: int, guidance_scale: float, num_inference_steps: int, seed: int = 60_000,
                   batch_size: int = 64) -> dict:
    """How close ``n`` text-to-image samples of the seen compositions (prompts cycling through all 108, seeds
    from ``seed``) come to ``n`` fresh renders of the same captions (seeds from ``seed + 1``):

        judge_fid        judge-FID(renders, samples)
        judge_fid_floor  judge-FID(renders, other renders): the best any generator scores at this n (``seed + 2``)
        fid_over_floor   judge_fid / judge_fid_floor                      (1 = as close as real pictures get)
        detail_ratio     sharpness(samples) / sharpness(renders)          (1 = as detailed as the renders)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be at least 2 samples (a judge-FID fits a covariance), got {n!r}.")
    prompts = evaluation_prompts("seen", n)
    comps = [storybook.parse_caption(p) for p in prompts]
    size = pipe.unet.config.sample_size * pipe.vae_scale_factor
    samples = text_to_image.generate(pipe, prompts, [seed + i for i in range(n)], guidance_scale=guidance_scale,
                                     num_inference_steps=num_inference_steps, batch_size=batch_size)
    renders, others = (storybook.render_batch(comps, torch.randint(0, 2**62, (n,), generator=make_generator(s)).tolist(),
                                              size) for s in (seed + 1, seed + 2))
    fid, floor = metrics.judge_fid(renders, samples), metrics.judge_fid(renders, others)
    return {"judge_fid": round(fid, 3), "judge_fid_floor": round(floor, 3), "fid_over_floor": round(fid / floor, 2),
            "detail_ratio": round(metrics.sharpness(samples) / metrics.sharpness(renders), 3),
            "n": n, "size": size, "guidance_scale": guidance_scale, "steps": num_inference_steps}


@torch.no_grad()
def personal_report(pipe, word: str, recognise: Callable[[torch.Tensor], torch.Tensor], *, per_scene: int = 4,
                    drift_per_composition: int = 1, seed: int = 70_000, guidance_scale: float | None = None,
                    num_inference_steps: int = 25) -> dict:
    """What a taught pipeline draws, measured:

        success   share of samples of "<word> <action> <place>" for the unseen scenes that ``recognise``
                  (images [N, 3, H, W] in [-1, 1] → bool [N]) reads as the new animal
        kept      share of those samples whose action and place the judge reads as the prompt's
        seen      judge adherence on the 108 training compositions (compare with the base model: drift)
    """
    w = pipe.default_guidance if guidance_scale is None else guidance_scale
    scenes = [s for s in personalise.unseen_scenes() for _ in range(per_scene)]
    images = text_to_image.generate(pipe, [f"{word} {a} {p}" for a, p in scenes],
                                    [seed + i for i in range(len(scenes))], guidance_scale=w,
                                    num_inference_steps=num_inference_steps)
    read = metrics.judge_labels(images)
    wanted = torch.tensor([[storybook.ACTIONS.index(a), storybook.PLACES.index(p)] for a, p in scenes])
    comps = [c for c in storybook.TRAIN_COMPOSITIONS for _ in range(drift_per_composition)]
    seen = text_to_image.generate(pipe, [storybook.caption(*c) for c in comps],
                                  [seed + 10_000 + i for i in range(len(comps))], guidance_scale=w,
                                  num_inference_steps=num_inference_steps)
    seen_scores = metrics.adherence(seen, comps)
    return {"success": round(float(recognise(images).float().mean()), 4),
            "kept": round(float((read[:, 1:] == wanted).all(dim=1).float().mean()), 4),
            "seen_adherence": round(seen_scores["all"], 4),
            "seen_parts": {k: round(v, 4) for k, v in seen_scores.items() if k != "all"},
            "n_unseen": len(scenes), "n_seen": len(comps), "guidance_scale": w, "steps": num_inference_steps}
