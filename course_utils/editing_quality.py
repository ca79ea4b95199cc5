"""Measuring the edits of ``course_utils.editing`` on renders whose composition and masks are known (issue #19).

    scenes = edit_scenes(60, seed=70_000)     renders of training compositions, each with a one-word edit to make
    report = editing_report(pipe, n=60)       inversion, edit, inpainting and img2img figures of notebook 10
    psnr_per_image(a, b, keep=None)           10 · log10(2² / MSE) of each image pair, inside ``keep`` only

What is measured, each on the same ``n`` renders:

    round trip     decode(encode(x)) against x: the VAE's own loss, the ceiling for anything that goes through it
    inversion      edit(x, p → p) against the round trip: does DDIM inversion come back?
    edits          edit(x, p → p′) with one word changed: does the judge read p′ (all three attributes)?
    inpainting     the animal's mask grown by a few pixels, a different animal in the prompt: does the judge read
                   it, and how much of the outside survives (pasted back; or blended in latent space only)?
    img2img        strength 0.3 with the same prompt against the input and the round trip; a strength sweep with
                   the edited prompt: PSNR to the input and when the judge starts reading the new prompt

Every random draw takes a generator made from a seed (``edit_scenes``: ``seed``; the samplers: batch b of
each part with its own ``seed + …``), so the same call gives the same numbers. ``benchmarks/editing_quality.py``
prints the report against the issue's targets and stores it.
"""
from __future__ import annotations

import time
from typing import Callable, NamedTuple, Sequence

import torch

from . import editing, metrics, storybook
from .sd_autoencoder import psnr
from .seeding import make_generator

__all__ = ["EditScenes", "KINDS", "SWEEP_STRENGTHS", "INPAINT_GROW", "psnr_per_image", "summarise_psnr",
           "edit_scenes", "editing_report"]

#: the attribute each scene's edit changes, in turn
KINDS = ("subject", "place", "action")
#: img2img strengths of the sweep (0.3 is the issue's figure)
SWEEP_STRENGTHS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
#: pixels the animal's mask is grown by for inpainting (room for an animal of another shape; editing.grow_mask)
INPAINT_GROW = 6

_WORDS = {"subject": storybook.SUBJECTS, "action": storybook.ACTIONS, "place": storybook.PLACES}
_SLOT = {"subject": 0, "action": 1, "place": 2}


class EditScenes(NamedTuple):
    """Renders to edit and what to edit them into (``edit_scenes``)."""
    images: torch.Tensor          # [n, 3, size, size] in [-1, 1]
    sources: list[str]            # each render's caption (a training composition)
    targets: list[str]            # the caption with one word changed (any composition, held-out ones too)
    kinds: list[str]              # which word changed: "subject", "place" or "action" (cycling in that order)
    swaps: list[str]              # the caption with another animal (for inpainting the animal's mask)
    seeds: list[int]              # each render's seed (storybook.render_masks(*parse_caption(s), seed=…) for masks)


def psnr_per_image(a: torch.Tensor, b: torch.Tensor, keep: torch.Tensor | None = None) -> list[float]:
    """PSNR in dB of each pair of images [N, 3, H, W] in [-1, 1]: 10 · log10(2² / MSE), with the MSE over the
    pixels where ``keep`` [N, 1, H, W] is 1 (all pixels without it); float('inf') where they are equal there."""
    err = (a.float().cpu() - b.float().cpu()) ** 2
    if keep is None:
        mse = err.flatten(1).mean(1)
    else:
        w = keep.float().cpu().expand_as(err)
        mse = (err * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp(min=1)
    return [float("inf") if m == 0 else psnr(float(m)) for m in mse.tolist()]   # sd_autoencoder.psnr: 10·log10(4/MSE)


def summarise_psnr(values: Sequence[float]) -> dict[str, float]:
    """{"mean", "min"} of per-image PSNRs in dB, rounded to 0.01 (inf where a pair is exact: the mean is inf
    if any pair is, the min only if all are)."""
    values = list(values)
    if not values:
        raise ValueError("no PSNR values to summarise.")
    mean, low = sum(values) / len(values), min(values)
    exact = float("inf")
    return {"mean": mean if mean == exact else round(mean, 2), "min": low if low == exact else round(low, 2)}


def _changed(comp: tuple[str, str, str], kind: str, r: int) -> tuple[str, str, str]:
    """``comp`` with its ``kind`` word replaced by another one of that kind, picked by the number ``r``."""
    words, slot = _WORDS[kind], _SLOT[kind]
    c = list(comp)
    c[slot] = words[(words.index(comp[slot]) + 1 + r % (len(words) - 1)) % len(words)]   # never the same word
    return tuple(c)


def edit_scenes(n: int, seed: int = 70_000, size: int = 128) -> EditScenes:
    """``n`` renders of training compositions (picked with a generator from ``seed``, as are the render seeds),
    each with a one-word edit: scene i changes ``KINDS[i % 3]`` to another word of that kind, picked at random.

    The target may be a held-out composition (the edit is judged on what it reads, not on what was trained).
    ``swaps`` changes the animal instead, for inpainting.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive number of scenes, got {n!r}.")
    g = make_generator(seed)
    pool = storybook.TRAIN_COMPOSITIONS
    comps = [pool[i] for i in torch.randint(len(pool), (n,), generator=g).tolist()]
    seeds = torch.randint(0, 2**62, (n,), generator=g).tolist()
    # r % (k − 1) for k = 6 animals, 4 actions or 5 places: 60 is a multiple of 5, 3 and 4, so each is uniform
    word_r, swap_r = torch.randint(60, (2, n), generator=g).tolist()
    kinds = [KINDS[i % len(KINDS)] for i in range(n)]
    targets = [_changed(c, k, r) for c, k, r in zip(comps, kinds, word_r)]
    swaps = [_changed(c, "subject", r) for c, r in zip(comps, swap_r)]
    images = storybook.render_batch(comps, seeds, size)
    return EditScenes(images, [storybook.caption(*c) for c in comps], [storybook.caption(*c) for c in targets],
                      kinds, [storybook.caption(*c) for c in swaps], seeds)


def _in_batches(fn: Callable[..., torch.Tensor], n: int, batch_size: int, *columns: Sequence) -> torch.Tensor:
    """``fn(b, *column slices)`` for each batch b of ``batch_size`` rows, concatenated."""
    return torch.cat([fn(b, *(c[i:i + batch_size] for c in columns))
                      for b, i in enumerate(range(0, n, batch_size))])


def _judged(images: torch.Tensor, captions: Sequence[str], kinds: Sequence[str] | None = None) -> dict:
    """Judge adherence to ``captions`` ("subject", "action", "place", "all"); with ``kinds``, also "changed": the
    share whose changed word (``kinds[i]``) the judge reads, and per kind {"all", "changed", "n"} under "by_kind"."""
    wanted = torch.tensor([storybook.labels_of(*storybook.parse_caption(c)) for c in captions])
    right = metrics.judge_labels(images) == wanted
    # adherence_k = (1/N) Σ_i 1[judge_k(x_i) = c_ik];   all = (1/N) Σ_i Π_k 1[…]   (as metrics.adherence)
    out: dict = {a: round(float(right[:, k].float().mean()), 4) for k, a in enumerate(("subject", "action", "place"))}
    out["all"] = round(float(right.all(1).float().mean()), 4)
    if kinds is not None:
        slot = torch.tensor([_SLOT[k] for k in kinds])
        changed = right[torch.arange(len(kinds)), slot]
        out["changed"] = round(float(changed.float().mean()), 4)
        out["by_kind"] = {}
        for kind in KINDS:
            rows = torch.tensor([k == kind for k in kinds])
            if rows.any():
                out["by_kind"][kind] = {"all": round(float(right[rows].all(1).float().mean()), 4),
                                        "changed": round(float(changed[rows].float().mean()), 4),
                                        "n": int(rows.sum())}
    return out


def editing_report(pipe, *, n: int = 60, seed: int = 70_000, edit_steps: int = 50, steps: int = 25,
                   strengths: Sequence[float] = SWEEP_STRENGTHS, grow: int = INPAINT_GROW,
                   batch_size: int = 30) -> dict:
    """The figures of issue #19 on ``edit_scenes(n, seed)``, each part's seconds under "seconds":

        round_trip    PSNR of decode(encode(x)) to x ({"mean", "min"} over images, as every PSNR here);
                      judge adherence of the round trip and of x to p (what an edit can at best keep)
        inversion     PSNR of edit(x, p → p) to the round trip (and to x), ``edit_steps`` DDIM steps
        edits         judge adherence of edit(x, p → p′) to p′ at EDIT_GUIDANCE: "all", "changed" (the new
                      word read), and per kind; "held_out_targets": edits whose p′ is a held-out composition, and
                      "all" over those ("all_held_out_targets") and over the rest ("all_seen_targets"; None if none)
        inpainting    the animal's mask grown by ``grow`` px, the ``swaps`` caption: judge "subject" and "all",
                      outside-mask PSNR with keep_outside=True (inf: pasted back exactly) and False (to x and
                      to the round trip), and the mask's share of the image
        img2img       strength 0.3, the same prompt: PSNR to x and to the round trip
        sweep         per strength, the edited prompt p′: PSNR to x, judge "all" to p′ and to p, "changed"

    img2img and inpainting use ``steps`` steps at the pipeline's default guidance; part k's batch b draws its
    noise from ``seed + 1000·k + b``. ``edit`` is invert then regenerate: the report inverts each scene once
    and regenerates it with p and with p′ (the same as two ``edit`` calls, at the cost of one inversion).
    """
    scenes = edit_scenes(n, seed, editing.image_size(pipe))
    x, src, tgt, swaps = scenes.images, scenes.sources, scenes.targets, scenes.swaps
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    def gen(part: int, b: int) -> torch.Generator:
        return make_generator(seed + 1000 * part + b)

    rt = _in_batches(lambda b, xb: editing.decode(pipe, editing.encode(pipe, xb)), n, batch_size, x)
    report: dict = {"n": n, "seed": seed, "edit_steps": edit_steps, "steps": steps,
                    "edit_guidance": editing.EDIT_GUIDANCE, "guidance": float(pipe.default_guidance),
                    "round_trip": {**summarise_psnr(psnr_per_image(rt, x)), "judge_all": _judged(rt, src)["all"],
                                   "judge_all_inputs": _judged(x, src)["all"]}}
    lap("round_trip")

    def invert_and_redraw(b, xb, sb, tb):
        z_T = editing.invert(pipe, xb, sb, num_inference_steps=edit_steps)
        return torch.stack([editing.regenerate(pipe, z_T, p, negative_prompt=sb, num_inference_steps=edit_steps,
                                               guidance_scale=editing.EDIT_GUIDANCE) for p in (sb, tb)], 1)
    both = _in_batches(invert_and_redraw, n, batch_size, x, src, tgt)
    same, edited = both[:, 0], both[:, 1]
    report["inversion"] = {"vs_round_trip": summarise_psnr(psnr_per_image(same, rt)),
                           "vs_input": summarise_psnr(psnr_per_image(same, x))}
    judged = _judged(edited, tgt, scenes.kinds)
    held = [storybook.parse_caption(t) in set(storybook.HELD_OUT) for t in tgt]
    report["edits"] = {"all": judged["all"], "changed": judged["changed"], "by_kind": judged["by_kind"],
                       "held_out_targets": sum(held)}
    for name, group in (("all_seen_targets", False), ("all_held_out_targets", True)):
        rows = [i for i, h in enumerate(held) if h == group]
        report["edits"][name] = _judged(edited[rows], [tgt[i] for i in rows])["all"] if rows else None
    lap("inversion_and_edits")

    masks = torch.stack([storybook.render_masks(*storybook.parse_caption(s), seed=sd, size=x.shape[-1])[0]
                         for s, sd in zip(src, scenes.seeds)])[:, None].float()
    masks = editing.grow_mask(masks, grow)
    keep = 1 - masks
    painted = {flag: _in_batches(lambda b, xb, mb, pb: editing.inpaint(pipe, xb, mb, list(pb), generator=gen(1, b),
                                                                       num_inference_steps=steps, keep_outside=flag),
                                 n, batch_size, x, masks, swaps) for flag in (True, False)}
    judged = _judged(painted[True], swaps)
    report["inpainting"] = {
        "grow_px": grow, "mask_share": round(float(masks.mean()), 4),
        "subject": judged["subject"], "all": judged["all"],
        "outside_keep_outside": summarise_psnr(psnr_per_image(painted[True], x, keep)),
        "outside_blended_vs_input": summarise_psnr(psnr_per_image(painted[False], x, keep)),
        "outside_blended_vs_round_trip": summarise_psnr(psnr_per_image(painted[False], rt, keep)),
        "judge_blended": {k: v for k, v in _judged(painted[False], swaps).items() if k in ("subject", "all")}}
    lap("inpainting")

    def redraw(part: int, strength: float, prompts: Sequence[str]) -> torch.Tensor:
        return _in_batches(lambda b, xb, pb: editing.img2img(pipe, xb, list(pb), strength=strength,
                                                            generator=gen(part, b), num_inference_steps=steps),
                           n, batch_size, x, prompts)
    kept = redraw(2, 0.3, src)
    report["img2img"] = {"strength": 0.3, "vs_input": summarise_psnr(psnr_per_image(kept, x)),
                         "vs_round_trip": summarise_psnr(psnr_per_image(kept, rt))}
    lap("img2img")
    sweep = []
    for k, s in enumerate(strengths):
        out = redraw(3 + k, float(s), tgt)
        to_target = _judged(out, tgt, scenes.kinds)
        sweep.append({"strength": float(s), "psnr_vs_input": summarise_psnr(psnr_per_image(out, x))["mean"],
                      "target_all": to_target["all"], "changed": to_target["changed"],
                      "source_all": _judged(out, src)["all"]})
    report["sweep"] = sweep
    lap("sweep")
    report["seconds"] = seconds
    return report
