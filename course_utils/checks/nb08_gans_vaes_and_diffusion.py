"""Checks of the exercises in 08_gans_vaes_and_diffusion (solutions: ``course_utils/solutions/nb08_gans_vaes_and_diffusion.py``)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..exercises import Wrong, exercise
from ..seeding import make_generator
from ..vae import kl_divergence, reparameterise


def _mu_logvar(seed: int = 934743) -> tuple[torch.Tensor, torch.Tensor]:
    g = make_generator(seed)
    return torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g) - 1


@exercise("08.reparameterise", hint="σ = exp(½ · logvar); draw ε with torch.randn(mu.shape, generator=generator); "
                                    "return mu + σ * ε.")
def _check_reparameterise(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function reparameterise(mu, logvar, generator) that returns z.")
    mu, logvar = _mu_logvar()
    mu.requires_grad_(True)
    z = answer(mu, logvar, make_generator(656232))
    if not isinstance(z, torch.Tensor) or z.shape != mu.shape:
        raise Wrong("z should be a tensor shaped like mu, [8, 5] here.")
    eps = torch.randn(mu.shape, generator=make_generator(656232))
    if torch.allclose(z, mu.detach() + logvar.exp() * eps, atol=1e-5):
        raise Wrong("You multiplied ε by the variance exp(logvar); the standard deviation is exp(½ · logvar).")
    if not torch.allclose(z, reparameterise(mu.detach(), logvar, make_generator(656232)), atol=1e-5):
        raise Wrong("z is not μ + σ ⊙ ε with ε = torch.randn(mu.shape, generator=generator).")
    if not z.requires_grad:
        raise Wrong("z must stay connected to mu, so that gradients reach the encoder (no .detach(), no torch.no_grad).")


@exercise("08.kl", hint="KL = −½ · Σ over the latent axis of (1 + logvar − mu² − exp(logvar)); one number per row.")
def _check_kl(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function kl(mu, logvar) that returns one KL value per row.")
    mu, logvar = _mu_logvar(545488)
    got = answer(mu, logvar)
    if not isinstance(got, torch.Tensor) or got.shape != (8,):
        raise Wrong(f"kl should return a tensor [8] (one value per row, summed over the 5 latent numbers), got "
                    f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}.")
    if torch.allclose(got, -kl_divergence(mu, logvar), atol=1e-4):
        raise Wrong("Your KL is the right size but negative, and a KL divergence is never negative: check the sign "
                    "of the −½ in front.")
    terms = {"the 1": torch.ones_like(mu), "logvar": logvar, "mu²": -mu ** 2, "exp(logvar)": -logvar.exp()}
    for name, term in terms.items():               # −½ · Σ (1 + logvar − mu² − exp(logvar)) with one sign flipped
        if torch.allclose(got, -0.5 * (sum(terms.values()) - 2 * term).sum(dim=1), atol=1e-4):
            raise Wrong(f"Check the sign of {name} inside the sum: 1 + logvar − mu² − exp(logvar).")
    if not torch.allclose(got, kl_divergence(mu, logvar), atol=1e-4):
        raise Wrong("Your KL differs from KL(N(μ, σ²) ‖ N(0, 1)) summed over the latent axis.")
    if float(answer(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max()) > 1e-6:
        raise Wrong("The KL of N(0, 1) from itself must be 0.")


@exercise("08.generator_loss", hint="−log sigm(l) is F.softplus(−l); average it over the batch.")
def _check_generator_loss(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function generator_loss(fake_logits) that returns a scalar.")
    logits = torch.randn(64, generator=make_generator(934743)) * 3
    got = answer(logits)
    if not isinstance(got, torch.Tensor) or got.dim() != 0:
        raise Wrong("generator_loss should return one number as a 0-dimensional tensor (use .mean()).")
    if torch.allclose(got, -F.softplus(logits).mean(), atol=1e-5):
        raise Wrong("That is the saturating loss log(1 − sigm(l)): its gradient vanishes while D still wins. "
                    "Use −log sigm(l) instead.")
    if not torch.allclose(got, F.softplus(-logits).mean(), atol=1e-5):
        raise Wrong("Your loss is not the mean of −log sigm(l) over the fakes' logits.")
