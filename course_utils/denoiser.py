"""The course's pixel-space denoiser: a conditional diffusers ``UNet2DModel`` on 32×32 storybook scenes.

    ε_θ(x_t, t, c)    x_t: noisy image [B, 3, 32, 32], t: timestep [B], c: labels [B, 3] → noise [B, 3, 32, 32]

The condition c = (subject, action, place) enters as a SUM of three learned attribute embeddings,
added to the time embedding (``class_embed_type="identity"``). Each attribute has one extra "null"
row (label ``NULL = -1``) that means "any": training drops attributes at random, so one network learns
p(x), p(x | subject), …, p(x | subject, action, place). A sum of attributes (not one id per
composition) is what lets the model draw "squirrel fishing by a river" without ever having seen it.

Public helpers: ``build_model``, ``denoising_loss`` (the ε-prediction objective), ``drop_conditions``,
``load_denoiser``, ``make_denoise`` (the ``denoise(x_t, t)`` function ``samplers.sample`` calls),
``labels_from_captions``, ``generate`` and ``guided_pixel_samples``, and the sampler presets ``SAMPLERS`` /
``make_sampler`` that notebook 05 compares. Measuring it lives in ``course_utils.evaluation``; how the
shipped checkpoint is trained, in ``course_utils/recipes/pixel_unet.py`` (``python -m course_utils.train
pixel-unet``). Taught in notebooks 04 (training), 05 (sampling) and 06 (guidance).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import diffusers
import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from torch import nn

from .checkpoints import config_from_dict, load_model
from .forward import q_sample
from .guidance import guided_denoise
from .samplers import sample
from .schedules import make_schedule
from .seeding import seeded_init
from .storybook import ACTIONS, PLACES, SUBJECTS, parse_caption

__all__ = ["KIND", "NULL", "P_ALL", "P_EACH", "DenoiserConfig", "StorybookDenoiser", "build_model", "drop_conditions",
           "denoising_loss", "load_denoiser", "make_denoise", "labels_from_captions", "generate",
           "guided_pixel_samples", "scheduler_config", "SAMPLERS", "make_sampler"]

KIND = "pixel-unet"
#: Label value meaning "no condition on this attribute" (mapped to each embedding's extra row).
NULL = -1
#: Training drops whole label rows with probability P_ALL (these rows teach the unconditional model,
#: which notebook 05 samples and guidance needs) and, otherwise, each single label with probability P_EACH.
P_ALL, P_EACH = 0.1, 0.05


@dataclass
class DenoiserConfig:
    """Everything needed to rebuild the network before loading its weights (stored in config.json)."""
    sample_size: int = 32
    block_out_channels: tuple[int, ...] = (32, 64, 64)
    layers_per_block: int = 1
    down_block_types: tuple[str, ...] = ("DownBlock2D", "DownBlock2D", "AttnDownBlock2D")
    up_block_types: tuple[str, ...] = ("AttnUpBlock2D", "UpBlock2D", "UpBlock2D")
    norm_num_groups: int = 8
    vocab_sizes: tuple[int, int, int] = (6, 4, 5)       # len(SUBJECTS), len(ACTIONS), len(PLACES)
    beta_schedule: str = "squaredcos_cap_v2"
    num_train_timesteps: int = 1000
    prediction_type: str = "epsilon"
    kind: str = KIND

    @classmethod
    def from_dict(cls, config: dict) -> "DenoiserConfig":
        return config_from_dict(cls, config, KIND)


class StorybookDenoiser(nn.Module):
    """ε-prediction UNet conditioned on summed (subject, action, place) embeddings."""

    def __init__(self, config: DenoiserConfig):
        super().__init__()
        self.config = config
        c = config
        self.unet = UNet2DModel(
            sample_size=c.sample_size, in_channels=3, out_channels=3, block_out_channels=c.block_out_channels,
            layers_per_block=c.layers_per_block, down_block_types=c.down_block_types,
            up_block_types=c.up_block_types, norm_num_groups=c.norm_num_groups, class_embed_type="identity")
        emb_dim = self.unet.time_embedding.linear_2.out_features       # the time embedding's size
        # one table per attribute; row n (the last) is that attribute's "null"
        self.attributes = nn.ModuleList(nn.Embedding(n + 1, emb_dim) for n in c.vocab_sizes)
        schedule = make_schedule(c.beta_schedule, c.num_train_timesteps)
        self.register_buffer("alphas_cumprod", schedule.alphas_cumprod.clone(), persistent=False)

    def embed(self, labels: torch.Tensor) -> torch.Tensor:
        """labels [B, 3] (ints, NULL = -1) → condition embedding [B, emb_dim] = Σ_k E_k[c_k]."""
        if labels.dim() != 2 or labels.shape[1] != len(self.attributes):
            raise ValueError(f"labels must have shape [B, {len(self.attributes)}] (subject, action, place), "
                             f"got {tuple(labels.shape)}. Build them with labels_from_captions(captions).")
        rows = []
        for k, (table, n) in enumerate(zip(self.attributes, self.config.vocab_sizes)):
            col = labels[:, k].long()
            if bool(((col < NULL) | (col >= n)).any()):
                raise ValueError(f"label column {k} holds {col.tolist()}; values must be in [0, {n - 1}] or "
                                 f"NULL = {NULL} (no condition).")
            rows.append(table(torch.where(col == NULL, torch.full_like(col, n), col)))
        # c = E_subject[s] + E_action[a] + E_place[p]
        return torch.stack(rows).sum(0)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor | int, labels: torch.Tensor | None = None) -> torch.Tensor:
        """x_t [B, 3, H, W], t int or [B], labels [B, 3] or None (unconditional) → predicted ε [B, 3, H, W]."""
        if labels is None:
            labels = torch.full((x_t.shape[0], len(self.attributes)), NULL, dtype=torch.long, device=x_t.device)
        t = torch.as_tensor(t, device=x_t.device).long().reshape(-1).expand(x_t.shape[0])
        return self.unet(x_t, t, class_labels=self.embed(labels.to(x_t.device))).sample


def build_model(config: DenoiserConfig | None = None, *, seed: int = 0) -> StorybookDenoiser:
    """A freshly initialised denoiser (weights drawn under ``seed``, so the same seed gives the same model)."""
    with seeded_init(seed):            # diffusers initialises layers from the global RNG
        return StorybookDenoiser(config or DenoiserConfig())


def drop_conditions(labels: torch.Tensor, generator: torch.Generator, p_all: float = P_ALL,
                    p_each: float = P_EACH) -> torch.Tensor:
    """Replace labels [B, 3] by NULL: whole rows with prob ``p_all``, single entries with prob ``p_each``."""
    B, K = labels.shape
    drop_all = torch.rand(B, 1, generator=generator) < p_all
    drop_one = torch.rand(B, K, generator=generator) < p_each
    mask = (drop_all | drop_one).to(labels.device)
    return torch.where(mask, torch.full_like(labels, NULL), labels)


def denoising_loss(model: StorybookDenoiser, batch: tuple[torch.Tensor, torch.Tensor],
                   generator: torch.Generator, p_all: float = P_ALL, p_each: float = P_EACH,
                   snr_gamma: float | None = None) -> torch.Tensor:
    """The ε-prediction loss on one batch ``(x0 [B, 3, H, W] in [-1, 1], labels [B, 3])``; a scalar.

    Every random draw (t, ε, dropped conditions) comes from ``generator`` (the training step's).
    ``snr_gamma`` (e.g. 5) weights each image by min(SNR_t, γ) / SNR_t, "Min-SNR" (Hang et al., 2023):
    nearly clean images (huge SNR) count less, so training spends its effort on the noise levels that
    decide shapes. None = the plain loss every image weighted 1.
    """
    x0, labels = batch
    B, device = x0.shape[0], x0.device
    t = torch.randint(0, model.config.num_train_timesteps, (B,), generator=generator).to(device)
    eps = torch.randn(x0.shape, generator=generator).to(device)
    c = drop_conditions(labels, generator, p_all, p_each)
    # x_t = √ᾱ_t · x0 + √(1 − ᾱ_t) · ε
    x_t = q_sample(x0, t, model.alphas_cumprod, eps)
    if snr_gamma is None:
        # L = ‖ε − ε_θ(x_t, t, c)‖²   (mean over pixels and batch)
        return F.mse_loss(model(x_t, t, c), eps)
    # L = mean_b  w_b · ‖ε − ε_θ(x_t, t, c)‖²_b,   w = min(SNR_t, γ) / SNR_t,   SNR_t = ᾱ_t / (1 − ᾱ_t)
    snr = model.alphas_cumprod[t] / (1 - model.alphas_cumprod[t])
    weight = snr.clamp(max=snr_gamma) / snr
    per_image = F.mse_loss(model(x_t, t, c), eps, reduction="none").mean(dim=(1, 2, 3))
    return (weight * per_image).mean()


def load_denoiser(folder: str | Path = KIND, *, device: str | torch.device | None = None) -> StorybookDenoiser:
    """The shipped denoiser (EMA weights) from ``data/<folder>``, checked against its sha256 manifest."""
    return load_model(folder, KIND, lambda cfg: StorybookDenoiser(DenoiserConfig.from_dict(cfg)), device)


def make_denoise(model: StorybookDenoiser, labels: torch.Tensor | None = None, *,
                 guidance_scale: float | None = None) -> Callable:
    """``denoise(x_t, t) -> ε̂`` for ``samplers.sample``: conditional on labels [B, 3], or unconditional (None);
    with ``guidance_scale`` w, classifier-free guided against the all-NULL condition (notebook 06)."""
    if labels is not None and not isinstance(labels, torch.Tensor):
        raise TypeError("labels must be a LongTensor [B, 3]; turn captions into one with labels_from_captions().")
    if guidance_scale is not None:
        if labels is None:
            raise ValueError("guidance_scale needs labels: guidance pushes each image towards its own label row.")
        uncond = torch.full((1, labels.shape[1]), NULL, dtype=labels.dtype, device=labels.device)
        return torch.no_grad()(guided_denoise(lambda x, t, c: model(x, t, c), labels, uncond, guidance_scale))

    @torch.no_grad()
    def denoise(x_t: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        if labels is not None and labels.shape[0] != x_t.shape[0]:
            raise ValueError(f"{labels.shape[0]} labels for a batch of {x_t.shape[0]} images; give one label row "
                             "per image.")
        return model(x_t, t, labels)
    return denoise


def labels_from_captions(captions: Sequence[str]) -> torch.Tensor:
    """Captions such as "squirrel fishing by a river" → LongTensor [N, 3] of (subject, action, place) indices."""
    if isinstance(captions, str):
        raise TypeError("labels_from_captions takes a list of captions; wrap a single one as [caption].")
    rows = []
    for text in captions:
        s, a, p = parse_caption(text)
        rows.append([SUBJECTS.index(s), ACTIONS.index(a), PLACES.index(p)])
    return torch.tensor(rows, dtype=torch.long).reshape(-1, 3)


def scheduler_config(model: StorybookDenoiser) -> dict:
    """The keyword arguments every scheduler needs to match the model's training schedule."""
    c = model.config
    return {"num_train_timesteps": c.num_train_timesteps, "beta_schedule": c.beta_schedule,
            "prediction_type": c.prediction_type}


#: The samplers notebook 05 and the benchmarks compare: name → (diffusers scheduler, steps, its options).
#: The cosine schedule leaves ᾱ_999 ≈ 2e-9, so a step from t = 999 divides the network's error by
#: √ᾱ ≈ 5e-5. DDPM and DDIM clip their guess x̂0 to [-1, 1] and start there ("trailing" spacing);
#: DPM-Solver++ needs its thresholding switched on to do the same; Euler cannot clip, so it starts
#: at t = 960 ("leading" spacing), as Stable Diffusion's samplers start where ᾱ ≈ 0.005.
SAMPLERS: dict[str, tuple[str, int, dict]] = {
    "DDPM-1000": ("DDPMScheduler", 1000, {}),
    "DDIM-50": ("DDIMScheduler", 50, {"timestep_spacing": "trailing"}),
    "DDIM-25": ("DDIMScheduler", 25, {"timestep_spacing": "trailing"}),
    "DPM-Solver++-20": ("DPMSolverMultistepScheduler", 20,
                        {"algorithm_type": "dpmsolver++", "solver_order": 2, "timestep_spacing": "trailing",
                         "thresholding": True, "sample_max_value": 1.0}),
    "Euler-25": ("EulerDiscreteScheduler", 25, {"timestep_spacing": "leading"}),
}


def make_sampler(name: str, model: StorybookDenoiser):
    """``(scheduler, num_inference_steps)`` for a sampler of ``SAMPLERS``, set up for ``model``'s schedule."""
    if name not in SAMPLERS:
        raise ValueError(f"Unknown sampler {name!r}. Known samplers: {', '.join(SAMPLERS)}.")
    cls_name, steps, options = SAMPLERS[name]
    return getattr(diffusers, cls_name)(**scheduler_config(model), **options), steps


def generate(model: StorybookDenoiser, scheduler, *, n: int | None = None, labels: torch.Tensor | None = None,
             generator: torch.Generator, num_inference_steps: int, callback: Callable | None = None,
             progress: bool = False, guidance_scale: float | None = None) -> torch.Tensor:
    """Sample images [N, 3, H, W] in [-1, 1]: ``n`` unconditional ones, or one per row of ``labels``.

    With ``guidance_scale`` w (needs labels), each step is classifier-free guided against the all-NULL
    condition ("any subject, action, place"): ε̂ = ε̂(x, ∅) + w·(ε̂(x, c) − ε̂(x, ∅)), see notebook 06."""
    if guidance_scale is not None and labels is None:
        raise ValueError("guidance_scale needs labels: guidance pushes each image towards its own label row.")
    if (n is None) == (labels is None):
        raise ValueError("Give either n (unconditional samples) or labels (one image per row), not both or neither.")
    count = n if labels is None else labels.shape[0]
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"Need at least one image: n must be a positive int, got n={n!r} "
                         f"({'no' if labels is None else labels.shape[0]} label rows).")
    device = next(model.parameters()).device
    size = model.config.sample_size
    denoise = make_denoise(model, None if labels is None else labels.to(device), guidance_scale=guidance_scale)
    images = sample(denoise, scheduler,
                    (count, 3, size, size), generator=generator, num_inference_steps=num_inference_steps,
                    callback=callback, device=device, progress=progress)
    return images.clamp(-1, 1)


def guided_pixel_samples(model: StorybookDenoiser, labels: torch.Tensor, guidance_scale: float, *, scheduler: Any,
                         generator: torch.Generator, num_inference_steps: int) -> torch.Tensor:
    """Images [N, 3, H, W] in [-1, 1], one per label row [N, 3], guided with scale w against the all-NULL
    condition ("any subject, action, place"): ``generate`` with ``guidance_scale`` (notebook 06)."""
    return generate(model, scheduler, labels=labels, generator=generator, num_inference_steps=num_inference_steps,
                    guidance_scale=guidance_scale)
