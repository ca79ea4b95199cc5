"""Reference solutions for 07_text_to_image. Learners: try first, then peek."""
from __future__ import annotations

from typing import Any, Callable

import torch

__all__ = ["SOLUTIONS"]


def _pipe():
    from ..pipelines import load_text_to_image
    return load_text_to_image(device="cpu")


def _token_ids():
    tokenizer = _pipe().tokenizer
    return tokenizer("fox reading in the snow", padding="max_length", max_length=tokenizer.model_max_length).input_ids


def _to_pixels():
    pipe = _pipe()

    @torch.no_grad()
    def to_pixels(latents):
        images = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
        return (images / 2 + 0.5).clamp(0, 1)
    return to_pixels


SOLUTIONS: dict[str, Callable[[], Any]] = {
    "07.token_ids": _token_ids,
    "07.latent_shape": lambda: (2, _pipe().vae.config.latent_channels, 96 // _pipe().vae_scale_factor,
                                128 // _pipe().vae_scale_factor),
    "07.to_pixels": _to_pixels,
}
