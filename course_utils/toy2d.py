"""Diffusion on a 2D point cloud: a spiral, a small MLP that predicts the noise, and what it learns.

Everything the image models do happens here with points you can plot: noise a point with the
closed form, train a network to guess the noise (the ε-prediction loss), then run the reverse
process with ``samplers.sample``. The learned score ∇ log p_t(x) ≈ −ε̂(x, t) / √(1 − ᾱ_t) is a 2D
arrow field that points back towards the data.

    data = make_spiral(1000, make_generator(0))                 # [1000, 2] points
    run = train_toy(steps=1500, seed=0)                         # trained with training.train
    pts = sample_points(run.model, run.scheduler(), 1000, generator=make_generator(934743))
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn

from .env import pick
from .forward import gaussian_noise, q_sample
from .samplers import Trajectory, record_trajectory, sample
from .schedulers import DDIMScheduler, DDPMScheduler
from .seeding import make_generator
from .training import TrainConfig, TrainResult, train

__all__ = ["single_thread", "SPIRAL_NOISE", "spiral_curve", "make_spiral", "timestep_embedding", "ToyDenoiser",
           "diffusion_loss", "ToyRun", "train_toy", "denoiser", "sample_points", "toy_trajectory", "score_field",
           "distance_to_spiral", "in_support_share", "energy_distance", "sample_quality",
]

#: Std of the jitter around the spiral's centre line; "in the support" means within 4 of these.
SPIRAL_NOISE = 0.04
_TURNS = 1.25


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block, then restore the thread count.

    A 12k-parameter MLP gains nothing from a second thread, and when the cores are busy with other
    work, two threads waiting on each other made its training 20× slower (measured on the course's
    2-core machine).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def spiral_curve(s: torch.Tensor) -> torch.Tensor:
    """The spiral's centre line at arc parameter s ∈ [0, 1]: ``[N]`` → ``[N, 2]``, radius 0.2 … 1."""
    theta = 2 * math.pi * _TURNS * s + math.pi / 2
    r = 0.2 + 0.8 * s
    return torch.stack([r * torch.cos(theta), r * torch.sin(theta)], dim=-1)


def make_spiral(n: int, generator: torch.Generator, *, noise: float = SPIRAL_NOISE) -> torch.Tensor:
    """``n`` points ``[n, 2]`` on the spiral, jittered by N(0, noise²); all draws from ``generator``."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int (how many points), got {n!r}.")
    s = torch.rand(n, generator=generator).sqrt()          # √U: more points on the longer outer turns
    return spiral_curve(s) + noise * gaussian_noise((n, 2), generator)


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of timesteps ``[B]`` → ``[B, dim]`` (Transformer/DDPM style)."""
    half = dim // 2
    # ω_k = max_period^(−k / half),  emb = [sin(t ω), cos(t ω)]
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


class ToyDenoiser(nn.Module):
    """ε_θ(x_t, t): an MLP on [x_t, features(x_t), embedding(t)]; ``[B, 2]`` and ``[B]`` (or one t) → ``[B, 2]``.

    ``x_features`` > 0 adds sin/cos of each coordinate at that many frequencies (Fourier features),
    which lets a small MLP draw the spiral's thin arms after a few seconds of training.
    """

    def __init__(self, hidden: int = 64, depth: int = 3, time_dim: int = 32, x_features: int = 4, seed: int = 0):
        super().__init__()
        self.time_dim, self.x_features = time_dim, x_features
        layers: list[nn.Module] = [nn.Linear(2 + 4 * x_features + time_dim, hidden), nn.SiLU()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.SiLU()]
        self.net = nn.Sequential(*layers, nn.Linear(hidden, 2))
        g = make_generator(seed)        # torch's default init, U(−1/√fan_in, 1/√fan_in), but from a seeded generator
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                bound = layer.in_features ** -0.5
                for p in (layer.weight, layer.bias):
                    nn.init.uniform_(p, -bound, bound, generator=g)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != 2:
            raise ValueError(f"x must be a batch of 2D points [B, 2], got {tuple(x.shape)}.")
        t = torch.as_tensor(t, device=x.device)
        t = t.reshape(-1).expand(x.shape[0]) if t.numel() == 1 else t
        parts = [x, timestep_embedding(t, self.time_dim)]
        if self.x_features:
            # sin/cos(2^k · π · x) for k = 0 … K−1, per coordinate
            freqs = math.pi * 2.0 ** torch.arange(self.x_features, device=x.device)
            args = (x[:, :, None] * freqs).reshape(x.shape[0], -1)
            parts += [torch.sin(args), torch.cos(args)]
        return self.net(torch.cat(parts, dim=1))


def diffusion_loss(alphas_cumprod: torch.Tensor) -> Callable[[nn.Module, torch.Tensor, torch.Generator], torch.Tensor]:
    """The ε-prediction loss as ``loss(model, x0 [B, 2], generator)`` for ``training.train``."""
    T = len(alphas_cumprod)

    def loss(model: nn.Module, x0: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        t = torch.randint(0, T, (x0.shape[0],), generator=g).to(x0.device)      # t ~ U{0, …, T−1}
        eps = gaussian_noise(x0.shape, g, device=x0.device)                      # ε ~ N(0, I)
        x_t = q_sample(x0, t, alphas_cumprod, eps)                               # x_t = √ᾱ x_0 + √(1−ᾱ) ε
        # L = ‖ε − ε_θ(x_t, t)‖²
        return ((model(x_t, t) - eps) ** 2).mean()
    return loss


@dataclass
class ToyRun:
    """A trained toy model with the schedule it was trained on (``scheduler()`` builds a sampler for it)."""
    model: ToyDenoiser
    result: TrainResult
    beta_schedule: str

    def scheduler(self, kind: str = "ddpm"):
        """A fresh DDPM or DDIM scheduler on the training schedule (no clipping: the data is not an image)."""
        classes = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler}
        if kind not in classes:
            raise ValueError(f"kind must be 'ddpm' or 'ddim', got {kind!r}.")
        return classes[kind](beta_schedule=self.beta_schedule, clip_sample=False)


def train_toy(steps: int | None = None, *, seed: int = 0, beta_schedule: str = "squaredcos_cap_v2",
              batch_size: int = 256, lr: float = 1e-2, progress: bool = True,
              device: str | torch.device | None = None, **model_kwargs) -> ToyRun:
    """Train a ``ToyDenoiser`` on fresh spiral points with the course's training loop (a few seconds)."""
    steps = pick(2000, 600) if steps is None else steps
    model = ToyDenoiser(seed=seed, **model_kwargs)
    a_bar = DDPMScheduler(beta_schedule=beta_schedule).alphas_cumprod
    config = TrainConfig(steps=steps, lr=lr, lr_schedule="cosine", warmup_steps=min(100, steps // 10), seed=seed,
                         log_every=max(1, steps // 100))
    with single_thread():
        result = train(model, diffusion_loss(a_bar), lambda step, g: make_spiral(batch_size, g), config,
                       device=device, progress=progress)
    return ToyRun(model, result, beta_schedule)


def denoiser(model: nn.Module) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Wrap the MLP as ``denoise(x_t, t)`` for ``samplers.sample`` (one t for the whole batch)."""
    return lambda x, t: model(x, t)


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def sample_points(model: nn.Module, scheduler, n: int, *, generator: torch.Generator, num_inference_steps: int = 100,
                  eta: float | None = None) -> torch.Tensor:
    """``n`` generated points ``[n, 2]`` (on the CPU) with the course's sampling loop."""
    with single_thread():
        x = sample(denoiser(model), scheduler, (n, 2), generator=generator, num_inference_steps=num_inference_steps,
                   device=_device_of(model), eta=eta)
    return x.cpu()


def toy_trajectory(model: nn.Module, scheduler, n: int, *, generator: torch.Generator,
                   num_inference_steps: int = 100, eta: float | None = None) -> Trajectory:
    """The reverse paths of ``n`` points: ``xs`` ``[steps+1, n, 2]`` and ``pred_x0`` ``[steps, n, 2]``."""
    with single_thread():
        return record_trajectory(denoiser(model), scheduler, (n, 2), generator=generator,
                                 num_inference_steps=num_inference_steps, device=_device_of(model), eta=eta)


@torch.no_grad()
def score_field(model: nn.Module, alphas_cumprod: torch.Tensor, t: int, *, size: int = 17,
                lim: float = 1.3) -> tuple[torch.Tensor, torch.Tensor]:
    """The learned score on a ``size × size`` grid over [−lim, lim]²: (points ``[size², 2]``, score ``[size², 2]``)."""
    if not 0 <= t < len(alphas_cumprod):
        raise ValueError(f"timestep {t} is out of range [0, {len(alphas_cumprod) - 1}].")
    axis = torch.linspace(-lim, lim, size)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="xy"), dim=-1).reshape(-1, 2)
    eps = model(grid.to(_device_of(model)), torch.tensor(t)).cpu()
    # ∇ log p_t(x) ≈ −ε̂(x, t) / √(1 − ᾱ_t)
    return grid, -eps / (1 - alphas_cumprod[t]).sqrt()


def distance_to_spiral(points: torch.Tensor, resolution: int = 4000) -> torch.Tensor:
    """Distance of each point ``[N, 2]`` to the spiral's centre line (sampled at ``resolution`` points): ``[N]``."""
    curve = spiral_curve(torch.linspace(0, 1, resolution))
    return torch.cdist(points.float().cpu(), curve).min(dim=1).values


def in_support_share(points: torch.Tensor, tol: float = 4 * SPIRAL_NOISE) -> float:
    """Share of points within ``tol`` of the spiral (fresh data: ≈ 0.9997 for tol = 4 × jitter)."""
    return float((distance_to_spiral(points) <= tol).float().mean())


def energy_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Energy distance between point sets ``[N, 2]`` and ``[M, 2]``: 0 iff the laws match (Székely)."""
    # D² = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖
    a, b = a.float().cpu(), b.float().cpu()
    return float(2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())


def sample_quality(points: torch.Tensor, generator: torch.Generator) -> dict[str, float]:
    """How close generated points are to the data: share on the spiral, energy distance to fresh data."""
    fresh = make_spiral(len(points), generator)
    return {"in_support": in_support_share(points), "energy_distance": energy_distance(points, fresh)}
