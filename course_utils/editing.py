"""Editing a picture with a trained text-to-image model: img2img, inversion, one-word edits, inpainting, slerp.

Every method here reuses the text-to-image loop of notebook 07 (``samplers.sample``) and changes only
where it starts, which prompts guide it, or what it keeps:

    img2img   image ──VAE──▶ z_0 ──noise to t_s = strength·T──▶ z_{t_s} ──denoise with the prompt──▶ z_0′ ──▶ image′
    invert    image ──VAE──▶ z_0 ──DDIM run backwards (t = 0 → T) with the prompt──▶ z_T   (noise that redraws it)
    edit      z_T from invert(source) ──DDIM with ε̂ = ε(source) + w·(ε(target) − ε(source))──▶ the edited image
    inpaint   at every step: z = m·z_generated + (1 − m)·z_0 noised to the same t   (m: the mask in latent cells)

Images are float tensors [N, 3, H, W] in [-1, 1] at the pipeline's size (128 px for the course's
model); a single [3, H, W] picture is taken as N = 1. Each function checks its input before any work.
Taught in notebook 10 (``notebooks/10_editing_and_control.ipynb``); tested in ``tests/test_editing.py``.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch
import torch.nn.functional as F
from diffusers import DDIMInverseScheduler, DDIMScheduler

from .forward import gaussian_noise
from .guidance import check_guidance_scale, guided_denoise
from .pipelines import check_prompt, check_steps
from .samplers import sample
from .seeding import make_generator
from .storybook import normalize_caption
from .text_to_image import encode_text, tokenize

__all__ = ["EDIT_GUIDANCE", "image_size", "check_image", "check_mask", "check_strength", "encode", "decode", "embed_prompts",
           "start_step", "img2img", "ddim_schedulers", "invert", "regenerate", "edit", "grow_mask", "latent_mask", "inpaint",
           "lerp", "slerp"]

#: Guidance of a one-word edit (ε(source) + w·(ε(target) − ε(source))): the best of w = 1.5 … 4 on 60 validation
#: scenes (experiments/edit_guidance: the judge read the whole edited caption in 77 / 80 / 78 / 72 / 68 % at
#: w = 1.5 / 2 / 2.5 / 3 / 4); benchmarks/editing_quality.py reports it on other scenes.
EDIT_GUIDANCE = 2.0


# ----------------------------------------------------------------------------- input checks
def image_size(pipe) -> int:
    """The side in pixels the pipeline draws by default: latent side × the VAE's factor (128 for the course's model)."""
    return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)


def check_image(image: torch.Tensor, pipe, name: str = "image") -> torch.Tensor:
    """``image`` as [N, 3, H, W] on the pipeline's size and in [-1, 1], else a ValueError naming the problem."""
    side = image_size(pipe)
    if not isinstance(image, torch.Tensor) or not image.is_floating_point():
        raise TypeError(f"{name} must be a float tensor [N, 3, {side}, {side}] in [-1, 1] (storybook.render(…, "
                        f"size={side}) gives one), got {type(image).__name__}"
                        + (f" of {image.dtype}" if isinstance(image, torch.Tensor) else "") + ".")
    x = image.unsqueeze(0) if image.dim() == 3 else image
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be [N, 3, H, W] (or one picture [3, H, W]), got shape {tuple(image.shape)}.")
    if tuple(x.shape[-2:]) != (side, side):
        raise ValueError(f"{name} is {x.shape[-2]}×{x.shape[-1]} px, but this model draws {side}×{side}; render "
                         f"it at size={side} (or resize it with torch.nn.functional.interpolate).")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf.")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1 - 1e-4 or hi > 1 + 1e-4:
        hint = " It looks like 0–255 pixels: use x / 127.5 − 1." if hi > 2 else " Scale it with x * 2 − 1 if it is in [0, 1]."
        raise ValueError(f"{name} must lie in [-1, 1] (the course's image range), but it spans [{lo:.3g}, {hi:.3g}].{hint}")
    return x.clamp(-1, 1)


def check_mask(mask: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """``mask`` as a float [N, 1, H, W] of 0s and 1s (1 = repaint) matching ``image`` [N, 3, H, W], else a ValueError."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a tensor of 0s and 1s [N, 1, H, W] (1 = repaint), got {type(mask).__name__}.")
    m = mask
    if m.dim() == 2:
        m = m[None, None]
    elif m.dim() == 3:
        m = m[:, None] if m.shape[0] == image.shape[0] and m.shape[0] != 1 else m[None]
    if m.dim() != 4 or m.shape[1] != 1 or tuple(m.shape[-2:]) != tuple(image.shape[-2:]) \
            or m.shape[0] not in (1, image.shape[0]):
        raise ValueError(f"mask must be [N, 1, H, W] with the image's size {tuple(image.shape[-2:])} and N = 1 or "
                         f"{image.shape[0]}, got shape {tuple(mask.shape)}.")
    m = m.float()
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError("mask must be binary (0 = keep, 1 = repaint), but it holds other values; threshold it, "
                         "e.g. (mask > 0.5).float().")
    if not bool(m.any()):
        raise ValueError("mask is all 0: there is nothing to repaint.")
    return m.expand(image.shape[0], 1, *image.shape[-2:])


def check_strength(strength: float) -> float:
    """``strength`` as a float in (0, 1], else a ValueError (0 = keep the image, 1 = start from pure noise)."""
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not 0 < strength <= 1:
        raise ValueError(f"strength must be a number in (0, 1] (how much of the noise schedule to redo: 0.3 keeps "
                         f"most of the picture, 1.0 redraws it from pure noise), got {strength!r}.")
    return float(strength)


# ----------------------------------------------------------------------------- pieces
@torch.no_grad()
def encode(pipe, image: torch.Tensor) -> torch.Tensor:
    """Pixels [N, 3, H, W] in [-1, 1] → scaled latents z_0 = s · mean(E(x)) [N, 4, H/8, W/8]."""
    x = check_image(image, pipe).to(pipe.vae.device, pipe.vae.dtype)
    return pipe.vae.encode(x).latent_dist.mean * pipe.vae.config.scaling_factor


@torch.no_grad()
def decode(pipe, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents [N, 4, h, w] → pixels [N, 3, 8h, 8w] in [-1, 1], on the CPU."""
    return pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample.clamp(-1, 1).float().cpu()


@torch.no_grad()
def embed_prompts(pipe, prompts: str | Sequence[str]) -> torch.Tensor:
    """Prompts → text embeddings [B, L, D], each prompt checked ("" is the unconditional prompt)."""
    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    vocabulary = getattr(pipe, "vocabulary", None)
    for p in prompts:
        if not (isinstance(p, str) and p == ""):
            check_prompt(p, pipe.tokenizer, vocabulary)
    if vocabulary is not None:
        prompts = [normalize_caption(p) if p.strip() else p for p in prompts]
    return encode_text(pipe.text_encoder, tokenize(pipe.tokenizer, prompts))


def _model(pipe):
    """The UNet as ``model(z_t, t, c) -> ε̂``."""
    return lambda z, t, c: pipe.unet(z, t, encoder_hidden_states=c).sample


def _fresh(scheduler):
    """A new scheduler of the same class and config (a call never changes ``pipe.scheduler``'s state)."""
    return type(scheduler).from_config(scheduler.config)


def _per_image(prompt: str | Sequence[str], n: int) -> list[str]:
    prompts = [prompt] * n if isinstance(prompt, str) else list(prompt)
    if len(prompts) != n:
        raise ValueError(f"got {len(prompts)} prompts for {n} images; give one prompt, or one per image.")
    return prompts


def start_step(strength: float, num_inference_steps: int) -> int:
    """How many of the schedule's first steps img2img skips (as diffusers counts it): n − ⌊n · strength⌋."""
    strength = check_strength(strength)
    redo = min(int(num_inference_steps * strength), num_inference_steps)
    if redo < 1:
        raise ValueError(f"strength={strength} of {num_inference_steps} steps redoes no step at all; use "
                         f"strength ≥ 1/{num_inference_steps} or more steps.")
    return num_inference_steps - redo


# ----------------------------------------------------------------------------- img2img (SDEdit)
@torch.no_grad()
def img2img(pipe, image: torch.Tensor, prompt: str | Sequence[str], *, strength: float, generator: torch.Generator,
            num_inference_steps: int = 25, guidance_scale: float | None = None,
            negative_prompt: str = "") -> torch.Tensor:
    """SDEdit: noise the image's latent to the timestep ``strength`` of the way up, then denoise it with the prompt.

    Equal to diffusers' ``StableDiffusionImg2ImgPipeline`` given the same latents (it samples the VAE's
    posterior; this takes its mean). Returns images [N, 3, H, W] in [-1, 1].
    """
    x = check_image(image, pipe)
    n = check_steps(num_inference_steps, pipe.scheduler.config.num_train_timesteps)
    skip = start_step(strength, n)
    w = check_guidance_scale(pipe.default_guidance if guidance_scale is None else guidance_scale)
    z0 = encode(pipe, x)
    scheduler = _fresh(pipe.scheduler)
    scheduler.set_timesteps(n)
    t_start = scheduler.timesteps[skip * scheduler.order]
    # z_t = √ᾱ_t · z_0 + √(1 − ᾱ_t) · ε    (forward diffusion of notebook 02, in one jump)
    noise = gaussian_noise(z0.shape, generator, device=z0.device)
    z_t = scheduler.add_noise(z0, noise, t_start.reshape(1))
    cond = embed_prompts(pipe, _per_image(prompt, len(x)))
    uncond = embed_prompts(pipe, _per_image(negative_prompt, len(x)))
    denoise = guided_denoise(_model(pipe), cond, uncond, w)
    z = sample(denoise, scheduler, tuple(z_t.shape), generator=generator, num_inference_steps=n,
               latents=z_t, start_step=skip, device=z0.device)
    return decode(pipe, z)


# ----------------------------------------------------------------------------- inversion and edits
def ddim_schedulers(pipe) -> tuple[DDIMScheduler, DDIMInverseScheduler]:
    """DDIM (η = 0) and its inverse on the pipeline's noise schedule, with the same trailing timesteps."""
    settings = dict(clip_sample=False, set_alpha_to_one=True, timestep_spacing="trailing", steps_offset=1)
    return (DDIMScheduler.from_config(pipe.scheduler.config, **settings),
            DDIMInverseScheduler.from_config(pipe.scheduler.config, **settings))


@torch.no_grad()
def invert(pipe, image: torch.Tensor, prompt: str | Sequence[str], *, num_inference_steps: int = 50,
           strength: float = 1.0) -> torch.Tensor:
    """DDIM inversion: the noise latent z_T [N, 4, h, w] from which DDIM with ``prompt`` redraws the image.

    With ``strength`` < 1 it stops part-way up, at the timestep img2img of that strength would start from.

    DDIM's step is deterministic, so it can be run backwards: each step moves z from t to the next
    larger t′ along the model's ε̂. That ε̂ should come from the unknown z_{t′}; it is computed from the known
    z_t instead (with the timestep t′), the approximation that makes inversion a single pass.
    """
    x = check_image(image, pipe)
    if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, numbers.Integral) \
            or num_inference_steps <= 0:
        raise ValueError(f"num_inference_steps for inversion must be a whole number ≥ 1 (50 is a good choice), "
                         f"got {num_inference_steps!r}.")
    n = check_steps(num_inference_steps, pipe.scheduler.config.num_train_timesteps)
    skip = start_step(strength, n)
    z0 = encode(pipe, x)
    cond = embed_prompts(pipe, _per_image(prompt, len(x)))
    _, inverse = ddim_schedulers(pipe)
    denoise = lambda z, t: _model(pipe)(z, t, cond)             # noqa: E731   the prompt's own ε̂ (w = 1)
    return sample(denoise, inverse, tuple(z0.shape), generator=None, num_inference_steps=n, latents=z0,
                  stop_step=n - skip, device=z0.device)


@torch.no_grad()
def regenerate(pipe, z_T: torch.Tensor, prompt: str | Sequence[str], *, negative_prompt: str | Sequence[str] = "",
               num_inference_steps: int = 50, guidance_scale: float = 1.0, strength: float = 1.0) -> torch.Tensor:
    """DDIM (η = 0) from the given noise latents z_T with guided ε̂ = ε(negative) + w·(ε(prompt) − ε(negative));
    with ``strength`` < 1, from latents that ``invert(…, strength=strength)`` stopped part-way up."""
    n = check_steps(num_inference_steps, pipe.scheduler.config.num_train_timesteps)
    skip = start_step(strength, n)
    k = z_T.shape[0]
    cond = embed_prompts(pipe, _per_image(prompt, k))
    uncond = embed_prompts(pipe, _per_image(negative_prompt, k))
    ddim, _ = ddim_schedulers(pipe)
    denoise = guided_denoise(_model(pipe), cond, uncond, guidance_scale)
    # DDIM with η = 0 draws nothing; the generator is only there because the sampler asks for one.
    z = sample(denoise, ddim, tuple(z_T.shape), generator=make_generator(0), num_inference_steps=n, latents=z_T,
               start_step=skip, device=z_T.device)
    return decode(pipe, z)


def edit(pipe, image: torch.Tensor, source_prompt: str | Sequence[str], target_prompt: str | Sequence[str], *,
         num_inference_steps: int = 50, guidance_scale: float = EDIT_GUIDANCE, strength: float = 1.0) -> torch.Tensor:
    """Change what the prompt says and keep the rest: invert with ``source_prompt``, redraw with ``target_prompt``.

    The redraw is guided away from the source and towards the target, ε̂ = ε(source) + w·(ε(target) − ε(source)):
    the source prompt takes the place of the empty prompt in classifier-free guidance. With target = source
    this is ε(source) for every w, so the image comes back as it went in (up to the inversion's error).
    ``strength`` < 1 inverts only part-way up: less noise to redraw, more of the layout kept.
    """
    z_T = invert(pipe, image, source_prompt, num_inference_steps=num_inference_steps, strength=strength)
    return regenerate(pipe, z_T, target_prompt, negative_prompt=source_prompt, strength=strength,
                      num_inference_steps=num_inference_steps, guidance_scale=guidance_scale)


# ----------------------------------------------------------------------------- inpainting
def grow_mask(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """A binary mask [N, 1, H, W] grown by ``pixels`` on every side (a square max filter): room for a new shape."""
    if isinstance(pixels, bool) or not isinstance(pixels, int) or pixels < 0:
        raise ValueError(f"pixels must be a whole number ≥ 0, got {pixels!r}.")
    m = mask.float()[:, None] if mask.dim() == 3 else mask.float()
    return F.max_pool2d(m, 2 * pixels + 1, stride=1, padding=pixels) if pixels else m


def latent_mask(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """A pixel mask [N, 1, H, W] → the latent cells it touches [N, 1, H/f, W/f] (a cell with any masked pixel is 1)."""
    return F.max_pool2d(mask, kernel_size=factor)


@torch.no_grad()
def inpaint(pipe, image: torch.Tensor, mask: torch.Tensor, prompt: str | Sequence[str], *, generator: torch.Generator,
            num_inference_steps: int = 25, guidance_scale: float | None = None, keep_outside: bool = True) -> torch.Tensor:
    """Repaint the image inside ``mask`` (1 = repaint) with the prompt; keep the rest (blended latent diffusion).

    After every step the latent cells outside the mask are replaced by the image's own latent noised to
    the same level, so the model draws the inside to fit an outside it cannot change. ``keep_outside``
    then pastes the original pixels back outside the mask, as the method's authors do (the VAE's round
    trip alone would blur them).
    """
    x = check_image(image, pipe)
    m = check_mask(mask, x)
    n = check_steps(num_inference_steps, pipe.scheduler.config.num_train_timesteps)
    w = check_guidance_scale(pipe.default_guidance if guidance_scale is None else guidance_scale)
    z0 = encode(pipe, x)
    m_lat = latent_mask(m, int(pipe.vae_scale_factor)).to(z0)
    scheduler = _fresh(pipe.scheduler)
    scheduler.set_timesteps(n)
    ts = scheduler.timesteps
    noise = gaussian_noise(z0.shape, generator, device=z0.device)
    z_T = noise * scheduler.init_noise_sigma

    def keep_known(i: int, z: torch.Tensor) -> torch.Tensor:
        # z ← m · z + (1 − m) · q(z_0 at the next step's t), the clean z_0 after the last step
        known = scheduler.add_noise(z0, noise, ts[i + 1].reshape(1)) if i + 1 < len(ts) else z0
        return m_lat * z + (1 - m_lat) * known

    cond = embed_prompts(pipe, _per_image(prompt, len(x)))
    uncond = embed_prompts(pipe, [""] * len(x))
    denoise = guided_denoise(_model(pipe), cond, uncond, w)
    z = sample(denoise, scheduler, tuple(z0.shape), generator=generator, num_inference_steps=n, latents=z_T,
               after_step=keep_known, device=z0.device)
    out = decode(pipe, z)
    return m * out + (1 - m) * x.cpu() if keep_outside else out


# ----------------------------------------------------------------------------- interpolation
def lerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """(1 − t) · a + t · b."""
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation of each sample's vector (rows of [N, ...]; a single tensor is one vector).

    slerp(a, b, t) = sin((1 − t)θ)/sin θ · a + sin(tθ)/sin θ · b, with θ the angle between a and b.
    Two Gaussian noises are almost orthogonal, and their straight-line midpoint has only 1/√2 of their
    norm; slerp keeps the norm, so every point along the way is noise the model knows.
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor) or a.shape != b.shape:
        raise ValueError("slerp needs two tensors of the same shape, e.g. two noise latents [1, 4, 16, 16].")
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not 0 <= t <= 1:
        raise ValueError(f"t must be a number in [0, 1] (0 gives a, 1 gives b), got {t!r}.")
    flat_a = a.reshape(a.shape[0], -1) if a.dim() > 1 else a.reshape(1, -1)
    flat_b = b.reshape(flat_a.shape)
    cos = (F.normalize(flat_a, dim=1) * F.normalize(flat_b, dim=1)).sum(1, keepdim=True).clamp(-1, 1)
    theta = torch.arccos(cos)
    sin = torch.sin(theta)
    straight = sin.abs() < 1e-6                   # (anti)parallel vectors: no plane to turn in, fall back to lerp
    safe = torch.where(straight, torch.ones_like(sin), sin)
    wa = torch.where(straight, torch.full_like(sin, 1 - t), torch.sin((1 - t) * theta) / safe)
    wb = torch.where(straight, torch.full_like(sin, t), torch.sin(t * theta) / safe)
    return (wa * flat_a + wb * flat_b).reshape(a.shape)
