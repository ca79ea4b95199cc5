"""The judge: a small CNN that reads subject, action and place from a storybook image.

The course measures its own generators with it (``course_utils.metrics``): prompt adherence is the
share of samples whose three attributes the judge reads as the prompt's, and its penultimate
features stand in for Inception's in judge-FID / judge-KID (no Inception weights offline).

    x [N, 3, 32, 32] ──3 × (conv 3×3 → BatchNorm → ReLU → max-pool 2)──▶ [N, 128, 4, 4]
      ──flatten → linear──▶ features [N, 128] ──ReLU → linear──▶ subject [N, 6], action [N, 4], place [N, 5]

64 and 128 px inputs are average-pooled to 32 px first (exactly how ``storybook.render(size=32)`` is made).
It is trained only on TRAINING compositions, with fresh renders every step, and checked on fresh
renders of both the training and the held-out compositions (``evaluation.accuracy_table``). How the
shipped judge is trained: ``course_utils/recipes/judge.py``. Taught in notebooks 04 and 05.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import storybook
from .checkpoints import CheckpointError, load_model, read_config
from .paths import data_path
from .seeding import seeded_init

__all__ = ["KIND", "ATTRIBUTES", "JudgeConfig", "Judge", "build_judge", "judge_loss", "augment", "load"]

KIND = "judge"
ATTRIBUTES = ("subject", "action", "place")


@dataclass(frozen=True)
class JudgeConfig:
    """Sizes of the judge (saved in config.json next to the weights)."""
    channels: tuple[int, ...] = (32, 64, 128)
    features: int = 128
    input_size: int = 32
    classes: tuple[int, int, int] = (len(storybook.SUBJECTS), len(storybook.ACTIONS), len(storybook.PLACES))
    feature_scale: float = 1.0      # features() divides by this: their RMS on renders, so FID/KID read ~1

    @classmethod
    def from_dict(cls, d: dict) -> "JudgeConfig":
        return cls(channels=tuple(d["channels"]), features=int(d["features"]), input_size=int(d["input_size"]),
                   classes=tuple(d["classes"]), feature_scale=float(d.get("feature_scale", 1.0)))


class Judge(nn.Module):
    """Three-headed CNN classifier with a ``features`` method (the penultimate activations)."""

    def __init__(self, config: JudgeConfig | None = None):
        super().__init__()
        self.config = config = config or JudgeConfig()
        layers, c_in = [], 3
        for c in config.channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        self.body = nn.Sequential(*layers)
        side = config.input_size // 2 ** len(config.channels)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, config.features))
        self.heads = nn.ModuleList(nn.Linear(config.features, k) for k in config.classes)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        size = self.config.input_size
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"the judge reads images [N, 3, H, W], got shape {tuple(x.shape)}.")
        for factor in (2, 4):
            if x.shape[-2:] == (factor * size, factor * size):
                x = F.avg_pool2d(x, factor)             # 64 or 128 px → 32 px, as render(size=32) averages
        if x.shape[-2:] != (size, size):
            raise ValueError(f"the judge reads {size}, {2 * size} or {4 * size} px images, got {tuple(x.shape[-2:])}. "
                             f"Resize with torch.nn.functional.interpolate(x, size={size}, mode='area').")
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features [N, features] of images [N, 3, 32|64, 32|64] in [-1, 1]: the linear layer's
        output before the heads' ReLU, divided by ``config.feature_scale`` (RMS ≈ 1 on renders)."""
        return self.embed(self.body(self._prepare(x))) / self.config.feature_scale

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (subject [N, 6], action [N, 4], place [N, 5])."""
        h = F.relu(self.embed(self.body(self._prepare(x))))
        return tuple(head(h) for head in self.heads)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The judge's reading of each image: labels [N, 3] (indices into SUBJECTS, ACTIONS, PLACES)."""
        return torch.stack([logits.argmax(-1) for logits in self(x)], dim=1)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mild corruptions so the judge also reads imperfect samples: half the images get Gaussian noise
    (σ up to 0.15), a quarter get a 3×3 blur. Every draw comes from ``generator``."""
    n = x.shape[0]
    blur = torch.rand(n, 1, 1, 1, generator=generator) < 0.25
    x = torch.where(blur.to(x.device), F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False), x)
    sigma = 0.15 * torch.rand(n, 1, 1, 1, generator=generator) * (torch.rand(n, 1, 1, 1, generator=generator) < 0.5)
    return x + (sigma * torch.randn(x.shape, generator=generator)).to(x.device)


def judge_loss(model: Judge, batch: tuple[torch.Tensor, torch.Tensor], generator: torch.Generator) -> torch.Tensor:
    """Sum over the three heads of the cross-entropy −log p(label | image), on augmented images."""
    images, labels = batch
    logits = model(augment(images, generator))
    # L = Σ_heads CE(logits_k, y_k)
    return sum(F.cross_entropy(lk, labels[:, k]) for k, lk in enumerate(logits))


def build_judge(config: JudgeConfig | None = None, *, seed: int = 0) -> Judge:
    """A fresh judge whose initial weights depend only on ``seed``."""
    with seeded_init(seed):                              # layer initialisation uses the global RNG
        return Judge(config)


def load(folder: str | Path = KIND, *, device: str | torch.device | None = None) -> Judge:
    """The shipped judge from ``data/<folder>`` (sha256-checked), in eval mode on ``device``."""
    config = read_config(folder, kind=KIND)
    vocab = (list(storybook.SUBJECTS), list(storybook.ACTIONS), list(storybook.PLACES))
    if (config.get("subjects"), config.get("actions"), config.get("places")) != vocab:
        raise CheckpointError(f"The judge in {data_path(folder)} was trained on another storybook vocabulary. "
                              f"Rebuild it with `python -m course_utils.train {KIND}`.")
    return load_model(folder, KIND, lambda cfg: Judge(JudgeConfig.from_dict(cfg)), device)
