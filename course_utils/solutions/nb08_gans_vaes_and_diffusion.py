"""Reference solutions for 08_gans_vaes_and_diffusion. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

__all__ = ["SOLUTIONS"]


def _reparameterise():
    def reparameterise(mu, logvar, generator):
        eps = torch.randn(mu.shape, generator=generator)
        return mu + torch.exp(0.5 * logvar) * eps
    return reparameterise


def _kl():
    def kl(mu, logvar):
        return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)
    return kl


def _generator_loss():
    def generator_loss(fake_logits):
        return F.softplus(-fake_logits).mean()
    return generator_loss


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "08.reparameterise": _reparameterise,
    "08.kl": _kl,
    "08.generator_loss": _generator_loss,
}
