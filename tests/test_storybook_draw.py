"""The storybook drawing: the 32/64 px pixels the shipped models learned are pinned; the detailed 128 px drawing."""
from __future__ import annotations

import hashlib

import pytest
import torch

from course_utils import storybook as sb

# sha256 (first 16 hex digits) of render(...).numpy().tobytes(), taken before the 128 px drawing was
# added. The judge, pixel denoiser, VAE, GAN and tiny Stable Diffusion were trained on these pixels:
# if a checksum moves, the shipped models see a different world. Keep them; do not update them.
PINNED = [
    (("squirrel", "fishing", "by a river"), 934743, 64, "025aa9d365cdd3db"),
    (("squirrel", "fishing", "by a river"), 934743, 32, "2f31ffa63b1360a1"),
    (("fox", "reading", "in a forest"), 656232, 64, "ff8f3f7b0c523003"),
    (("fox", "reading", "in a forest"), 656232, 32, "9d084d52465956a6"),
    (("rabbit", "juggling", "on a mountain"), 545488, 64, "b5e1680364978834"),
    (("bear", "sleeping", "in the snow"), 0, 64, "c0be4070742bd6b3"),
    (("bear", "sleeping", "in the snow"), 0, 32, "a5ed5e862e8a3ade"),
    (("owl", "fishing", "on a beach"), 2**62 - 1, 64, "76d6ac259a80fd85"),
    (("frog", "sleeping", "by a river"), 17, 64, "72dafe4d690e630e"),
    (("squirrel", "juggling", "in the snow"), 123456789, 32, "8f8eb27b96b2c2b2"),
    (("fox", "sleeping", "on a mountain"), 3, 64, "135393191d558d4f"),
]


def _digest(x: torch.Tensor) -> str:
    return hashlib.sha256(x.numpy().tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("triple, seed, size, digest", PINNED)
def test_32_and_64_px_pixels_are_pinned(triple, seed, size, digest):
    assert _digest(sb.render(*triple, seed=seed, size=size)) == digest


def test_every_composition_at_64_and_32_px_is_pinned():
    assert _digest(sb.render_batch(sb.ALL_COMPOSITIONS, list(range(120)), 64)) == "76e5c8e9fd4dad97"
    assert _digest(sb.render_batch(sb.ALL_COMPOSITIONS, list(range(1000, 1120)), 32)) == "7e2a94db24ed5005"
