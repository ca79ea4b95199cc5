"""Forward diffusion: turning a clean image x_0 into noise, step by step or in one jump.

One step of the forward process (Ho et al. 2020, eq. 2) keeps √(1−β_t) of the signal and adds
√β_t of fresh Gaussian noise:

    x_t = √(1 − β_t) · x_{t−1} + √β_t · ε,        ε ~ N(0, I)

Chaining t+1 such steps gives a Gaussian again, so x_t can be drawn in one jump (eq. 4):

    x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε,            ᾱ_t = ∏_{s ≤ t} (1 − β_s)

Timesteps are 0-based like diffusers: ``q_step(x_0, 0, ...)`` gives x at timestep 0, one step of
noise in. Noise is either passed in (``noise=``) or drawn from a CPU ``torch.Generator``
(``generator=``), never from torch's global random state.
"""
from __future__ import annotations

import torch

__all__ = ["gaussian_noise", "check_timesteps", "extract", "q_sample", "q_step", "noise_step_by_step"]


def gaussian_noise(shape: tuple[int, ...] | torch.Size, generator: torch.Generator, *,
                   device: str | torch.device | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """N(0, I) noise of ``shape`` drawn on the CPU from ``generator`` and then moved to ``device``.

    Drawing on the CPU (as diffusers' ``randn_tensor`` does for CPU generators) gives the same
    numbers on every machine, GPU or not.
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}. "
                        "Make one with course_utils.seeding.make_generator(seed).")
    if generator.device.type != "cpu":
        raise ValueError(f"The generator lives on {generator.device}, but the course draws all noise on the CPU "
                         "(then moves it to the device) so that a seed gives the same numbers everywhere. "
                         "Use make_generator(seed) without a device.")
    if not (isinstance(shape, (tuple, list, torch.Size))
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)):
        raise ValueError(f"shape must be a tuple of ints ≥ 0 such as (4, 3, 32, 32), got {shape!r}.")
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"Gaussian noise needs a floating-point dtype such as torch.float32, got {dtype!r}.")
    return torch.randn(tuple(shape), generator=generator, dtype=dtype).to(device or "cpu")


def check_timesteps(t: int | torch.Tensor, num_train_timesteps: int, batch: int | None = None) -> torch.Tensor:
    """``t`` (an int, or an integer tensor of shape [] or [B]) as a long tensor, after range checks."""
    if isinstance(t, bool) or not isinstance(t, (int, torch.Tensor)):
        raise TypeError(f"timesteps must be an int or an integer tensor, got {type(t).__name__}.")
    t = torch.as_tensor(t)
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.dtype.is_complex:
        raise TypeError(f"timesteps must be integers (0 … {num_train_timesteps - 1}), got a {t.dtype} tensor. "
                        "Use .long() on it, or torch.randint to draw timesteps.")
    if t.dim() > 1:
        raise ValueError(f"timesteps must be a single int or a 1-D tensor with one timestep per sample, "
                         f"got shape {tuple(t.shape)}.")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_train_timesteps):
        bad = int(t.min()) if int(t.min()) < 0 else int(t.max())
        raise ValueError(f"timestep {bad} is out of range: this schedule has T={num_train_timesteps} steps, "
                         f"so t must lie in [0, {num_train_timesteps - 1}].")
    if batch is not None and t.dim() == 1 and len(t) not in (1, batch):
        raise ValueError(f"got {len(t)} timesteps for a batch of {batch} samples; give one timestep per sample "
                         "(a tensor of shape [B]) or a single int for all.")
    return t.long()


def extract(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``values[t]`` reshaped to broadcast against ``like`` ([B, 1, 1, …] or a scalar), on its device/dtype."""
    out = values.to(device=like.device, dtype=like.dtype)[t.to(like.device)]
    return out.reshape(out.shape + (1,) * (like.dim() - out.dim())) if out.dim() == 1 else out


def _noise_for(x: torch.Tensor, noise: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise TypeError(f"the sample must be a floating-point tensor, got {type(x).__name__}"
                        f"{'' if not isinstance(x, torch.Tensor) else ' of ' + str(x.dtype)}.")
    if (noise is None) == (generator is None):
        raise ValueError("Pass exactly one of noise= (a tensor shaped like the sample) or generator= "
                         "(a CPU torch.Generator to draw it from).")
    if noise is None:
        return gaussian_noise(x.shape, generator, device=x.device, dtype=x.dtype)
    if not isinstance(noise, torch.Tensor) or noise.shape != x.shape:
        got = tuple(noise.shape) if isinstance(noise, torch.Tensor) else type(noise).__name__
        raise ValueError(f"noise must have the sample's shape {tuple(x.shape)}, got {got}.")
    return noise.to(device=x.device, dtype=x.dtype)


def q_sample(x0: torch.Tensor, t: int | torch.Tensor, alphas_cumprod: torch.Tensor,
             noise: torch.Tensor | None = None, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw x_t ~ q(x_t | x_0) in one jump.

    x0: ``[B, …]`` clean samples; t: an int or a long tensor ``[B]`` (one timestep per sample);
    alphas_cumprod: ``[T]``; noise: like ``x0`` (or pass ``generator`` to draw it). Returns ``[B, …]``.
    Equal to diffusers' ``DDPMScheduler.add_noise(x0, noise, t)``.
    """
    if not isinstance(alphas_cumprod, torch.Tensor) or alphas_cumprod.dim() != 1:
        raise ValueError("alphas_cumprod must be a 1-D tensor [T]; get one from make_schedule(...).alphas_cumprod.")
    eps = _noise_for(x0, noise, generator)
    t = check_timesteps(t, len(alphas_cumprod), batch=x0.shape[0] if x0.dim() else None)
    if t.dim() == 1 and x0.dim() == 0:
        raise ValueError("a batch of timesteps needs a batch of samples: x0 has no batch dimension.")
    a_bar = extract(alphas_cumprod, t, x0)                   # ᾱ_t, shaped [B, 1, 1, …]
    # x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε
    return a_bar.sqrt() * x0 + (1 - a_bar).sqrt() * eps


def q_step(x_prev: torch.Tensor, t: int | torch.Tensor, betas: torch.Tensor, noise: torch.Tensor | None = None,
           *, generator: torch.Generator | None = None) -> torch.Tensor:
    """One forward step: x_{t−1} ``[B, …]`` → x_t ``[B, …]`` with variance β_t (``betas``: ``[T]``)."""
    if not isinstance(betas, torch.Tensor) or betas.dim() != 1:
        raise ValueError("betas must be a 1-D tensor [T]; get one from make_schedule(...).betas.")
    eps = _noise_for(x_prev, noise, generator)
    t = check_timesteps(t, len(betas), batch=x_prev.shape[0] if x_prev.dim() else None)
    beta = extract(betas, t, x_prev)
    # x_t = √(1 − β_t) · x_{t−1} + √β_t · ε
    return (1 - beta).sqrt() * x_prev + beta.sqrt() * eps


def noise_step_by_step(x0: torch.Tensor, betas: torch.Tensor, t_stop: int, *, generator: torch.Generator,
                       keep: tuple[int, ...] | None = None) -> dict[int, torch.Tensor]:
    """Apply ``q_step`` for t = 0 … t_stop; return {t: x_t} for each t in ``keep`` (default: only t_stop).

    The chain draws fresh noise at every step from ``generator``. Its x_t has the same distribution as
    ``q_sample(x0, t, alphas_cumprod)`` — but not the same pixels, because the noise is drawn differently.
    """
    T = len(betas)
    keep = (t_stop,) if keep is None else tuple(keep)
    check_timesteps(t_stop, T)
    for k in keep:
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= t_stop:
            raise ValueError(f"keep holds timestep {k!r}, but the chain runs t = 0 … {t_stop}; keep only those.")
    out: dict[int, torch.Tensor] = {}
    x = x0
    for t in range(t_stop + 1):
        x = q_step(x, t, betas, generator=generator)
        if t in keep:
            out[t] = x
    return out
