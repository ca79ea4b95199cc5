"""Checks of the exercises in 07_text_to_image (solutions: ``course_utils/solutions/nb07_text_to_image.py``)."""
from __future__ import annotations

import torch

from ..exercises import Wrong, exercise
from ..text_to_image import tokenize
from ..seeding import make_generator


def _pipe():
    from ..pipelines import load_text_to_image
    return load_text_to_image(device="cpu")


@exercise("07.token_ids", hint="call pipe.tokenizer(prompt, padding='max_length', max_length=16).input_ids: a start "
                               "mark, one id per word, an end mark, then padding up to 16.")
def _check_token_ids(answer) -> None:
    if isinstance(answer, torch.Tensor):
        answer = answer.flatten().tolist()
    if not isinstance(answer, (list, tuple)) or not all(isinstance(i, int) for i in answer):
        raise Wrong("Give the token ids as a list of ints.")
    tokenizer = _pipe().tokenizer
    expected = tokenize(tokenizer, ["fox reading in the snow"])[0].tolist()      # as the pipeline pads
    if list(answer) == tokenizer("fox reading in the snow").input_ids:
        raise Wrong("Right ids, but the text encoder always takes 16: pad up to max_length.")
    if list(answer) != expected:
        raise Wrong(f"These are not the 16 ids of 'fox reading in the snow' (got {len(answer)} ids).")


@exercise("07.latent_shape", hint="the VAE keeps the batch, makes pipe.vae.config.latent_channels channels, and shrinks "
                                  "height and width by pipe.vae_scale_factor (8, as in Stable Diffusion).")
def _check_latent_shape(answer) -> None:
    if not isinstance(answer, (tuple, list, torch.Size)) or not all(isinstance(i, int) for i in answer):
        raise Wrong("Give the shape as a tuple of ints, e.g. (1, 4, 16, 16).")
    pipe = _pipe()
    f, c = pipe.vae_scale_factor, pipe.vae.config.latent_channels
    if tuple(answer) == (2, c, 128 // f, 96 // f):
        raise Wrong("Height comes before width: [B, C, H, W].")
    if tuple(answer) != (2, c, 96 // f, 128 // f):
        raise Wrong(f"{tuple(answer)} is not the latent shape of two 96×128 (height × width) images.")


@exercise("07.to_pixels", hint="undo the scaling first (latents / pipe.vae.config.scaling_factor), decode with "
                               "pipe.vae.decode(...).sample, then map [-1, 1] to [0, 1] and clamp.")
def _check_to_pixels(answer) -> None:
    if not callable(answer):
        raise Wrong("Give a function to_pixels(latents) that returns images in [0, 1].")
    pipe = _pipe()
    latents = torch.randn(2, 4, 16, 16, generator=make_generator(545488))
    with torch.no_grad():
        got = answer(latents)
        decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample
        unscaled = pipe.vae.decode(latents).sample
    expected = (decoded / 2 + 0.5).clamp(0, 1)
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        raise Wrong(f"to_pixels should return a tensor {list(expected.shape)} for latents [2, 4, 16, 16].")
    if torch.allclose(got, (unscaled / 2 + 0.5).clamp(0, 1), atol=1e-4):
        raise Wrong("The latents were decoded without undoing the scaling factor.")
    if torch.allclose(got, decoded, atol=1e-4):
        raise Wrong("Decoded correctly, but still in [-1, 1]: map it to [0, 1].")
    if not torch.allclose(got, expected, atol=1e-4):
        raise Wrong(f"Your images are off by up to {float((got - expected).abs().max()):.3f}.")
