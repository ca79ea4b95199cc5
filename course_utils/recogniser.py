"""The recogniser: a small CNN that says whether a picture shows the new animal (the hedgehog).

Notebook 11 teaches the text-to-image model an animal it never saw; the judge cannot tell whether it
worked (its subject head knows only the six old animals, and it stays as it shipped). This sits beside it:

    x [N, 3, 128, 128] ──average-pool 4──▶ [N, 3, 32, 32]
      ──3 × (conv 3×3 → BatchNorm → ReLU → max-pool 2)──▶ [N, 64, 4, 4] ──mean and max over space──▶ [N, 128]
      ──linear──▶ logit [N]: > 0 means "a hedgehog"

64 px inputs are average-pooled by 2 (as the judge reads them: ``storybook.render(size=32)`` is the same pooling),
so it also reads the text-to-image model's samples.

It is trained on renders only: half the images show the hedgehog, half one of the six old animals,
every action and place, with fresh render seeds each step (``labelled_batch``) and the judge's mild
corruptions. Training seeds and held-out seeds come from disjoint ranges, so ``held_out_accuracy`` reads
renders the recogniser never saw. How the shipped one is trained: ``course_utils/recipes/recogniser.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import storybook
from .checkpoints import CheckpointError, config_from_dict, load_model, read_config
from .judge import augment
from .paths import data_path
from .seeding import make_generator, seeded_init

__all__ = ["KIND", "NEW_SUBJECT", "TRAIN_SEEDS", "HELD_OUT_SEEDS", "RecogniserConfig", "Recogniser", "build_recogniser",
           "labelled_batch", "recogniser_loss", "held_out_accuracy", "load"]

KIND = "recogniser"
NEW_SUBJECT = storybook.NEW_SUBJECTS[0]
#: Render seeds [low, high) for training and for held-out checks: disjoint, and neither holds your_photos' seeds.
TRAIN_SEEDS = (2**32, 2**61)
HELD_OUT_SEEDS = (2**61, 2**62)


@dataclass(frozen=True)
class RecogniserConfig:
    """Sizes of the recogniser (saved in config.json next to the weights)."""
    channels: tuple[int, ...] = (16, 32, 64)
    input_size: int = 32
    subject: str = NEW_SUBJECT


class Recogniser(nn.Module):
    """Binary CNN: images [N, 3, 32|64|128, 32|64|128] in [-1, 1] → logits [N] ("a hedgehog" when > 0)."""

    def __init__(self, config: RecogniserConfig | None = None):
        super().__init__()
        self.config = config = config or RecogniserConfig()
        layers, c_in = [], 3
        for c in config.channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c_in, 1)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Images [N, 3, 32, 64 or 128 px] → [N, 3, 32, 32] (a 2×2 or 4×4 average)."""
        size = self.config.input_size
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2:] not in [(f * size, f * size) for f in (1, 2, 4)]:
            raise ValueError(f"the recogniser reads images [N, 3, H, H] in [-1, 1] with H = {size}, {2 * size} or "
                             f"{4 * size}, got shape {tuple(x.shape)}. Resize with "
                             f"torch.nn.functional.interpolate(x, size={4 * size}, mode='area').")
        factor = x.shape[-1] // size
        return F.avg_pool2d(x, factor) if factor > 1 else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits [N]: log p(hedgehog) − log p(another animal)."""
        h = self.body(self.prepare(x))
        return self.head(torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=1)).squeeze(1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """bool [N]: True where the picture shows the new animal."""
        return self(x) > 0


def build_recogniser(config: RecogniserConfig | None = None, *, seed: int = 0) -> Recogniser:
    """A fresh recogniser whose initial weights depend only on ``seed``."""
    with seeded_init(seed):                              # layer initialisation uses the global RNG
        return Recogniser(config)


def _scenes(subjects: list[str], generator: torch.Generator, seeds: tuple[int, int]) -> tuple[list, list[int]]:
    """One (subject, action, place) per subject, action and place uniform, and a render seed in [seeds)."""
    n = len(subjects)
    actions = torch.randint(len(storybook.ACTIONS), (n,), generator=generator).tolist()
    places = torch.randint(len(storybook.PLACES), (n,), generator=generator).tolist()
    render_seeds = torch.randint(seeds[0], seeds[1], (n,), generator=generator).tolist()
    triples = [(s, storybook.ACTIONS[a], storybook.PLACES[p]) for s, a, p in zip(subjects, actions, places)]
    return triples, render_seeds


def labelled_batch(n: int, generator: torch.Generator, size: int = 128, seeds: tuple[int, int] = TRAIN_SEEDS
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(images [n, 3, size, size], is_new float [n]): the first half the hedgehog, the rest the six old
    animals in turn, each in a random action and place with a render seed from ``seeds``, all drawn from ``generator``."""
    if isinstance(n, bool) or not (isinstance(n, int) and n >= 2):
        raise ValueError(f"n must be an int ≥ 2 (half hedgehogs, half other animals), got {n!r}.")
    half = n // 2
    subjects = [NEW_SUBJECT] * half + [storybook.SUBJECTS[i % len(storybook.SUBJECTS)] for i in range(n - half)]
    triples, render_seeds = _scenes(subjects, generator, seeds)
    images = storybook.render_batch(triples, render_seeds, size, allow_new=True)
    return images, torch.tensor([1.0] * half + [0.0] * (n - half))


def recogniser_loss(model: Recogniser, batch: tuple[torch.Tensor, torch.Tensor], generator: torch.Generator
                    ) -> torch.Tensor:
    """Binary cross-entropy −[y log σ(z) + (1 − y) log(1 − σ(z))] on mildly corrupted images (corrupted at the
    32 px the network reads, as the judge's are)."""
    images, is_new = batch
    logits = model(augment(model.prepare(images), generator))
    # L = BCE(σ(logit), y), averaged over the batch
    return F.binary_cross_entropy_with_logits(logits, is_new.to(images.device))


@torch.no_grad()
def held_out_accuracy(model: Recogniser, n: int = 2000, seed: int = 0, batch: int = 200) -> dict:
    """Accuracy on ``n`` fresh renders whose seeds no training batch draws (``HELD_OUT_SEEDS``): overall, on
    the hedgehog (recall), on the other animals, and per old subject (the share read as not a hedgehog)."""
    device = next(model.parameters()).device
    g = make_generator(seed)
    hedgehogs, per_subject = [], {s: [] for s in storybook.SUBJECTS}
    was_training = model.training
    model.eval()
    for start in range(0, n, batch):
        images, is_new = labelled_batch(min(batch, n - start), g, seeds=HELD_OUT_SEEDS)
        ok = (model.predict(images.to(device)).cpu().float() == is_new).tolist()
        k = int(is_new.sum())
        hedgehogs += ok[:k]
        for i, value in enumerate(ok[k:]):                 # the others come in SUBJECTS order
            per_subject[storybook.SUBJECTS[i % len(storybook.SUBJECTS)]].append(value)
    model.train(was_training)
    mean = lambda xs: round(sum(xs) / max(1, len(xs)), 4)                        # noqa: E731
    others = [v for vs in per_subject.values() for v in vs]
    return {"accuracy": mean(hedgehogs + others), "hedgehog": mean(hedgehogs), "others": mean(others),
            "images": len(hedgehogs) + len(others),
            "per_subject": {s: mean(v) for s, v in per_subject.items()}}


def load(folder: str | Path = KIND, *, device: str | torch.device | None = None) -> Recogniser:
    """The shipped recogniser from ``data/<folder>`` (sha256-checked), in eval mode on ``device``."""
    config = read_config(folder, kind=KIND)
    if config.get("subject") != NEW_SUBJECT or config.get("others") != list(storybook.SUBJECTS):
        raise CheckpointError(f"The recogniser in {data_path(folder)} was trained for another animal or other "
                              f"subjects. Rebuild it with `python -m course_utils.train {KIND}`.")
    known = {k: v for k, v in config.items() if k not in ("kind", "others")}
    return load_model(folder, KIND, lambda cfg: Recogniser(config_from_dict(RecogniserConfig, known, KIND)), device)
