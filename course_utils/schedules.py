"""Noise schedules: how much noise each of the T forward steps adds.

A schedule is a list of T small variances β_0 … β_{T-1}. Everything else follows from it:

    α_t  = 1 − β_t                     how much of the signal one step keeps
    ᾱ_t  = α_0 · α_1 · … · α_t         how much of x_0 is left after t+1 steps (``alphas_cumprod``)
    SNR_t = ᾱ_t / (1 − ᾱ_t)            signal-to-noise ratio of x_t
    σ_t  = √((1 − ᾱ_t) / ᾱ_t)          noise level in "σ-space" (Euler/Karras samplers): 1/√SNR_t

Timesteps are 0-based like diffusers: x_0 is the clean image and timestep t has had t+1 noising
steps applied, so ``alphas_cumprod[t]`` = ᾱ_t. The schedule names are diffusers' names, so a
scheduler config works here and there alike:

    "linear"             β from beta_start to beta_end in equal steps (DDPM, Ho et al. 2020)
    "scaled_linear"      √β in equal steps (Stable Diffusion: beta_start=0.00085, beta_end=0.012)
    "squaredcos_cap_v2"  ᾱ follows a squared cosine, each β capped at 0.999 (Nichol & Dhariwal 2021)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["KNOWN_SCHEDULES", "SD_BETA_START", "SD_BETA_END", "make_betas", "alphas_cumprod_from_betas",
           "snr", "sigmas_from_alphas_cumprod", "NoiseSchedule", "make_schedule"]

#: The beta schedules this module (and diffusers) knows, by diffusers' names.
KNOWN_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
#: Stable Diffusion's scaled-linear range.
SD_BETA_START, SD_BETA_END = 0.00085, 0.012


def _check_schedule_args(name: str, num_train_timesteps: int, beta_start: float, beta_end: float) -> None:
    if name not in KNOWN_SCHEDULES:
        raise ValueError(f"Unknown beta schedule {name!r}. Known schedules: {', '.join(KNOWN_SCHEDULES)}.")
    if isinstance(num_train_timesteps, bool) or not isinstance(num_train_timesteps, int) or num_train_timesteps < 1:
        raise ValueError(f"num_train_timesteps must be a positive int such as 1000, got {num_train_timesteps!r}.")
    if name != "squaredcos_cap_v2" and not 0.0 < beta_start <= beta_end < 1.0:
        raise ValueError(f"Need 0 < beta_start <= beta_end < 1, got beta_start={beta_start}, beta_end={beta_end}. "
                         "Typical values: 0.0001 and 0.02 (linear), 0.00085 and 0.012 (scaled_linear).")


def _cosine_alpha_bar(s: float) -> float:
    """ᾱ(s) for continuous time s ∈ [0, 1]: cos²(((s + 0.008) / 1.008) · π/2)."""
    return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2


def make_betas(name: str = "linear", num_train_timesteps: int = 1000, beta_start: float = 0.0001,
               beta_end: float = 0.02) -> torch.Tensor:
    """The T variances β_t of schedule ``name``: a float32 tensor ``[num_train_timesteps]``.

    ``beta_start`` and ``beta_end`` are ignored by "squaredcos_cap_v2" (as in diffusers).
    """
    _check_schedule_args(name, num_train_timesteps, beta_start, beta_end)
    T = num_train_timesteps
    if name == "linear":
        # β_t = β_start + (β_end − β_start) · t / (T − 1)
        return torch.linspace(beta_start, beta_end, T, dtype=torch.float32)
    if name == "scaled_linear":
        # √β_t = √β_start + (√β_end − √β_start) · t / (T − 1)
        return torch.linspace(beta_start**0.5, beta_end**0.5, T, dtype=torch.float32) ** 2
    # β_t = min(1 − ᾱ((t+1)/T) / ᾱ(t/T), 0.999): each step removes the share of signal the cosine curve asks for
    betas = [min(1 - _cosine_alpha_bar((t + 1) / T) / _cosine_alpha_bar(t / T), 0.999) for t in range(T)]
    return torch.tensor(betas, dtype=torch.float32)


def alphas_cumprod_from_betas(betas: torch.Tensor) -> torch.Tensor:
    """ᾱ_t = ∏_{s ≤ t} (1 − β_s) for a ``[T]`` tensor of betas; returns ``[T]``."""
    if not isinstance(betas, torch.Tensor) or betas.dim() != 1:
        raise ValueError("betas must be a 1-D tensor [T]; build one with make_betas(name, T).")
    if not betas.dtype.is_floating_point or not bool(((betas >= 0) & (betas <= 1)).all()):
        raise ValueError("betas must be floats in [0, 1] (each is the share of variance a step adds); got values "
                         f"outside it or NaN. Build them with make_betas(name, T).")
    # ᾱ_t = ∏_{s=0}^{t} α_s  with  α_s = 1 − β_s
    return torch.cumprod(1.0 - betas, dim=0)


def snr(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Signal-to-noise ratio of x_t for each t: ``[T]`` → ``[T]``. It falls from large to near 0."""
    # SNR_t = ᾱ_t / (1 − ᾱ_t)
    return alphas_cumprod / (1.0 - alphas_cumprod)


def sigmas_from_alphas_cumprod(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """Noise level in σ-space (x̃_t = x_0 + σ_t ε, used by Euler/Karras samplers): ``[T]`` → ``[T]``."""
    # σ_t = √((1 − ᾱ_t) / ᾱ_t) = 1 / √SNR_t
    return ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5


@dataclass(frozen=True)
class NoiseSchedule:
    """A named schedule with its derived quantities (each a float32 tensor ``[T]``)."""
    name: str
    betas: torch.Tensor
    alphas_cumprod: torch.Tensor

    @property
    def num_train_timesteps(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def snr(self) -> torch.Tensor:
        return snr(self.alphas_cumprod)

    @property
    def sigmas(self) -> torch.Tensor:
        return sigmas_from_alphas_cumprod(self.alphas_cumprod)

    def alpha_bar(self, t: int) -> float:
        """ᾱ_t as a Python float, with a clear error for t outside [0, T−1]."""
        T = self.num_train_timesteps
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < T:
            raise ValueError(f"timestep {t!r} is out of range: this schedule has T={T} steps, so t must be an int "
                             f"in [0, {T - 1}].")
        return float(self.alphas_cumprod[t])


def make_schedule(name: str = "linear", num_train_timesteps: int = 1000, beta_start: float = 0.0001,
                  beta_end: float = 0.02) -> NoiseSchedule:
    """Build schedule ``name`` (one of ``KNOWN_SCHEDULES``) with its betas and ᾱ_t."""
    betas = make_betas(name, num_train_timesteps, beta_start, beta_end)
    return NoiseSchedule(name, betas, alphas_cumprod_from_betas(betas))
