"""Why the 128 px storybook drawing is fast: each subject pose and each prop glyph is drawn once, then stamped.

A sprite is a small canvas at 2 px per world unit holding one glyph (a subject in a pose, a ball, a
float in its pool, a pillow, a "z") drawn with the ordinary shapes of ``storybook_draw.shapes`` around a
centre that falls on a pixel corner. Stamping it at a world point snapped to the 128 px grid gives
the same pixels as drawing the glyph there, so a sprite is a pure function of its key (the cache
never changes what is drawn, only how fast). Subject sprites hold colour *indices*, so one sprite
serves every shade: ``stamp`` looks each index up in the image's palette. Keys quantise the subject's
size and tilt (``storybook_draw`` does it before it draws), so about a thousand subject sprites cover
every seed; each takes a few milliseconds the first time it is needed.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .shapes import Canvas

__all__ = ["SCALE", "Sprite", "sprite", "stamp", "cached_count"]

SCALE = 2.0                                        # pixels per world unit at 128 px


class Sprite:
    """A cropped glyph: ``values`` [h, w] colour indices or [h, w, 3] colours, ``mask`` [h, w] bool, and
    the offset (di, dj) of its top-left pixel from the pixel corner it was drawn around."""

    __slots__ = ("values", "mask", "mask3", "di", "dj")

    def __init__(self, values: np.ndarray, mask: np.ndarray, di: int, dj: int):
        self.values, self.mask, self.di, self.dj = values, mask, di, dj
        self.mask3 = np.repeat(mask[:, :, None], 3, axis=2)          # [h, w, 3]: copyto's fast path


_CACHE: dict[tuple, Sprite] = {}


def sprite(key: tuple, draw: Callable[[Canvas, float, float], None], span: int, indexed: bool = False) -> Sprite:
    """The cached sprite ``key``; on first use ``draw(cv, cx, cy)`` draws it around world (cx, cy) on a
    canvas ``span`` world units wide (colour indices, uint8, when ``indexed``; else RGB float32)."""
    if key not in _CACHE:
        n = int(span * SCALE)
        img = np.zeros((n, n) if indexed else (n, n, 3), np.uint8 if indexed else np.float32)
        cv = Canvas(img, np.zeros((n, n), np.int8), label=1, s=SCALE)
        draw(cv, span / 2, span / 2)
        rows, cols = np.flatnonzero(cv.labels.any(1)), np.flatnonzero(cv.labels.any(0))
        if len(rows) == 0:
            raise ValueError(f"sprite {key!r} draws nothing inside its {span}-unit canvas; widen the span.")
        i0, i1, j0, j1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        if i0 == 0 or j0 == 0 or i1 == n or j1 == n:
            raise ValueError(f"sprite {key!r} touches the edge of its {span}-unit canvas; widen the span.")
        crop = (slice(i0, i1), slice(j0, j1))
        _CACHE[key] = Sprite(cv.img[crop].copy(), cv.labels[crop] > 0, int(i0 - n // 2), int(j0 - n // 2))
    return _CACHE[key]


def stamp(cv: Canvas, spr: Sprite, x: float, y: float, palette: np.ndarray | None = None) -> None:
    """Paint ``spr`` with its centre at the pixel corner nearest world (x, y) (and ``cv.label`` in the labels).

    ``palette`` [K, 3] turns an indexed sprite's values into colours.
    """
    i0, j0 = int(round(y * cv.s)) + spr.di, int(round(x * cv.s)) + spr.dj
    h, w = spr.mask.shape
    a0, b0 = max(0, -i0), max(0, -j0)                               # crop what falls outside the canvas
    a1, b1 = min(h, cv.n - i0), min(w, cv.n - j0)
    if a0 >= a1 or b0 >= b1:
        return
    vals = spr.values[a0:a1, b0:b1]
    colours = vals if palette is None else np.take(palette, vals, axis=0)   # [h, w, 3]
    # copyto with a [h, w, 3] mask is ~4x faster than boolean-index assignment here
    np.copyto(cv.img[i0 + a0:i0 + a1, j0 + b0:j0 + b1], colours, where=spr.mask3[a0:a1, b0:b1])
    if cv.labels is not None:
        np.copyto(cv.labels[i0 + a0:i0 + a1, j0 + b0:j0 + b1], cv.label, where=spr.mask[a0:a1, b0:b1])


def cached_count() -> int:
    """How many sprites are cached (each a few kB)."""
    return len(_CACHE)
