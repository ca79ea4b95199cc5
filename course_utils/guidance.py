"""Classifier-free guidance: push the prediction away from "anything" and towards "this prompt".

One network learns both ε_θ(x_t, t, c) (with the condition c) and ε_θ(x_t, t, ∅) (with the condition
dropped, which training does ~10% of the time). At sampling time the two are mixed:

    ε̂ = ε_uncond + w · (ε_cond − ε_uncond)

w = 0 is the unconditional model, w = 1 the conditional one, w > 1 extrapolates past it: samples
follow the prompt more closely and vary less. Both predictions come from ONE forward pass over a
batch that stacks the unconditional half first and the conditional half second, as diffusers'
``StableDiffusionPipeline`` does (``noise_pred.chunk(2)``), so the arithmetic is bit-identical to it.

    guided = guided_denoise(lambda x, t, c: unet(x, t, encoder_hidden_states=c).sample, cond, uncond, w)
    latents = samplers.sample(guided, scheduler, shape, generator=g, num_inference_steps=25)

Guidance in an interval (Kynkäänniemi et al. 2024, "Applying guidance in a limited interval improves
sample and distribution quality"): guide only while the noise level t lies in [t_lo, t_hi] and use the
plain conditional prediction ε_cond elsewhere. The paper found guidance harmful to variety at the
highest noise levels and of little use at the lowest. On the course's model, switching it off at the
noisiest steps bought no measurable layout variety and cost held-out adherence once more than the 5
noisiest of 25 were left unguided (experiments/guidance_variety).
``interval_guided_denoise`` is diffusers' ``ClassifierFreeGuidance(start=…, stop=…)`` (``diffusers.guiders``),
whose start / stop are fractions of the steps; ``interval_of_steps`` turns those into the t interval.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

__all__ = ["DEFAULT_GUIDANCE", "MAX_GUIDANCE", "check_guidance_scale", "cfg_combine", "split_guided", "stack_conditions",
           "guided_denoise", "check_interval", "interval_of_steps", "interval_guided_denoise"]

#: The guidance scale the storybook text-to-image pipeline uses unless told otherwise: measured best on
#: held-out prompts (benchmarks/text_to_image_adherence.py), and diffusers' own default.
DEFAULT_GUIDANCE = 7.5

#: Above this, guidance only saturates the image (Stable Diffusion is used at 3–15); diffusers would accept 1e6.
MAX_GUIDANCE = 50.0

#: ``model(x_t, t, condition) -> ε̂``: the network with its condition as a third argument.
ConditionalModel = Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor]


def check_guidance_scale(guidance_scale: float) -> float:
    """Return ``guidance_scale`` as a float if it is a finite number in [0, MAX_GUIDANCE], else raise a clear ValueError."""
    if isinstance(guidance_scale, bool) or not isinstance(guidance_scale, (int, float)):
        raise ValueError(f"guidance_scale must be a number such as 7.5, got {guidance_scale!r} "
                         f"({type(guidance_scale).__name__}).")
    w = float(guidance_scale)
    if not math.isfinite(w) or w < 0:
        raise ValueError(f"guidance_scale must be ≥ 0 (0 = ignore the prompt, 1 = plain conditional, "
                         f"> 1 = stronger guidance), got {guidance_scale}. Use e.g. 3 or 7.5.")
    if w > MAX_GUIDANCE:
        raise ValueError(f"guidance_scale={guidance_scale} is above {MAX_GUIDANCE:g}: the image only saturates "
                         "there. Useful values are about 1–15 (7.5 is Stable Diffusion's default).")
    return w


def cfg_combine(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Mix the two predictions [B, C, H, W] into the guided one [B, C, H, W]."""
    w = check_guidance_scale(guidance_scale)
    if eps_uncond.shape != eps_cond.shape:
        raise ValueError(f"the unconditional and conditional predictions must have the same shape, got "
                         f"{tuple(eps_uncond.shape)} and {tuple(eps_cond.shape)}.")
    # ε̂ = ε_uncond + w · (ε_cond − ε_uncond)
    return eps_uncond + w * (eps_cond - eps_uncond)


def split_guided(eps_both: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Guided ε̂ [B, ...] from one batched prediction [2B, ...] whose FIRST half is unconditional."""
    if eps_both.shape[0] % 2:
        raise ValueError(f"a guided batch stacks [unconditional; conditional], so its size must be even, "
                         f"got {eps_both.shape[0]}.")
    eps_uncond, eps_cond = eps_both.chunk(2)
    return cfg_combine(eps_uncond, eps_cond, guidance_scale)


def stack_conditions(cond: torch.Tensor, uncond: torch.Tensor) -> torch.Tensor:
    """[uncond; cond] along the batch: [2B, ...]. A single unconditional row [1, ...] is repeated B times."""
    if not isinstance(cond, torch.Tensor) or not isinstance(uncond, torch.Tensor):
        raise TypeError("cond and uncond must be tensors (e.g. text embeddings [B, L, D] or labels [B, 3]).")
    if uncond.shape[0] == 1 and cond.shape[0] > 1:
        uncond = uncond.expand(cond.shape[0], *uncond.shape[1:])
    if uncond.shape != cond.shape:
        raise ValueError(f"cond {tuple(cond.shape)} and uncond {tuple(uncond.shape)} must have the same shape "
                         "(or uncond one row, repeated for the batch).")
    return torch.cat([uncond, cond])


def guided_denoise(model: ConditionalModel, cond: torch.Tensor, uncond: torch.Tensor,
                   guidance_scale: float) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``denoise(x_t, t) -> ε̂`` for ``samplers.sample``, guided with scale w.

    model(x [2B, ...], t, c [2B, ...]) → ε [2B, ...]; cond: the prompt's condition [B, ...]; uncond:
    the empty prompt's [B, ...] or [1, ...]. Each call runs ONE forward pass on [x; x] with [uncond; cond].
    """
    w = check_guidance_scale(guidance_scale)
    if not callable(model):
        raise TypeError("model must be a function model(x_t, t, condition) -> ε̂, e.g. "
                        "lambda x, t, c: unet(x, t, encoder_hidden_states=c).sample.")
    both = stack_conditions(cond, uncond)

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if 2 * x_t.shape[0] != both.shape[0]:
            raise ValueError(f"{both.shape[0] // 2} conditions for a batch of {x_t.shape[0]} samples; give one "
                             "condition per sample.")
        # one forward pass on the doubled batch: first half unconditional, second half conditional
        eps_both = model(torch.cat([x_t] * 2), t, both)
        return split_guided(eps_both, w)

    return denoise


def check_interval(t_interval: tuple[float, float]) -> tuple[float, float]:
    """Return ``t_interval`` as (t_lo, t_hi) floats with 0 ≤ t_lo ≤ t_hi, else raise a clear ValueError."""
    if (not isinstance(t_interval, (tuple, list)) or len(t_interval) != 2
            or any(isinstance(t, bool) or not isinstance(t, (int, float)) for t in t_interval)):
        raise ValueError(f"t_interval must be two timesteps (t_lo, t_hi) such as (80, 799), got {t_interval!r}.")
    lo, hi = float(t_interval[0]), float(t_interval[1])
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0 or lo > hi:
        raise ValueError(f"t_interval must satisfy 0 ≤ t_lo ≤ t_hi (timesteps count down from ~999 to 0), got "
                         f"{t_interval!r}; e.g. (80, 799) guides all but the noisiest and the cleanest steps.")
    return lo, hi


def interval_of_steps(timesteps: torch.Tensor, start: float, stop: float) -> tuple[float, float]:
    """The (t_lo, t_hi) that guides the same steps as diffusers' ``ClassifierFreeGuidance(start=…, stop=…)``:
    step i of N (timesteps [N], counting down) is guided when int(start·N) ≤ i < int(stop·N)."""
    n = len(timesteps)
    first, last = int(start * n), int(stop * n) - 1
    if not 0 <= first <= last < n:
        raise ValueError(f"start={start}, stop={stop} guide no step of {n}; use 0 ≤ start < stop ≤ 1 "
                         f"with at least one step between them.")
    return float(timesteps[last]), float(timesteps[first])


def interval_guided_denoise(model: ConditionalModel, cond: torch.Tensor, uncond: torch.Tensor, guidance_scale: float,
                            t_interval: tuple[float, float]) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``denoise(x_t, t) -> ε̂``: guided with scale w while t_lo ≤ t ≤ t_hi, the conditional prediction elsewhere.

    Inside the interval it is ``guided_denoise`` (one pass on [2B, ...]); outside it one pass on the
    conditional half alone [B, ...], so an interval also saves the unconditional half's work.
    """
    lo, hi = check_interval(t_interval)
    guided = guided_denoise(model, cond, uncond, guidance_scale)

    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if lo <= float(t) <= hi:
            return guided(x_t, t)
        if x_t.shape[0] != cond.shape[0]:
            raise ValueError(f"{cond.shape[0]} conditions for a batch of {x_t.shape[0]} samples; give one "
                             "condition per sample.")
        # outside the interval: ε̂ = ε_cond
        return model(x_t, t, cond)

    return denoise
