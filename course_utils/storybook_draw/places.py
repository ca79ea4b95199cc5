"""The five places of the storybook world: backgrounds drawn once per (place, variant, size) and cached.

Each painter draws the base background with the same random draws at 64 and 128 px (so a variant is
the same place at both sizes) and returns its layout (bands, trees, peaks), which
``detail.texture_place`` textures at 128 px with a generator of its own. Shapes of the
region the place word names (``PLACE_REGIONS``) carry the PLACE label, so each cached background
comes with its region map (``background_region``). Used by ``storybook_draw``.
"""
from __future__ import annotations

import numpy as np

from . import detail
from .shapes import PLACE, WORLD, Canvas, band, ellipse, rect, tri

__all__ = ["BACKGROUND_VARIANTS", "PLACES", "PLACE_REGIONS", "DRAW_SIZES", "check_draw_size", "background",
           "background_region"]

DRAW_SIZES = (64, 128)                              # resolutions the scene is drawn at
#: What the PLACE label (the place word's region) covers for each place.
PLACE_REGIONS = {"by a river": "the river's water (with its ripples)",
                 "in a forest": "the trees: trunks and canopies",
                 "on a mountain": "the mountains: rock faces and snow caps (not the sky or the stony ground)",
                 "in the snow": "the snow: snowy ground, drifts and the falling flakes",
                 "on a beach": "the sand and the sea, with its foam (not the sky)"}

# Each painter draws the base background (the same random draws at every size) and returns the layout
# that ``storybook_draw.detail`` textures at 128 px. Shapes of the place word's region carry the PLACE label.
BACKGROUND_VARIANTS = 8
PLACES = _PLACES = ("by a river", "in a forest", "on a mountain", "in the snow", "on a beach")


def _sky(cv: Canvas, top, bottom, until: int) -> None:
    rows = int(until * round(cv.s))
    t = np.linspace(0.0, 1.0, rows, dtype=np.float32)[:, None]
    cv.img[:rows] = (np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t)[:, None, :]


def _river(cv: Canvas, rng) -> dict:
    h1 = int(rng.integers(14, 23)); h2 = h1 + int(rng.integers(6, 10)); h3 = int(rng.integers(47, 52))
    _sky(cv, (0.52, 0.76, 0.96), (0.76, 0.88, 0.98), h1)
    band(cv, h1, h2, (0.28, 0.58, 0.24))
    cv.label = PLACE
    band(cv, h2, h3, (0.16, 0.42, 0.84))
    cv.label = 0
    band(cv, h3, WORLD, (0.42, 0.72, 0.28))
    for x in rng.uniform(0, 64, 5):
        ellipse(cv, x, h1 + 0.5, rng.uniform(3, 6), rng.uniform(2, 4), (0.16, 0.44, 0.16))
    cv.label = PLACE
    for _ in range(6):
        x, y = rng.uniform(0, 60), rng.uniform(h2 + 2, h3 - 2)
        rect(cv, x, y, x + rng.uniform(3, 8), y + 1, (0.45, 0.68, 0.96))
    return dict(h1=h1, h2=h2, h3=h3)


def _forest(cv: Canvas, rng) -> dict:
    cv.img[:] = (0.34, 0.52, 0.32)
    floor = int(rng.integers(45, 50))
    trees = []
    for x in np.sort(rng.uniform(-4, 68, 7)):
        base, top, w = floor + rng.uniform(-3, 1), rng.uniform(-6, 14), rng.uniform(9, 14)
        cv.label = PLACE
        rect(cv, x - 1.5, base - 6, x + 1.5, base, (0.30, 0.19, 0.09))
        green = (0.06, 0.32, 0.11) if rng.random() < 0.5 else (0.10, 0.40, 0.14)
        for i in range(3):                                           # three stacked triangles per pine
            y0 = top + i * (base - 6 - top) / 3
            tri(cv, x, y0, x - w * (0.5 + 0.25 * i), y0 + (base - top) / 2.2, x + w * (0.5 + 0.25 * i),
                y0 + (base - top) / 2.2, green)
        trees.append((x, base, top, w, green))
    cv.label = 0
    band(cv, floor, WORLD, (0.30, 0.25, 0.13))
    for x in rng.uniform(0, 64, 6):
        ellipse(cv, x, rng.uniform(floor + 3, 63), rng.uniform(2, 4), 1.0, (0.22, 0.19, 0.10))
    return dict(floor=floor, trees=trees)


def _mountain(cv: Canvas, rng) -> dict:
    _sky(cv, (0.42, 0.66, 0.95), (0.74, 0.86, 0.98), 64)
    base = int(rng.integers(44, 49))
    peaks = []
    cv.label = PLACE
    for x in np.sort(rng.uniform(-5, 69, 3)):
        apex, half = rng.uniform(5, 18), rng.uniform(18, 28)
        grey = (0.47, 0.47, 0.53) if rng.random() < 0.5 else (0.58, 0.57, 0.63)
        tri(cv, x, apex, x - half, base + 1, x + half, base + 1, grey)
        cap = 0.3 * (base - apex)                                    # white snow cap on the top 30 %
        tri(cv, x, apex, x - half * cap / (base - apex), apex + cap, x + half * cap / (base - apex), apex + cap,
            (0.96, 0.97, 1.0))
        peaks.append((x, apex, half, grey))
    cv.label = 0
    band(cv, base, WORLD, (0.52, 0.47, 0.42))
    for x in rng.uniform(0, 64, 5):
        ellipse(cv, x, rng.uniform(base + 3, 63), rng.uniform(2, 4), rng.uniform(1, 2), (0.40, 0.36, 0.33))
    return dict(base=base, peaks=peaks)


def _snow(cv: Canvas, rng) -> dict:
    ground = int(rng.integers(33, 40))
    _sky(cv, (0.70, 0.76, 0.88), (0.84, 0.87, 0.94), ground)
    cv.label = PLACE
    for x in rng.uniform(0, 64, 2):
        ellipse(cv, x, ground, rng.uniform(14, 24), rng.uniform(4, 8), (0.90, 0.92, 0.97))
    band(cv, ground, WORLD, (0.97, 0.98, 1.0))
    for x in rng.uniform(0, 64, 4):
        ellipse(cv, x, rng.uniform(ground + 4, 62), rng.uniform(5, 10), rng.uniform(1.2, 2.2), (0.82, 0.88, 0.97))
    return dict(ground=ground)


def _beach(cv: Canvas, rng) -> dict:
    h = int(rng.integers(24, 32)); shore = int(rng.integers(40, 46))
    _sky(cv, (0.38, 0.68, 0.98), (0.70, 0.86, 0.99), h)
    cv.label = PLACE
    band(cv, h, shore, (0.08, 0.36, 0.72))
    band(cv, shore, WORLD, (0.95, 0.84, 0.52))
    for _ in range(5):
        x, y = rng.uniform(0, 60), rng.uniform(h + 2, shore - 2)
        rect(cv, x, y, x + rng.uniform(3, 8), y + 1, (0.32, 0.58, 0.86))
    band(cv, shore, shore + 2, (0.93, 0.96, 0.98))
    for x in rng.uniform(0, 64, 6):
        ellipse(cv, x, rng.uniform(shore + 4, 63), rng.uniform(1.5, 3), 1.0, (0.84, 0.71, 0.42))
    return dict(h=h, shore=shore)


_PAINTERS = dict(zip(_PLACES, (_river, _forest, _mountain, _snow, _beach)))
_CACHE: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}


def check_draw_size(size: int) -> None:
    if size not in DRAW_SIZES:
        raise ValueError(f"the storybook is drawn at {DRAW_SIZES} px, got size={size!r}; "
                         "storybook.render(..., size=32) average-pools the 64 px drawing.")


def cached(place: str, variant: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    key = (place, variant, size)
    if key not in _CACHE:
        check_draw_size(size)
        cv = Canvas(np.zeros((size, size, 3), np.float32), np.zeros((size, size), np.int8))
        layout = _PAINTERS[place](cv, np.random.default_rng([_PLACES.index(place), variant, 2024]))
        if size > WORLD:                           # textures from their own generator: the base draws stay put
            cv.label = 0
            detail.texture_place(cv, place, layout, np.random.default_rng([_PLACES.index(place), variant, 2024, size]))
        for a in (cv.img, cv.labels):
            a.setflags(write=False)
        _CACHE[key] = (cv.img, cv.labels)
    return _CACHE[key]


def background(place: str, variant: int, size: int = 64) -> np.ndarray:
    """The cached [size, size, 3] background ``variant`` (0…BACKGROUND_VARIANTS−1) of ``place`` (read-only)."""
    return cached(place, variant, size)[0]


def background_region(place: str, variant: int, size: int = 64) -> np.ndarray:
    """The cached int8 [size, size] map of that background: PLACE where the place word's region is, else 0."""
    return cached(place, variant, size)[1]
