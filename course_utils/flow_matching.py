"""Flow matching (rectified flow) on the 2D spiral: the same MLP as ``toy2d``, a straight-line target.

    x_t = (1 − t) · x0 + t · ε          t ∈ [0, 1]: data at t = 0, Gaussian noise at t = 1
    v   = dx_t / dt = ε − x0            the velocity along that straight line (the same at every t)
    L   = ‖v_θ(x_t, t) − (ε − x0)‖²     regress the velocity
    sample: x_1 ~ N(0, I), then Euler steps x_s = x_t + (s − t) · v_θ(x_t, t) down to t = 0

The network is ``toy2d.ToyDenoiser`` (it reads time as 1000·t, like the ε-model's timesteps), trained
with the one training loop and sampled with the one sampling loop through ``FlowMatchEulerScheduler``
(same σ grid and step as diffusers' ``FlowMatchEulerDiscreteScheduler``, which has no
``scale_model_input``). ``ddim_update`` shows that one Euler step here IS a DDIM step with α = 1 − t, σ = t.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .env import pick
from .forward import gaussian_noise
from .samplers import Trajectory, record_trajectory, sample
from .schedulers import DDIMScheduler, SchedulerOutput
from .seeding import make_generator
from .toy2d import ToyDenoiser, make_spiral, sample_points, sample_quality, single_thread
from .training import TrainConfig, TrainResult, train

__all__ = ["T_SCALE", "interpolate", "flow_matching_loss", "FlowMatchEulerScheduler", "FlowRun", "train_flow",
           "reflow_pairs", "flow_denoiser", "sample_flow", "flow_trajectory", "straightness", "ddim_update",
           "x0_eps_from_velocity", "few_step_table", "training_paths"]

#: The network sees time as T_SCALE · t, the range of the ε-model's integer timesteps.
T_SCALE = 1000.0


def interpolate(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The point at time t ``[B]`` on the straight line from data x0 ``[B, 2]`` to noise ε ``[B, 2]``."""
    t = t.reshape(-1, *([1] * (x0.dim() - 1)))
    # x_t = (1 − t) x0 + t ε
    return (1 - t) * x0 + t * eps


def flow_matching_loss(model: nn.Module, batch: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
                       generator: torch.Generator) -> torch.Tensor:
    """The rectified-flow loss on points x0 ``[B, 2]`` (ε drawn from ``generator``), or on coupled pairs
    ``(x0, ε)`` (reflow: ε is the noise the model itself turned into x0). t is drawn from ``generator``."""
    if isinstance(batch, (tuple, list)):
        x0, eps = batch
    else:
        x0, eps = batch, gaussian_noise(batch.shape, generator, device=batch.device)     # ε ~ N(0, I)
    t = torch.rand(x0.shape[0], generator=generator).to(x0.device)          # t ~ U[0, 1]
    x_t = interpolate(x0, eps, t)
    # L = ‖v_θ(x_t, t) − (ε − x0)‖²
    return ((model(x_t, T_SCALE * t) - (eps - x0)) ** 2).mean()


class FlowMatchEulerScheduler:
    """Euler on the flow ODE with diffusers' API: ``set_timesteps``, ``timesteps``, ``scale_model_input``, ``step``.

    n equal steps: σ = 1, 1 − 1/n, …, 1/n, then 0; the timesteps the model sees are 1000·σ. (diffusers'
    ``FlowMatchEulerDiscreteScheduler`` takes the same grid with ``set_timesteps(sigmas=…)``; its default
    grid ends at σ = 1/1000, which makes its last step tiny.)
    """
    init_noise_sigma = 1.0
    order = 1

    def __init__(self, num_train_timesteps: int = 1000):
        self.config = {"num_train_timesteps": num_train_timesteps, "prediction_type": "flow"}
        self.timesteps = torch.empty(0)
        self.sigmas = torch.empty(0)

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be a positive int, got {num_inference_steps!r}.")
        T = self.config["num_train_timesteps"]
        # σ_i = 1 − i / n,  i = 0 … n
        self.sigmas = torch.linspace(1.0, 0.0, num_inference_steps + 1, dtype=torch.float32).to(device)
        self.timesteps = self.sigmas[:-1] * T

    def scale_model_input(self, sample: torch.Tensor, timestep: Any) -> torch.Tensor:
        return sample                                            # the model sees x_t itself

    def _index(self, timestep: Any) -> int:
        hits = (self.timesteps - torch.as_tensor(timestep, dtype=torch.float32, device=self.timesteps.device)).abs() < 1e-3
        if not bool(hits.any()):
            raise ValueError(f"timestep {float(timestep)} is not one of this scheduler's timesteps; call "
                             "set_timesteps(n) and pass values from scheduler.timesteps.")
        return int(hits.nonzero()[0])

    def step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> SchedulerOutput:
        """One Euler step from σ_i to σ_{i+1}; also returns x̂0 = x_t − σ v̂ (where the straight line lands)."""
        i = self._index(timestep)
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        # x_{σ'} = x_σ + (σ' − σ) · v̂
        prev = sample + (sigma_next - sigma) * model_output
        # x̂0 = x_σ − σ · v̂
        return SchedulerOutput(prev_sample=prev, pred_original_sample=sample - sigma * model_output)


@dataclass
class FlowRun:
    """A trained velocity model and its training history."""
    model: ToyDenoiser
    result: TrainResult


def train_flow(steps: int | None = None, *, seed: int = 0, batch_size: int = 256, lr: float = 1e-2,
               pairs: tuple[torch.Tensor, torch.Tensor] | None = None, progress: bool = True,
               device: str | torch.device | None = None, **model_kwargs) -> FlowRun:
    """Train a velocity MLP (``toy2d.ToyDenoiser``) with the one training loop: on fresh spiral points, or
    on fixed ``pairs`` = (x0 [N, 2], ε [N, 2]) from ``reflow_pairs`` (then each batch is a random subset)."""
    steps = pick(2000, 600) if steps is None else steps
    model = ToyDenoiser(seed=seed, **model_kwargs)          # the same MLP (and init) as toy2d.train_toy
    config = TrainConfig(steps=steps, lr=lr, lr_schedule="cosine", warmup_steps=min(100, steps // 10), seed=seed,
                         log_every=max(1, steps // 100))
    if pairs is None:
        batch_fn = lambda step, g: make_spiral(batch_size, g)                        # noqa: E731
    else:
        x0, eps = pairs
        if x0.shape != eps.shape or x0.dim() != 2:
            raise ValueError(f"pairs must be (x0 [N, 2], eps [N, 2]) of equal shapes, got {tuple(x0.shape)} and "
                             f"{tuple(eps.shape)}. Make them with reflow_pairs(model, n, generator=g).")

        def batch_fn(step: int, g: torch.Generator):
            idx = torch.randint(x0.shape[0], (batch_size,), generator=g)
            return x0[idx], eps[idx]
    with single_thread():                                   # a 12k-parameter MLP: one thread is fastest
        result = train(model, flow_matching_loss, batch_fn, config, device=device, progress=progress)
    return FlowRun(model, result)


@torch.no_grad()
def reflow_pairs(model: nn.Module, n: int, *, generator: torch.Generator, num_inference_steps: int = 50
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0 [n, 2], ε [n, 2]): noise and the point the trained flow carries it to. Training a new flow on
    these coupled pairs ("reflow", Liu et al. 2022) straightens its paths, so fewer steps suffice."""
    # ε is the start noise samples.sample is about to draw: the same draw, from a copy of the generator
    eps = gaussian_noise((n, 2), torch.Generator().set_state(generator.get_state()))
    x0 = sample(flow_denoiser(model), FlowMatchEulerScheduler(), (n, 2), generator=generator,
                num_inference_steps=num_inference_steps, device=_device(model))
    return x0.cpu(), eps


def flow_denoiser(model: nn.Module):
    """``denoise(x_t, t) → v̂`` for ``samplers.sample`` (t is the scheduler's timestep 1000·σ)."""
    return lambda x, t: model(x, t)


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def sample_flow(model: nn.Module, n: int, *, generator: torch.Generator, num_inference_steps: int = 8) -> torch.Tensor:
    """``n`` points ``[n, 2]`` (CPU) from x_1 ~ N(0, I) by ``num_inference_steps`` Euler steps."""
    return sample(flow_denoiser(model), FlowMatchEulerScheduler(), (n, 2), generator=generator,
                  num_inference_steps=num_inference_steps, device=_device(model)).cpu()


def flow_trajectory(model: nn.Module, n: int, *, generator: torch.Generator, num_inference_steps: int = 50
                    ) -> Trajectory:
    """The Euler paths of ``n`` points: ``xs`` ``[steps+1, n, 2]`` from noise to data."""
    return record_trajectory(flow_denoiser(model), FlowMatchEulerScheduler(), (n, 2), generator=generator,
                             num_inference_steps=num_inference_steps, device=_device(model))


def straightness(xs: torch.Tensor) -> float:
    """Mean over points of ‖x_end − x_start‖ / path length, for paths ``[steps+1, N, D]``: 1 = a straight line."""
    if xs.dim() != 3 or xs.shape[0] < 2:
        raise ValueError(f"xs must be paths [steps+1, N, D] with at least 2 points, got {tuple(xs.shape)}. "
                         "Pass trajectory.xs.")
    length = (xs[1:] - xs[:-1]).norm(dim=-1).sum(0)
    chord = (xs[-1] - xs[0]).norm(dim=-1)
    return float((chord / length.clamp(min=1e-12)).mean())


def x0_eps_from_velocity(x_t: torch.Tensor, v: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Read a velocity as the pair (x̂0, ε̂) of the straight line through x_t: x_t = (1 − t) x̂0 + t ε̂, v = ε̂ − x̂0."""
    # x̂0 = x_t − t v,   ε̂ = x_t + (1 − t) v
    return x_t - t * v, x_t + (1 - t) * v


def ddim_update(x0_hat: torch.Tensor, eps_hat: torch.Tensor, alpha_s: float, sigma_s: float) -> torch.Tensor:
    """The deterministic DDIM step (η = 0): keep the predicted (x̂0, ε̂) and re-mix them at the next level."""
    # x_s = α_s x̂0 + σ_s ε̂      (DDPM's schedule: α = √ᾱ, σ = √(1 − ᾱ); rectified flow: α = 1 − s, σ = s)
    return alpha_s * x0_hat + sigma_s * eps_hat


def few_step_table(flow_models: dict[str, nn.Module], eps_run=None, steps: tuple[int, ...] = (1, 2, 4, 8), *,
                   n: int = 2000, seed: int = 0) -> list[dict]:
    """Energy distance to fresh spiral points (lower is better) after k sampling steps, same start noise.

    flow_models: name → velocity model (Euler steps). eps_run: optional ``toy2d.ToyRun`` sampled with DDIM
    (η = 0, "trailing" timesteps so one step starts from t = 999, x̂0 clipped to [−1, 1]: without the clip
    x̂0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t divides by √ᾱ_999 ≈ 0 and one- or two-step DDIM blows up).
    One row per k: {"steps": k, name: energy distance, …, "DDIM (ε-model)": …}.
    """
    rows = []
    for k in steps:
        row: dict[str, float] = {"steps": k}
        for name, model in flow_models.items():
            pts = sample_flow(model, n, generator=make_generator(seed), num_inference_steps=k)
            row[name] = sample_quality(pts, make_generator(seed + 1))["energy_distance"]
        if eps_run is not None:
            sched = DDIMScheduler(beta_schedule=eps_run.beta_schedule, clip_sample=True, timestep_spacing="trailing")
            pts = sample_points(eps_run.model, sched, n, generator=make_generator(seed), num_inference_steps=k, eta=0.0)
            row["DDIM (ε-model)"] = sample_quality(pts, make_generator(seed + 1))["energy_distance"]
        rows.append(row)
    return rows


def training_paths(x0: torch.Tensor, eps: torch.Tensor, alphas_cumprod: torch.Tensor | None = None,
                   num: int = 50) -> torch.Tensor:
    """The path each training pair (x0 [N, 2], ε [N, 2]) defines, at ``num`` + 1 times: ``[num+1, N, 2]``.

    Flow matching (``alphas_cumprod=None``): x_t = (1 − t) x0 + t ε, a straight line. DDPM: x_t = √ᾱ_t x0 +
    √(1 − ᾱ_t) ε at timesteps 0 … T−1, an arc (the two weights keep α² + σ² = 1).
    """
    if alphas_cumprod is None:
        t = torch.linspace(0, 1, num + 1)
        return torch.stack([interpolate(x0, eps, ti.expand(x0.shape[0])) for ti in t])
    idx = torch.linspace(0, len(alphas_cumprod) - 1, num + 1).round().long()
    a = alphas_cumprod[idx].float()[:, None, None]
    # x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε
    return a.sqrt() * x0[None] + (1 - a).sqrt() * eps[None]
